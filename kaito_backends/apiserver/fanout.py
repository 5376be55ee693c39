"""Fanning the store's changes out to many HTTP watch streams at a bounded cost.

A watch stream used to hold its own store watcher, a pump task and a queue, and to encode and
write every event on its own: with 200 watches open each create cost 200 task switches, 200
JSON encodings and 200 writes, and the server fell from thousands of creates per second to a
few hundred. The `WatchHub` replaces that:

- **one log per kind**: a store listener appends every change once, synchronously with the
  write, so the log never lags the store (a stream opened now starts from the store's history
  and continues from the log's end without a gap or a duplicate);
- **encode once**: an event's JSON (`encoded`) is computed on first use and kept with the log
  entry, per API version; and the whole chunk a flush sends (`WatchHub.chunk`) is built once
  per (API version, namespace, range) and shared by every stream that sends objects as they
  are, without selectors: 200 such streams cost one encoding and one join per event, plus one
  write each per flush;
- **coalesced wake-ups**: a change schedules one flush a little later; the flush wakes the
  kind's streams once, and each writes everything new in one chunk. A burst of N changes costs
  each stream one wake-up and one write, not N. The delay grows with the number of open
  streams (``flush_interval``, 10 ms, or ``per_stream`` times the streams, 0.25 ms each, at
  most ``max_interval``, 100 ms), because the writes, not the encoding, are what costs: one
  ``send`` on loopback is tens of microseconds, so 200 streams flushed every 10 ms would spend
  the whole event loop on them. At 200 streams events arrive within about 50 ms;
- **bounded lag**: entries every stream has passed are dropped at each flush; a stream that
  falls ``max_lag`` entries behind is told 410 Expired and closed, as the API server closes a
  watch whose consumer is too slow.

Streams read the log with `WatchHub.since` (or share `WatchHub.chunk`) and filter by namespace
themselves. Waiting streams are also woken every ``tick`` seconds (0.5) so they notice a closed
connection, a deadline or a due bookmark without a timer of their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from kaito_backends.fake.store import Store
from kaito_backends.fake.watches import ChangeType
from kaito_backends.objects import Manifest, group_of

__all__ = ["Entry", "KindLog", "WatchHub", "encoded", "line"]

#: (group, kind)
GroupKind = tuple[str, str]


class Entry:
    """One change in a kind's log: its type, namespace, object, the object before it (None for
    ADDED; selector-filtered streams judge the change by both), and its encodings."""

    __slots__ = ("change", "encodings", "namespace", "obj", "old")

    def __init__(
        self, change: ChangeType, namespace: str, obj: Manifest, old: Manifest | None = None
    ) -> None:
        self.change = change
        self.namespace = namespace
        self.obj = obj
        self.old = old
        self.encodings: dict[str, bytes] | None = None


def line(change: str, body: bytes) -> bytes:
    """One watch event line: ``{"type":...,"object":...}`` and a newline."""
    return b'{"type":"' + change.encode() + b'","object":' + body + b"}\n"


def encoded(entry: Entry, api_version: str, order: Callable[[Manifest], Manifest]) -> bytes:
    """The JSON of the entry's object as served in ``api_version`` (computed once, shared)."""
    encodings = entry.encodings
    if encodings is None:
        encodings = entry.encodings = {}
    found = encodings.get(api_version)
    if found is None:
        obj = entry.obj
        if obj.get("apiVersion") != api_version:
            obj = {**obj, "apiVersion": api_version}
        found = encodings[api_version] = json.dumps(order(obj), separators=(",", ":")).encode()
    return found


class KindLog:
    """The retained changes of one kind and the streams reading them."""

    __slots__ = ("base", "entries", "positions", "ready")

    def __init__(self) -> None:
        #: the absolute position of ``entries[0]``
        self.base = 0
        self.entries: list[Entry] = []
        #: the position each open stream has read up to (by stream id)
        self.positions: dict[int, int] = {}
        self.ready = asyncio.Event()

    @property
    def end(self) -> int:
        return self.base + len(self.entries)


