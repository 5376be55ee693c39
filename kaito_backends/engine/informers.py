"""Watch-backed caches of one kind each (client-go's shared informer, reduced to what we use).

The one informer of the project, over any `ClusterClient` (the fake cluster's, the fake API
server's, a real cluster's `KubernetesClient`); `kaito_backends.kubernetes.Informer` is a
copy-on-read front end of it.

An `Informer` lists a kind, then watches it from the list's ``resourceVersion``, keeping every
object in memory by (namespace, name) with secondary indexes, and calls its handlers on each
change. A BOOKMARK only moves the version forward (so the next watch resumes from a recent
point) and is not delivered. A watch that ends is re-opened from the last version seen, at once
unless three in a row ended empty-handed (then with backoff); one that raises `Gone` (the
version was compacted) is replaced by a relist, whose differences to the cache are delivered to
the handlers as the ADDED / MODIFIED / DELETED events that were missed. A server that does not
answer at all (`Unreachable`: refused, reset; it is down or restarting) is tried again every
``reconnect_interval`` seconds, so the cache resumes within about that long of the server coming
back, however long it was away. A server that answers with an error and a Retry-After
(`Transient` ``delay``) is tried again after that delay (at least ``error_backoff``, at most
``max_backoff``). Other errors back off exponentially from ``error_backoff`` doubling to
``max_backoff`` seconds, counted from the last time the server was unreachable; then list again.
Every wait is stretched by up to ``1 + jitter``. A kind the server does not know (`NotFound`: a
CRD that is not installed) reads as empty and is retried after ``missing_kind_retry`` seconds
(default `MISSING_KIND_RETRY`, 15).
Waits go through ``sleep`` (default: `pause` on the clock).

Caches may lag the server; the engine tolerates that (every write is idempotent or carries a
``resourceVersion`` precondition). Cached objects are shared: never mutate what `get` or
`by_index` return.

``metadata_only`` lists and watches metadata only (``PartialObjectMetadata`` on a real server):
the Secret informer uses it, so Secret contents are never even fetched. ``transform`` runs on
every object before it is cached (the Secret informer also drops ``data`` and ``stringData`` with
it, in case a client ignores ``metadata_only``).
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Hashable, Iterable

from kaito_backends.clock import Clock, VirtualClock
from kaito_backends.errors import BackendError, Gone, NotFound, Transient, Unreachable
from kaito_backends.objects import Manifest, is_cluster_scoped
from kaito_backends.protocols import ClusterClient

__all__ = ["MISSING_KIND_RETRY", "Handler", "Indexer", "Informer", "pause", "strip_secret_data"]

#: Seconds between two looks for a kind the server does not serve (a CRD not installed yet):
#: the informers' list, and the reconcile of an object waiting for it.
MISSING_KIND_RETRY = 15.0

#: (type, object, previous object or None); type is ADDED, MODIFIED or DELETED. A handler that
#: returns an awaitable is awaited before the next change is applied.
Handler = Callable[[str, Manifest, "Manifest | None"], "Awaitable[None] | None"]
#: The index values of one object (an object may have several, or none).
Indexer = Callable[[Manifest], Iterable[Hashable]]

ObjKey = tuple[str, str]


def strip_secret_data(obj: Manifest) -> Manifest:
    """A Secret without its payload: only metadata and type are kept."""
    return {k: v for k, v in obj.items() if k not in ("data", "stringData")}


async def pause(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` of the clock's time without moving it.

    On a `VirtualClock`, ``sleep`` *advances* time; a background task that only wants to wait
    (a retry later) sets a timer instead and lets whoever drives the clock decide when.
    """
    if isinstance(clock, VirtualClock):
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = clock.call_later(seconds, wake)
        try:
            await future
        finally:
            handle.cancel()
    else:
        await clock.sleep(seconds)


def _okey(obj: Manifest, cluster_scoped: bool) -> ObjKey:
    meta = obj.get("metadata") or {}
    ns = "" if cluster_scoped else str(meta.get("namespace") or "")
    return ns, str(meta.get("name") or "")


