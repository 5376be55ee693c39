"""The fake's garbage collector: owner references, Background / Foreground / Orphan deletion.

Like Kubernetes' GC it is a controller, run on ``schedule`` (the cluster defers it to a timer
due now), not inside the write that made garbage:

- an object whose ``ownerReferences`` uids all name objects that do not exist is deleted
  (Background), whether its owner was just deleted or never existed;
- a cluster-scoped object ignores namespaced owners (Kubernetes refuses that link);
- Events (``v1`` and ``events.k8s.io``) are ignored, as kube-controller-manager's collector
  ignores them: they outlive their owner (a real cluster expires them after ``--event-ttl``);
- Foreground: the owner carries the ``foregroundDeletion`` finalizer until its dependents are
  gone, then loses it (and goes, when no other finalizer holds it);
- Orphan: when the owner goes, its dependents lose the reference and stay.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from kaito_backends.objects import Manifest, is_cluster_scoped

if TYPE_CHECKING:
    from kaito_backends.fake.store import Store, StoreKey

__all__ = ["FOREGROUND", "IGNORED", "GarbageCollector", "UniqueQueue"]

FOREGROUND = "foregroundDeletion"
T = TypeVar("T", bound=Hashable)


class UniqueQueue(Generic[T]):
    """First in, first out, each item at most once (a work queue)."""

    __slots__ = ("_items", "_queued")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._queued: set[T] = set()

    def push(self, item: T) -> None:
        if item not in self._queued:
            self._queued.add(item)
            self._items.append(item)

    def pop(self) -> T:
        item = self._items.popleft()
        self._queued.discard(item)
        return item

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)


#: (group, kind) the collector never deletes (kube-controller-manager's ignored resources).
IGNORED = frozenset({("", "Event"), ("events.k8s.io", "Event")})


def owner_uids(key: StoreKey, obj: Manifest | None) -> set[str]:
    """The owner uids the GC honours for this object (none for an ignored kind)."""
    if obj is None or (key[0], key[1]) in IGNORED:
        return set()
    refs = [
        r
        for r in obj["metadata"].get("ownerReferences") or ()
        if isinstance(r, dict) and r.get("uid")
    ]
    if not key[2]:  # a cluster-scoped dependent ignores namespaced owners
        refs = [r for r in refs if is_cluster_scoped(str(r.get("kind", "")))]
    return {str(r["uid"]) for r in refs}


class GarbageCollector:
    """Keeps the owner -> dependents index and deletes what has no owner left."""

    def __init__(
        self, store: Store, schedule: Callable[[Callable[[], object]], object] | None
    ) -> None:
        self._store = store
        self._schedule = schedule
        self._dependents: dict[str, set[StoreKey]] = {}
        self._queue: UniqueQueue[StoreKey] = UniqueQueue()
        self._foreground: dict[StoreKey, None] = {}
        self._orphaning: set[str] = set()
        self._scheduled = False

    # -- hooks the store calls -------------------------------------------------------------------
    def dependents(self, uid: str) -> list[StoreKey]:
        """Keys of the objects that name ``uid`` as an owner, sorted."""
        return sorted(self._dependents.get(uid, ()))

    def index(self, key: StoreKey, old: Manifest | None, new: Manifest | None) -> None:
        """Keep the index in step with a write; queue the object if its owners are all missing."""
        before, after = owner_uids(key, old), owner_uids(key, new)
        for uid in before - after:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[uid]
        for uid in after - before:
            self._dependents.setdefault(uid, set()).add(key)
        if after and not any(self._store.exists_uid(uid) for uid in after):
            self._queue.push(key)
            self._request()
        finalizers = (new["metadata"].get("finalizers") or ()) if new is not None else ()
        if new is not None and key in self._foreground and FOREGROUND not in finalizers:
            del self._foreground[key]

    def removed(self, key: StoreKey, uid: str) -> None:
        """An object is gone: orphan or collect its dependents; wake foreground owners."""
        self._foreground.pop(key, None)
        if uid in self._orphaning:
            self._orphaning.discard(uid)
            self._orphan(uid)
        elif self._dependents.get(uid):
            for dependent in sorted(self._dependents[uid]):
                self._queue.push(dependent)
            self._request()
        if self._foreground:
            self._request()

    def foreground(self, key: StoreKey) -> None:
        """The owner at ``key`` is being deleted in the foreground."""
        self._foreground[key] = None
        self._request()

    def orphan_on_removal(self, uid: str) -> None:
        """When the object with ``uid`` goes, orphan its dependents instead of deleting them."""
        self._orphaning.add(uid)

    # -- collecting ------------------------------------------------------------------------------
    def _request(self) -> None:
        if self._scheduled or self._schedule is None:
            return
        self._scheduled = True
        self._schedule(self.collect)

    def collect(self) -> int:
        """Delete dependents whose owners are gone, finish foreground deletions; count deletions."""
        self._scheduled = True  # requests made while this runs are served by this run
        try:
            return self._collect()
        finally:
            self._scheduled = False

    def _collect(self) -> int:
        store = self._store
        deleted = 0
        while self._queue or self._foreground:
            progress = False
            while self._queue:
                key = self._queue.pop()
                obj = store.find_key(key)
                if obj is None or obj["metadata"].get("deletionTimestamp"):
                    continue
                owners = owner_uids(key, obj)
                if owners and not any(store.exists_uid(uid) for uid in owners):
                    store.delete(obj["apiVersion"], key[1], key[2] or None, key[3])
                    deleted += 1
                    progress = True
            for key in list(self._foreground):
                count, moved = self._finish_foreground(key)
                deleted += count
                progress = progress or moved
            if not progress:
                break
        return deleted

    def _finish_foreground(self, key: StoreKey) -> tuple[int, bool]:
        """Delete a foreground owner's dependents, or drop its finalizer once they are gone."""
        store = self._store
        owner = store.find_key(key)
        if owner is None:
            self._foreground.pop(key, None)
            return 0, False
        deleted = 0
        waiting = False
        for dep in store.dependents(owner["metadata"]["uid"]):
            waiting = True
            if not dep["metadata"].get("deletionTimestamp"):
                dk = store.key_of(dep)
                store.delete(
                    dep["apiVersion"], dk[1], dk[2] or None, dk[3], propagation="Foreground"
                )
                deleted += 1
        if waiting:
            return deleted, deleted > 0
        self._foreground.pop(key, None)
        meta = dict(owner["metadata"])
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != FOREGROUND]
        store.replace(owner, {**owner, "metadata": meta})
        return 0, True

    def _orphan(self, uid: str) -> None:
        store = self._store
        for key in sorted(self._dependents.pop(uid, ())):
            dep = store.find_key(key)
            if dep is None:
                continue
            refs = [r for r in dep["metadata"].get("ownerReferences") or () if r.get("uid") != uid]
            meta = dict(dep["metadata"])
            if refs:
                meta["ownerReferences"] = refs
            else:
                meta.pop("ownerReferences", None)
            store.replace(dep, {**dep, "metadata": meta})
