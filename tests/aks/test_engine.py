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
from kaito_backends.engine.events import EventRecorder, RecordedEvent
from kaito_backends.engine.observer import ListObserver
from kaito_backends.engine.reconciler import Reconciler
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_core import testing as kt
from kaito_core.plan import PlanSettings, plan
from kaito_presets import default_catalog
from tests.aks.conftest import A100, A100_FAMILY, KEY, ProvisionerFactory
from tests.aks.fake_arm import FakeArm
from tests.aks.test_provisioner import QUOTA_MESSAGE

POOL = pool_name(KEY)
WORKSPACE = ObjectRef("kaito.sh/v1beta1", "Workspace", KEY.name, KEY.namespace)


async def _setup(
    make_provisioner: ProvisionerFactory, *, events: list[RecordedEvent] | None = None
) -> tuple[FakeCluster, AksProvisioner, Reconciler]:
    cluster = FakeCluster()
    client = cluster.client()
    provisioner = await make_provisioner(nodes=nodes_via(client), clock=cluster.clock)
    recorder = None
    if events is not None:
        recorder = EventRecorder(client, clock=cluster.clock, sinks=(events.append,))
    await client.create(kt.workspace(KEY.name, instance_type=A100).to_manifest())
    reconciler = Reconciler(
        client,
        provisioner,
        observer=ListObserver(client, provisioner),
        planner=plan,
        catalog=default_catalog(),
        settings=PlanSettings(provisioner=provisioner.name),
        clock=cluster.clock,
        recorder=recorder,
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


async def test_the_quota_pre_flight_refuses_before_any_create_and_recovers(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """No room in the family: ResourceReady=False/QuotaExceeded, no PUT sent; rechecked after
    the requeue, a raised quota makes the pool without anyone touching the Workspace."""
    cluster, provisioner, reconciler = await _setup(make_provisioner)
    arm.quota_limits[A100_FAMILY] = 12
    result = await reconciler.reconcile(KEY)
    assert arm.count("PUT") == 0
    assert arm.count("GET", "/providers/Microsoft.Compute/locations/eastus/usages") == 1
    resource = (await _conditions(cluster))["ResourceReady"]
    assert (resource["status"], resource["reason"]) == ("False", "QuotaExceeded")
    assert f"quota {A100_FAMILY} " in resource["message"]
    assert "0 used of 12 allowed" in resource["message"]
    assert result.state == "Pending"
    assert result.requeue_after == reconciler.capacity_retry
    arm.quota_limits[A100_FAMILY] = 24
    cluster.clock.advance(result.requeue_after)
    await reconciler.reconcile(KEY)
    assert arm.creates == {POOL: 1}
    await provisioner.wait()
    await reconciler.reconcile(KEY)
    resource = (await _conditions(cluster))["ResourceReady"]
    assert resource["reason"] != "QuotaExceeded"


async def test_unreadable_quota_is_one_event_and_the_pool_is_made(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """403 on the quota read: a QuotaNotChecked Warning Event, once; provisioning goes on."""
    events: list[RecordedEvent] = []
    cluster, provisioner, reconciler = await _setup(make_provisioner, events=events)
    arm.inject(
        403,
        code="AuthorizationFailed",
        message="does not have authorization to perform action "
        "'Microsoft.Compute/locations/usages/read'",
        times=99,
        path_contains="/usages",
    )
    await reconciler.reconcile(KEY)
    assert arm.creates == {POOL: 1}
    await provisioner.wait()
    cluster.clock.advance(3600)
    await reconciler.reconcile(KEY)
    told = [e for e in events if e.reason == "QuotaNotChecked"]
    assert [(e.type, e.count) for e in told] == [("Warning", 1)]
    stored = [
        o for o in cluster.snapshot() if o["kind"] == "Event" and o["reason"] == "QuotaNotChecked"
    ]
    assert len(stored) == 1
    assert "Microsoft.Compute/locations/usages/read" in stored[0]["message"]


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
