"""The fake's Deployment controller (no ReplicaSets) and its default CPU node pool."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kaito_backends.errors import NotFound
from kaito_backends.fake import CpuPool, FakeCluster, Timings
from kaito_backends.fake.deployments import pod_template_hash
from kaito_backends.objects import Manifest, ObjectRef
from tests.backends import manifests as m

DEPLOY = ObjectRef("apps/v1", "Deployment", "svc", m.NS)
#: Fixed durations: nodes Ready at 90 s; a pod pulls 30 s and loads 60 s -> Ready 90 s after it
#: is bound.
TIMINGS = Timings(register=75.0, initialize=90.0, image_pull=30.0, load=60.0, warm_up=0.0)
READY_AFTER_BIND = 90


def deployment(
    *,
    replicas: int = 1,
    image: str = "example.com/svc:1",
    strategy: dict[str, Any] | None = None,
    gpus: int = 0,
    **spec: Any,
) -> Manifest:
    container: Manifest = {"name": "svc", "image": image, "command": ["/bin/sh", "-c", "serve"]}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    body: Manifest = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "svc"}},
        "template": {"metadata": {"labels": {"app": "svc"}}, "spec": {"containers": [container]}},
        **spec,
    }
    if strategy is not None:
        body["strategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "svc", "namespace": m.NS},
        "spec": body,
    }


def _cluster(**kwargs: Any) -> FakeCluster:
    return m.cluster(timings=TIMINGS, **kwargs)


def _with_cpu_node(**kwargs: Any) -> FakeCluster:
    cluster = _cluster(**kwargs)
    cluster.add_node("cpu", gpus=0)
    return cluster


def _pods(cluster: FakeCluster) -> list[Manifest]:
    return sorted(cluster.store.select("v1", "Pod", m.NS), key=lambda p: p["metadata"]["name"])


async def _status(cluster: FakeCluster) -> dict[str, Any]:
    found: dict[str, Any] = (await cluster.client().get(DEPLOY))["status"]
    return found


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions") or ()}


async def test_a_deployment_makes_its_pods_and_reports_as_the_real_controller() -> None:
    """Pods ``<name>-<hash>-<5>`` with ``pod-template-hash`` and a controller reference to the
    Deployment; status counts (zeros omitted) and Available/Progressing as kube writes them."""
    cluster = _with_cpu_node()
    await cluster.client().apply(deployment(replicas=2))
    cluster.clock.run_due()
    pods = _pods(cluster)
    stored = await cluster.client().get(DEPLOY)
    template_hash = pod_template_hash(stored["spec"]["template"])
    assert len(pods) == 2
    for pod in pods:
        assert re.fullmatch(rf"svc-{template_hash}-[a-z0-9]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "svc", "pod-template-hash": template_hash}
        (ref,) = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("Deployment", "svc", True)
    status = await _status(cluster)
    assert status == {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "unavailableReplicas": 2,
        "conditions": status["conditions"],
    }
    assert _conditions(status) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "NewReplicaSetCreated"),
    }
    progressing = m.condition({"status": status}, "Progressing")
    assert progressing["message"] == f'Created new replica set "svc-{template_hash}"'
    cluster.clock.advance(READY_AFTER_BIND)
    status = await _status(cluster)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    assert _conditions(status) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert [c["type"] for c in status["conditions"]] == ["Available", "Progressing"]
    assert all("lastUpdateTime" in c for c in status["conditions"])


@pytest.mark.parametrize(
    ("strategy", "old_stays"),
    [
        # the RAGEngine's: the old pod goes first, then the new one is made
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, False),
        # surge: the new pod is made first, the old one goes once it is Ready
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, True),
        ({"type": "Recreate"}, False),
        (None, True),  # defaults: 25% surge rounds up to 1, 25% unavailable down to 0
    ],
    ids=["no-surge", "surge", "recreate", "defaults"],
)
async def test_a_template_change_rolls_the_pods(
    strategy: dict[str, Any] | None, old_stays: bool
) -> None:
    """Right after the change the old pod is still there (surge) or already replaced (pods
    vanish at once in the fake); in the end one Ready pod of the new template, and the status
    complete again."""
    cluster = _with_cpu_node()
    client = cluster.client()
    await client.apply(deployment(strategy=strategy))
    cluster.clock.run_due()
    cluster.clock.advance(READY_AFTER_BIND)
    (old,) = _pods(cluster)
    await client.apply(deployment(strategy=strategy, image="example.com/svc:2"))
    cluster.clock.run_due()
    names = [p["metadata"]["name"] for p in _pods(cluster)]
    assert len(names) == (2 if old_stays else 1)
    assert (old["metadata"]["name"] in names) is old_stays
    cluster.clock.advance(READY_AFTER_BIND)
    (new,) = _pods(cluster)
    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert new["spec"]["containers"][0]["image"] == "example.com/svc:2"
    status = await _status(cluster)
    assert (status["observedGeneration"], status["updatedReplicas"], status["readyReplicas"]) == (
        2,
        1,
        1,
    )
    assert _conditions(status)["Progressing"] == ("True", "NewReplicaSetAvailable")


async def test_surge_keeps_the_old_pod_until_the_new_one_is_ready() -> None:
    """maxUnavailable 0: the old pod serves while the new one loads."""
    cluster = _with_cpu_node()
    client = cluster.client()
    surge = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await client.apply(deployment(strategy=surge))
    cluster.clock.run_due()
    cluster.clock.advance(READY_AFTER_BIND)
    (old,) = _pods(cluster)
    await client.apply(deployment(strategy=surge, image="example.com/svc:2"))
    cluster.clock.run_due()
    cluster.clock.advance(READY_AFTER_BIND - 1)
    names = [p["metadata"]["name"] for p in _pods(cluster)]
    assert old["metadata"]["name"] in names
    status = await _status(cluster)
    assert (status["readyReplicas"], status["updatedReplicas"], status["replicas"]) == (1, 1, 2)
    assert _conditions(status)["Available"] == ("True", "MinimumReplicasAvailable")
    assert _conditions(status)["Progressing"][0] == "True"
    assert _conditions(status)["Progressing"][1] != "NewReplicaSetAvailable"


@pytest.mark.parametrize(("before", "after"), [(3, 1), (1, 3), (2, 0)], ids=["down", "up", "zero"])
async def test_replicas_scale_the_pods(before: int, after: int) -> None:
    """Scaling changes the number of pods, not their template."""
    cluster = _with_cpu_node()
    client = cluster.client()
    await client.apply(deployment(replicas=before))
    cluster.clock.run_due()
    await client.apply(deployment(replicas=after))
    cluster.clock.run_due()
    assert len(_pods(cluster)) == after
    cluster.clock.advance(READY_AFTER_BIND)
    status = await _status(cluster)
    assert status.get("readyReplicas", 0) == after
    assert _conditions(status)["Progressing"] == ("True", "NewReplicaSetAvailable")


async def test_no_progress_within_the_deadline_is_reported() -> None:
    """Pods that never become ready: Progressing False ProgressDeadlineExceeded after
    progressDeadlineSeconds without progress."""
    cluster = _with_cpu_node()
    await cluster.client().apply(deployment(gpus=1, progressDeadlineSeconds=120))
    cluster.clock.run_due()
    cluster.clock.advance(100)
    assert _conditions(await _status(cluster))["Progressing"] == ("True", "NewReplicaSetCreated")
    cluster.clock.advance(30)
    status = await _status(cluster)
    assert _conditions(status)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert m.condition({"status": status}, "Progressing")["message"].endswith(
        "has timed out progressing."
    )


async def test_a_paused_deployment_does_not_roll() -> None:
    """spec.paused: the old pod stays, Progressing is Unknown DeploymentPaused."""
    cluster = _with_cpu_node()
    client = cluster.client()
    await client.apply(deployment())
    cluster.clock.run_due()
    (old,) = _pods(cluster)
    await client.apply(deployment(image="example.com/svc:2", paused=True))
    cluster.clock.run_due()
    assert [p["metadata"]["name"] for p in _pods(cluster)] == [old["metadata"]["name"]]
    status = await _status(cluster)
    assert _conditions(status)["Progressing"] == ("Unknown", "DeploymentPaused")
    assert "updatedReplicas" not in status  # the one pod is of the old template


async def test_deleting_a_deployment_deletes_its_pods() -> None:
    """Owner references: garbage collection takes the pods."""
    cluster = _with_cpu_node()
    client = cluster.client()
    await client.apply(deployment(replicas=2))
    cluster.clock.run_due()
    await client.delete(DEPLOY)
    cluster.run_until_idle()
    with pytest.raises(NotFound):
        await client.get(DEPLOY)
    assert _pods(cluster) == []


# -- the default CPU node pool ------------------------------------------------------------------
async def test_a_cpu_pod_brings_up_the_cpu_pool_node() -> None:
    """No node at all: the pool's node joins (Timings.initialize) and takes the pod."""
    cluster = _cluster()
    await cluster.client().apply(deployment(replicas=2))
    cluster.clock.run_due()
    assert all(p["status"]["phase"] == "Pending" for p in _pods(cluster))
    cluster.clock.advance(90)
    (node,) = cluster.store.select("v1", "Node")
    assert node["metadata"]["name"] == "cpu-pool-0"
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "Standard_D4s_v3"
    assert "nvidia.com/gpu" not in node["status"]["capacity"]
    assert not (node.get("spec") or {}).get("taints")
    assert {p["spec"]["nodeName"] for p in _pods(cluster)} == {"cpu-pool-0"}
    cluster.clock.advance(READY_AFTER_BIND)
    assert (await _status(cluster))["readyReplicas"] == 2


