"""The byo backend on the real cluster: GPU Nodes the user brought (kwok Nodes with GPU Feature
Discovery labels), no NodeClaims, the operator run with the RBAC of ``kaito manifests --backend
byo``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import RealCluster
from tests.realcluster.workspaces import claims_of, pods_of, wait_state
from tools.cluster.operator import Operator, install

NAME = "byo-phi"
NODES = ("byo-gpu-0", "byo-gpu-1")


def _node(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "apps": NAME,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                "nvidia.com/gpu.count": "1",
                "nvidia.com/gpu.memory": "81920",
                "nvidia.com/cuda.compute.major": "8",
                "nvidia.com/cuda.compute.minor": "0",
            },
        },
        "status": {
            "allocatable": {"cpu": "24", "memory": "220Gi", "pods": "110", "nvidia.com/gpu": "1"},
            "capacity": {"cpu": "24", "memory": "220Gi", "pods": "110", "nvidia.com/gpu": "1"},
        },
    }


@pytest.fixture
def byo_operator(real_cluster: RealCluster, operator: Operator) -> Iterator[Operator]:
    """The session's operator swapped for a byo one (byo RBAC); swapped back afterwards."""
    plane = real_cluster.plane
    operator.stop()
    install(plane, backend="byo")
    byo = Operator(plane, name="kaito-operator-byo", backend="byo")
    byo.start()
    try:
        yield byo
    finally:
        byo.stop()
        install(plane, backend="karpenter")
        real_cluster.ensure_operator()


async def test_a_workspace_runs_on_the_users_gpu_nodes(
    byo_operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """No instanceType: the Workspace's Pods run on the labelled Nodes, and nothing is
    provisioned; the byo ClusterRole cannot create NodeClaims."""
    for name in NODES:
        await kubectl("apply", "-f", "-", stdin=json.dumps(_node(name)))
    try:
        workspace = {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": NAME},
            "resource": {"labelSelector": {"matchLabels": {"apps": NAME}}},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        }
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(workspace))
        done = await wait_state(kubectl, namespace, NAME, "Ready")
        assert set(done["status"]["workerNodes"]) <= set(NODES)
        pods = await pods_of(kubectl, namespace, NAME)
        assert pods
        assert {p["spec"]["nodeName"] for p in pods} <= set(NODES)
        assert await claims_of(kubectl, namespace, NAME) == []
        can = await kubectl(
            "auth",
            "can-i",
            "create",
            "nodeclaims.karpenter.sh",
            "--as=system:serviceaccount:kaito-system:kaito-workspace",
            check=False,
        )
        assert can.strip() == "no"
        await kubectl("delete", "workspace", NAME, "-n", namespace, "--wait=true")
    finally:
        for name in NODES:
            await kubectl("delete", "node", name, "--wait=false", check=False)
