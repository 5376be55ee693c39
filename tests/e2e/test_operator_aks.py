"""``kaito operator --backend aks`` end to end: Workspaces on a cluster, GPU nodes from AKS.

`kaito fake-apiserver` (in this process, its clock paced at 600x, no engine of its own) stands in
for the cluster; `tests.aks.fake_arm.FakeArm` (TLS on loopback) stands in for Azure Resource
Manager and is driven by the real azure-mgmt async clients. When an agent pool's operation
succeeds the fake ARM's hook registers the pool's Nodes in the cluster, labelled and tainted as
AKS does, so the fake scheduler places the StatefulSet's pods on them; when the pool is deleted
they go away. The operator runs in-process from the real ``kaito operator`` flags (only the
Azure credential and TLS verification are injected); kubectl applies, watches and deletes.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp", reason="the operator and the fake ARM need aiohttp")
pytest.importorskip("kubernetes_asyncio", reason="the operator needs the 'kubernetes' extra")
pytest.importorskip("azure.identity", reason="the AKS backend needs the 'aks' extra")
pytest.importorskip("azure.mgmt.containerservice", reason="the AKS backend needs the 'aks' extra")
pytest.importorskip("azure.mgmt.compute", reason="the AKS backend needs the 'aks' extra")

from kaito_backends.apiserver import FakeApiServer, PacedClock
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest
from tests.aks.fake_arm import FakeArm, gpu_sku
from tests.conftest import ROOT
from tests.e2e.kubectl import KUBECTL, Kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

EXAMPLE = ROOT / "docs" / "examples" / "workspace-phi-4-mini.yaml"
NAME = "workspace-phi-4-mini"
A100 = "Standard_NC24ads_A100_v4"
AGENTPOOL = "kubernetes.azure.com/agentpool"
SUCCEEDED = '{.status.conditions[?(@.type=="WorkspaceSucceeded")].status}'


class StaticCredential:
    """An async token credential with one fixed test token (the fake ARM accepts any)."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("kaito-e2e-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None


