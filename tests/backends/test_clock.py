"""VirtualClock: time stands still until advanced; timers run at their own instants."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from kaito_backends.clock import EPOCH, Clock, SystemClock, VirtualClock, rfc3339


def test_both_clocks_are_clocks() -> None:
    """SystemClock and VirtualClock satisfy the Clock protocol."""
    assert isinstance(SystemClock(), Clock)
    assert isinstance(VirtualClock(), Clock)


def test_virtual_time_starts_at_the_epoch_and_stands_still() -> None:
    """now() is 2026-01-01T00:00:00Z and monotonic() 0 until advanced."""
    clock = VirtualClock()
    assert clock.now() == EPOCH == datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.monotonic() == 0.0
    clock.advance(90)
    assert rfc3339(clock.now()) == "2026-01-01T00:01:30Z"
    assert clock.monotonic() == 90.0


def test_naive_start_is_rejected() -> None:
    """The start must be timezone-aware."""
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))


def test_advance_runs_each_timer_at_its_own_instant() -> None:
    """Timers run in deadline order, seeing the time they were due; later ones wait."""
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []
    clock.call_later(30, lambda: seen.append(("b", clock.monotonic())))
    clock.call_at(10, lambda: seen.append(("a", clock.monotonic())))
    clock.call_later(100, lambda: seen.append(("c", clock.monotonic())))
    assert clock.next_deadline() == 10
    assert clock.advance(50) == 2
    assert seen == [("a", 10.0), ("b", 30.0)]
    assert clock.monotonic() == 50.0
    assert clock.next_deadline() == 100


def test_timers_set_by_timers_run_in_the_same_advance() -> None:
    """A timer that sets another within the advanced span sees it run too."""
    clock = VirtualClock()
    seen: list[float] = []

    def again() -> None:
        seen.append(clock.monotonic())
        if len(seen) < 3:
            clock.call_later(10, again)

    clock.call_later(10, again)
    clock.advance(100)
    assert seen == [10.0, 20.0, 30.0]


def test_cancelled_timers_do_not_run() -> None:
    """cancel() keeps a timer from running; next_deadline skips it."""
    clock = VirtualClock()
    seen: list[int] = []
    handle = clock.call_later(5, lambda: seen.append(1))
    handle.cancel()
    assert clock.next_deadline() is None
    clock.advance(10)
    assert seen == []


def test_run_due_runs_only_what_is_due() -> None:
    """run_due runs timers due now, not later ones."""
    clock = VirtualClock()
    seen: list[str] = []
    clock.call_later(0, lambda: seen.append("now"))
    clock.call_later(1, lambda: seen.append("later"))
    assert clock.run_due() == 1
    assert seen == ["now"]


def test_time_cannot_go_back() -> None:
    """advance rejects negative spans."""
    with pytest.raises(ValueError, match="back"):
        VirtualClock().advance(-1)


async def test_sleep_advances_time() -> None:
    """sleep(s) moves virtual time by s and returns at once."""
    clock = VirtualClock()
    await asyncio.wait_for(clock.sleep(3600), timeout=1)
    assert clock.monotonic() == 3600.0


async def test_system_clock_is_real_time() -> None:
    """SystemClock reads wall time (UTC) and sleeps for real."""
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before
