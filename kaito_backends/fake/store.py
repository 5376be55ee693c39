"""The fake API server's object store: versions, generations, finalizers, GC, indexes, watches.

Every stored object is a dict the store never changes in place: a write builds a new dict, so
watch history, indexes and controllers can share stored dicts freely. Callers outside the fake
get copies (`kaito_backends.objects.clone`) from `FakeClient`'s calls; its watch events carry
the stored dicts themselves, read-only (see `kaito_backends.fake.client`).

- ``metadata.resourceVersion``: one global counter, bumped by every write that changes something.
- ``metadata.uid``: uuid5 of a counter (deterministic); ``creationTimestamp`` from the clock.
- ``metadata.generation``: 1 at creation, +1 when anything outside metadata/status changes or
  deletion starts.
- Storage is per (API group, kind): ``kaito.sh/v1alpha1`` and ``kaito.sh/v1beta1`` Workspaces
  are one object, read in the version asked for.
- Garbage collection runs as a controller (``schedule``): dependents whose owners (by uid) are
  all gone are deleted; a cluster-scoped object never has a namespaced owner.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kaito_backends.clock import Clock, rfc3339
from kaito_backends.errors import AlreadyExists, Conflict, Invalid, NotFound
from kaito_backends.fake import admission, namespaces
from kaito_backends.fake.buckets import Bucket
from kaito_backends.fake.collector import FOREGROUND, GarbageCollector
from kaito_backends.fake.fieldsets import FieldSet, field_set, prune
from kaito_backends.fake.watches import ChangeType, Watcher
from kaito_backends.objects import (
    Manifest,
    clone,
    deep_merge,
    group_of,
    is_cluster_scoped,
    resource_of,
)

__all__ = ["Listener", "Store", "StoreKey", "spec_of", "suffix"]

#: (group, kind, namespace or "", name)
StoreKey = tuple[str, str, str, str]
#: Called after every change: (type, object after the change, object before or None).
Listener = Callable[[ChangeType, Manifest, "Manifest | None"], None]

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything but apiVersion, kind, metadata and status: what a generation counts."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}


def suffix(seed: str, length: int = 5) -> str:
    """Deterministic name suffix in Kubernetes' safe alphabet."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