@pytest.mark.parametrize(
    "change",
    [
        {"gpus": 1},
        {"template_spec": {"nodeSelector": {"pool": "elsewhere"}}},
    ],
    ids=["asks-for-gpus", "selects-other-nodes"],
)
async def test_pods_the_pool_would_not_take_start_no_node(change: dict[str, Any]) -> None:
    """A pod that asks for a GPU, or whose selector the pool's node does not match, waits."""
    cluster = _cluster()
    extra = change.pop("template_spec", {})
    body = deployment(**change)
    body["spec"]["template"]["spec"].update(extra)
    await cluster.client().apply(body)
    cluster.run_until_idle()
    assert cluster.store.select("v1", "Node") == []
    (pod,) = _pods(cluster)
    assert m.condition(pod, "PodScheduled")["message"] == "no nodes available to schedule pods"


async def test_the_pool_can_be_turned_off_or_shaped() -> None:
    """``cpu_pool=None``: no CPU node ever; a `CpuPool` names the node and its labels."""
    off = _cluster(cpu_pool=None)
    await off.client().apply(deployment())
    off.run_until_idle()
    assert off.store.select("v1", "Node") == []
    shaped = _cluster(cpu_pool=CpuPool(name="system", labels={"pool": "system"}))
    body = deployment()
    body["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "system"}
    await shaped.client().apply(body)
    shaped.run_until_idle()
    (node,) = shaped.store.select("v1", "Node")
    assert (node["metadata"]["name"], node["metadata"]["labels"]["pool"]) == ("system-0", "system")
    assert _pods(shaped)[0]["spec"]["nodeName"] == "system-0"


async def test_the_same_inputs_give_the_same_objects() -> None:
    """Pod names, hashes and times are deterministic."""

    async def run() -> list[Manifest]:
        cluster = _cluster()
        await cluster.client().apply(deployment(replicas=3))
        cluster.run_until_idle()
        await cluster.client().apply(deployment(replicas=3, image="example.com/svc:2"))
        cluster.run_until_idle()
        return cluster.snapshot()

    assert await run() == await run()


@pytest.mark.parametrize(
    ("strategy", "available"),
    [
        ({"type": "Recreate"}, "False"),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, "True"),
    ],
    ids=["recreate-needs-every-replica", "one-may-be-unavailable"],
)
async def test_available_allows_max_unavailable_missing(
    strategy: dict[str, Any], available: str
) -> None:
    """Available: at least replicas - maxUnavailable ready (maxUnavailable is 0 for Recreate)."""
    cluster = _with_cpu_node()
    await cluster.client().apply(deployment(strategy=strategy))
    cluster.clock.run_due()
    assert _conditions(await _status(cluster))["Available"][0] == available


async def test_the_pool_node_takes_as_long_as_a_node_of_its_type() -> None:
    """Default timings: the pool's node is Ready when the time-to-ready model says a node of
    its instance type would be, not before."""
    cluster = m.cluster()
    await cluster.client().apply(deployment())
    cluster.clock.run_due()
    ready_at = cluster.sim.node_times("Standard_D4s_v3").initialize
    cluster.clock.advance(ready_at - 1)
    assert cluster.store.select("v1", "Node") == []
    cluster.clock.advance(1)
    assert [n["metadata"]["name"] for n in cluster.store.select("v1", "Node")] == ["cpu-pool-0"]
