"""Running the fake cluster's virtual clock in (scaled) real time.

The fake cluster's simulated controllers run on a `VirtualClock` that moves only when told to.
Behind an API server, time has to pass by itself: `Pacer` is an asyncio task that, every
``tick`` real seconds, advances the cluster by ``elapsed * speed`` virtual seconds through
``FakeCluster.advance`` (which lets other tasks run between timers). ``speed=60`` makes ten
virtual minutes pass in ten real seconds; ``speed=0`` freezes time (work due *now*, such as the
reconciles a write queues, still runs).

`PacedClock` is the adapter that lets the engine share that clock. A plain
`VirtualClock.sleep` *advances* time (right for a test driving the clock, wrong for a
background task in a running server: the engine's resync ``sleep(600)`` would jump the whole
cluster ten minutes). `PacedClock.sleep` instead waits until the pacer has moved the clock
that far. Timers, ``now`` and ``monotonic`` are the `VirtualClock`'s own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from kaito_backends.clock import EPOCH, VirtualClock
from kaito_backends.fake import FakeCluster

__all__ = ["PacedClock", "Pacer"]

_log = logging.getLogger("kaito.apiserver")


class PacedClock(VirtualClock):
    """A `VirtualClock` whose ``sleep`` waits for the clock instead of advancing it."""

    def __init__(self, start: datetime = EPOCH) -> None:
        super().__init__(start)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(seconds, wake)
        try:
            await future
        finally:
            handle.cancel()


class Pacer:
    """Advances a fake cluster's clock in real time, ``speed`` virtual seconds per real second."""

    def __init__(self, cluster: FakeCluster, *, speed: float = 60.0, tick: float = 0.05) -> None:
        if speed < 0:
            raise ValueError("speed cannot be negative")
        if tick <= 0:
            raise ValueError("tick must be positive")
        self.cluster = cluster
        self.speed = speed
        self.tick = tick
        self._task: asyncio.Task[None] | None = None
        #: timers that raised (logged and skipped)
        self.errors = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="fake-cluster-pacer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.tick)
            now = time.monotonic()
            elapsed, last = now - last, now
            try:
                if self.speed > 0:
                    await self.cluster.advance(elapsed * self.speed)
                else:
                    self.cluster.clock.run_due()
            except Exception:  # a broken timer must not stop time for everyone else
                self.errors += 1
                _log.exception("a fake-cluster timer failed")
