"""Time as a seam: the real clock, and a virtual one that tests and the fake cluster drive.

- `Clock`: the protocol the shell reads time through (``now``, ``monotonic``, ``sleep``).
- `SystemClock`: wall time and `asyncio.sleep`.
- `VirtualClock`: time stands still until someone advances it. It also keeps timers
  (``call_at``/``call_later``) that run when time reaches them, which is how the fake cluster's
  simulated controllers move: ``clock.advance(90)`` runs every timer due in the next 90 virtual
  seconds, each at its own instant, in order.
- `rfc3339`: the timestamp format of Kubernetes metadata (``2026-01-01T00:00:00Z``).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["EPOCH", "Clock", "SystemClock", "TimerHandle", "VirtualClock", "rfc3339"]

#: Where a `VirtualClock` starts unless told otherwise.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """``2026-01-01T00:01:30Z``: UTC, whole seconds, as Kubernetes writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@runtime_checkable
class Clock(Protocol):
    """What the shell needs of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines and durations)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TimerHandle:
    """A timer of a `VirtualClock`; ``cancel()`` keeps it from running."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this timer (no effect once it ran)."""
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<TimerHandle when={self.when:.3f}{state}>"


class VirtualClock:
    """A clock that moves only when told to, with timers that run as it passes them.

    ``monotonic()`` starts at 0.0; ``now()`` is ``start`` plus that many seconds. Timers with the
    same deadline run in the order they were set. ``sleep(s)`` advances the clock by ``s`` (running
    the timers it passes) and yields to the event loop once: a sleeper never waits for anyone.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._t = 0.0
        self._seq = 0
        self._heap: list[tuple[float, int, TimerHandle]] = []

    # -- reading -------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._t)

    def monotonic(self) -> float:
        return self._t

    # -- timers ----------------------------------------------------------------------------------
    def call_at(self, when: float, fn: Callable[[], object]) -> TimerHandle:
        """Run ``fn()`` when ``monotonic()`` reaches ``when`` (at once on the next run if past)."""
        handle = TimerHandle(max(when, self._t), fn)
        self._seq += 1
        heapq.heappush(self._heap, (handle.when, self._seq, handle))
        return handle

    def call_later(self, delay: float, fn: Callable[[], object]) -> TimerHandle:
        """Run ``fn()`` ``delay`` seconds from now."""
        return self.call_at(self._t + max(0.0, delay), fn)

    def next_deadline(self) -> float | None:
        """When the earliest pending timer is due, or None when none is pending."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        """How many timers are set and not cancelled."""
        return sum(1 for _, _, handle in self._heap if not handle.cancelled)

    def run_due(self) -> int:
        """Run every timer due now (including ones those set for now); return how many ran."""
        ran = 0
        heap = self._heap
        while heap and heap[0][0] <= self._t:
            _, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            handle.cancelled = True
            handle.callback()
            ran += 1
        return ran

    # -- moving ----------------------------------------------------------------------------------
    def advance(self, seconds: float) -> int:
        """Move time forward ``seconds``, running each timer it passes at its own instant.

        Returns how many timers ran.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        target = self._t + seconds
        ran = self.run_due()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self._t = deadline
            ran += self.run_due()
        self._t = target
        return ran

    def advance_to_next(self) -> float | None:
        """Jump to the next deadline and run what is due there; return the new time or None."""
        self.run_due()
        deadline = self.next_deadline()
        if deadline is None:
            return None
        self._t = max(self._t, deadline)
        self.run_due()
        return self._t

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