class Informer:
    """List-then-watch cache of one kind (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        api_version: str,
        kind: str,
        *,
        clock: Clock,
        namespace: str | None = None,
        indexers: dict[str, Indexer] | None = None,
        transform: Callable[[Manifest], Manifest] | None = None,
        metadata_only: bool = False,
        missing_kind_retry: float = MISSING_KIND_RETRY,
        error_backoff: float = 1.0,
        max_backoff: float = 60.0,
        reconnect_interval: float = 1.0,
        jitter: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.clock = clock
        self.cluster_scoped = is_cluster_scoped(kind)
        self.indexers = dict(indexers or {})
        self.transform = transform
        self.metadata_only = metadata_only
        self.missing_kind_retry = missing_kind_retry
        self.error_backoff = error_backoff
        self.max_backoff = max_backoff
        self.reconnect_interval = reconnect_interval
        self.jitter = jitter
        self._sleep = sleep
        self.objects: dict[ObjKey, Manifest] = {}
        self._indexes: dict[str, dict[Hashable, set[ObjKey]]] = {n: {} for n in self.indexers}
        self._values: dict[ObjKey, dict[str, tuple[Hashable, ...]]] = {}
        self.handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self.resource_version = ""
        #: the kind is not served (CRD missing); retried every ``missing_kind_retry`` seconds
        self.missing = False
        #: changes seen (watch events and relist differences): for idleness checks and tests
        self.changes = 0
        self.relists = 0
        self.rewatches = 0
        self.bookmarks = 0
        self.errors = 0
        #: the latest failure (Gone, NotFound or another `BackendError`)
        self.last_error: BaseException | None = None

    # -- reading ---------------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> Manifest | None:
        ns = "" if self.cluster_scoped else (namespace or "")
        return self.objects.get((ns, name))

    def by_index(self, index: str, value: Hashable) -> list[Manifest]:
        """Cached objects whose ``index`` values include ``value``, sorted by (namespace, name)."""
        keys = self._indexes[index].get(value)
        if not keys:
            return []
        objects = self.objects
        return [objects[k] for k in sorted(keys)]

    def index_keys(self, index: str, value: Hashable) -> set[ObjKey]:
        return set(self._indexes[index].get(value, ()))

    def values(self) -> list[Manifest]:
        return [self.objects[k] for k in sorted(self.objects)]

    def __len__(self) -> int:
        return len(self.objects)

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    # -- running ---------------------------------------------------------------------------------
    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            await pause(self.clock, seconds)

    def _jittered(self, delay: float) -> float:
        if self.jitter > 0:
            delay *= 1 + self.jitter * random.random()  # spreads retries; not security-relevant
        return float(delay)

    def _backoff(self, failures: int) -> float:
        """``error_backoff`` doubling with each failure, at most ``max_backoff``, jittered."""
        return self._jittered(
            min(self.error_backoff * 2 ** min(max(failures - 1, 0), 6), self.max_backoff)
        )

    def _retry_delay(self, error: BackendError, failures: int) -> float:
        """How long to wait before listing again after ``error`` (see the module docstring)."""
        if isinstance(error, Unreachable):
            return self._jittered(min(self.reconnect_interval, self.max_backoff))
        if isinstance(error, Transient) and error.delay is not None:
            return self._jittered(min(max(error.delay, self.error_backoff), self.max_backoff))
        return self._backoff(failures)

    async def run(self) -> None:
        """List and watch until cancelled."""
        failures = 0
        while True:
            try:
                await self._list()
                failures = 0
                await self._watch_until_gone()
            except asyncio.CancelledError:
                raise
            except NotFound as exc:
                self.last_error = exc
                await self._mark_missing()
                await self._wait(self.missing_kind_retry)
            except Gone as exc:
                self.last_error = exc
                continue  # relist at once
            except BackendError as exc:
                self.errors += 1
                self.last_error = exc
                # the exponential backoff counts answered failures since the server came back
                failures = 0 if isinstance(exc, Unreachable) else failures + 1
                await self._wait(self._retry_delay(exc, failures))

    async def _list(self) -> None:
        result = await self.client.list(
            self.api_version, self.kind, namespace=self.namespace, metadata_only=self.metadata_only
        )
        self.relists += 1
        # a server always versions a list; none means the kind is not served (the kubernetes
        # client reads a 404 on list so)
        self.missing = not result.resource_version
        fresh: dict[ObjKey, Manifest] = {}
        for item in result.items:
            obj = self.transform(item) if self.transform else item
            fresh[_okey(obj, self.cluster_scoped)] = obj
        for key in [k for k in self.objects if k not in fresh]:
            await self._delete(key)
        for key, obj in fresh.items():
            await self._upsert(key, obj)
        self.resource_version = result.resource_version
        self.synced.set()

    async def _watch_until_gone(self) -> None:
        """Watch from the last version; re-open a watch that ends. Returns never; raises Gone."""
        empty = 0
        while True:
            stream = self.client.watch(
                self.api_version,
                self.kind,
                namespace=self.namespace,
                resource_version=self.resource_version or None,
                metadata_only=self.metadata_only,
            )
            delivered = 0
            try:
                async for event in stream:
                    delivered += 1
                    obj = event.object
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if event.type == "BOOKMARK":
                        self.bookmarks += 1
                        if rv:
                            self.resource_version = str(rv)
                        continue
                    if self.transform is not None:
                        obj = self.transform(obj)
                    key = _okey(obj, self.cluster_scoped)
                    if event.type == "DELETED":
                        await self._delete(key, obj)
                    else:
                        await self._upsert(key, obj)
                    if rv:
                        self.resource_version = str(rv)
            finally:
                closer = getattr(stream, "aclose", None)
                if closer is not None:
                    await closer()
            self.rewatches += 1
            # a server that keeps closing watches at once must not spin this task
            empty = empty + 1 if delivered == 0 else 0
            if empty >= 3:
                await self._wait(self._backoff(empty - 2))
            else:
                await asyncio.sleep(0)

    async def _mark_missing(self) -> None:
        self.missing = True
        for key in list(self.objects):
            await self._delete(key)
        self.synced.set()

    # -- cache bookkeeping -----------------------------------------------------------------------
    async def _notify(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        for handler in self.handlers:
            result = handler(change, obj, old)
            if inspect.isawaitable(result):
                await result

    async def _upsert(self, key: ObjKey, obj: Manifest) -> None:
        old = self.objects.get(key)
        if old is not None:
            old_rv = (old.get("metadata") or {}).get("resourceVersion")
            if old_rv is not None and old_rv == (obj.get("metadata") or {}).get("resourceVersion"):
                return  # relist of an unchanged object
        self.objects[key] = obj
        self._reindex(key, obj)
        self.changes += 1
        await self._notify("ADDED" if old is None else "MODIFIED", obj, old)

    async def _delete(self, key: ObjKey, last: Manifest | None = None) -> None:
        old = self.objects.pop(key, None)
        if old is None:
            return
        self._reindex(key, None)
        self.changes += 1
        await self._notify("DELETED", last if last is not None else old, old)

    def _reindex(self, key: ObjKey, obj: Manifest | None) -> None:
        if not self.indexers:
            return
        before = self._values.pop(key, {})
        after: dict[str, tuple[Hashable, ...]] = {}
        if obj is not None:
            for name, indexer in self.indexers.items():
                values = tuple(indexer(obj))
                if values:
                    after[name] = values
            if after:
                self._values[key] = after
        for name in self.indexers:
            old_values, new_values = before.get(name, ()), after.get(name, ())
            if old_values == new_values:
                continue
            index = self._indexes[name]
            for value in old_values:
                members = index.get(value)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del index[value]
            for value in new_values:
                index.setdefault(value, set()).add(key)
