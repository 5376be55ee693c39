"""One reconcile step: finalizer, plan, provision, apply, status, events, deletion, errors."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_backends.engine.controller import Controller
from kaito_backends.engine.reconciler import FINALIZER, workspace_state
from kaito_backends.errors import Conflict, Transient
from kaito_backends.fake import FaultPlan
from kaito_backends.objects import ObjectRef
from kaito_core.api import Condition, Workspace, WorkspaceStatus
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from kaito_core.plan import PlanSettings, plan
from tests.engine.conftest import MAXWELL, cluster_with, key, objects_of, workspace

WS_REF = ObjectRef("kaito.sh/v1beta1", "Workspace", "phi", "default")


async def _reconcile_once(controller: Controller, name: str = "phi") -> Any:
    await controller.start()
    return await controller.process(key(name))


async def test_first_reconcile_adds_the_finalizer_and_creates_everything() -> None:
    """Finalizer, NodeClaims, children and a status, in one pass."""
    cluster = cluster_with(workspace("phi"))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        result = await ctl.process(key("phi"))
    assert result is not None
    assert result.state == "Pending"
    stored = await cluster.client().get(WS_REF)
    assert FINALIZER in stored["metadata"]["finalizers"]
    kinds = sorted(o["kind"] for o in objects_of(cluster, "phi"))
    assert kinds.count("NodeClaim") == 1
    assert {"StatefulSet", "Service", "ControllerRevision"} <= set(kinds)
    assert stored["status"]["conditions"], "a first status is written"


async def test_a_second_pass_over_the_same_state_writes_nothing() -> None:
    """Level-triggered: nothing changed, so nothing is written (status included)."""
    cluster = cluster_with(workspace("phi"))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.process(key("phi"))
        await ctl.quiesce()
        cluster.reset_counters()
        result = await ctl.process(key("phi"))
    assert result is not None
    assert result.writes == 0
    assert cluster.writes == 0


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        pytest.param(
            workspace("bad", preset="no-such-model"), "UnsupportedPreset", id="unknown-preset"
        ),
        pytest.param(
            workspace("bad", instance_type="Standard_Bogus"), "UnsupportedSKU", id="unknown-sku"
        ),
        pytest.param(
            workspace("bad", instance_type=MAXWELL), "UnsupportedGPU", id="unsupported-gpu"
        ),
    ],
)
async def test_a_spec_error_becomes_a_false_condition_and_is_not_retried(
    manifest: dict[str, Any], reason: str
) -> None:
    """SpecError: WorkspaceSucceeded=False with the reason; no requeue, no machines."""
    cluster = cluster_with(manifest)
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(600)
        reconciles = ctl.reconciles
        # a whole hour later nothing has been retried
        cluster.clock.advance(3600)
        await ctl.quiesce()
        assert ctl.reconciles == reconciles
        assert ctl.queue.waiting == 0
    result = settled.results[key("bad")]
    assert result.state == "Failed"
    assert result.spec_error
    assert result.reason == reason
    stored = await cluster.client().get(
        ObjectRef("kaito.sh/v1beta1", "Workspace", "bad", "default")
    )
    cond = {c["type"]: c for c in stored["status"]["conditions"]}["WorkspaceSucceeded"]
    assert (cond["status"], cond["reason"]) == ("False", reason)
    assert cluster.store.count("karpenter.sh/v1", "NodeClaim") == 0


async def test_a_spec_change_is_retried_at_once() -> None:
    """Fixing the spec (a new generation) reconciles again and succeeds."""
    cluster = cluster_with(workspace("phi", preset="no-such-model"))
    client = cluster.client()
    async with Controller(client, cluster.provisioner(), clock=cluster.clock) as ctl:
        first = await ctl.run_until_settled(600)
        assert first.state(key("phi")) == "Failed"
        stored = await client.get(WS_REF)
        stored["inference"]["preset"]["name"] = "phi-3-mini-4k-instruct"
        await client.update(stored)
        second = await ctl.run_until_settled(3600)
    assert second.state(key("phi")) == "Succeeded"


async def test_a_status_conflict_is_requeued_with_backoff() -> None:
    """Conflict on the status write: the reconcile fails and the key backs off, then succeeds."""
    cluster = cluster_with(workspace("phi"))
    cluster.inject("conflict", verb="apply_status", times=2)
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)
        assert ctl.errors >= 1
        assert ctl.metrics.value("kaito_reconcile_errors_total", {"kind": "Conflict"}) >= 1
    assert settled.state(key("phi")) == "Succeeded"


async def test_transient_errors_are_retried_honouring_retry_after() -> None:
    """Throttling with Retry-After: retried after that delay (virtual), then converges."""
    cluster = cluster_with(workspace("phi"))
    cluster.inject("throttle", verb="apply", kind="StatefulSet", times=6, delay=7.0)
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.state(key("phi")) == "Succeeded"
    throttled = [f.at for f in cluster.faults.fired if f.fault == "throttle"]
    assert len(throttled) == 6
    # within one reconcile each retry waited the server's 7 s (4 attempts), then the key backed off
    assert throttled[:4] == [0.0, 7.0, 14.0, 21.0]


async def test_insufficient_capacity_recovers_when_the_machine_is_asked_for_again() -> None:
    """A refused NodeClaim shows the quota message, is replaced, and the Workspace succeeds."""
    cluster = cluster_with(workspace("phi"))
    cluster.inject("launch_failure")
    seen: list[str] = []
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        original = ctl.process

        async def watching(k: Any) -> Any:
            result = await original(k)
            for condition in (result.status.conditions if result.status else None) or ():
                if condition.reason == "InsufficientCapacity":
                    seen.append(condition.message or "")
            return result

        ctl.process = watching  # type: ignore[method-assign,assignment]
        settled = await ctl.run_until_settled(3600)
    assert settled.results[key("phi")].state == "Succeeded"
    assert any("quota" in m.lower() for m in seen)


async def test_insufficient_capacity_that_persists_is_a_failure_with_the_providers_message() -> (
    None
):
    """Every launch refused: Failed after the grace period, with the quota message."""
    cluster = cluster_with(workspace("phi"), faults=FaultPlan(1, launch_failure_rate=1.0))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)
    result = settled.results[key("phi")]
    assert result.state == "Failed"
    assert result.reason == "InsufficientCapacity"
    assert "quota" in result.message.lower()


async def test_the_planner_is_injectable() -> None:
    """Any callable with plan's signature drives the engine (here: one that wraps plan)."""
    calls: list[str] = []

    def my_planner(
        ws: Workspace, *, observed: Observed, catalog: Any, now: str, settings: Any
    ) -> Outcome:
        calls.append(ws.name)
        return plan(ws, observed=observed, catalog=catalog, now=now, settings=settings)

    cluster = cluster_with(workspace("phi"))
    ctl = Controller(
        cluster.client(),
        cluster.provisioner(),
        clock=cluster.clock,
        planner=my_planner,
        catalog=cluster.catalog,
        settings=PlanSettings(provisioner="fake"),
    )
    async with ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    assert calls
    assert set(calls) == {"phi"}


