"""Leader election over a Lease: one leader, fail-over on expiry, graceful release, conflicts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_backends.operator.leader import LeaderElector, LeaseRecord

LEASE = ObjectRef("coordination.k8s.io/v1", "Lease", "kaito-leader", "kaito-system")


class Candidate:
    """An elector, its task, and what its callbacks saw."""

    def __init__(self, cluster: FakeCluster, identity: str, **kwargs: Any) -> None:
        self.events: list[str] = []
        self.working = False
        self.elector = LeaderElector(
            cluster.client(),
            name=LEASE.name,
            namespace=str(LEASE.namespace),
            identity=identity,
            clock=cluster.clock,
            on_started_leading=self._work,
            on_stopped_leading=lambda: self.events.append("stopped"),
            **kwargs,
        )
        self.task: asyncio.Task[Any] = asyncio.create_task(self.elector.run())

    async def _work(self) -> None:
        self.events.append("started")
        self.working = True
        try:
            await asyncio.Event().wait()
        finally:
            self.working = False

    async def crash(self) -> None:
        """Stop renewing without releasing, as a killed process would."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


async def holder(cluster: FakeCluster) -> LeaseRecord:
    """The Lease's record, read from the store (past any injected faults)."""
    lease = cluster.store.find(LEASE.api_version, LEASE.kind, LEASE.namespace, LEASE.name)
    assert lease is not None
    return LeaseRecord.of(lease)


async def test_two_candidates_elect_exactly_one(cluster: FakeCluster) -> None:
    """Both campaign at once: one leads and runs its work, the other sees it as the leader."""
    a, b = Candidate(cluster, "a"), Candidate(cluster, "b")
    await cluster.advance(30)
    leaders = [c for c in (a, b) if c.elector.is_leader]
    assert len(leaders) == 1
    winner, loser = (a, b) if a.elector.is_leader else (b, a)
    assert winner.working
    assert winner.events == ["started"]
    assert loser.events == []
    assert not loser.working
    assert loser.elector.leader == winner.elector.identity
    record = await holder(cluster)
    assert record.holder_identity == winner.elector.identity
    assert record.lease_duration_seconds == 15
    assert record.lease_transitions == 0
    assert record.renew_time is not None
    assert record.renew_time.endswith("Z")
    for c in (a, b):
        await c.crash()


async def test_crashed_leader_is_replaced_after_the_lease_expires(cluster: FakeCluster) -> None:
    """A leader that stops renewing is replaced once the lease duration has passed, not before."""
    a = Candidate(cluster, "a")
    await cluster.advance(1)
    b = Candidate(cluster, "b")
    await cluster.advance(10)
    assert a.elector.is_leader
    assert not b.elector.is_leader
    await a.crash()
    assert a.events == ["started", "stopped"]
    assert (await holder(cluster)).holder_identity == "a"  # a crash writes nothing
    await cluster.advance(12)
    assert not b.elector.is_leader  # the lease (15 s) has not expired yet
    await cluster.advance(10)
    assert b.elector.is_leader
    assert b.working
    record = await holder(cluster)
    assert record.holder_identity == "b"
    assert record.lease_transitions == 1
    await b.crash()


async def test_graceful_stop_releases_for_an_immediate_takeover(cluster: FakeCluster) -> None:
    """stop() cancels the work, clears holderIdentity, and the next attempt of another wins."""
    a = Candidate(cluster, "a")
    await cluster.advance(1)
    b = Candidate(cluster, "b")
    await cluster.advance(6)
    await a.elector.stop()
    assert await a.task == "stopped"
    assert not a.working
    assert a.events == ["started", "stopped"]
    released = await holder(cluster)
    assert released.holder_identity == ""
    assert released.lease_duration_seconds == 1
    await cluster.advance(2.2 * 2 + 0.1)  # at most one jittered retry period
    assert b.elector.is_leader
    assert (await holder(cluster)).lease_transitions == 1
    await b.crash()


