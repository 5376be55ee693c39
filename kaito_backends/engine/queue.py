"""A work queue with client-go's semantics, for asyncio, on an injectable clock.

The guarantees (client-go ``util/workqueue``):

- **Dedup**: adding a key that is already waiting to be processed does nothing (the ``dirty`` set).
- **One worker per key**: a key handed out by `WorkQueue.get` is in the ``processing`` set until
  `WorkQueue.done`; adding it meanwhile marks it dirty, and ``done`` puts it back in line, so two
  workers never reconcile the same Workspace at once and no change is lost.
- **Delays**: `WorkQueue.add_after` holds a key until its time has come; a key held twice keeps
  the earlier time.
- **Rate limits**: `WorkQueue.add_rate_limited` delays a key by its rate limiter: by default the
  larger of a per-key exponential backoff (5 ms doubling to 1000 s) and a global token bucket
  (10 per second, burst 100), as ``workqueue.DefaultControllerRateLimiter``. `WorkQueue.forget`
  resets a key's backoff after a success.
- **Shutdown**: `WorkQueue.shutdown` refuses new keys; `WorkQueue.get` returns ``None`` once the
  queue is empty (or at once with ``drain=False``).

Time comes from a `kaito_backends.clock.Clock`. On a `VirtualClock` delayed keys are clock timers,
so ``clock.next_deadline()`` sees them and advancing the clock releases them; on a real clock they
are event-loop timers. Everything runs on one event loop; no method is thread-safe.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import Hashable, Iterable
from typing import Generic, Protocol, TypeVar

from kaito_backends.clock import Clock, SystemClock, VirtualClock

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "WorkQueue",
    "default_rate_limiter",
]

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[K_contra]):
    """How long a key waits before it is retried (client-go ``RateLimiter``)."""

    def when(self, item: K_contra) -> float:
        """Seconds to wait before ``item`` is processed again; records one more failure."""
        ...

    def forget(self, item: K_contra) -> None:
        """Stop tracking ``item``: its next failure starts from the base delay again."""
        ...

    def num_requeues(self, item: K_contra) -> int:
        """How many times ``item`` failed since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(Generic[K]):
    """``base * 2**failures`` seconds, capped at ``maximum``, counted per key."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0) -> None:
        self.base = base
        self.maximum = maximum
        self._failures: dict[K, int] = {}

    def when(self, item: K) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 64:  # 2**64 * base overflows any sane maximum
            return self.maximum
        return min(self.base * math.pow(2, exp), self.maximum)

    def forget(self, item: K) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: K) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[K]):
    """A global token bucket (``golang.org/x/time/rate``): ``qps`` tokens a second, ``burst`` deep.

    Every `when` reserves a token; the answer is how long until that token exists. Tokens are
    never per key, so `forget` and `num_requeues` do nothing.
    """

    def __init__(self, clock: Clock, *, qps: float = 10.0, burst: int = 100) -> None:
        if qps <= 0 or burst <= 0:
            raise ValueError("qps and burst must be positive")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def when(self, item: K) -> float:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def forget(self, item: K) -> None:
        return None

    def num_requeues(self, item: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The longest wait any of ``limiters`` asks for (each one records the failure)."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("at least one rate limiter is needed")
        self.limiters = limiters

    def when(self, item: K) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: K) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: K) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_rate_limiter(clock: Clock) -> MaxOfRateLimiter[K]:
    """client-go's default: per-key 5 ms → 1000 s exponential, max'ed with a 10 qps/100 bucket."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(clock, qps=10, burst=100),
    )


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, rate-limited queue of keys (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter[K] | None = None,
        name: str = "workspaces",
    ) -> None:
        self.name = name
        self.clock: Clock = clock or SystemClock()
        self.rate_limiter: RateLimiter[K] = rate_limiter or default_rate_limiter(self.clock)
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._drain = True
        # delayed keys: when each is due, and a heap of (due, seq, key) with stale entries skipped
        self._waiting: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0
        self._timer: object | None = None  # TimerHandle or asyncio.TimerHandle
        self._timer_due = math.inf
        #: how many keys went through `add` (after dedup): for metrics and tests
        self.adds = 0

    # -- adding ------------------------------------------------------------------------------
    def add(self, item: K) -> None:
        """Mark ``item`` as needing processing (no-op when it already is, or when shut down)."""
        if self._shutting_down or item in self._dirty:
            return
        self.adds += 1
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def add_all(self, items: Iterable[K]) -> None:
        """`add` each item, in order."""
        for item in items:
            self.add(item)

    def add_after(self, item: K, delay: float) -> None:
        """Add ``item`` after ``delay`` seconds; a key already waiting keeps the earlier time."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        due = self.clock.monotonic() + delay
        current = self._waiting.get(item)
        if current is not None and current <= due:
            return
        self._waiting[item] = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, item))
        if due < self._timer_due:
            self._schedule(due)

    def add_rate_limited(self, item: K, *, at_least: float = 0.0) -> float:
        """Add ``item`` after its rate limiter's delay (or ``at_least``, if longer); returns it."""
        delay = max(self.rate_limiter.when(item), at_least)
        self.add_after(item, delay)
        return delay

    def forget(self, item: K) -> None:
        """The key succeeded: its next failure backs off from the start again."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: K) -> int:
        """How many rate-limited adds ``item`` had since it was last forgotten."""
        return self.rate_limiter.num_requeues(item)

    # -- taking --------------------------------------------------------------------------------
    def get_nowait(self) -> K | None:
        """The next key to process, or ``None`` when none is ready. Call `done` when finished."""
        if not self._queue or (self._shutting_down and not self._drain):
            return None
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    async def get(self) -> K | None:
        """Wait for the next key; ``None`` means the queue shut down (the worker should stop)."""
        while True:
            if self._shutting_down and (not self._drain or not self._queue):
                return None
            item = self.get_nowait()
            if item is not None:
                return item
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass the wake-up on to another worker
                raise

    def done(self, item: K) -> None:
        """Processing of ``item`` finished; if it was added meanwhile it goes back in line."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()

    # -- state -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Keys ready to be handed out (not the processing or delayed ones)."""
        return len(self._queue)

    @property
    def processing(self) -> int:
        """Keys handed out and not yet `done`."""
        return len(self._processing)

    @property
    def waiting(self) -> int:
        """Keys held by `add_after` / `add_rate_limited` until their time."""
        return len(self._waiting)

    def is_processing(self, item: K) -> bool:
        return item in self._processing

    def is_dirty(self, item: K) -> bool:
        return item in self._dirty

    def idle(self) -> bool:
        """Nothing ready and nothing being processed (delayed keys may still be waiting)."""
        return not self._queue and not self._processing

    def next_due(self) -> float | None:
        """When the earliest delayed key becomes ready (clock seconds), or None."""
        self._prune()
        return self._heap[0][0] if self._heap else None

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self, *, drain: bool = False) -> None:
        """Refuse new keys and stop the workers: at once, or once the ready keys are taken."""
        self._shutting_down = True
        self._drain = drain
        self._waiting.clear()
        self._heap.clear()
        self._cancel_timer()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # -- internals -------------------------------------------------------------------------------
    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _prune(self) -> None:
        heap = self._heap
        while heap and self._waiting.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)

    def _release_due(self) -> None:
        self._timer = None
        self._timer_due = math.inf
        now = self.clock.monotonic()
        heap = self._heap
        while True:
            self._prune()
            if not heap or heap[0][0] > now:
                break
            _, _, item = heapq.heappop(heap)
            del self._waiting[item]
            self.add(item)
        if heap:
            self._schedule(heap[0][0])

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            timer.cancel()  # type: ignore[attr-defined]
        self._timer = None
        self._timer_due = math.inf

    def _schedule(self, due: float) -> None:
        self._cancel_timer()
        self._timer_due = due
        clock = self.clock
        if isinstance(clock, VirtualClock):
            self._timer = clock.call_at(due, self._release_due)
        else:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, due - clock.monotonic()), self._release_due)
