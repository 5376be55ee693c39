"""The engine's guarantees, each one executable: writes, idempotence, deletion, isolation, soak."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from kaito_backends.engine.controller import Controller
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.objects import Manifest, ObjectRef
from tests.engine.conftest import MAXWELL, V100, cluster_with, key, objects_of, workspace

CLAIM_API = "karpenter.sh/v1"


def _claim_births(cluster: FakeCluster) -> Counter[str]:
    """Counts every NodeClaim creation by name, from now on (a store listener)."""
    births: Counter[str] = Counter()

    def listen(change: str, obj: Manifest, old: Manifest | None) -> None:
        if obj["kind"] == "NodeClaim" and change == "ADDED":
            births[obj["metadata"]["name"]] += 1

    cluster.store.listeners.append(listen)
    return births


def _controller(cluster: FakeCluster, **kwargs: Any) -> Controller:
    return Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock, **kwargs)


def _writes_by_call(cluster: FakeCluster) -> Counter[tuple[str, str, str | None]]:
    verbs = {"create", "apply", "update", "apply_status", "delete", "provision", "release"}
    return Counter((c.verb, c.kind, c.name) for c in cluster.calls if c.verb in verbs)


async def test_converging_issues_only_the_writes_it_needs() -> None:
    """Each child applied once, one provision, one finalizer update, and no status write that
    changes nothing."""
    cluster = cluster_with(workspace("phi"))
    status_changes: list[Any] = []

    def listen(change: str, obj: Manifest, old: Manifest | None) -> None:
        if (
            obj["kind"] == "Workspace"
            and old is not None
            and obj.get("status") != old.get("status")
        ):
            status_changes.append(obj["status"])

    cluster.store.listeners.append(listen)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    writes = _writes_by_call(cluster)
    applies = {
        (kind, name): n
        for (verb, kind, name), n in writes.items()
        if verb == "apply" and kind != "Event"
    }
    assert applies
    assert all(n == 1 for n in applies.values()), f"re-applied: {applies}"
    assert {kind for kind, _ in applies} == {"ControllerRevision", "Service", "StatefulSet"}
    assert writes[("update", "Workspace", "phi")] == 1, "only the finalizer is added by update"
    assert sum(n for (v, _, _), n in writes.items() if v == "provision") == 1
    assert sum(n for (v, _, _), n in writes.items() if v == "delete") == 0
    status_writes = writes[("apply_status", "Workspace", "phi")]
    assert status_writes == len(status_changes), "every status write changed the status"
    events = sum(n for (v, k, _), n in writes.items() if k == "Event")
    assert events <= 5
    assert cluster.writes == sum(writes.values())


@pytest.mark.parametrize("memoize", [True, False], ids=["memoized", "planning-every-time"])
async def test_resyncing_converged_workspaces_issues_zero_writes(memoize: bool) -> None:
    """A resync of converged Workspaces writes nothing (with and without skipping the plan)."""
    cluster = cluster_with(
        workspace("a"),
        workspace("b", instance_type=V100),
        workspace("t", tuning=True),
        workspace("bad", instance_type=MAXWELL),
    )
    async with _controller(cluster) as ctl:
        ctl.reconciler.memoize = memoize
        await ctl.run_until_settled(3600)
        cluster.reset_counters()
        for _ in range(3):
            assert ctl.resync() == 4
            settled = await ctl.run_until_settled(3600)
            assert settled.reconciles == 4
    assert cluster.writes == 0
    if not memoize:
        assert ctl.reconciler.memo_hits == 0


async def test_no_duplicate_node_claims_under_stale_caches_and_conflicts() -> None:
    """Dropped watches, 410 Gone relists and write conflicts never create a NodeClaim twice."""
    faults = FaultPlan(11, conflict_rate=0.3, watch_drop_rate=0.2)
    manifests = [workspace(f"w{i}", count=2) for i in range(6)] + [
        workspace("big", preset="llama-3.3-70b-instruct")
    ]
    cluster = cluster_with(*manifests, faults=faults)
    births = _claim_births(cluster)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(7200)
    assert settled.succeeded, {str(k): (r.state, r.message) for k, r in settled.results.items()}
    assert any(f.fault == "conflict" for f in cluster.faults.fired)
    assert any(f.fault in ("watch_drop", "watch_gone") for f in cluster.faults.fired)
    assert births
    assert max(births.values()) == 1, "a NodeClaim name was created twice"
    claims = cluster.store.select(CLAIM_API, "NodeClaim")
    assert (
        len(claims)
        == len(births)
        == sum(r.status.target_node_count or 0 for r in settled.results.values() if r.status)
    )


async def test_no_duplicate_node_claims_across_an_engine_restart_mid_reconcile() -> None:
    """An engine killed between provisioning and applying; a new one over the same cluster
    finishes the job without a second NodeClaim."""
    cluster = cluster_with(workspace("phi", count=2), workspace("other"))
    births = _claim_births(cluster)
    provisioner = cluster.provisioner()
    provisioned = asyncio.Event()

    class DiesAfterProvision:
        name = "fake"

        def __getattr__(self, attr: str) -> Any:
            return getattr(provisioner, attr)

        async def provision(self, k: Any, claims: Any) -> None:
            await provisioner.provision(k, claims)
            provisioned.set()
            await asyncio.sleep(3600)  # the process dies here: never returns

    first = Controller(cluster.client(), DiesAfterProvision(), clock=cluster.clock)
    await first.start()
    await asyncio.wait_for(provisioned.wait(), 5)
    await first.stop()  # cancelled mid-reconcile: children not applied, status not written
    assert cluster.store.count(CLAIM_API, "NodeClaim") >= 1
    async with _controller(cluster) as second:
        settled = await second.run_until_settled(3600)
    assert settled.succeeded
    assert max(births.values()) == 1
    targets = sum((r.status.target_node_count or 0) for r in settled.results.values() if r.status)
    assert cluster.store.count(CLAIM_API, "NodeClaim") == targets == len(births)


async def test_deleting_a_workspace_leaves_nothing_behind() -> None:
    """Children garbage-collected, claims and nodes released, events gone, finalizer removed."""
    cluster = cluster_with(
        workspace("phi", count=2), workspace("tune", tuning=True), workspace("keep")
    )
    client = cluster.client()
    async with _controller(cluster) as ctl:
        assert (await ctl.run_until_settled(3600)).succeeded
        assert objects_of(cluster, "phi")
        assert objects_of(cluster, "tune")
        for name in ("phi", "tune"):
            await client.delete(ObjectRef("kaito.sh/v1beta1", "Workspace", name, "default"))
        settled = await ctl.run_until_settled(3600)
    assert settled.settled
    # the garbage collector ignores Events, as a real cluster's does: the engine deleted them
    assert objects_of(cluster, "phi") == []
    assert objects_of(cluster, "tune") == []
    assert objects_of(cluster, "keep"), "the other Workspace is untouched"
    assert set(settled.results) == {key("keep")}


async def test_one_bad_workspace_never_stops_the_others() -> None:
    """Invalid spec, unsupported GPU and a throttled Workspace next to good ones: all good ones
    succeed, the bad ones fail with reasons and are not retried in a hot loop."""
    cluster = cluster_with(
        workspace("good-1"),
        workspace("bad-preset", preset="no-such-model"),
        workspace("bad-gpu", instance_type=MAXWELL),
        workspace("good-2", instance_type=V100),
        workspace("unlucky"),
        workspace("good-3", tuning=True),
    )
    cluster.inject("server_error", name="unlucky", times=20)
    reconciles: Counter[str] = Counter()
    async with _controller(cluster) as ctl:
        original = ctl.process

        async def counting(k: Any) -> Any:
            reconciles[k.name] += 1
            return await original(k)

        ctl.process = counting  # type: ignore[method-assign,assignment]
        settled = await ctl.run_until_settled(3600)
    states = {k.name: (r.state, r.reason) for k, r in settled.results.items()}
    for name in ("good-1", "good-2", "good-3", "unlucky"):
        assert states[name][0] == "Succeeded", states
    assert states["bad-preset"] == ("Failed", "UnsupportedPreset")
    assert states["bad-gpu"] == ("Failed", "UnsupportedGPU")
    assert reconciles["bad-preset"] <= 3, reconciles
    assert reconciles["bad-gpu"] <= 3, reconciles


async def test_soak_1000_workspaces_with_seeded_faults_converges_without_loss_or_duplicates() -> (
    None
):
    """1,000 Workspaces, seeded API, watch and launch faults: every one ends Succeeded or Failed
    with a reason; no NodeClaim is created twice except to replace one refused for capacity;
    every succeeded one has exactly its claims."""
    faults = FaultPlan(
        2024,
        conflict_rate=0.03,
        throttle_rate=0.01,
        server_error_rate=0.01,
        watch_drop_rate=0.002,
        launch_failure_rate=0.01,
        retry_after=1.0,
    )
    manifests = [
        workspace(f"ws-{i:04d}", instance_type=V100 if i % 3 == 0 else "Standard_NC24ads_A100_v4")
        for i in range(1000)
    ]
    cluster = cluster_with(*manifests, faults=faults)
    births = _claim_births(cluster)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(4 * 3600)
    assert settled.settled
    assert len(settled.results) == 1000, "nothing lost"
    states = Counter(r.state for r in settled.results.values())
    assert set(states) <= {"Succeeded", "Failed"}
    failed = [r for r in settled.results.values() if r.state == "Failed"]
    assert all(r.reason == "InsufficientCapacity" and r.message for r in failed)
    assert states["Succeeded"] >= 950
    # A claim is born again only after the fake, like Karpenter, deleted it for want of capacity.
    refused = Counter(f.name for f in cluster.faults.fired if f.fault == "launch_failure")
    assert all(n <= 1 + refused[name] for name, n in births.items()), "no duplicates"
    claims = cluster.store.select(CLAIM_API, "NodeClaim")
    per_workspace = Counter(c["metadata"]["labels"]["kaito.sh/workspace"] for c in claims)
    for k, result in settled.results.items():
        if result.state == "Succeeded":
            assert per_workspace[k.name] == (
                result.status.target_node_count if result.status else 0
            )
    fired = Counter(f.fault for f in cluster.faults.fired)
    assert fired["conflict"]
    assert fired["throttle"]
    assert fired["launch_failure"]
