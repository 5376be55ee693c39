"""`FakeClient`: the `ClusterClient` protocol over the fake store, with faults and call records.

Every call is recorded (`Recorder`: counters per (verb, kind) and the list of calls), then may
fail by the fault plan, then runs against the store. Objects passed in and returned by calls are
copied, so callers never share state with the store through them. Watch events are not copied:
an event read in the stored API version carries the store's own dict (which the store never
changes in place, see `kaito_backends.fake.store`), shared by every watcher and the watch
history, as a real informer's cache holds the one decoded object; **a watch event's object is
read-only** (the engine's informers, which cache it as is, never mutate it;
`tests/engine/test_shared_objects.py` checks that). An event in another API version is a copy.
Calls do not yield to the event loop (they are instantaneous); watch iterators wait for changes.
``metadata_only`` lists and watches return ``{"apiVersion", "kind", "metadata"}`` copies.
Creates (and applies that create) in a terminating namespace raise `NamespaceTerminating` (a
`Forbidden`), as the API server's NamespaceLifecycle admission does
(`kaito_backends.fake.namespaces`); the fake's own controllers write to the store directly and
are not checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from kaito_backends.clock import Clock
from kaito_backends.errors import BackendError, Invalid, NotFound
from kaito_backends.fake.faults import Faults
from kaito_backends.fake.namespaces import check_create
from kaito_backends.fake.store import Store
from kaito_backends.objects import Manifest, ObjectRef, clone, matches_fields, resource_of
from kaito_backends.protocols import ObjectList, WatchEvent

__all__ = ["Call", "FakeClient", "Recorder"]

_PROPAGATIONS = frozenset({"Background", "Foreground", "Orphan"})


@attrs.frozen(kw_only=True)
class Call:
    """One recorded call: verb, kind and object (namespace/name when known), virtual time, and
    whether an injected fault made it fail."""

    verb: str
    kind: str
    namespace: str | None = None
    name: str | None = None
    at: float = 0.0
    failed: bool = False


class Recorder:
    """Counters per (verb, kind) and the calls themselves, for assertions in tests."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.counters: Counter[tuple[str, str]] = Counter()
        self.calls: list[Call] = []

    def record(
        self, verb: str, kind: str, namespace: str | None = None, name: str | None = None
    ) -> int:
        """Record a call; returns its index in `calls`."""
        self.counters[(verb, kind)] += 1
        self.calls.append(
            Call(verb=verb, kind=kind, namespace=namespace, name=name, at=self.clock.monotonic())
        )
        return len(self.calls) - 1

    def fail(self, index: int) -> None:
        """Mark call `index` as failed (a fault struck it before it had any effect)."""
        if 0 <= index < len(self.calls):
            self.calls[index] = attrs.evolve(self.calls[index], failed=True)

    def reset(self) -> None:
        self.counters.clear()
        self.calls.clear()

    def count(self, verb: str | None = None, kind: str | None = None) -> int:
        """Calls of this verb and/or kind (None matches any)."""
        return sum(
            n
            for (v, k), n in self.counters.items()
            if (verb is None or v == verb) and (kind is None or k == kind)
        )


def _check(obj: Any) -> Manifest:
    if not isinstance(obj, Mapping):
        raise Invalid(f"an object must be a mapping, got {type(obj).__name__}")
    copied: Manifest = clone(dict(obj))
    if not isinstance(copied.get("metadata"), dict):
        copied["metadata"] = {}
    return copied


def _metadata_of(obj: Manifest, api_version: str) -> Manifest:
    """What a metadata-only read returns: apiVersion, kind and a copy of the metadata."""
    return {"apiVersion": api_version, "kind": obj["kind"], "metadata": clone(obj["metadata"])}


def _names(obj: Manifest) -> tuple[str, str | None, str | None]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), meta.get("namespace"), meta.get("name")


