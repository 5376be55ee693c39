"""Simulated NodeClaims: launch timeline, the Nodes they become, failures, termination."""

from __future__ import annotations

import pytest

from kaito_backends.errors import NotFound
from kaito_backends.fake import FakeCluster, Timings
from kaito_backends.objects import ObjectRef, WorkspaceKey
from tests.backends import manifests as m

KEY = WorkspaceKey(m.NS, "ws")
CLAIM = ObjectRef("karpenter.sh/v1", "NodeClaim", "wsnode")
NODE = ObjectRef("v1", "Node", "wsnode")


async def _provisioned(cluster: FakeCluster, instance_type: str = m.A100) -> None:
    await cluster.provisioner().provision(
        KEY, [m.node_claim("wsnode", instance_type=instance_type)]
    )


def _statuses(claim: dict[str, object]) -> dict[str, str]:
    conds = (claim.get("status") or {}).get("conditions") or []  # type: ignore[union-attr]
    return {c["type"]: c["status"] for c in conds}


@pytest.mark.parametrize(
    ("at", "expected", "node"),
    [
        (
            1,
            {
                "Launched": "Unknown",
                "Registered": "Unknown",
                "Initialized": "Unknown",
                "Ready": "Unknown",
            },
            None,
        ),
        (
            30,
            {
                "Launched": "True",
                "Registered": "Unknown",
                "Initialized": "Unknown",
                "Ready": "Unknown",
            },
            None,
        ),
        (
            284,
            {
                "Launched": "True",
                "Registered": "True",
                "Initialized": "Unknown",
                "Ready": "Unknown",
            },
            "False",
        ),
        (
            410,
            {"Launched": "True", "Registered": "True", "Initialized": "True", "Ready": "True"},
            "True",
        ),
    ],
    ids=["created", "launched", "registered", "ready"],
)
async def test_a_node_claim_launches_on_the_default_timeline(
    at: float, expected: dict[str, str], node: str | None
) -> None:
    """Launched at 30 s; Registered (Node NotReady) and Ready after the time-to-ready model's
    provisioning (284 s) and initialisation (126 s more) for Standard_NC24ads_A100_v4."""
    cluster = m.cluster()
    await _provisioned(cluster)
    cluster.clock.advance(at)
    (claim,) = await cluster.provisioner().observe(KEY)
    assert _statuses(claim) == expected
    assert TERMINATION in claim["metadata"]["finalizers"]
    if node is None:
        with pytest.raises(NotFound):
            await cluster.client().get(NODE)
    else:
        got = await cluster.client().get(NODE)
        ready = next(c for c in got["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == node


TERMINATION = "karpenter.sh/termination"


async def test_the_ready_node_is_shaped_like_the_sku() -> None:
    """Labels (instance type, workspace, GPU discovery), taints, GPU capacity, claim status."""
    cluster = m.cluster()
    await _provisioned(cluster)
    cluster.run_until_idle()
    node = await cluster.client().get(NODE)
    labels = node["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"] == m.A100
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["karpenter.sh/nodepool"] == "kaito"
    assert labels["kaito.sh/workspace"] == "ws"
    assert labels["kaito.sh/workspacenamespace"] == m.NS
    assert labels["apps"] == "ws"
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-A100"
    assert labels["nvidia.com/gpu.count"] == "1"
    assert labels["nvidia.com/gpu.memory"] == "81920"
    assert (labels["nvidia.com/cuda.compute.major"], labels["nvidia.com/cuda.compute.minor"]) == (
        "8",
        "0",
    )
    assert node["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    (claim,) = await cluster.provisioner().observe(KEY)
    assert claim["status"]["nodeName"] == "wsnode"
    assert claim["status"]["providerID"] == node["spec"]["providerID"]
    ready = next(c for c in claim["status"]["conditions"] if c["type"] == "Ready")
    assert set(ready) == {"type", "status", "reason", "message", "lastTransitionTime"}
    assert ready["lastTransitionTime"] == "2026-01-01T00:06:50Z"  # 410 s


async def test_an_unknown_instance_type_fails_to_launch() -> None:
    """A SKU outside the catalog: Launched=False, reason LaunchFailed; no Node ever appears."""
    cluster = m.cluster()
    await _provisioned(cluster, instance_type="Standard_Nope_v9")
    cluster.run_until_idle()
    (claim,) = await cluster.provisioner().observe(KEY)
    launched = next(c for c in claim["status"]["conditions"] if c["type"] == "Launched")
    assert (launched["status"], launched["reason"]) == ("False", "LaunchFailed")
    assert "Standard_Nope_v9" in launched["message"]
    with pytest.raises(NotFound):
        await cluster.client().get(NODE)


async def test_custom_timings_are_honoured() -> None:
    """Timings(initialize=...) moves readiness."""
    cluster = m.cluster(timings=Timings(launch=5, register=10, initialize=20))
    await _provisioned(cluster)
    cluster.clock.advance(20)
    (claim,) = await cluster.provisioner().observe(KEY)
    assert _statuses(claim)["Ready"] == "True"


async def test_deleting_a_claim_evicts_pods_and_removes_its_node() -> None:
    """Release: the claim terminates, its Node goes, its pods are deleted and recreated Pending."""
    cluster = m.cluster()
    client = cluster.client()
    await _provisioned(cluster)
    await client.apply(m.statefulset("ws"))
    cluster.run_until_idle()
    first = await client.get(m.pod_ref("ws-0"))
    assert first["spec"]["nodeName"] == "wsnode"
    await cluster.provisioner().release(KEY)
    (deleting,) = await cluster.provisioner().observe(KEY)
    assert deleting["metadata"]["deletionTimestamp"]
    cluster.run_until_idle()
    assert await cluster.provisioner().observe(KEY) == ()
    with pytest.raises(NotFound):
        await client.get(NODE)
    again = await client.get(m.pod_ref("ws-0"))
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert m.condition(again, "PodScheduled")["reason"] == "Unschedulable"


async def test_a_node_deleted_by_hand_takes_its_pods() -> None:
    """Pod GC: pods bound to a Node that no longer exists are deleted."""
    cluster = m.cluster()
    client = cluster.client()
    cluster.add_node(
        "byo",
        instance_type=m.A100,
        labels={"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": m.NS},
    )
    await client.apply(m.statefulset("ws"))
    cluster.run_until_idle()
    bound = await client.get(m.pod_ref("ws-0"))
    assert bound["spec"]["nodeName"] == "byo"
    await client.delete(ObjectRef("v1", "Node", "byo"))
    cluster.run_until_idle()
    recreated = await client.get(m.pod_ref("ws-0"))
    assert recreated["metadata"]["uid"] != bound["metadata"]["uid"]
    assert recreated["status"]["phase"] == "Pending"
