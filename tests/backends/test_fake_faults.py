"""Fault injection: every fault kind, one-shot and by rate, reproducible from the seed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kaito_backends.errors import BackendError, Conflict, Gone, InsufficientCapacity, Transient
from kaito_backends.fake import FakeCluster, FaultPlan, Timings
from kaito_backends.objects import ObjectRef, WorkspaceKey
from tests.backends import manifests as m

WS = {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": m.NS}
KEY = WorkspaceKey(m.NS, "ws")


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": m.NS}}


async def _outcomes(plan: FaultPlan, calls: int = 60) -> list[str]:
    client = m.cluster(faults=plan).client()
    outcomes: list[str] = []
    for i in range(calls):
        try:
            if i % 2:
                await client.apply({**_cm("a"), "data": {"i": str(i)}})
            else:
                await client.list("v1", "ConfigMap")
            outcomes.append("ok")
        except BackendError as err:
            outcomes.append(type(err).__name__ + ("/429" if getattr(err, "delay", None) else ""))
    return outcomes


async def test_api_faults_repeat_for_the_same_seed() -> None:
    """Conflict, 429 and 500 by rate: the same seed and calls give the same failures."""
    plan = FaultPlan(7, conflict_rate=0.2, throttle_rate=0.2, server_error_rate=0.1)
    first = await _outcomes(plan)
    assert first == await _outcomes(plan)
    assert {"ok", "Conflict", "Transient", "Transient/429"} <= set(first)
    assert first != await _outcomes(
        FaultPlan(8, conflict_rate=0.2, throttle_rate=0.2, server_error_rate=0.1)
    )


async def test_conflicts_strike_writes_only() -> None:
    """conflict_rate=1 fails every apply/update/apply_status, never a read or a create."""
    client = m.cluster(faults=FaultPlan(1, conflict_rate=1.0)).client()
    created = await client.create(_cm("a"))
    await client.get(ObjectRef("v1", "ConfigMap", "a", m.NS))
    for write in (client.apply, client.update):
        with pytest.raises(Conflict):
            await write(created)


async def test_a_throttle_carries_its_retry_after() -> None:
    """429s are Transient with delay = FaultPlan.retry_after, or the one-shot's delay."""
    cluster = m.cluster(faults=FaultPlan(0, throttle_rate=1.0, retry_after=3.0))
    with pytest.raises(Transient) as caught:
        await cluster.client().list("v1", "Pod")
    assert caught.value.delay == 3.0
    cluster = m.cluster(faults=FaultPlan.once("throttle", delay=9.0))
    with pytest.raises(Transient) as caught:
        await cluster.client().list("v1", "Pod")
    assert caught.value.delay == 9.0
    await cluster.client().list("v1", "Pod")


async def test_one_shot_faults_strike_only_what_they_match_and_only_so_often() -> None:
    """inject(verb, kind, name, times): matching calls fail that often, without effect."""
    cluster = m.cluster()
    client = cluster.client()
    cluster.inject("conflict", verb="apply", kind="StatefulSet", times=2)
    await client.apply(_cm("unaffected"))
    for _ in range(2):
        with pytest.raises(Conflict):
            await client.apply(m.statefulset("ws"))
    assert (await client.list("apps/v1", "StatefulSet")).items == ()
    await client.apply(m.statefulset("ws"))
    cluster.inject("server_error", verb="get", name="ws")
    with pytest.raises(Transient) as caught:
        await client.get(ObjectRef("apps/v1", "StatefulSet", "ws", m.NS))
    assert caught.value.delay is None
    assert [f.fault for f in cluster.faults.fired] == ["conflict", "conflict", "server_error"]


@pytest.mark.parametrize(
    ("fault", "error"), [("watch_drop", None), ("watch_gone", Gone)], ids=["drop", "gone"]
)
async def test_a_watch_can_drop_or_go_gone(fault: Any, error: type[Exception] | None) -> None:
    """watch_drop ends the iterator; watch_gone raises Gone (410): the caller relists."""
    cluster = m.cluster()
    client = cluster.client()
    await client.create(_cm("a"))
    cluster.inject(fault, kind="ConfigMap")
    events = aiter(client.watch("v1", "ConfigMap"))
    if error is None:
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), 1)
    else:
        with pytest.raises(error):
            await asyncio.wait_for(anext(events), 1)