async def test_stop_before_winning_returns_without_leading(cluster: FakeCluster) -> None:
    """A follower that is stopped simply stops campaigning; the leader is untouched."""
    a = Candidate(cluster, "a")
    await cluster.advance(1)
    b = Candidate(cluster, "b")
    await cluster.advance(3)
    await b.elector.stop()
    assert await b.task == "stopped"
    assert b.events == []
    assert (await holder(cluster)).holder_identity == "a"
    await a.crash()


async def test_a_renewal_conflict_is_retried_within_the_deadline(cluster: FakeCluster) -> None:
    """Conflicts on a few renewals do not cost the leadership."""
    a = Candidate(cluster, "a")
    await cluster.advance(1)
    cluster.inject("conflict", verb="update", kind="Lease", times=3)
    await cluster.advance(20)
    assert a.elector.is_leader
    assert a.events == ["started"]
    assert sum(1 for f in cluster.faults.fired if f.kind == "Lease") == 3
    await a.crash()


async def test_renewals_failing_past_the_deadline_lose_leadership(cluster: FakeCluster) -> None:
    """When no renewal succeeds for renew_deadline, the leader steps down and its work stops."""
    a = Candidate(cluster, "a")
    await cluster.advance(1)
    cluster.inject("server_error", verb="get", kind="Lease", times=100)
    cluster.inject("conflict", verb="update", kind="Lease", times=100)
    await cluster.advance(12)
    assert await a.task == "lost"
    assert not a.elector.is_leader
    assert not a.working
    assert a.events == ["started", "stopped"]
    assert (await holder(cluster)).holder_identity == "a"  # a lost lease is not released


async def test_a_conflicting_takeover_loses_the_race(cluster: FakeCluster) -> None:
    """A candidate whose acquiring update conflicts does not lead; it wins a later round."""
    await cluster.client().create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE.name, "namespace": LEASE.namespace},
            "spec": {"holderIdentity": "", "leaseDurationSeconds": 1, "leaseTransitions": 4},
        }
    )
    cluster.inject("conflict", verb="update", kind="Lease", times=1)
    b = Candidate(cluster, "b")
    await cluster.advance(0)
    assert not b.elector.is_leader
    await cluster.advance(5)
    assert b.elector.is_leader
    assert (await holder(cluster)).lease_transitions == 5
    await b.crash()


async def test_transient_errors_while_campaigning_are_survived(cluster: FakeCluster) -> None:
    """Throttling on reads only delays the election."""
    cluster.inject("throttle", verb="get", kind="Lease", times=2)
    a = Candidate(cluster, "a")
    await cluster.advance(15)
    assert a.elector.is_leader
    await a.crash()


async def test_work_that_ends_releases_the_lease(cluster: FakeCluster) -> None:
    """When the leader's work fails, run() releases the Lease and raises the error."""

    async def failing() -> None:
        raise RuntimeError("boom")

    elector = LeaderElector(
        cluster.client(),
        name=LEASE.name,
        namespace=str(LEASE.namespace),
        identity="a",
        clock=cluster.clock,
        on_started_leading=failing,
    )
    task = asyncio.create_task(elector.run())
    await cluster.advance(1)
    with pytest.raises(RuntimeError, match="boom"):
        await task
    assert (await holder(cluster)).holder_identity == ""


def test_health_check_fails_only_for_a_stuck_leader(cluster: FakeCluster) -> None:
    """healthy() is None for followers and fresh leaders."""
    elector = LeaderElector(
        cluster.client(), name="l", namespace="ns", identity="a", clock=cluster.clock
    )
    assert elector.healthy() is None
    elector._set_leading(True)
    cluster.clock.advance(36)
    assert elector.healthy() is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, "greater than renew_deadline"),
        ({"renew_deadline": 2, "retry_period": 2}, "retry_period"),
        ({"retry_period": 0}, "positive"),
        ({"identity": ""}, "identity"),
    ],
    ids=["lease-not-above-deadline", "deadline-not-above-retry", "zero", "no-identity"],
)
def test_bad_timings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """The same checks as client-go's NewLeaderElector."""
    settings: dict[str, Any] = {"name": "l", "namespace": "ns", "identity": "a", **kwargs}
    with pytest.raises(ValueError, match=message):
        LeaderElector(object(), **settings)
