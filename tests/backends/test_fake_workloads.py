"""Simulated workloads: pod lifecycle timings, StatefulSet pods and rollouts, Jobs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kaito_backends.errors import NotFound
from kaito_backends.fake import FakeCluster, Timings
from kaito_backends.fake.sim import model_repo
from kaito_backends.objects import Manifest, ObjectRef
from tests.backends import manifests as m

STS = ObjectRef("apps/v1", "StatefulSet", "ws", m.NS)
WS = {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": m.NS}


#: Round numbers for tests of the lifecycle's mechanics (the model's defaults are tested below).
FAST = Timings(image_pull=30, load=40, warm_up=5)


def _with_node(**kwargs: Any) -> FakeCluster:
    cluster = m.cluster(**kwargs)
    cluster.add_node("n1", instance_type=m.A100, labels=WS, gpus=8)
    return cluster


def _probed(model: str = m.MODEL) -> Manifest:
    sts = m.statefulset("ws", model=model)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["startupProbe"] = {"httpGet": {"path": "/health", "port": 5000}}
    return sts


@pytest.mark.parametrize(
    ("at", "phase", "state", "started", "ready"),
    [
        (0, "Pending", "waiting", False, False),
        (29, "Pending", "waiting", False, False),
        (30, "Running", "running", False, False),
        (69, "Running", "running", False, False),
        (70, "Running", "running", True, False),
        (74, "Running", "running", True, False),
        (75, "Running", "running", True, True),
    ],
    ids=["created", "pulling", "started", "loading", "warming", "still-warming", "ready"],
)
async def test_a_serving_pod_pulls_loads_and_warms_up(
    at: float, phase: str, state: str, started: bool, ready: bool
) -> None:
    """Pull, then run without passing the startup probe while loading, then pass it and warm
    up, then Ready (Timings: 30 s pull, 40 s load, 5 s warm-up)."""
    cluster = _with_node(timings=FAST)
    await cluster.client().apply(_probed())
    cluster.clock.run_due()
    cluster.clock.advance(at)
    pod = await cluster.client().get(m.pod_ref("ws-0"))
    assert pod["status"]["phase"] == phase
    assert list(m.main_state(pod)) == [state]
    (status,) = pod["status"]["containerStatuses"]
    assert (status["started"], status["ready"]) == (started, ready)
    assert m.condition(pod, "Ready")["status"] == ("True" if ready else "False")
    if state == "waiting":
        assert m.main_state(pod)["waiting"]["reason"] == "ContainerCreating"


async def test_a_container_without_a_startup_probe_is_started_once_it_runs() -> None:
    """As the kubelet has it: no startupProbe, started as soon as it runs (not yet Ready)."""
    cluster = _with_node(timings=FAST)
    await cluster.client().apply(m.statefulset("ws"))
    cluster.clock.run_due()
    cluster.clock.advance(31)
    (status,) = (await cluster.client().get(m.pod_ref("ws-0")))["status"]["containerStatuses"]
    assert (status["started"], status["ready"]) == (True, False)


#: The model's default figures for the test pod: kaito-base:0.5.0 (5.60 GB at 5.60 GB/101 s),
#: vLLM, 8 GiB of weights downloaded at 51.75 GiB/62 s, no benchmark (kaito-project/kaito#2325).
_PULL = 7 + 101 + 3
_LOAD = 95 + 8 * (1 << 30) / 896228055 + 195


@pytest.mark.parametrize(
    ("sts", "pull", "load", "warm"),
    [
        (_probed(), _PULL, _LOAD, 1.0),
        (_probed("someone/unknown"), _PULL, 60.0, 1.0),
    ],
    ids=["catalog-model", "unknown-model-as-a-template"],
)
async def test_by_default_a_pod_takes_the_time_to_ready_models_durations(
    sts: Manifest, pull: float, load: float, warm: float
) -> None:
    """Default Timings: PullingImage, LoadingWeights and WarmingUp of the core's model."""
    cluster = _with_node()
    await cluster.client().apply(sts)
    cluster.clock.run_due()
    start = cluster.clock.monotonic()
    seen: dict[str, float] = {}
    while cluster.step():
        pod = await cluster.client().get(m.pod_ref("ws-0"))
        statuses = pod["status"].get("containerStatuses") or [{}]
        key = (
            "ready"
            if statuses[0].get("ready")
            else (
                "started"
                if statuses[0].get("started")
                else ("running" if "running" in m.main_state(pod) else "waiting")
            )
        )
        seen.setdefault(key, cluster.clock.monotonic() - start)
    assert seen["running"] == pytest.approx(pull)
    assert seen["started"] == pytest.approx(pull + load)
    assert seen["ready"] == pytest.approx(pull + load + warm)


@pytest.mark.parametrize(
    ("container", "repo"),
    [
        ({"command": ["/bin/sh", "-c", "python3 x.py --model=org/Name --tp=1"]}, "org/Name"),
        (
            {"command": ["accelerate", "launch"], "args": ["--pretrained_model_name_or_path=a/b"]},
            "a/b",
        ),
        ({"command": ["python3", "x.py", "--model", "c/d"]}, "c/d"),
        ({"command": ["/bin/sh", "-c", "echo hello"]}, None),
    ],
    ids=["vllm", "transformers", "separate-value", "none"],
)
def test_the_model_is_read_from_the_command(container: dict[str, Any], repo: str | None) -> None:
    """--model=<repo> or --pretrained_model_name_or_path=<repo>, in command or args."""
    assert model_repo(container) == repo