class AksNodes:
    """The Kubernetes side of AKS: a pool that succeeds brings ``count`` Nodes, written to the
    fake cluster's store (so its scheduler sees them); a deleted pool takes them (and, through
    the fake's pod GC, their pods) away."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def _names(self, pool: str) -> set[str]:
        return {
            n["metadata"]["name"]
            for n in self.cluster.store.select("v1", "Node", labels={AGENTPOOL: pool})
        }

    def ready(self, pool: str, body: dict[str, Any]) -> None:
        props = body["properties"]
        count = int(props.get("count") or 0)
        wanted = {f"aks-{pool}-{index}" for index in range(count)}
        for name in sorted(self._names(pool) - wanted):  # scaled in
            self.cluster.store.delete("v1", "Node", None, name)
        for name in sorted(wanted - self._names(pool)):
            self.cluster.store.create(self._node(name, pool, props), keep_status=True)

    def deleted(self, pool: str, body: dict[str, Any]) -> None:
        for name in sorted(self._names(pool)):
            self.cluster.store.delete("v1", "Node", None, name)

    def _node(self, name: str, pool: str, props: dict[str, Any]) -> Manifest:
        vm_size = props["vmSize"]
        sku = self.cluster.catalog.find_sku(vm_size)
        assert sku is not None, vm_size
        labels = {
            **(props.get("nodeLabels") or {}),
            AGENTPOOL: pool,
            "kubernetes.azure.com/mode": "user",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": vm_size,
            "nvidia.com/gpu.count": str(sku.gpu_count),
            "nvidia.com/gpu.memory": str(int(sku.gpu_memory_gib * 1024 / max(1, sku.gpu_count))),
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": sku.gpu_model.replace(" ", "-"),
        }
        taints = []
        for text in props.get("nodeTaints") or ():
            key_value, _, effect = text.partition(":")
            key, _, value = key_value.partition("=")
            taints.append({"key": key, "value": value, "effect": effect})
        capacity = {
            "cpu": "24",
            "memory": "220Gi",
            "pods": "110",
            "nvidia.com/gpu": str(sku.gpu_count),
        }
        now = self.cluster.sim.now()
        index = name.rpartition("-")[2]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(sorted(labels.items()))},
            "spec": {
                "providerID": (
                    "azure:///subscriptions/sub/resourceGroups/mc_rg/providers/Microsoft.Compute/"
                    f"virtualMachineScaleSets/aks-{pool}-vmss/virtualMachines/{index}"
                ),
                "taints": taints,
            },
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "addresses": [
                    {"type": "InternalIP", "address": self.cluster.store.allocate_ip("10.224")},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                ],
            },
        }


@pytest.fixture
async def server() -> AsyncIterator[FakeApiServer]:
    cluster = FakeCluster(clock=PacedClock())
    async with FakeApiServer(cluster, port=0, speed=600, engine=False) as srv:
        yield srv


@pytest.fixture
async def arm(server: FakeApiServer) -> AsyncIterator[FakeArm]:
    nodes = AksNodes(server.cluster)
    fake = FakeArm(
        skus=[gpu_sku(A100, gpus=1, vcpus=24, memory_gb=220)],
        on_pool_ready=nodes.ready,
        on_pool_deleted=nodes.deleted,
    )
    await fake.start()
    yield fake
    await fake.stop()


def _settings(kubeconfig: Path, arm: FakeArm) -> Any:
    """`OperatorSettings` from the ``kaito operator --backend aks`` command line."""
    from kaito_backends.cli.operator import register, settings_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "operator",
            "--backend=aks",
            f"--kubeconfig={kubeconfig}",
            f"--aks-subscription={arm.subscription}",
            f"--aks-resource-group={arm.resource_group}",
            f"--aks-cluster={arm.cluster}",
            f"--aks-arm-endpoint={arm.base_url}",
            "--aks-polling-interval=0.05",
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            "--webhook-port=0",
        ]
    )
    return settings_from_args(args)


async def test_operator_with_aks_backend(
    server: FakeApiServer, arm: FakeArm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply with kubectl, an A100 agent pool appears, WorkspaceSucceeded; delete, pool gone."""
    from kaito_backends.cli import aks_options
    from kaito_backends.operator.runner import run_operator

    # the operator builds its provisioner as `--backend aks` does (connect -> build_provisioner
    # -> aks_provisioner_from_args); only the credential and TLS verification differ from Azure
    monkeypatch.setattr(
        aks_options,
        "aks_provisioner_from_args",
        functools.partial(
            aks_options.aks_provisioner_from_args,
            credential=StaticCredential(),
            connection_verify=False,
        ),
    )
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl = Kubectl(kubeconfig, tmp_path / "cache")
    stop = asyncio.Event()
    started = asyncio.Event()
    operator = asyncio.create_task(
        run_operator(_settings(kubeconfig, arm), stop=stop, on_started=lambda _: started.set())
    )
    try:
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait([operator, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        exit_code = operator.result() if operator.done() else "still starting"
        assert started.is_set(), f"the operator did not start: {exit_code!r}"

        await kubectl("apply", "-f", str(EXAMPLE))
        await kubectl.wait_for(("get", "workspace", NAME, "-o", f"jsonpath={SUCCEEDED}"), "True")
        table = await kubectl("get", "workspace", NAME)
        assert "WORKSPACESUCCEEDED" in table.splitlines()[0]
        assert A100 in table

        assert len(arm.pools) == 1, arm.pools
        (pool_name, pool) = next(iter(arm.pools.items()))
        props = pool["properties"]
        assert props["vmSize"] == A100
        assert props["count"] == 1
        assert props["provisioningState"] == "Succeeded"
        assert props["nodeLabels"]["kaito.sh/workspace"] == NAME
        assert arm.creates[pool_name] == 1

        nodes = await kubectl("get", "nodes", "-l", f"{AGENTPOOL}={pool_name}", "-o", "name")
        assert nodes.split() == [f"node/aks-{pool_name}-0"]
        placed = await kubectl(
            "get", "pods", "-n", "default", "-o", "jsonpath={.items[*].spec.nodeName}"
        )
        assert placed.split() == [f"aks-{pool_name}-0"]
        # the provisioner's claims are synthesized from the pool, never written to the cluster
        assert not (await kubectl("get", "nodeclaims", "-o", "name")).strip()

        await kubectl("delete", "-f", str(EXAMPLE), "--wait=true")
        deadline = time.monotonic() + 60
        while arm.pool(pool_name) is not None:
            assert time.monotonic() < deadline, "the agent pool was not deleted"
            await asyncio.sleep(0.2)
        for kind in ("workspaces", "statefulsets", "pods"):
            deadline = time.monotonic() + 60
            while (await kubectl("get", kind, "-A", "-o", "name")).strip():
                assert time.monotonic() < deadline, f"{kind} left behind"
                await asyncio.sleep(0.3)
        selector = f"{AGENTPOOL}={pool_name}"
        assert not (await kubectl("get", "nodes", "-l", selector, "-o", "name")).strip()
        assert arm.count("DELETE", f"/agentPools/{pool_name}") >= 1
        assert operator.done() is False
    finally:
        stop.set()
        code = await asyncio.wait_for(operator, 30)
    assert code == 0
