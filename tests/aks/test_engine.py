"""The engine's reconciler on the AKS provisioner: the core's status logic works unchanged.

Workloads go to the embedded fake cluster (standing in for the AKS cluster's API server); GPU
nodes come from agent pools on the fake ARM. A small "kubelet" registers each pool's nodes in
the fake cluster, labelled as AKS labels them, and the provisioner lists them from there.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("azure.mgmt.containerservice", reason="the 'aks' extra is not installed")

from kaito_backends.aks import AksProvisioner, nodes_via, pool_name
from kaito_backends.engine.observer import ListObserver
from kaito_backends.engine.reconciler import Reconciler
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_core import testing as kt
from kaito_core.plan import PlanSettings, plan
from kaito_presets import default_catalog
from tests.aks.conftest import A100, KEY, ProvisionerFactory
from tests.aks.fake_arm import FakeArm
from tests.aks.test_provisioner import QUOTA_MESSAGE

POOL = pool_name(KEY)
WORKSPACE = ObjectRef("kaito.sh/v1beta1", "Workspace", KEY.name, KEY.namespace)


async def _setup(
    make_provisioner: ProvisionerFactory,
) -> tuple[FakeCluster, AksProvisioner, Reconciler]:
    cluster = FakeCluster()
    client = cluster.client()
    provisioner = await make_provisioner(nodes=nodes_via(client))
    await client.create(kt.workspace(KEY.name, instance_type=A100).to_manifest())
    reconciler = Reconciler(
        client,
        provisioner,
        observer=ListObserver(client, provisioner),
        planner=plan,
        catalog=default_catalog(),
        settings=PlanSettings(provisioner=provisioner.name),
        clock=cluster.clock,
    )
    return cluster, provisioner, reconciler


def _register_nodes(arm: FakeArm, cluster: FakeCluster) -> None:
    """The kubelets of the pool's VMs join the cluster."""
    for node in arm.nodes_of(POOL):
        labels = node["metadata"]["labels"]
        cluster.add_node(
            node["metadata"]["name"],
            instance_type=labels["node.kubernetes.io/instance-type"],
            labels=labels,
            taints=node["spec"]["taints"],
        )


async def _conditions(cluster: FakeCluster) -> dict[str, Any]:
    stored = await cluster.client().get(WORKSPACE)
    return {c["type"]: c for c in stored["status"]["conditions"]}


async def test_a_workspace_gets_its_nodes_from_an_agent_pool(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """Reconcile creates the pool; once its nodes join, the resource conditions turn True."""
    cluster, provisioner, reconciler = await _setup(make_provisioner)
    first = await reconciler.reconcile(KEY)
    assert first.state == "Pending"
    assert arm.creates == {POOL: 1}
    await provisioner.wait()
    await reconciler.reconcile(KEY)
    conditions = await _conditions(cluster)
    assert conditions["NodeClaimReady"]["status"] == "False"
    _register_nodes(arm, cluster)
    await reconciler.reconcile(KEY)
    conditions = await _conditions(cluster)
    for type_ in ("NodeClaimReady", "NodesReady", "ResourceReady"):
        assert conditions[type_]["status"] == "True", conditions[type_]
    assert arm.count("PUT") == 1


async def test_quota_shows_azures_message_on_the_workspace(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """InsufficientCapacity from the PUT becomes ResourceReady=False with Azure's own words."""
    cluster, _, reconciler = await _setup(make_provisioner)
    arm.refuse_next_put(409, "OperationNotAllowed", QUOTA_MESSAGE)
    result = await reconciler.reconcile(KEY)
    assert result.state == "Pending"  # refusals are retried; terminal only after the grace
    resource = (await _conditions(cluster))["ResourceReady"]
    assert (resource["status"], resource["reason"], resource["message"]) == (
        "False",
        "InsufficientCapacity",
        QUOTA_MESSAGE,
    )


async def test_a_failed_lro_reaches_the_workspace(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """An allocation failure inside the operation is a NodeClaimReady/ResourceReady reason."""
    cluster, provisioner, reconciler = await _setup(make_provisioner)
    arm.fail_next_operation("AllocationFailed", "Allocation failed. No capacity for NC24ads.")
    await reconciler.reconcile(KEY)
    await provisioner.wait()
    result = await reconciler.reconcile(KEY)
    assert result.state == "Pending"  # refusals are retried; terminal only after the grace
    resource = (await _conditions(cluster))["ResourceReady"]
    assert resource["reason"] == "InsufficientCapacity"
    assert "Allocation failed. No capacity for NC24ads." in resource["message"]


async def test_deleting_the_workspace_deletes_the_pool(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """The finalizer waits for the pool to go, then lets the Workspace go."""
    cluster, provisioner, reconciler = await _setup(make_provisioner)
    await reconciler.reconcile(KEY)
    await provisioner.wait()
    arm.hold()
    await cluster.client().delete(WORKSPACE)
    assert (await reconciler.reconcile(KEY)).state == "Deleting"
    assert arm.count("DELETE") == 1
    arm.finish()
    await provisioner.wait()
    assert (await reconciler.reconcile(KEY)).state == "Gone"
    assert arm.pools == {}