async def test_statefulset_pods_and_status_look_like_kubernetes() -> None:
    """Ordinal names, revision labels, owner, hostname/subdomain; full status once Ready."""
    cluster = _with_node()
    client = cluster.client()
    await client.apply(m.statefulset("ws", replicas=2))
    cluster.run_until_idle()
    sts = await client.get(STS)
    revision = sts["status"]["updateRevision"]
    assert revision.startswith("ws-")
    for i in range(2):
        pod = await client.get(m.pod_ref(f"ws-{i}"))
        labels = pod["metadata"]["labels"]
        assert labels == {
            "apps.kubernetes.io/pod-index": str(i),
            "controller-revision-hash": revision,
            "kaito.sh/workspace": "ws",
            "statefulset.kubernetes.io/pod-name": f"ws-{i}",
        }
        (owner,) = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "StatefulSet",
            "ws",
            sts["metadata"]["uid"],
            True,
        )
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (f"ws-{i}", "ws-headless")
        assert [c["type"] for c in pod["status"]["conditions"]] == [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        assert pod["status"]["podIP"]
        assert pod["status"]["hostIP"]
    assert sts["status"] == {
        "observedGeneration": 1,
        "replicas": 2,
        "readyReplicas": 2,
        "currentReplicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 2,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }


async def test_scaling_down_removes_the_highest_ordinals() -> None:
    """replicas 3 -> 1 deletes ws-2 and ws-1."""
    cluster = _with_node()
    client = cluster.client()
    await client.apply(m.statefulset("ws", replicas=3))
    cluster.run_until_idle()
    await client.apply(m.statefulset("ws", replicas=1))
    cluster.run_until_idle()
    names = [p["metadata"]["name"] for p in (await client.list("v1", "Pod", namespace=m.NS)).items]
    assert names == ["ws-0"]
    assert (await client.get(STS))["status"]["replicas"] == 1


async def test_a_template_change_rolls_the_pods_one_at_a_time() -> None:
    """Highest ordinal first; the next waits until the replacement is Ready."""
    cluster = _with_node()
    client = cluster.client()
    await client.apply(m.statefulset("ws", replicas=2))
    cluster.run_until_idle()
    old = (await client.get(STS))["status"]["currentRevision"]
    await client.apply(m.statefulset("ws", replicas=2, image="kaito-base:0.6.0"))
    cluster.clock.run_due()
    sts = await client.get(STS)
    assert sts["status"]["currentRevision"] == old != sts["status"]["updateRevision"]
    assert sts["status"]["observedGeneration"] == 2
    pod0 = await client.get(m.pod_ref("ws-0"))
    pod1 = await client.get(m.pod_ref("ws-1"))
    assert pod0["metadata"]["labels"]["controller-revision-hash"] == old
    assert pod1["metadata"]["labels"]["controller-revision-hash"] == sts["status"]["updateRevision"]
    cluster.clock.advance(60)
    assert (await client.get(m.pod_ref("ws-0")))["metadata"]["labels"][
        "controller-revision-hash"
    ] == old
    cluster.run_until_idle()
    sts = await client.get(STS)
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    assert sts["status"]["updatedReplicas"] == sts["status"]["readyReplicas"] == 2
    assert (await client.get(m.pod_ref("ws-0")))["spec"]["containers"][0][
        "image"
    ] == "kaito-base:0.6.0"


async def test_ordered_ready_creates_pods_one_after_another() -> None:
    """OrderedReady: ws-1 appears only once ws-0 is Ready."""
    cluster = _with_node(timings=FAST)
    client = cluster.client()
    await client.apply(m.statefulset("ws", replicas=2, policy="OrderedReady"))
    cluster.clock.advance(74)
    with pytest.raises(NotFound):
        await client.get(m.pod_ref("ws-1"))
    cluster.clock.advance(1)
    assert (await client.get(m.pod_ref("ws-1")))["status"]["phase"] == "Pending"


async def test_deleting_a_statefulset_collects_its_pods() -> None:
    """Owner GC: the pods go with their StatefulSet."""
    cluster = _with_node()
    client = cluster.client()
    await client.apply(m.statefulset("ws", replicas=2))
    cluster.run_until_idle()
    await client.delete(STS)
    cluster.run_until_idle()
    assert (await client.list("v1", "Pod", namespace=m.NS)).items == ()


async def test_a_job_runs_one_pod_to_completion() -> None:
    """Pod <job>-<5 chars>, active while running, then succeeded=1 and Complete."""
    cluster = _with_node(timings=FAST)
    client = cluster.client()
    await client.create(m.job("ws"))
    cluster.clock.advance(31)
    job = await client.get(ObjectRef("batch/v1", "Job", "ws", m.NS))
    assert job["status"]["active"] == 1
    assert job["status"]["ready"] == 1
    (pod,) = (await client.list("v1", "Pod", namespace=m.NS, labels={"job-name": "ws"})).items
    assert re.fullmatch(r"ws-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
    assert pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
    cluster.run_until_idle()
    job = await client.get(ObjectRef("batch/v1", "Job", "ws", m.NS))
    assert (job["status"]["succeeded"], job["status"]["active"]) == (1, 0)
    assert m.condition(job, "Complete")["status"] == "True"
    assert job["status"]["completionTime"] == "2026-01-01T00:10:30Z"
    pod = await client.get(m.pod_ref(pod["metadata"]["name"]))
    assert pod["status"]["phase"] == "Succeeded"
    assert m.main_state(pod)["terminated"]["reason"] == "Completed"


async def test_job_pod_names_are_deterministic() -> None:
    """The same calls name the Job's pod the same way."""

    async def pod_name() -> str:
        cluster = _with_node()
        await cluster.client().create(m.job("ws"))
        cluster.run_until_idle()
        (pod,) = (await cluster.client().list("v1", "Pod", labels={"job-name": "ws"})).items
        return str(pod["metadata"]["name"])

    assert await pod_name() == await pod_name()