async def test_a_missing_workspace_is_gone_not_an_error() -> None:
    """Reconciling a key whose Workspace does not exist is a quiet no-op."""
    cluster = cluster_with()
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        result = await ctl.process(key("ghost"))
    assert result is not None
    assert result.state == "Gone"
    assert cluster.writes == 0


async def test_deletion_releases_machines_waits_for_them_then_drops_the_finalizer() -> None:
    """Delete: machines released, the finalizer stays until the NodeClaims are gone."""
    cluster = cluster_with(workspace("phi"))
    client = cluster.client()
    async with Controller(client, cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(3600)
        await client.delete(WS_REF)
        await ctl.quiesce()
        deleting = await client.get(WS_REF)
        assert deleting["metadata"]["deletionTimestamp"]
        assert FINALIZER in deleting["metadata"]["finalizers"], "kept while claims terminate"
        assert cluster.counters[("release", "NodeClaim")] >= 1
        await ctl.run_until_settled(600)
    # Events included: the garbage collector ignores them, as a real cluster's does
    assert objects_of(cluster, "phi") == []


async def test_deletion_is_time_boxed_when_machines_never_go() -> None:
    """Machines stuck forever: after the time box the finalizer is dropped, with a Warning."""
    cluster = cluster_with(workspace("phi"))
    client = cluster.client()
    provisioner = cluster.provisioner()

    class StuckRelease:
        name = "fake"

        def __getattr__(self, attr: str) -> Any:
            return getattr(provisioner, attr)

        async def release(self, _key: Any) -> None:
            raise Transient("the cloud API is down")

    seen: list[str] = []
    ctl = Controller(
        client,
        StuckRelease(),
        clock=cluster.clock,
        finalizer_timeout=300,
        event_sinks=[lambda e: seen.append(e.reason)],
    )
    async with ctl:
        await ctl.run_until_settled(3600)
        await client.delete(WS_REF)
        started = cluster.clock.monotonic()
        await ctl.run_until_settled(3600)
        took = cluster.clock.monotonic() - started
    assert 300 <= took < 400
    assert "FinalizerTimeout" in seen
    events = [
        o for o in cluster.snapshot() if o["kind"] == "Event" and o["reason"] == "FinalizerTimeout"
    ]
    assert events
    assert "ws" in events[0]["message"], "the event names the machines left behind"
    with pytest.raises(Exception, match="not found"):
        await client.get(WS_REF)


def test_workspace_state_reads_terminal_states_from_conditions() -> None:
    """Succeeded / Failed (terminal reasons, pod failures after a grace period) / Pending."""
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)

    def status(*conds: tuple[str, str, str, str]) -> WorkspaceStatus:
        return WorkspaceStatus(
            conditions=tuple(
                Condition(type=t, status=s, reason=r, last_transition_time=at)
                for t, s, r, at in conds
            )
        )

    t0, t15 = "2026-01-01T00:00:00Z", "2026-01-01T00:15:00Z"
    assert workspace_state(None, now=now)[0] == "Pending"
    assert (
        workspace_state(status(("WorkspaceSucceeded", "True", "workspaceSucceeded", t0)), now=now)[
            0
        ]
        == "Succeeded"
    )
    capacity = ("ResourceReady", "False", "InsufficientCapacity")
    assert workspace_state(status((*capacity, t15)), now=now)[0] == "Pending"  # asked again
    assert workspace_state(status((*capacity, t0)), now=now)[0] == "Failed"  # refused 20 min
    crash = status(("InferenceReady", "False", "ContainerCrashLoopBackOff", t15))
    assert workspace_state(crash, now=now, failure_grace=600)[0] == "Pending"
    assert workspace_state(crash, now=now, failure_grace=300)[0] == "Failed"


def test_conflict_and_transient_are_backend_errors() -> None:
    """The engine backs off on exactly these (sanity check of the error tree it relies on)."""
    assert issubclass(Conflict, Exception)
    assert issubclass(Transient, Exception)
