"""`Informer`: a watch-backed cache of one kind, with a stream of changes, for the kubernetes
backend.

    pods = Informer(client, "v1", "Pod", namespace="default")
    pods.start()                                   # a background task: list, then watch
    await pods.wait_synced()                       # the first list is in
    pods.get("phi-4-0", "default")                 # from memory: no API call
    pods.by_workspace(WorkspaceKey("default", "phi-4"))
    changes = pods.subscribe()                     # an asyncio.Queue of Change
    change = await changes.get()                   # Change(type, object, old)
    await pods.stop()

The listing and watching are the engine's informer (`kaito_backends.engine.informers.Informer`,
``self.cache``): list, watch from the list's version, BOOKMARKs move the version and are not
delivered, a watch that ends is re-opened from the last version, **Gone** relists and delivers
what changed meanwhile as ADDED / MODIFIED / DELETED, errors back off exponentially. This front
end adds, on the wall clock, the backoff of a client talking to a real API server: from
``backoff_initial`` doubling to ``backoff_max`` seconds with ``jitter``, except that a server that
does not answer at all (down, restarting) is tried every ``reconnect_interval`` seconds and a
Retry-After is followed; a kind the server does not serve (a CRD not installed) reads as empty
and is retried every ``missing_kind_retry`` seconds (`MISSING_KIND_RETRY`, 15).

Reads (``get``, ``list``, ``by_workspace``, ``by_index``) return copies and may lag the server:
use them to decide, and write with idempotent calls or ``resourceVersion`` preconditions.

- ``subscribe()`` returns an unbounded ``asyncio.Queue[Change]`` fed with every later change,
  in the order the cache saw them; ``add_handler(fn)`` calls ``fn(change)`` synchronously
  instead (a handler that returns an awaitable is awaited before the next change is applied:
  keep handlers short, e.g. put a `Key` on a work queue).
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
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Literal, cast

import attrs

from kaito_backends.clock import SystemClock
from kaito_backends.engine.informers import MISSING_KIND_RETRY, Indexer
from kaito_backends.engine.informers import Informer as EngineInformer
from kaito_backends.objects import Key, Manifest, WorkspaceKey, clone, matches_labels
from kaito_backends.protocols import ClusterClient

__all__ = ["Change", "Informer", "workspace_keys"]

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[["Change"], "Awaitable[None] | None"]

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


def workspace_keys(obj: Mapping[str, Any]) -> list[Key]:
    """The Workspaces an object is labelled with: ``kaito.sh/workspace`` (+ ``...namespace``,
    else the object's namespace) and Karpenter's ``karpenter.kaito.sh/workspace-name``."""
    meta = _meta(obj)
    labels = meta.get("labels") or {}
    namespace = str(meta.get("namespace") or "")
    keys: list[Key] = []
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
    """A copy-on-read cache of one kind with a change stream (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        indexers: Mapping[str, Indexer] | None = None,
        transform: Callable[[Manifest], Manifest] | None = None,
        metadata_only: bool = False,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        reconnect_interval: float = 1.0,
        missing_kind_retry: float = MISSING_KIND_RETRY,
        jitter: float = 0.1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.cache = EngineInformer(
            client,
            api_version,
            kind,
            clock=SystemClock(),
            namespace=namespace,
            indexers={_WORKSPACE_INDEX: workspace_keys, **(indexers or {})},
            transform=transform,
            metadata_only=metadata_only,
            missing_kind_retry=missing_kind_retry,
            error_backoff=backoff_initial,
            max_backoff=backoff_max,
            reconnect_interval=reconnect_interval,
            jitter=jitter,
            sleep=sleep,
        )
        self.cache.add_handler(self._emit)
        self._handlers: list[Handler] = []
        self._queues: list[asyncio.Queue[Change]] = []
        self._task: asyncio.Task[None] | None = None

    # -- what the engine's informer counts -------------------------------------------------------
    @property
    def client(self) -> ClusterClient:
        return self.cache.client

    @property
    def api_version(self) -> str:
        return self.cache.api_version

    @property
    def kind(self) -> str:
        return self.cache.kind

    @property
    def namespace(self) -> str | None:
        return self.cache.namespace

    @property
    def synced(self) -> asyncio.Event:
        return self.cache.synced

    @property
    def resource_version(self) -> str:
        """The version the next watch starts from ("" before the first list)."""
        return self.cache.resource_version

    @property
    def missing(self) -> bool:
        """The kind is not served (its CRD is missing)."""
        return self.cache.missing

    @property
    def relists(self) -> int:
        return self.cache.relists

    @property
    def rewatches(self) -> int:
        return self.cache.rewatches

    @property
    def bookmarks(self) -> int:
        return self.cache.bookmarks

    @property
    def errors(self) -> int:
        return self.cache.errors

    @property
    def last_error(self) -> BaseException | None:
        return self.cache.last_error

    # -- reading ---------------------------------------------------------------------------------
    def get(self, name: str, namespace: str | None = None) -> Manifest | None:
        """A copy of the cached object, or None."""
        found = self.cache.get(namespace, name)
        return None if found is None else clone(found)

    def list(
        self, *, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Manifest]:
        """Copies of the cached objects (in one namespace, with these labels), by (ns, name)."""
        objects = self.cache.objects
        return [
            clone(objects[key])
            for key in sorted(objects)
            if (namespace is None or self.cache.cluster_scoped or key[0] == namespace)
            and matches_labels(objects[key], labels or {})
        ]

    def by_index(self, index: str, value: Hashable) -> builtins.list[Manifest]:
        """Copies of the objects whose ``index`` values include ``value``, by (ns, name)."""
        return [clone(obj) for obj in self.cache.by_index(index, value)]

    def by_workspace(self, key: Key) -> builtins.list[Manifest]:
        """Copies of the objects labelled with this Workspace (see `workspace_keys`)."""
        return self.by_index(_WORKSPACE_INDEX, key)

    def __len__(self) -> int:
        return len(self.cache)

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

    async def _emit(self, type_: str, obj: Manifest, old: Manifest | None) -> None:
        change = Change(cast(ChangeType, type_), clone(obj), old)
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

    async def run(self) -> None:
        """List and watch until cancelled (the engine informer's loop)."""
        await self.cache.run()