async def test_watch_drops_by_rate_repeat_for_the_same_seed() -> None:
    """Where a watch breaks depends only on the seed and the order of watches and events."""

    async def delivered(seed: int) -> list[int | str]:
        cluster = m.cluster(faults=FaultPlan(seed, watch_drop_rate=0.3))
        client = cluster.client()
        for i in range(20):
            await client.create(_cm(f"c{i}"))
        counts: list[int | str] = []
        for _ in range(5):
            n = 0
            try:
                async for _event in client.watch("v1", "ConfigMap"):
                    n += 1
                    if n == 20:
                        break
                counts.append(n)
            except Gone:
                counts.append(f"gone@{n}")
        return counts

    first = await delivered(3)
    assert first == await delivered(3)
    assert first != [20] * 5


async def test_a_launch_failure_refuses_the_machine() -> None:
    """provision raises InsufficientCapacity (Azure quota text); the claim is Launched=False."""
    cluster = m.cluster(faults=FaultPlan.once("launch_failure"))
    provisioner = cluster.provisioner()
    with pytest.raises(
        InsufficientCapacity, match="exceeding approved standardNCadsFamily Cores quota"
    ):
        await provisioner.provision(KEY, [m.node_claim("wsnode")])
    await provisioner.provision(KEY, [m.node_claim("wsnode")])  # idempotent: the claim exists
    cluster.clock.advance(31)
    (claim,) = await provisioner.observe(KEY)
    launched = m.condition(claim, "Launched")
    assert (launched["status"], launched["reason"]) == ("False", "InsufficientCapacity")
    assert "quota" in launched["message"]
    assert m.condition(claim, "Ready")["status"] == "False"
    assert (await cluster.client().list("v1", "Node")).items == ()


async def test_a_claim_that_found_no_capacity_is_deleted_and_can_be_asked_for_again() -> None:
    """Like Karpenter, the fake deletes a claim that found no capacity; a new one launches."""
    cluster = m.cluster(faults=FaultPlan.once("launch_failure"))
    provisioner = cluster.provisioner()
    with pytest.raises(InsufficientCapacity):
        await provisioner.provision(KEY, [m.node_claim("wsnode")])
    cluster.run_until_idle()
    assert await provisioner.observe(KEY) == ()
    await provisioner.provision(KEY, [m.node_claim("wsnode")])
    cluster.run_until_idle()
    (claim,) = await provisioner.observe(KEY)
    assert m.condition(claim, "Ready")["status"] == "True"


async def test_a_claim_created_directly_fails_at_launch() -> None:
    """A NodeClaim created through the client (not the provisioner) fails when it launches."""
    cluster = m.cluster(faults=FaultPlan(1, launch_failure_rate=1.0))
    await cluster.client().create(m.node_claim("wsnode"))
    cluster.clock.advance(29)
    (claim,) = await cluster.provisioner().observe(KEY)
    assert m.condition(claim, "Launched")["status"] == "Unknown"
    cluster.clock.advance(1)
    (claim,) = await cluster.provisioner().observe(KEY)
    assert m.condition(claim, "Launched")["reason"] == "InsufficientCapacity"


#: Round numbers (30 s pull, 40 s load, no warm-up) instead of the time-to-ready model's.
ROUND = Timings(image_pull=30, load=40, warm_up=0)


def _serving(faults: FaultPlan | None = None) -> FakeCluster:
    cluster = m.cluster(faults=faults, timings=ROUND)
    cluster.add_node("n1", instance_type=m.A100, labels=WS, gpus=8)
    return cluster


async def _main(cluster: FakeCluster, pod: str = "ws-0") -> tuple[dict[str, Any], dict[str, Any]]:
    got = await cluster.client().get(m.pod_ref(pod))
    return got, got["status"]["containerStatuses"][0]


