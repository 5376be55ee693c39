"""A provisioner's refusal reaches ResourceReady with its own reason; its notices become Events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kaito_backends.engine.controller import Controller
from kaito_backends.errors import InsufficientCapacity, QuotaExceeded
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest, ObjectRef, WorkspaceKey
from kaito_backends.protocols import NodeProvisioner, Notice, NoticeSource
from tests.engine.conftest import cluster_with, key, workspace

QUOTA = "2 x Standard_NC24ads_A100_v4 need 48 vCPUs; quota standardNCADSA100v4Family is short"


class QuotaGate:
    """The fake provisioner behind a quota: refuses while ``short``; tells one notice."""

    def __init__(self, inner: NodeProvisioner, *, short: bool = True) -> None:
        self.inner = inner
        self.name = inner.name
        self.short = short
        self.refusals = 0
        self.notices: dict[WorkspaceKey, list[Notice]] = {}

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    async def provision(self, key: WorkspaceKey, node_claims: Sequence[Manifest]) -> None:
        if self.short and node_claims:
            self.refusals += 1
            raise QuotaExceeded(QUOTA)
        await self.inner.provision(key, node_claims)

    def take_notices(self, key: WorkspaceKey) -> tuple[Notice, ...]:
        return tuple(self.notices.pop(key, ()))


def _resource_ready(result: Any) -> tuple[str, str | None, str | None]:
    found = result.status.condition("ResourceReady")
    return found.status, found.reason, found.message


def test_quota_exceeded_is_an_insufficient_capacity_with_its_own_reason() -> None:
    """Callers that catch InsufficientCapacity catch it; the reason tells the two apart."""
    assert issubclass(QuotaExceeded, InsufficientCapacity)
    assert (InsufficientCapacity("x").reason, QuotaExceeded("x").reason) == (
        "InsufficientCapacity",
        "QuotaExceeded",
    )


async def test_a_quota_refusal_shows_as_quota_exceeded_and_recovers_when_raised() -> None:
    """ResourceReady=False/QuotaExceeded with the message, rechecked; a raised quota recovers."""
    cluster = cluster_with(workspace("phi"))
    gate = QuotaGate(cluster.provisioner())
    async with Controller(cluster.client(), gate, clock=cluster.clock) as ctl:
        first = await ctl.process(key("phi"))
        assert first is not None
        assert _resource_ready(first) == ("False", "QuotaExceeded", QUOTA)
        assert first.state == "Pending"
        assert first.requeue_after is not None
        assert first.requeue_after <= ctl.reconciler.capacity_retry
        assert _of_kind(cluster, "NodeClaim") == []
        stored = await cluster.client().get(_ref("phi"))
        reasons = {c["type"]: c["reason"] for c in stored["status"]["conditions"]}
        assert reasons["ResourceReady"] == "QuotaExceeded"
        gate.short = False  # the user raised the quota: no action on the Workspace
        settled = await ctl.run_until_settled(3600)
    assert settled.state(key("phi")) == "Succeeded"
    assert gate.refusals >= 1


async def test_a_quota_refusal_that_persists_fails_after_the_grace_with_its_reason() -> None:
    """QuotaExceeded counts as a persistent failure: terminal after failure_grace, as capacity."""
    cluster = cluster_with(workspace("phi"))
    gate = QuotaGate(cluster.provisioner())
    async with Controller(cluster.client(), gate, clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)
    result = settled.results[key("phi")]
    assert (result.state, result.reason, result.message) == ("Failed", "QuotaExceeded", QUOTA)
    assert gate.refusals > 1, "rechecked periodically, not once"


async def test_notices_become_events_on_the_workspace_once() -> None:
    """A NoticeSource provisioner's notice is recorded as an Event, once."""
    cluster = cluster_with(workspace("phi"))
    gate = QuotaGate(cluster.provisioner(), short=False)
    assert isinstance(gate, NoticeSource)
    notice = Notice(type="Warning", reason="QuotaNotChecked", message="no permission")
    gate.notices[key("phi")] = [notice]
    seen: list[tuple[str, str, str]] = []
    sink = [lambda e: seen.append((e.type, e.reason, e.message))]
    async with Controller(cluster.client(), gate, clock=cluster.clock, event_sinks=sink) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.state(key("phi")) == "Succeeded"
    assert seen.count(("Warning", "QuotaNotChecked", "no permission")) == 1
    stored = [e for e in _of_kind(cluster, "Event") if e["reason"] == "QuotaNotChecked"]
    assert len(stored) == 1
    assert stored[0]["involvedObject"]["name"] == "phi"
    assert stored[0]["count"] == 1


def _ref(name: str) -> ObjectRef:
    return ObjectRef("kaito.sh/v1beta1", "Workspace", name, "default")


def _of_kind(cluster: FakeCluster, kind: str) -> list[Manifest]:
    return [o for o in cluster.snapshot() if o["kind"] == kind]
