"""Scheduling in the fake: taints, affinity, nodeSelector, GPU capacity, and kube-like messages."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_backends.fake import FakeCluster
from kaito_backends.fake.scheduler import matches_node, pod_requests
from kaito_backends.objects import Manifest, ObjectRef, WorkspaceKey
from tests.backends import manifests as m

WS = {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": m.NS}
TAINT = [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
PREEMPTION = "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."


async def _pending_message(cluster: FakeCluster, pod: str = "ws-0") -> str:
    got = await cluster.client().get(m.pod_ref(pod))
    assert got["status"]["phase"] == "Pending"
    cond = m.condition(got, "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    return str(cond["message"])


def _expected(n: int, reasons: str) -> str:
    return f"0/{n} nodes are available: {reasons}. " + PREEMPTION.format(n=n)


@pytest.mark.parametrize(
    ("nodes", "sts_kw", "reasons"),
    [
        (
            [{"name": "n1", "labels": WS, "taints": TAINT}],
            {"tolerations": []},
            "1 node(s) had untolerated taint {sku: gpu}",
        ),
        (
            [{"name": "n1", "labels": {**WS, "kaito.sh/workspace": "other"}}],
            {},
            "1 node(s) didn't match Pod's node affinity/selector",
        ),
        (
            [{"name": "n1", "labels": WS, "ready": False}],
            {},
            "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
        ),
        ([{"name": "n1", "labels": WS, "gpus": 1}], {"gpus": 2}, "1 Insufficient nvidia.com/gpu"),
        (
            [
                {"name": "a", "labels": {"kaito.sh/workspace": "other"}},
                {
                    "name": "b",
                    "labels": WS,
                    "taints": [{"key": "x", "value": "y", "effect": "NoExecute"}],
                },
                {"name": "c", "labels": WS, "gpus": 0},
                {"name": "d"},
            ],
            {},
            "1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {x: y}, "
            "2 node(s) didn't match Pod's node affinity/selector",
        ),
    ],
    ids=["untolerated-taint", "affinity", "not-ready", "insufficient-gpu", "mixed-sorted"],
)
async def test_unschedulable_pods_say_why_like_kube_scheduler(
    nodes: list[dict[str, Any]], sts_kw: dict[str, Any], reasons: str
) -> None:
    """PodScheduled=False reason Unschedulable with a per-reason node count, sorted."""
    cluster = m.cluster()
    for node in nodes:
        node = dict(node)
        name = node.pop("name")
        cluster.add_node(name, instance_type=m.A100, **node)
    await cluster.client().apply(m.statefulset("ws", **sts_kw))
    cluster.run_until_idle()
    assert await _pending_message(cluster) == _expected(len(nodes), reasons)


async def test_no_nodes_at_all() -> None:
    """An empty cluster: "no nodes available to schedule pods"."""
    cluster = m.cluster()
    await cluster.client().apply(m.statefulset("ws"))
    cluster.run_until_idle()
    assert await _pending_message(cluster) == "no nodes available to schedule pods"


async def test_gpus_are_counted_per_node() -> None:
    """Two 1-GPU pods on one 1-GPU node: the second waits with Insufficient nvidia.com/gpu."""
    cluster = m.cluster()
    cluster.add_node("n1", instance_type=m.A100, labels=WS)
    await cluster.client().apply(m.statefulset("ws", replicas=2))
    cluster.run_until_idle()
    running = await cluster.client().get(m.pod_ref("ws-0"))
    assert running["spec"]["nodeName"] == "n1"
    assert await _pending_message(cluster, "ws-1") == _expected(1, "1 Insufficient nvidia.com/gpu")


async def test_a_pod_waits_until_a_node_it_can_use_is_ready() -> None:
    """Unschedulable pods are retried when the workspace's node becomes Ready."""
    cluster = m.cluster()
    await cluster.client().apply(m.statefulset("ws"))
    await cluster.provisioner().provision(WorkspaceKey(m.NS, "ws"), [m.node_claim("wsnode")])
    cluster.clock.advance(400)  # the Node registered at 284 s, Ready at 410 s
    assert "not-ready" in await _pending_message(cluster)
    cluster.clock.advance(10)
    pod = await cluster.client().get(m.pod_ref("ws-0"))
    assert pod["spec"]["nodeName"] == "wsnode"
    assert m.condition(pod, "PodScheduled")["status"] == "True"


