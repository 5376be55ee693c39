"""`Informer`: a watch-backed cache of one kind, with a stream of changes for the engine.

    pods = Informer(client, "v1", "Pod", namespace="default")
    pods.start()                                   # a background task: list, then watch
    await pods.wait_synced()                       # the first list is in
    pods.get("phi-4-0", "default")                 # from memory: no API call
    pods.by_workspace(WorkspaceKey("default", "phi-4"))
    changes = pods.subscribe()                     # an asyncio.Queue of Change
    change = await changes.get()                   # Change(type, object, old)
    await pods.stop()

How it keeps up (client-go's reflector, reduced to what KAITO needs):

1. **List**, remember the list's ``resourceVersion``, replace the cache with the items. Objects
   that appeared, changed (another resourceVersion) or vanished since the cache last saw them
   are delivered as ADDED / MODIFIED / DELETED changes, so a consumer never misses a transition
   across a relist.
2. **Watch** from that version. Every event updates the cache and the version; a BOOKMARK only
   moves the version forward (so the next watch resumes from a recent point, never from a
   compacted one), and is not delivered.
3. The watch **ends** (server timeout, dropped connection): watch again from the last version
   at once if the stream was healthy (it delivered something or lived ``healthy_after``
   seconds), else after a backoff.
4. **Gone** (410: the version was compacted): list again (step 1), then watch.
5. **Errors** (throttling, server errors, RBAC, an unreachable server): exponential backoff
   from ``backoff_initial`` doubling to ``backoff_max`` seconds (with ``jitter``), then retry
   what failed; the backoff resets after a healthy watch. A kind the server does not serve (a
   CRD not installed: `NotFound`) reads as empty and is retried after ``backoff_max``.

Reads (``get``, ``list``, ``by_workspace``, ``by_index``) return copies and may lag the server:
use them to decide, and write with idempotent calls or ``resourceVersion`` preconditions.

For the engine (``kaito_backends.engine``):

- ``subscribe()`` returns an unbounded ``asyncio.Queue[Change]`` fed with every later change,
  in the order the cache saw them; ``add_handler(fn)`` calls ``fn(change)`` synchronously
  instead (a handler that returns an awaitable is awaited before the next change is applied:
  keep handlers short, e.g. put a `WorkspaceKey` on a work queue).
- ``Change.object`` is the object after the change (the last known state for DELETED), and
  ``Change.old`` the cached one before it (None for ADDED). One copy is shared by every
  subscriber and handler of that change: do not mutate it.
- Level-triggered consumers only need the keys: `workspace_keys` maps an object to the
  Workspaces it belongs to (the ``kaito.sh/workspace`` labels), which is also the index behind
  ``by_workspace``.
- ``synced`` is set after the first list; ``relists``, ``rewatches``, ``bookmarks`` and
  ``errors`` count what happened (for metrics and tests); ``last_error`` is the latest failure.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import random
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, Literal

import attrs

from kaito_backends.errors import BackendError, Gone, NotFound
from kaito_backends.objects import Manifest, WorkspaceKey, clone, is_cluster_scoped, matches_labels
from kaito_backends.protocols import ClusterClient

__all__ = ["Change", "Informer", "workspace_keys"]

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[["Change"], "Awaitable[None] | None"]
Indexer = Callable[[Manifest], Iterable[Hashable]]
_ObjKey = tuple[str, str]

LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
LABEL_KARPENTER_WORKSPACE = "karpenter.kaito.sh/workspace-name"
LABEL_KARPENTER_WORKSPACE_NAMESPACE = "karpenter.kaito.sh/workspace-namespace"
_WORKSPACE_INDEX = "workspace"


@attrs.frozen
class Change:
    """One change the cache applied: the object after it and the cached one before it."""

    type: ChangeType
    object: Manifest
    old: Manifest | None = None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _version(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    version = _meta(obj).get("resourceVersion")
    return str(version) if version else None


def workspace_keys(obj: Mapping[str, Any]) -> list[WorkspaceKey]:
    """The Workspaces an object is labelled with: ``kaito.sh/workspace`` (+ ``...namespace``,
    else the object's namespace) and Karpenter's ``karpenter.kaito.sh/workspace-name``."""
    meta = _meta(obj)
    labels = meta.get("labels") or {}
    namespace = str(meta.get("namespace") or "")
    keys: list[WorkspaceKey] = []
    for name_label, namespace_label in (
        (LABEL_WORKSPACE, LABEL_WORKSPACE_NAMESPACE),
        (LABEL_KARPENTER_WORKSPACE, LABEL_KARPENTER_WORKSPACE_NAMESPACE),
    ):
        name = labels.get(name_label)
        ws_namespace = labels.get(namespace_label) or namespace
        if name and ws_namespace:
            key = WorkspaceKey(str(ws_namespace), str(name))
            if key not in keys:
                keys.append(key)
    return keys


class Informer:
    """A list-then-watch cache of one kind (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        indexers: Mapping[str, Indexer] | None = None,
        transform: Callable[[Manifest], Manifest] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        jitter: float = 0.1,
        healthy_after: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.cluster_scoped = is_cluster_scoped(kind)
        self.indexers: dict[str, Indexer] = {_WORKSPACE_INDEX: workspace_keys, **(indexers or {})}
        self.transform = transform
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.healthy_after = healthy_after
        self._sleep = sleep
        self._objects: dict[_ObjKey, Manifest] = {}
        self._index: dict[str, dict[Hashable, set[_ObjKey]]] = {n: {} for n in self.indexers}
        self._indexed: dict[_ObjKey, dict[str, tuple[Hashable, ...]]] = {}
        self._handlers: list[Handler] = []
        self._queues: list[asyncio.Queue[Change]] = []
        self._task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()
        #: the version the next watch starts from ("" before the first list)
        self.resource_version = ""
        #: the kind is not served (its CRD is missing)
        self.missing = False
        self.relists = 0
        self.rewatches = 0
        self.bookmarks = 0
        self.errors = 0
        self.last_error: BaseException | None = None

    # -- reading ---------------------------------------------------------------------------------
    def _okey(self, namespace: str | None, name: str) -> _ObjKey:
        return ("" if self.cluster_scoped else (namespace or "")), name

    def _key_of(self, obj: Mapping[str, Any]) -> _ObjKey:
        meta = _meta(obj)
        return self._okey(meta.get("namespace"), str(meta.get("name") or ""))

    def get(self, name: str, namespace: str | None = None) -> Manifest | None:
        """A copy of the cached object, or None."""
        found = self._objects.get(self._okey(namespace, name))
        return None if found is None else clone(found)

    def list(
        self, *, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Manifest]:
        """Copies of the cached objects (in one namespace, with these labels), by (ns, name)."""
        return [
            clone(self._objects[key])
            for key in sorted(self._objects)
            if (namespace is None or self.cluster_scoped or key[0] == namespace)
            and matches_labels(self._objects[key], labels or {})
        ]

    def by_index(self, index: str, value: Hashable) -> builtins.list[Manifest]:
        """Copies of the objects whose ``index`` values include ``value``, by (ns, name)."""
        keys = self._index[index].get(value) or set()
        return [clone(self._objects[key]) for key in sorted(keys)]

    def by_workspace(self, key: WorkspaceKey) -> builtins.list[Manifest]:
        """Copies of the objects labelled with this Workspace (see `workspace_keys`)."""
        return self.by_index(_WORKSPACE_INDEX, key)

    def __len__(self) -> int:
        return len(self._objects)

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait for the first list (raises TimeoutError after ``timeout`` seconds)."""
        await asyncio.wait_for(self.synced.wait(), timeout)

    # -- changes ---------------------------------------------------------------------------------
    def add_handler(self, handler: Handler) -> None:
        """Call ``handler(change)`` for every later change."""
        self._handlers.append(handler)

    def subscribe(self) -> asyncio.Queue[Change]:
        """A new queue that receives every later change."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        with contextlib.suppress(ValueError):
            self._queues.remove(queue)

    async def _emit(self, change: Change) -> None:
        for queue in self._queues:
            queue.put_nowait(change)
        for handler in self._handlers:
            result = handler(change)
            if inspect.isawaitable(result):
                await result

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        """Run `run` in a background task (once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.kind}")
        return self._task

    async def stop(self) -> None:
        """Cancel the background task and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _delay(self, failures: int) -> float:
        base = min(self.backoff_initial * 2 ** max(0, failures - 1), self.backoff_max)
        if self.jitter > 0:
            base *= 1 + self.jitter * random.random()  # spreads retries; not security-relevant
        return float(base)

    async def run(self) -> None:
        """List and watch until cancelled (see the module docstring)."""
        failures = 0
        listed = False
        while True:
            try:
                if not listed:
                    await self._relist()
                    listed = True
                if await self._watch_once():
                    failures = 0
                    continue
                failures += 1  # ended at once, empty-handed: do not hammer the server
            except asyncio.CancelledError:
                raise
            except Gone as exc:
                self.last_error = exc
                listed = False
                continue
            except NotFound as exc:
                self.errors += 1
                self.last_error = exc
                await self._mark_missing()
                listed = False
                await self._sleep(self.backoff_max)
                continue
            except BackendError as exc:
                self.errors += 1
                self.last_error = exc
                failures += 1
            await self._sleep(self._delay(failures))

    async def _relist(self) -> None:
        result = await self.client.list(self.api_version, self.kind, namespace=self.namespace)
        self.relists += 1
        # a server always versions a list; none means the kind is not served (client.list's 404)
        self.missing = not result.resource_version
        fresh: dict[_ObjKey, Manifest] = {}
        for item in result.items:
            obj = self.transform(item) if self.transform else item
            fresh[self._key_of(obj)] = obj
        for key in [k for k in self._objects if k not in fresh]:
            await self._remove(key, None)
        for key, obj in fresh.items():
            await self._put(key, obj)
        self.resource_version = result.resource_version
        self.synced.set()

    async def _watch_once(self) -> bool:
        """One watch from the current version; True when it was healthy."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen = 0
        stream = self.client.watch(
            self.api_version,
            self.kind,
            namespace=self.namespace,
            resource_version=self.resource_version or None,
        )
        try:
            async for event in stream:
                seen += 1
                version = _version(event.object)
                if event.type == "BOOKMARK":
                    self.bookmarks += 1
                else:
                    obj = self.transform(event.object) if self.transform else event.object
                    key = self._key_of(obj)
                    if event.type == "DELETED":
                        await self._remove(key, obj)
                    else:
                        await self._put(key, obj)
                if version:
                    self.resource_version = version
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()
        self.rewatches += 1
        return seen > 0 or loop.time() - started >= self.healthy_after

    async def _mark_missing(self) -> None:
        self.missing = True
        self.resource_version = ""
        for key in list(self._objects):
            await self._remove(key, None)
        self.synced.set()

    # -- bookkeeping -----------------------------------------------------------------------------
    async def _put(self, key: _ObjKey, obj: Manifest) -> None:
        old = self._objects.get(key)
        if old is not None and _version(old) is not None and _version(old) == _version(obj):
            return  # a relist of an unchanged object
        self._objects[key] = obj
        self._reindex(key, obj)
        await self._emit(
            Change("ADDED" if old is None else "MODIFIED", clone(obj), None if old is None else old)
        )

    async def _remove(self, key: _ObjKey, last: Manifest | None) -> None:
        old = self._objects.pop(key, None)
        if old is None:
            return
        self._reindex(key, None)
        await self._emit(Change("DELETED", clone(last if last is not None else old), old))

    def _reindex(self, key: _ObjKey, obj: Manifest | None) -> None:
        before = self._indexed.pop(key, {})
        after: dict[str, tuple[Hashable, ...]] = {}
        if obj is not None:
            for name, indexer in self.indexers.items():
                values = tuple(indexer(obj))
                if values:
                    after[name] = values
            if after:
                self._indexed[key] = after
        for name in self.indexers:
            old_values, new_values = before.get(name, ()), after.get(name, ())
            if old_values == new_values:
                continue
            index = self._index[name]
            for value in old_values:
                members = index.get(value)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del index[value]
            for value in new_values:
                index.setdefault(value, set()).add(key)
