"""Watch plumbing of the fake store: the bounded history of a kind and one watcher's queue."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from kaito_backends.errors import Gone
from kaito_backends.objects import Manifest

__all__ = ["History", "StoredEvent", "Watcher"]

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
#: (resourceVersion, type, namespace key, object, the object before the change or None for
#: ADDED); the objects are the stored (shared) dicts. The object before lets a selector-filtered
#: watch judge a change on its own, as the API server's watch cache does (see
#: `kaito_backends.apiserver.watch`).
StoredEvent = tuple[int, ChangeType, str, Manifest, Manifest | None]


class History:
    """The last ``limit`` changes of one kind; ``compacted`` is the newest version dropped."""

    __slots__ = ("compacted", "events", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.events: deque[StoredEvent] = deque()
        self.compacted = 0

    def append(self, event: StoredEvent) -> None:
        if len(self.events) >= self.limit:
            self.compacted = self.events.popleft()[0]
        self.events.append(event)

    def since(self, version: int, namespace: str | None) -> list[StoredEvent]:
        """Events newer than ``version`` (in one namespace, if given); `Gone` if compacted."""
        if version < self.compacted:
            raise Gone(
                f"too old resource version: {version} ({self.compacted + 1})",
            )
        return [
            e for e in self.events if e[0] > version and (namespace is None or e[2] == namespace)
        ]


class Watcher:
    """One open watch: a queue the store pushes to and the client's iterator drains.

    A watcher that falls more than ``limit`` events behind is closed with `Gone`, as the API
    server closes a watch whose consumer is too slow.
    """

    __slots__ = ("api_version", "error", "limit", "namespace", "queue", "ready")

    def __init__(self, api_version: str, namespace: str | None, limit: int) -> None:
        self.api_version = api_version
        self.namespace = namespace
        self.limit = limit
        self.queue: deque[tuple[ChangeType, Manifest]] = deque()
        self.ready = asyncio.Event()
        self.error: Gone | None = None

    def push(self, change: ChangeType, obj: Manifest) -> None:
        if self.error is not None:
            return
        if len(self.queue) >= self.limit:
            self.error = Gone("watch closed: the consumer fell too far behind; relist")
            self.queue.clear()
        else:
            self.queue.append((change, obj))
        self.ready.set()

    async def next(self) -> tuple[ChangeType, Manifest]:
        """The next change; raises `Gone` when the store closed this watch."""
        while not self.queue:
            if self.error is not None:
                raise self.error
            self.ready.clear()
            await self.ready.wait()
        return self.queue.popleft()