async def test_freed_gpus_let_a_waiting_pod_in() -> None:
    """Deleting a pod frees its GPUs; a pod waiting for them is scheduled."""
    cluster = m.cluster()
    client = cluster.client()
    cluster.add_node(
        "n1",
        instance_type=m.A100,
        labels={"kaito.sh/workspace": "a", "kaito.sh/workspacenamespace": m.NS},
    )
    await client.apply(m.statefulset("a"))
    cluster.run_until_idle()
    other = m.statefulset("b")
    other["spec"]["template"]["spec"]["affinity"] = m.affinity("a")
    await client.apply(other)
    cluster.run_until_idle()
    assert "Insufficient" in await _pending_message(cluster, "b-0")
    await client.delete(ObjectRef("apps/v1", "StatefulSet", "a", m.NS))
    cluster.run_until_idle()
    moved = await client.get(m.pod_ref("b-0"))
    assert moved["spec"]["nodeName"] == "n1"


async def test_cordoned_nodes_take_no_pods() -> None:
    """spec.unschedulable: "node(s) were unschedulable"."""
    cluster = m.cluster()
    node = cluster.add_node("n1", instance_type=m.A100, labels=WS)
    await cluster.client().update({**node, "spec": {"unschedulable": True}})
    await cluster.client().apply(m.statefulset("ws"))
    cluster.run_until_idle()
    assert await _pending_message(cluster) == _expected(1, "1 node(s) were unschedulable")


@pytest.mark.parametrize(
    ("expressions", "node_labels", "expected"),
    [
        ([{"key": "k", "operator": "In", "values": ["a", "b"]}], {"k": "b"}, True),
        ([{"key": "k", "operator": "NotIn", "values": ["a"]}], {"k": "b"}, True),
        ([{"key": "k", "operator": "NotIn", "values": ["a"]}], {"k": "a"}, False),
        ([{"key": "k", "operator": "Exists"}], {"k": ""}, True),
        ([{"key": "k", "operator": "DoesNotExist"}], {"k": ""}, False),
        ([{"key": "gpus", "operator": "Gt", "values": ["0"]}], {"gpus": "8"}, True),
        ([{"key": "gpus", "operator": "Lt", "values": ["4"]}], {"gpus": "8"}, False),
        (
            [{"key": "k", "operator": "In", "values": ["a"]}, {"key": "j", "operator": "Exists"}],
            {"k": "a"},
            False,
        ),
    ],
    ids=["in", "notin", "notin-miss", "exists", "doesnotexist", "gt", "lt", "and"],
)
def test_required_node_affinity_operators(
    expressions: list[Manifest], node_labels: dict[str, str], expected: bool
) -> None:
    """matchExpressions are ANDed with Kubernetes operator semantics."""
    pod = {
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": expressions}]
                    }
                }
            }
        }
    }
    assert matches_node(pod, {"metadata": {"labels": node_labels}}) is expected


def test_node_selector_terms_are_ored_and_node_selector_anded() -> None:
    """Any term may match; nodeSelector must match as well."""
    terms = [
        {"matchExpressions": [{"key": "a", "operator": "Exists"}]},
        {"matchExpressions": [{"key": "b", "operator": "Exists"}]},
    ]
    pod: Manifest = {
        "spec": {
            "nodeSelector": {"zone": "1"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
                }
            },
        }
    }
    assert matches_node(pod, {"metadata": {"labels": {"b": "", "zone": "1"}}})
    assert not matches_node(pod, {"metadata": {"labels": {"b": "", "zone": "2"}}})


def test_gpu_requests_sum_containers_and_take_the_largest_init_container() -> None:
    """Limits count as requests; init containers do not add up."""
    pod = {
        "spec": {
            "containers": [
                {"resources": {"limits": {"nvidia.com/gpu": 2}}},
                {"resources": {"requests": {"nvidia.com/gpu": "1", "cpu": "1"}}},
            ],
            "initContainers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}],
        }
    }
    assert pod_requests(pod) == {"nvidia.com/gpu": 3}