class WatchHub:
    """The store's changes for the HTTP watch streams (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        flush_interval: float = 0.01,
        per_stream: float = 0.00025,
        max_interval: float = 0.1,
        max_lag: int = 100_000,
        tick: float = 0.5,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.per_stream = per_stream
        self.max_interval = max_interval
        self.max_lag = max_lag
        self.tick = tick
        self._ticking: asyncio.TimerHandle | None = None
        self._logs: dict[GroupKind, KindLog] = {}
        self._chunks: dict[tuple[str, str, str | None, int, int], bytes] = {}
        self._pending = False
        self._next_id = 0
        store.listeners.append(self._on_change)

    def close(self) -> None:
        """Stop listening to the store and ticking; wake every stream."""
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        self.wake()

    # -- the store side --------------------------------------------------------------------------
    def _on_change(self, change: ChangeType, obj: Manifest, old: Manifest | None) -> None:
        log = self._logs.get((group_of(obj["apiVersion"]), obj["kind"]))
        if log is None or not log.positions:
            return
        log.entries.append(Entry(change, obj["metadata"].get("namespace") or "", obj, old))
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_later(self.interval(), self._flush)

    def interval(self) -> float:
        """The delay of the next flush, for the streams open now (see the module docstring)."""
        scaled = self.per_stream * self.streams()
        return min(self.max_interval, max(self.flush_interval, scaled))

    def _flush(self) -> None:
        self._pending = False
        self._chunks.clear()
        for log in self._logs.values():
            if not log.positions:
                continue
            oldest = min(log.positions.values())
            if oldest > log.base:
                del log.entries[: oldest - log.base]
                log.base = oldest
            log.ready.set()
            log.ready.clear()

    # -- the stream side -------------------------------------------------------------------------
    def open(self, api_version: str, kind: str) -> tuple[int, int]:
        """Register a stream; returns its id and the log position it starts reading from."""
        gk = (group_of(api_version), kind)
        log = self._logs.get(gk)
        if log is None:
            log = self._logs[gk] = KindLog()
        self._next_id += 1
        log.positions[self._next_id] = log.end
        if self._ticking is None:
            self._ticking = asyncio.get_running_loop().call_later(self.tick, self._tick)
        return self._next_id, log.end

    def close_stream(self, api_version: str, kind: str, stream: int) -> None:
        """Forget a stream (its position no longer holds entries back)."""
        log = self._logs.get((group_of(api_version), kind))
        if log is not None:
            log.positions.pop(stream, None)
            if not log.positions:
                end = log.end
                log.entries.clear()
                log.base = end

    def since(self, api_version: str, kind: str, stream: int) -> list[Entry] | None:
        """The entries the stream has not read yet (marking them read); None when it fell more
        than ``max_lag`` behind and must be closed with 410."""
        found = self.advance(api_version, kind, stream)
        if found is None:
            return None
        log = self._logs[(group_of(api_version), kind)]
        return log.entries[found[0] - log.base : found[1] - log.base]

    def advance(self, api_version: str, kind: str, stream: int) -> tuple[int, int] | None:
        """The range of positions the stream has not read yet (marking them read); None when
        it fell more than ``max_lag`` behind and must be closed with 410."""
        log = self._logs[(group_of(api_version), kind)]
        position = log.positions[stream]
        end = log.end
        if end - position > self.max_lag:
            return None
        log.positions[stream] = end
        return position, end

    def chunk(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        span: tuple[int, int],
        order: Callable[[Manifest], Manifest],
    ) -> bytes:
        """The watch lines of the positions in ``span`` for a plain stream (objects as they are,
        no selectors) in ``namespace`` (None: all), built once per flush and shared."""
        key = (api_version, kind, namespace, span[0], span[1])
        found = self._chunks.get(key)
        if found is None:
            log = self._logs[(group_of(api_version), kind)]
            found = self._chunks[key] = b"".join(
                line(entry.change, encoded(entry, api_version, order))
                for entry in log.entries[span[0] - log.base : span[1] - log.base]
                if namespace is None or entry.namespace == namespace
            )
        return found

    async def wait(self, api_version: str, kind: str) -> None:
        """Wait for the next flush of the kind, or the next tick (at most ``tick`` seconds)."""
        await self._logs[(group_of(api_version), kind)].ready.wait()

    def wake(self) -> None:
        """Wake every waiting stream now (the server is stopping, or the periodic tick)."""
        for log in self._logs.values():
            log.ready.set()
            log.ready.clear()

    def _tick(self) -> None:
        self._ticking = None
        self.wake()
        if self.streams():
            self._ticking = asyncio.get_running_loop().call_later(self.tick, self._tick)

    def pending(self, api_version: str, kind: str, stream: int) -> bool:
        """Whether entries wait for this stream."""
        log = self._logs[(group_of(api_version), kind)]
        return log.positions[stream] < log.end

    def streams(self) -> int:
        """Open streams, over every kind (for tests and metrics)."""
        return sum(len(log.positions) for log in self._logs.values())