class FakeClient:
    """A `ClusterClient` over the fake cluster's store."""

    def __init__(self, store: Store, faults: Faults, recorder: Recorder) -> None:
        self._store = store
        self._faults = faults
        self._recorder = recorder

    def _call(self, verb: str, kind: str, namespace: str | None, name: str | None) -> None:
        index = self._recorder.record(verb, kind, namespace, name)
        try:
            self._faults.api(verb, kind, name or "", call=index)
        except BackendError:
            self._recorder.fail(index)
            raise

    @staticmethod
    def _out(obj: Manifest, api_version: str) -> Manifest:
        out: Manifest = clone(obj)
        out["apiVersion"] = api_version
        return out

    async def get(self, ref: ObjectRef) -> Manifest:
        self._call("get", ref.kind, ref.namespace, ref.name)
        obj = self._store.find(ref.api_version, ref.kind, ref.namespace, ref.name)
        if obj is None:
            raise NotFound(f'{resource_of(ref.api_version, ref.kind)} "{ref.name}" not found')
        return self._out(obj, ref.api_version)

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        metadata_only: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> ObjectList:
        self._call("list", kind, namespace, None)
        items = self._store.select(api_version, kind, namespace, labels)
        if fields:
            items = [o for o in items if matches_fields(o, fields)]
        out = _metadata_of if metadata_only else self._out
        return ObjectList(
            items=tuple(out(o, api_version) for o in items),
            resource_version=self._store.resource_version,
        )

    async def create(self, obj: Manifest) -> Manifest:
        copied = _check(obj)
        self._call("create", *_names(copied))
        api_version = copied.get("apiVersion", "")
        check_create(self._store, copied)
        return self._out(self._store.create(copied), api_version)

    async def apply(self, obj: Manifest, *, field_manager: str = "kaito") -> Manifest:
        copied = _check(obj)
        self._call("apply", *_names(copied))
        api_version = copied.get("apiVersion", "")
        kind, namespace, name = _names(copied)
        if self._store.find(api_version, kind, namespace, str(name or "")) is None:
            check_create(self._store, copied)
        return self._out(self._store.apply(copied, field_manager), api_version)

    async def update(self, obj: Manifest) -> Manifest:
        copied = _check(obj)
        self._call("update", *_names(copied))
        api_version = copied.get("apiVersion", "")
        return self._out(self._store.update(copied), api_version)

    async def apply_status(self, obj: Manifest) -> Manifest:
        copied = _check(obj)
        self._call("apply_status", *_names(copied))
        api_version = copied.get("apiVersion", "")
        return self._out(self._store.update_status(copied), api_version)

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background") -> None:
        self._call("delete", ref.kind, ref.namespace, ref.name)
        if propagation not in _PROPAGATIONS:
            raise Invalid(f"unsupported propagation policy {propagation!r}")
        self._store.delete(
            ref.api_version, ref.kind, ref.namespace, ref.name, propagation=propagation
        )

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        index = self._recorder.record("watch", kind, namespace, None)
        return self._watch(api_version, kind, namespace, resource_version, metadata_only, index)

    async def _watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        resource_version: str | None,
        metadata_only: bool,
        index: int,
    ) -> AsyncIterator[WatchEvent]:
        try:
            self._faults.api("watch", kind, call=index)
        except BackendError:
            self._recorder.fail(index)
            raise
        stream = self._faults.watch_stream()
        watcher = self._store.subscribe(api_version, kind, namespace, resource_version)
        try:
            while True:
                change, obj = await watcher.next()
                broken = self._faults.watch_event(stream, kind)
                if broken == "end":
                    return
                if broken == "gone":
                    raise self._faults.watch_error()
                if metadata_only:
                    obj = _metadata_of(obj, api_version)
                elif obj.get("apiVersion") != api_version:
                    obj = self._out(obj, api_version)
                yield WatchEvent(type=change, object=obj)
        finally:
            self._store.unsubscribe(api_version, kind, watcher)