class Store:
    """In-memory objects with the API server's bookkeeping (sync; `FakeClient` wraps it)."""

    def __init__(
        self,
        clock: Clock,
        *,
        history: int = 1000,
        watch_queue: int = 100_000,
        indexed_labels: tuple[str, ...] = ("kaito.sh/workspace",),
        schedule: Callable[[Callable[[], object]], object] | None = None,
    ) -> None:
        self.clock = clock
        self.history_limit = history
        self.watch_queue = watch_queue
        self.indexed_labels = indexed_labels
        self.listeners: list[Listener] = []
        self._rv = 1  # "0" means "any version" to a watch; no list ever returns it
        self._uids = 0
        self._names = 0
        self._ips = 0
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._by_uid: dict[str, StoreKey] = {}
        self._managed: dict[StoreKey, dict[str, FieldSet]] = {}
        self.gc = GarbageCollector(self, schedule)
        self._stamp: tuple[float, str] = (-1.0, "")

    # -- identity ------------------------------------------------------------------------------
    def timestamp(self) -> str:
        """The clock's time as a Kubernetes timestamp (cached while time stands still)."""
        now = self.clock.monotonic()
        if self._stamp[0] != now:
            self._stamp = (now, rfc3339(self.clock.now()))
        return self._stamp[1]

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _new_uid(self) -> str:
        self._uids += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kaito-fake:{self._uids}"))

    def allocate_ip(self, base: str = "10.0") -> str:
        """A fresh address ``<base>.x.y`` (Service cluster IPs, pod IPs, node IPs)."""
        self._ips += 1
        return f"{base}.{(self._ips >> 8) & 255}.{self._ips & 255}"

    def _bucket(self, group: str, kind: str) -> Bucket:
        bucket = self._buckets.get((group, kind))
        if bucket is None:
            bucket = Bucket(self.history_limit, self.indexed_labels)
            self._buckets[(group, kind)] = bucket
        return bucket

    @staticmethod
    def key(api_version: str, kind: str, namespace: str | None, name: str) -> StoreKey:
        ns = "" if is_cluster_scoped(kind) else (namespace or "")
        return (group_of(api_version), kind, ns, name)

    @classmethod
    def key_of(cls, obj: Manifest) -> StoreKey:
        meta = obj["metadata"]
        return cls.key(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])

    # -- reads (shared dicts: never mutate what these return) ----------------------------------
    def find(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> Manifest | None:
        group, kind, ns, name = self.key(api_version, kind, namespace, name)
        bucket = self._buckets.get((group, kind))
        return None if bucket is None else bucket.objects.get((ns, name))

    def find_key(self, key: StoreKey) -> Manifest | None:
        bucket = self._buckets.get((key[0], key[1]))
        return None if bucket is None else bucket.objects.get((key[2], key[3]))

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Manifest]:
        """Objects of a kind, sorted by (namespace, name), filtered by namespace and labels."""
        bucket = self._buckets.get((group_of(api_version), kind))
        if bucket is None:
            return []
        if is_cluster_scoped(kind):
            namespace = None
        keys: list[tuple[str, str]] | None = None
        for label in self.indexed_labels:
            if labels and label in labels:
                keys = sorted(bucket.by_label.get((label, labels[label]), ()))
                if namespace is not None:
                    keys = [k for k in keys if k[0] == namespace]
                break
        if keys is None:
            if namespace is not None:
                keys = [(namespace, n) for n in sorted(bucket.by_ns.get(namespace, ()))]
            else:
                keys = sorted(bucket.objects)
        objs = [bucket.objects[k] for k in keys]
        if labels:
            items = labels.items()
            objs = [
                o
                for o in objs
                if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in items)
            ]
        return objs

    def in_namespace(self, namespace: str) -> list[Manifest]:
        """Every object in ``namespace``, whatever its kind, by (group, kind, name)."""
        buckets = self._buckets
        return [o for gk in sorted(buckets) for o in buckets[gk].in_namespace(namespace)]

    def count(self, api_version: str, kind: str) -> int:
        bucket = self._buckets.get((group_of(api_version), kind))
        return 0 if bucket is None else len(bucket.objects)

    def exists_uid(self, uid: str) -> bool:
        return uid in self._by_uid

    def dependents(self, uid: str) -> list[Manifest]:
        """Objects whose ownerReferences name ``uid``, sorted by key."""
        found = (self.find_key(k) for k in self.gc.dependents(uid))
        return [o for o in found if o is not None]

    def collect_garbage(self) -> int:
        """Run the garbage collector now (the cluster schedules it; see `GarbageCollector`)."""
        return self.gc.collect()

    # -- writes ----------------------------------------------------------------------------------
    def create(self, obj: Manifest, *, keep_status: bool = False) -> Manifest:
        """Store a new object (``obj`` becomes the store's: pass a copy). `AlreadyExists`."""
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        if not meta.get("name") and meta.get("generateName"):
            self._names += 1
            meta["name"] = meta["generateName"] + suffix(f"name:{self._names}")
        admission.admit(obj)
        key = self.key_of(obj)
        bucket = self._bucket(key[0], key[1])
        if (key[2], key[3]) in bucket.objects:
            resource = resource_of(obj["apiVersion"], obj["kind"])
            raise AlreadyExists(f'{resource} "{key[3]}" already exists')
        if key[2]:
            meta["namespace"] = key[2]
        else:
            meta.pop("namespace", None)
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(field, None)
        meta["uid"] = self._new_uid()
        meta["generation"] = 1
        meta["creationTimestamp"] = self.timestamp()
        meta["resourceVersion"] = self._next_rv()
        if not keep_status and admission.has_status_subresource(obj["kind"]):
            obj.pop("status", None)
        admission.default(obj, None, self.allocate_ip)
        self._commit(key, "ADDED", obj, None)
        return obj

    def apply(self, obj: Manifest, manager: str) -> Manifest:
        """Server-side apply by one field manager (``obj`` is a copy the store may keep)."""
        applied = dict(obj)
        meta = applied["metadata"] = dict(applied.get("metadata") or {})
        admission.admit(applied)
        key = self.key_of(applied)
        fields = field_set(applied)
        old = self.find_key(key)
        if old is None:
            if meta.get("resourceVersion"):
                raise Conflict(self._conflict_message(applied))
            created = self.create(applied)
            self._managed.setdefault(key, {})[manager] = fields
            return created
        self._preconditions(old, applied)
        patch = {k: v for k, v in applied.items() if k != "status" or not _has_status(old["kind"])}
        patch["metadata"] = {
            k: v for k, v in meta.items() if k not in _SERVER_META and k != "managedFields"
        }
        merged = deep_merge(old, patch)
        previous = self._managed.get(key, {}).get(manager)
        if previous is not None:
            merged = prune(merged, previous, fields)
        result = self._replace(old, merged)
        self._managed.setdefault(key, {})[manager] = fields
        return result

    def update(self, obj: Manifest) -> Manifest:
        """Replace an object whole; a status subresource's ``status`` is kept as stored."""
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        admission.admit(obj)
        old = self._existing(obj)
        self._preconditions(old, obj)
        if _has_status(old["kind"]):
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        meta.pop("managedFields", None)
        return self._replace(old, obj)

    def update_status(self, obj: Manifest) -> Manifest:
        """Replace ``status`` only. `NotFound` also for kinds without a status subresource."""
        old = self._existing(obj)
        if not _has_status(old["kind"]):
            raise NotFound("the server could not find the requested resource (status subresource)")
        self._preconditions(old, obj)
        new = dict(old)
        if "status" in obj:
            new["status"] = obj["status"]
        else:
            new.pop("status", None)
        return self._replace(old, new, admit=False)

    def put(self, new: Manifest) -> Manifest:
        """A controller's write of an object it rebuilt from the stored one (status included)."""
        old = self._existing(new)
        return self._replace(old, new, admit=False)

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
    ) -> None:
        """Delete, or start deletion when finalizers remain. `NotFound`."""
        key = self.key(api_version, kind, namespace, name)
        old = self.find_key(key)
        if old is None:
            raise NotFound(f'{resource_of(api_version, kind)} "{name}" not found')
        meta = old["metadata"]
        finalizers = list(meta.get("finalizers") or ())
        if propagation == "Orphan":
            self.gc.orphan_on_removal(meta["uid"])
        if propagation == "Foreground" and self.gc.dependents(meta["uid"]):
            if FOREGROUND not in finalizers:
                finalizers.append(FOREGROUND)
            self.gc.foreground(key)
        if not finalizers and not namespaces.spec_finalizers(old):
            self._remove(key, old)
            return
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or ()):
            return
        new_meta = dict(meta)
        if finalizers:
            new_meta["finalizers"] = finalizers
        if not meta.get("deletionTimestamp"):
            new_meta["deletionTimestamp"] = self.timestamp()
            new_meta["deletionGracePeriodSeconds"] = 0
            new_meta["generation"] = meta.get("generation", 1) + 1
        new_meta["resourceVersion"] = self._next_rv()
        self._commit(key, "MODIFIED", namespaces.terminating({**old, "metadata": new_meta}), old)

    # -- internals -------------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _existing(self, obj: Manifest) -> Manifest:
        meta = obj.get("metadata") or {}
        old = self.find(
            obj.get("apiVersion", ""),
            obj.get("kind", ""),
            meta.get("namespace"),
            meta.get("name", ""),
        )
        if old is None:
            resource = resource_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            raise NotFound(f'{resource} "{meta.get("name", "")}" not found')
        return old

    def _conflict_message(self, obj: Manifest) -> str:
        resource = resource_of(obj["apiVersion"], obj["kind"])
        return (
            f'Operation cannot be fulfilled on {resource} "{obj["metadata"]["name"]}": the object '
            "has been modified; please apply your changes to the latest version and try again"
        )

    def _preconditions(self, old: Manifest, obj: Manifest) -> None:
        meta = obj.get("metadata") or {}
        old_meta = old["metadata"]
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old_meta["resourceVersion"]:
            raise Conflict(self._conflict_message(old))
        uid = meta.get("uid")
        if uid and uid != old_meta["uid"]:
            raise Conflict(
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {old_meta['uid']}"
            )

    def _replace(self, old: Manifest, new: Manifest, *, admit: bool = True) -> Manifest:
        """Write ``new`` over ``old``; nothing changes when they are equal. Finalizes deletions."""
        old_meta = old["metadata"]
        meta = new["metadata"] = dict(new["metadata"])
        for field in _SERVER_META:
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if old_meta.get("namespace"):
            meta["namespace"] = old_meta["namespace"]
        else:
            meta.pop("namespace", None)
        new["apiVersion"] = old["apiVersion"]
        if admit:
            admission.check_update(old, new)
            admission.check_finalizers(old, new)
            admission.default(new, old, self.allocate_ip)
        if spec_of(old) != spec_of(new):
            meta["generation"] = old_meta.get("generation", 1) + 1
        if new == old:
            return old
        key = self.key_of(old)
        if meta.get("deletionTimestamp") and not namespaces.finalizers(new):
            self._remove(key, new)
            return new
        meta["resourceVersion"] = self._next_rv()
        self._commit(key, "MODIFIED", new, old)
        return new

    def replace(self, old: Manifest, new: Manifest) -> Manifest:
        """A controller's (or the collector's) write of ``new`` over the stored ``old``."""
        return self._replace(old, new, admit=False)

    def _remove(self, key: StoreKey, last: Manifest) -> None:
        meta = dict(last["metadata"])
        meta["resourceVersion"] = self._next_rv()
        final = {**last, "metadata": meta}
        self._commit(key, "DELETED", final, last)
        self._managed.pop(key, None)
        self.gc.removed(key, meta["uid"])

    def _commit(
        self, key: StoreKey, change: ChangeType, obj: Manifest, old: Manifest | None
    ) -> None:
        group, kind, ns, name = key
        bucket = self._bucket(group, kind)
        okey = (ns, name)
        uid = obj["metadata"]["uid"]
        if change == "DELETED":
            bucket.drop(okey, obj)
            self._by_uid.pop(uid, None)
            self.gc.index(key, obj, None)
        else:
            bucket.put(okey, obj, old)
            self._by_uid[uid] = key
            self.gc.index(key, old, obj)
        rv = int(obj["metadata"]["resourceVersion"])
        bucket.history.append((rv, change, ns, obj, old))
        for watcher in bucket.watchers:
            if watcher.namespace is None or watcher.namespace == ns:
                watcher.push(change, obj)
        for listener in self.listeners:
            listener(change, obj, old)

    # -- watches ---------------------------------------------------------------------------------
    def subscribe(
        self, api_version: str, kind: str, namespace: str | None, resource_version: str | None
    ) -> Watcher:
        """Open a watch; raises `Gone` when ``resource_version`` is no longer retained."""
        if is_cluster_scoped(kind):
            namespace = None
        watcher = Watcher(api_version, namespace, self.watch_queue)
        for change, obj, _ in self.backlog(api_version, kind, namespace, resource_version):
            watcher.push(change, obj)
        self._bucket(group_of(api_version), kind).watchers.append(watcher)
        return watcher

    def backlog(
        self, api_version: str, kind: str, namespace: str | None, resource_version: str | None
    ) -> list[tuple[ChangeType, Manifest, Manifest | None]]:
        """What a watch from ``resource_version`` starts with: every object as ADDED (no version
        or ``0``), else the retained changes after it (`Gone` when compacted, `Invalid` when
        not a version); each with the object before the change (None for ADDED)."""
        if is_cluster_scoped(kind):
            namespace = None
        if resource_version in (None, "", "0"):
            return [("ADDED", obj, None) for obj in self.select(api_version, kind, namespace)]
        try:
            version = int(str(resource_version))
        except ValueError:
            raise Invalid(f"invalid resource version: {str(resource_version)[:40]!r}") from None
        history = self._bucket(group_of(api_version), kind).history
        return [(change, obj, old) for _, change, _, obj, old in history.since(version, namespace)]

    def unsubscribe(self, api_version: str, kind: str, watcher: Watcher) -> None:
        bucket = self._buckets.get((group_of(api_version), kind))
        if bucket is not None and watcher in bucket.watchers:
            bucket.watchers.remove(watcher)

    def snapshot(self) -> list[Manifest]:
        """Every stored object, copied, in key order (for determinism checks and debugging)."""
        out: list[Manifest] = []
        for gk in sorted(self._buckets):
            bucket = self._buckets[gk]
            out.extend(clone(bucket.objects[k]) for k in sorted(bucket.objects))
        return out


#: Metadata the server owns on an existing object (writers cannot change it directly).
_SERVER_META = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

_has_status = admission.has_status_subresource