async def test_image_pull_failures_back_off_and_stick_until_the_template_changes() -> None:
    """ErrImagePull, ImagePullBackOff; a recreated pod fails alike; a new template recovers."""
    cluster = _serving(FaultPlan.once("image_pull", name="ws"))
    client = cluster.client()
    await client.apply(m.statefulset("ws"))
    cluster.clock.advance(30)
    pod, main = await _main(cluster)
    assert main["state"]["waiting"]["reason"] == "ErrImagePull"
    assert pod["status"]["phase"] == "Pending"
    cluster.clock.advance(1)
    _, main = await _main(cluster)
    assert main["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert main["state"]["waiting"]["message"].startswith("Back-off pulling image")
    await client.delete(m.pod_ref("ws-0"))
    cluster.clock.advance(31)
    _, main = await _main(cluster)
    assert main["state"]["waiting"]["reason"] == "ImagePullBackOff"
    await client.apply(m.statefulset("ws", image="fixed:1"))
    cluster.run_until_idle()
    pod, main = await _main(cluster)
    assert main["ready"] is True
    assert pod["spec"]["containers"][0]["image"] == "fixed:1"


async def test_oom_kills_the_container_when_the_model_loads() -> None:
    """OOMKilled (exit 137) at load time, restartCount counts up, CrashLoopBackOff doubles."""
    cluster = _serving(FaultPlan.once("oom", name="ws"))
    await cluster.client().apply(m.statefulset("ws"))
    cluster.clock.advance(70)
    pod, main = await _main(cluster)
    assert main["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert main["lastState"]["terminated"]["exitCode"] == 137
    assert main["restartCount"] == 1
    assert main["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (
        "back-off 10s restarting failed container=ws pod=ws-0_default"
        in main["state"]["waiting"]["message"]
    )
    assert pod["status"]["phase"] == "Running"
    cluster.clock.advance(10)
    _, main = await _main(cluster)
    assert "running" in main["state"]
    cluster.clock.advance(40)
    _, main = await _main(cluster)
    assert main["restartCount"] == 2
    assert "back-off 20s" in main["state"]["waiting"]["message"]


async def test_a_crash_loop_can_recover_after_some_restarts() -> None:
    """crashloop exits with Error 10 s after each start; recover_after=2 makes it transient."""
    cluster = _serving(FaultPlan.once("crashloop", name="ws-0", recover_after=2))
    await cluster.client().apply(m.statefulset("ws"))
    cluster.clock.advance(40)
    _, main = await _main(cluster)
    assert (main["lastState"]["terminated"]["reason"], main["restartCount"]) == ("Error", 1)
    assert main["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    cluster.run_until_idle()
    pod, main = await _main(cluster)
    assert (main["ready"], main["restartCount"]) == (True, 2)
    assert m.condition(pod, "Ready")["status"] == "True"


async def test_a_failing_job_pod_fails_the_job() -> None:
    """restartPolicy Never: the crashed pod is Failed and the Job Failed (BackoffLimitExceeded)."""
    cluster = _serving(FaultPlan.once("crashloop"))
    await cluster.client().create(m.job("ws"))
    cluster.run_until_idle()
    job = await cluster.client().get(ObjectRef("batch/v1", "Job", "ws", m.NS))
    assert job["status"]["failed"] == 1
    assert m.condition(job, "Failed")["reason"] == "BackoffLimitExceeded"


async def test_pod_faults_by_rate_repeat_for_the_same_seed() -> None:
    """Which pods fail depends only on the seed and the pods (namespace, name, template)."""

    async def faulted(seed: int) -> list[str]:
        cluster = _serving(FaultPlan(seed, oom_rate=0.3, crashloop_rate=0.2, image_pull_rate=0.1))
        await cluster.client().apply(m.statefulset("ws", replicas=8))
        cluster.run_until_idle(300)
        return [f"{f.fault}:{f.name}" for f in cluster.faults.fired]

    first = await faulted(11)
    assert first
    assert first == await faulted(11)
    assert first != await faulted(12)
