"""The work queue keeps client-go's promises: dedup, one worker per key, backoff, delays."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_backends.clock import VirtualClock
from kaito_backends.engine.queue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    WorkQueue,
    default_rate_limiter,
)


def _queue() -> tuple[WorkQueue[str], VirtualClock]:
    clock = VirtualClock()
    return WorkQueue(clock=clock), clock


def test_adding_a_waiting_key_twice_queues_it_once() -> None:
    """Dedup: a key already waiting is not added again."""
    q, _ = _queue()
    for key in ("a", "b", "a", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [q.get_nowait(), q.get_nowait(), q.get_nowait(), q.get_nowait()] == ["a", "b", "c", None]


def test_a_key_added_while_processing_waits_for_done() -> None:
    """A key being processed is never handed to a second worker; it comes back after done."""
    q, _ = _queue()
    q.add("a")
    assert q.get_nowait() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0, "must not be handed out while processing"
    assert q.get_nowait() is None
    q.done("a")
    assert len(q) == 1
    assert q.get_nowait() == "a"
    q.done("a")
    assert q.idle()


def test_done_without_new_adds_forgets_the_key() -> None:
    """A key processed and not added meanwhile leaves the queue."""
    q, _ = _queue()
    q.add("a")
    q.done(q.get_nowait() or "")
    assert q.idle()
    assert len(q) == 0


async def test_concurrent_workers_never_share_a_key() -> None:
    """Many workers, many adds of few keys: no key is ever processed twice at once."""
    q, _ = _queue()
    active: set[str] = set()
    processed: list[str] = []

    async def worker() -> None:
        while True:
            key = await q.get()
            if key is None:
                return
            assert key not in active
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 200:
                q.add(key)  # re-added while processing
            processed.append(key)
            active.discard(key)
            q.done(key)

    tasks = [asyncio.create_task(worker()) for _ in range(8)]
    for i in range(50):
        q.add(f"k{i % 5}")
    while not q.idle() or len(q):
        await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*tasks)
    assert len(processed) >= 5
    assert set(processed) == {f"k{i}" for i in range(5)}


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.sampled_from(["add", "get", "done"])), max_size=80
    )
)
@settings(max_examples=200, deadline=None)
def test_every_added_key_is_processed_and_none_twice_concurrently(
    ops: list[tuple[str, str]],
) -> None:
    """Invariant under any interleaving of add/get/done: a key is never handed out while it is
    being processed, and every add is followed by a hand-out (nothing is lost)."""
    q: WorkQueue[str] = WorkQueue(clock=VirtualClock())
    processing: set[str] = set()
    owed: set[str] = set()  # added since it was last handed out
    for key, op in ops:
        if op == "add":
            q.add(key)
            owed.add(key)
        elif op == "get":
            got = q.get_nowait()
            if got is not None:
                assert got not in processing
                processing.add(got)
                owed.discard(got)
        elif key in processing:
            processing.discard(key)
            q.done(key)
    for key in sorted(processing):
        q.done(key)
    while (got := q.get_nowait()) is not None:
        owed.discard(got)
        q.done(got)
    assert q.idle()
    assert owed == set()


def test_exponential_backoff_doubles_from_5ms_to_1000s() -> None:
    """Per-key backoff: 5 ms, 10 ms, 20 ms, ... capped at 1000 s; forget resets it."""
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert delays[-1] == 1000.0
    assert limiter.when("b") == pytest.approx(0.005), "keys back off independently"
    assert limiter.num_requeues("a") == 20
    limiter.forget("a")
    assert limiter.when("a") == pytest.approx(0.005)


def test_token_bucket_allows_a_burst_of_100_then_10_per_second() -> None:
    """Global bucket: 100 immediate tokens, then one every 100 ms; refills with time."""
    clock = VirtualClock()
    bucket: BucketRateLimiter[str] = BucketRateLimiter(clock, qps=10, burst=100)
    assert all(bucket.when(f"k{i}") == 0.0 for i in range(100))
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    clock.advance(10)
    assert bucket.when("z") == 0.0


def test_default_limiter_is_the_max_of_both() -> None:
    """The default rate limiter answers with the longer of backoff and bucket."""
    clock = VirtualClock()
    limiter: MaxOfRateLimiter[str] = default_rate_limiter(clock)
    for i in range(100):
        assert limiter.when(f"k{i}") == pytest.approx(0.005)
    # bucket exhausted: its wait dominates the first backoff of a new key
    assert limiter.when("new") == pytest.approx(0.1)
    # one key failing many times: its backoff dominates
    for _ in range(15):
        delay = limiter.when("hot")
    assert delay == pytest.approx(0.005 * 2**14)


def test_add_after_releases_the_key_when_virtual_time_reaches_it() -> None:
    """Delayed keys are clock timers: advancing virtual time releases them."""
    q, clock = _queue()
    q.add_after("a", 30)
    q.add_after("b", 10)
    assert len(q) == 0
    assert q.waiting == 2
    assert clock.next_deadline() == 10
    clock.advance(10)
    assert q.get_nowait() == "b"
    clock.advance(19.9)
    assert len(q) == 0
    clock.advance(0.1)
    assert q.get_nowait() == "a"
    assert q.waiting == 0


def test_add_after_keeps_the_earlier_time() -> None:
    """A key delayed twice is released at the earlier of the two times, once."""
    q, clock = _queue()
    q.add_after("a", 60)
    q.add_after("a", 5)
    q.add_after("a", 30)
    assert q.next_due() == 5
    clock.advance(100)
    assert q.get_nowait() == "a"
    q.done("a")
    assert q.get_nowait() is None


def test_add_rate_limited_waits_the_backoff() -> None:
    """add_rate_limited delays by the limiter; at_least raises it (Retry-After)."""
    q, clock = _queue()
    assert q.add_rate_limited("a") == pytest.approx(0.005)
    assert q.add_rate_limited("b", at_least=7) == 7
    clock.advance(0.005)
    assert q.get_nowait() == "a"
    assert q.num_requeues("a") == 1
    q.forget("a")
    assert q.num_requeues("a") == 0
    clock.advance(7)
    assert q.get_nowait() == "b"


def test_add_after_zero_adds_at_once() -> None:
    q, _ = _queue()
    q.add_after("a", 0)
    assert q.get_nowait() == "a"


async def test_get_waits_for_an_add() -> None:
    """A worker blocked in get wakes on add."""
    q, _ = _queue()
    task = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not task.done()
    q.add("a")
    assert await task == "a"


async def test_shutdown_stops_waiting_workers_and_refuses_keys() -> None:
    """After shutdown, get returns None and adds are ignored."""
    q, clock = _queue()
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.add_after("later", 5)
    q.shutdown()
    assert await asyncio.gather(*waiters) == [None, None, None]
    q.add("a")
    assert len(q) == 0
    clock.advance(10)
    assert len(q) == 0
    assert await q.get() is None


async def test_shutdown_with_drain_hands_out_the_ready_keys_first() -> None:
    q, _ = _queue()
    q.add("a")
    q.add("b")
    q.shutdown(drain=True)
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert await q.get() is None


async def test_add_after_on_a_real_clock_uses_the_event_loop() -> None:
    """On the system clock a delayed key is released by an event-loop timer."""
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 0.01)
    assert await asyncio.wait_for(q.get(), timeout=2) == "a"
