"""From informer events to work-queue keys: which objects a change concerns.

`route` attaches one handler per informer of a `CacheObserver`:

- a registered kind's informer: the object itself is enqueued when it is added, deleted, or
  changed in a way the engine reads (`changed`: generation, deletion, finalizers, labels,
  annotations, uid; not its own status writes); on delete ``on_deleted`` runs first;
- every informer (registered kinds too): the objects it belongs to
  (`kaito_backends.kinds.owner_keys`: a child's status change wakes its parent, an
  InferenceSet's Workspace wakes the InferenceSet);
- and the `kaito_backends.kinds.Watch`es registered kinds declare on that informer's kind
  (a ConfigMap wakes the Workspaces naming it), each looked up in the watching kind's
  informer indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kaito_backends.engine.queue import WorkQueue
from kaito_backends.kinds import owner_keys
from kaito_backends.kinds.hooks import WatchHandler
from kaito_backends.objects import Key, Manifest

if TYPE_CHECKING:
    from kaito_backends.engine.observer import CacheObserver

__all__ = ["changed", "route"]

Handler = Callable[[str, Manifest, "Manifest | None"], None]
_Watcher = Callable[[str, Manifest, list[Key]], None]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _key(kind: str, obj: Manifest) -> Key:
    meta = _meta(obj)
    return Key(kind, str(meta.get("namespace") or "default"), str(meta.get("name") or ""))


def changed(new: Manifest, old: Manifest | None) -> bool:
    """Whether an update of a reconciled object is one the engine must react to (not its own
    status write)."""
    if old is None:
        return True
    a, b = _meta(new), _meta(old)
    return (
        a.get("generation") != b.get("generation")
        or a.get("deletionTimestamp") != b.get("deletionTimestamp")
        or a.get("finalizers") != b.get("finalizers")
        or a.get("labels") != b.get("labels")
        or a.get("annotations") != b.get("annotations")
        or a.get("uid") != b.get("uid")
    )


def route(
    observer: CacheObserver, queue: WorkQueue[Key], *, on_deleted: Callable[[Key], Any]
) -> None:
    """Attach the handlers (see the module docstring) to every informer of ``observer``."""
    registry = observer.registry
    watchers: dict[str, list[_Watcher]] = {}
    for spec in registry:
        index = observer.kinds[spec.kind].by_index
        for watch in observer.hooks_of(spec.kind).watches:
            watchers.setdefault(watch.kind, []).append(
                _watcher(spec.kind, watch.enqueue, index, queue)
            )

    def related(watches: list[_Watcher] | None) -> Handler:
        def handle(change: str, obj: Manifest, old: Manifest | None) -> None:
            owners = owner_keys(obj, registry)
            for owner in owners:
                queue.add(owner)
            for watch in watches or ():
                watch(change, obj, owners)

        return handle

    def own(kind: str, others: Handler) -> Handler:
        def handle(change: str, obj: Manifest, old: Manifest | None) -> None:
            key = _key(kind, obj)
            if change == "DELETED":
                on_deleted(key)
                queue.add(key)  # a final pass that sees it gone (and forgets its backoff)
            elif change == "ADDED" or changed(obj, old):
                queue.add(key)
            others(change, obj, old)

        return handle

    for kind, informer in observer.kinds.items():
        informer.add_handler(own(kind, related(watchers.get(kind))))
    for informer in observer.informers()[len(observer.kinds) :]:
        informer.add_handler(related(watchers.get(informer.kind)))


def _watcher(kind: str, enqueue: WatchHandler, index: Any, queue: WorkQueue[Key]) -> _Watcher:
    """A `kaito_backends.kinds.Watch` of ``kind``, bound to that kind's informer index."""

    def watch(change: str, obj: Manifest, owners: list[Key]) -> None:
        for target in enqueue(change, obj, owners, index):
            queue.add(_key(kind, target))

    return watch
