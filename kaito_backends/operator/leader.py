"""Leader election over a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

Several replicas of the operator run; one, the leader, reconciles. Each candidate loops:

1. **Acquire.** Read the Lease (create it when absent). When the record it holds changed since
   the last look, note the change and *when this process saw it* (its own monotonic clock, never
   the timestamps in the Lease, so clock skew between nodes does not matter). The Lease is free
   when its ``holderIdentity`` is empty (released), or when nobody renewed it for
   ``leaseDurationSeconds`` of local time. A free Lease is taken by updating it with the
   ``resourceVersion`` just read: when two candidates race, the API server accepts one update
   and answers the other `Conflict` (optimistic concurrency), and the loser keeps waiting.
   Attempts are ``retry_period`` apart, with client-go's jitter (up to 1.2 times longer).
2. **Lead.** Every ``retry_period`` the leader renews (``renewTime``), first with the Lease it
   wrote last (no read), else by reading it again. A renewal that fails (conflict, throttling, an
   unreachable server) is retried every ``retry_period`` until ``renew_deadline`` has passed since
   the renewal began; then leadership is lost. Because ``renew_deadline < lease_duration``, a
   leader gives up before anyone else may take over.
3. **Stop.** `LeaderElector.stop` is the graceful end: the leader's work is cancelled and awaited
   *first*, then the Lease is released (``holderIdentity`` cleared, ``leaseDurationSeconds: 1``),
   so another replica takes over at its next attempt instead of after the lease expires.
   Cancelling the task running `LeaderElector.run` is a crash as far as the Lease is concerned:
   the work is cancelled, nothing is written, and the Lease expires on its own.

Callbacks: ``on_started_leading()`` is called once leadership is won; when it returns an
awaitable, that is the leader's work, run as a task and cancelled when leadership ends (a
failure or a return from it also ends leadership, gracefully). ``on_stopped_leading()`` is called
(and awaited when async) once leadership ends, after the release. ``on_new_leader(identity)``
is called when the observed holder changes. Unlike client-go, ``on_stopped_leading`` is not
called by a candidate that never led.

Time comes from a `kaito_backends.clock.Clock`. On a `VirtualClock` waits are timers that run
when whoever drives the clock moves it past them (``FakeCluster.advance``), so tests elect,
crash and fail over in virtual seconds.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any, Literal

import attrs

from kaito_backends.clock import Clock, SystemClock, VirtualClock
from kaito_backends.engine.logs import library_logger
from kaito_backends.errors import BackendError, Conflict, NotFound
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient

__all__ = ["JITTER_FACTOR", "LEASE_API_VERSION", "LeaderElector", "LeaseRecord", "RunOutcome"]

LEASE_API_VERSION = "coordination.k8s.io/v1"
#: client-go's ``JitterFactor``: a candidate waits between 1 and 2.2 retry periods.
JITTER_FACTOR = 1.2
#: client-go's ``maxTolerableExpiredLease`` for the leader-election health check, seconds.
HEALTH_TOLERANCE = 20.0

#: Why `LeaderElector.run` returned: `stop` was called, a renewal missed its deadline, or the
#: leader's work (the awaitable ``on_started_leading`` returned) ended by itself.
RunOutcome = Literal["stopped", "lost", "finished"]
Callback = Callable[[], "Awaitable[None] | None"]


def _micro_time(clock: Clock) -> str:
    """A ``metav1.MicroTime``: RFC 3339 in UTC with microseconds."""
    return clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen(kw_only=True)
class LeaseRecord:
    """What a Lease's spec says about its holder (client-go's ``LeaderElectionRecord``)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def of(cls, lease: Manifest) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        """The Lease ``spec`` of this record (absent times are left out)."""
        out: dict[str, Any] = {"holderIdentity": self.holder_identity}
        out["leaseDurationSeconds"] = self.lease_duration_seconds
        if self.acquire_time is not None:
            out["acquireTime"] = self.acquire_time
        if self.renew_time is not None:
            out["renewTime"] = self.renew_time
        out["leaseTransitions"] = self.lease_transitions
        return out


class LeaderElector:
    """One candidate for the leadership of a Lease (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Clock | None = None,
        on_started_leading: Callback | None = None,
        on_stopped_leading: Callback | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        release_on_stop: bool = True,
        jitter: float = JITTER_FACTOR,
        log: Any = None,
    ) -> None:
        if not name or not namespace:
            raise ValueError("a Lease needs a name and a namespace")
        if not identity:
            raise ValueError("a leader-election identity must not be empty")
        if min(lease_duration, renew_deadline, retry_period) <= 0:
            raise ValueError("lease_duration, renew_deadline and retry_period must be positive")
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= jitter * retry_period:
            raise ValueError(f"renew_deadline must be greater than retry_period * {jitter:g}")
        #: the `ClusterClient` the Lease is read and written through
        self.client = client
        self.ref = ObjectRef(LEASE_API_VERSION, "Lease", name, namespace)
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock: Clock = clock or SystemClock()
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_stop = release_on_stop
        self.jitter = jitter
        self.log = log if log is not None else library_logger("kaito.operator")
        self._rng = random.Random(identity)  # jitter that differs per candidate, reproducibly
        self._lease: Manifest | None = None  # the Lease as this candidate last wrote it
        self._observed: LeaseRecord | None = None
        self._observed_time = 0.0
        self._leading = False
        self._stop_requested = False
        self._running = False
        self._waiter: asyncio.Future[None] | None = None
        self._work: asyncio.Task[Any] | None = None
        #: set while this candidate leads; cleared when leadership ends
        self.leading = asyncio.Event()
        #: the error the leader's work ended with, if it failed
        self.work_error: BaseException | None = None

    # -- reading ---------------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while this candidate holds the Lease (as far as it knows)."""
        return self._leading

    @property
    def leader(self) -> str:
        """The holder this candidate last observed (``""`` when none or not yet looked)."""
        return self._observed.holder_identity if self._observed is not None else ""

    def healthy(self, tolerance: float = HEALTH_TOLERANCE) -> str | None:
        """None when fine; a reason when this leader failed to renew for too long.

        client-go's ``HealthzAdaptor``: a leader whose last successful renewal is older than
        the lease duration plus ``tolerance`` seconds is stuck, and its liveness check fails.
        """
        if not self._leading:
            return None
        overdue = self.clock.monotonic() - self._observed_time
        if overdue > self.lease_duration + tolerance:
            return f"failed to renew the leadership of Lease {self.ref.namespace}/{self.ref.name}"
        return None

    # -- running ---------------------------------------------------------------------------------
    async def run(self) -> RunOutcome:
        """Campaign until leading, then lead until stopped or lost. Returns why it ended.

        Returns at once with ``"stopped"`` when `stop` was called before leadership was won.
        Raises the error the leader's work failed with (after the Lease was released).
        """
        if self._running:
            raise RuntimeError("this LeaderElector is already running")
        self._running = True
        outcome: RunOutcome = "stopped"
        led = ended = False
        try:
            if not await self._acquire_loop():
                return "stopped"
            led = True
            self._set_leading(True)
            self.log.info("leader.elected", lease=self._lease_name(), identity=self.identity)
            if not self._stopping():  # stopped while the winning attempt was in flight
                self._start_work()
                outcome = await self._renew_loop()
            ended = True
        finally:
            await self._cancel_work()
            if led:
                self._set_leading(False)
                if ended and outcome != "lost" and self.release_on_stop:
                    await self._release()
                if outcome == "lost":
                    self.log.warning(
                        "leader.lost", lease=self._lease_name(), identity=self.identity
                    )
                await self._call(self.on_stopped_leading)
            self._running = False
        if self.work_error is not None:
            raise self.work_error
        return outcome

    async def stop(self) -> None:
        """Ask `run` to end gracefully: stop leading (releasing the Lease) or campaigning.

        Returns at once; await the task running `run` to know when the Lease is released.
        """
        self._stop_requested = True
        self._wake()

    # -- acquiring -------------------------------------------------------------------------------
    async def _acquire_loop(self) -> bool:
        while not self._stop_requested:
            if await self._try(deadline=None):
                return True
            wait = self.retry_period * (1.0 + self._rng.random() * self.jitter)
            await self._sleep(wait)
        return False

    async def _try(self, *, deadline: float | None) -> bool:
        """One acquire-or-renew attempt, bounded by ``deadline`` (monotonic) when given."""
        try:
            if deadline is None or isinstance(self.clock, VirtualClock):
                return await self._try_acquire_or_renew()
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return False
            return await asyncio.wait_for(self._try_acquire_or_renew(), timeout=remaining)
        except TimeoutError:
            self.log.warning("leader.timeout", lease=self._lease_name())
            return False
        except BackendError as error:
            self.log.warning(
                "leader.error",
                lease=self._lease_name(),
                error=type(error).__name__,
                message=str(error),
            )
            return False

    def _lease_valid(self, now: float) -> bool:
        observed = self._observed
        if observed is None:
            return False
        return self._observed_time + observed.lease_duration_seconds > now

    async def _try_acquire_or_renew(self) -> bool:
        stamp = _micro_time(self.clock)
        now = self.clock.monotonic()
        duration = max(1, round(self.lease_duration))
        # the fast path: a leader renews the Lease it wrote last, without reading it first
        lease, observed = self._lease, self._observed
        if self._leading and lease is not None and observed is not None and self._lease_valid(now):
            renewed = attrs.evolve(observed, renew_time=stamp, lease_duration_seconds=duration)
            try:
                self._remember(await self.client.update(_with_record(lease, renewed)), now)
                return True
            except BackendError as error:
                self.log.debug("leader.fast_renew_failed", error=type(error).__name__)
        try:
            lease = await self.client.get(self.ref)
        except NotFound:
            record = LeaseRecord(
                holder_identity=self.identity,
                lease_duration_seconds=duration,
                acquire_time=stamp,
                renew_time=stamp,
                lease_transitions=0,
            )
            try:
                created = await self.client.create(self._new_lease(record))
            except Conflict:  # AlreadyExists: another candidate created it first
                return False
            self._remember(created, now)
            return True
        record = LeaseRecord.of(lease)
        self._observe(record, now)
        if (
            record.holder_identity
            and record.holder_identity != self.identity
            and self._lease_valid(now)
        ):
            return False  # held by another candidate, and renewed recently enough
        if record.holder_identity == self.identity:
            desired = attrs.evolve(record, renew_time=stamp, lease_duration_seconds=duration)
        else:
            desired = LeaseRecord(
                holder_identity=self.identity,
                lease_duration_seconds=duration,
                acquire_time=stamp,
                renew_time=stamp,
                lease_transitions=record.lease_transitions + 1,
            )
        try:
            updated = await self.client.update(_with_record(lease, desired))
        except Conflict:
            return False  # someone else wrote it since the read: they won this round
        self._remember(updated, now)
        return True

    def _observe(self, record: LeaseRecord, now: float) -> None:
        previous = self._observed
        if record != previous:
            self._observed = record
            self._observed_time = now
            if previous is None or previous.holder_identity != record.holder_identity:
                holder = record.holder_identity
                self.log.debug("leader.observed", lease=self._lease_name(), holder=holder)
                if self.on_new_leader is not None and holder:
                    self.on_new_leader(holder)

    def _remember(self, lease: Manifest, now: float) -> None:
        self._lease = lease
        self._observe(LeaseRecord.of(lease), now)
        self._observed_time = now

    def _new_lease(self, record: LeaseRecord) -> Manifest:
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace},
            "spec": record.spec(),
        }

    # -- leading ---------------------------------------------------------------------------------
    async def _renew_loop(self) -> RunOutcome:
        while True:
            if self._stopping():
                return "stopped"
            if self._work_ended():
                return "finished"
            deadline = self.clock.monotonic() + self.renew_deadline
            renewed = False
            while not self._stopping() and not self._work_ended():
                if await self._try(deadline=deadline):
                    renewed = True
                    break
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    break
                await self._sleep(min(self.retry_period, left))
            if self._stopping():
                return "stopped"
            if self._work_ended():
                return "finished"
            if not renewed:
                return "lost"
            await self._sleep(self.retry_period)

    def _start_work(self) -> None:
        self.work_error = None
        if self.on_started_leading is None:
            return
        result = self.on_started_leading()
        if inspect.isawaitable(result):
            self._work = asyncio.ensure_future(result)
            self._work.add_done_callback(lambda _: self._wake())

    def _stopping(self) -> bool:
        return self._stop_requested

    def _work_ended(self) -> bool:
        return self._work is not None and self._work.done()

    async def _cancel_work(self) -> None:
        work, self._work = self._work, None
        if work is None:
            return
        if not work.done():
            work.cancel()
        await asyncio.wait({work})  # raises only when *this* task is cancelled meanwhile
        if work.cancelled():
            return
        error = work.exception()
        if error is not None:
            self.work_error = error
            self.log.error(
                "leader.work_failed",
                error=type(error).__name__,
                message=str(error),
                exc_info=error,
            )

    async def _release(self) -> None:
        """Clear ``holderIdentity`` so the next candidate need not wait for the lease to expire."""
        lease, observed = self._lease, self._observed
        if lease is None or observed is None or observed.holder_identity != self.identity:
            return
        stamp = _micro_time(self.clock)
        record = LeaseRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=stamp,
            renew_time=stamp,
            lease_transitions=observed.lease_transitions,
        )
        try:
            released = await self._bounded(self.client.update(_with_record(lease, record)))
        except (BackendError, TimeoutError) as error:
            self.log.warning(
                "leader.release_failed", lease=self._lease_name(), error=type(error).__name__
            )
            return
        self._remember(released, self.clock.monotonic())
        self.log.info("leader.released", lease=self._lease_name(), identity=self.identity)

    async def _bounded(self, call: Awaitable[Manifest]) -> Manifest:
        if isinstance(self.clock, VirtualClock):
            return await call
        return await asyncio.wait_for(call, timeout=self.renew_deadline)

    def _set_leading(self, leading: bool) -> None:
        self._leading = leading
        if leading:
            self.leading.set()
        else:
            self.leading.clear()

    async def _call(self, callback: Callback | None) -> None:
        if callback is None:
            return
        try:
            result = callback()
            if inspect.isawaitable(result):
                await result
        except Exception as error:
            self.log.error("leader.callback_failed", error=type(error).__name__, message=str(error))

    # -- waiting ---------------------------------------------------------------------------------
    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of the clock's time, or less when `stop` (or the work) wakes us."""
        if self._stop_requested:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle: Any
        if isinstance(self.clock, VirtualClock):
            handle = self.clock.call_later(seconds, wake)
        else:
            handle = loop.call_later(seconds, wake)
        self._waiter = future
        try:
            await future
        finally:
            handle.cancel()
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _lease_name(self) -> str:
        return f"{self.ref.namespace}/{self.ref.name}"


def _with_record(lease: Manifest, record: LeaseRecord) -> Manifest:
    """``lease`` (its metadata, resourceVersion included) with ``record`` as its spec."""
    out = {k: v for k, v in lease.items() if k != "spec"}
    out["metadata"] = dict(lease.get("metadata") or {})
    out["spec"] = record.spec()
    return out
