"""Kubernetes ``core/v1`` Events on an object's key transitions, deduplicated by count.

Events are recorded on objects of any registered kind (a Workspace, ...): the involved object
and owner are the manifest's own apiVersion, kind, name and uid.

Like client-go's event correlator, an Event that repeats (same object, type, reason and
message) is not written again as a new object: the existing one gets ``count + 1`` and a new
``lastTimestamp``, which is what ``kubectl describe`` shows as ``(x3 over 5m)``. Names are
deterministic (``<name>.<16 hex of uid, type, reason, message>``), so an engine that
restarts continues the count it finds in the cluster instead of starting a second Event.

Events are not garbage-collected with their object on a real cluster: kube-controller-manager's
garbage collector ignores ``events`` and ``events.k8s.io`` (they expire after the API server's
``--event-ttl``, one hour by default), whatever owner reference they carry. So the engine deletes
them itself: `EventRecorder.purge`, called just before an object's finalizer is removed, lists
the Events whose ``involvedObject.uid`` is the object's (a field selector: one request, whoever
wrote them) and deletes each. All of them are ``core/v1`` Events (the engine writes no
``events.k8s.io`` ones; that API serves the same objects). They still carry a (non-controller)
owner reference, which says whose they are to tools that read it. An Event written without the
object's uid (the ``FinalizerTimeout`` warning) is not matched and outlives the object on
purpose.

Recording never fails a reconcile: an Event that cannot be written is dropped with a warning in
the log, as client-go's recorder does, and silently when its namespace is gone or being
terminated (`NamespaceTerminating`: nobody will read it). ``sink`` callbacks (the CLI's
progress lines, tests) see every Event recorded, written or not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kaito_backends.clock import Clock, rfc3339
from kaito_backends.errors import AlreadyExists, BackendError, NamespaceTerminating, NotFound
from kaito_backends.objects import Key, Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient

__all__ = ["COMPONENT", "EventRecorder", "RecordedEvent", "event_name"]

COMPONENT = "kaito-workspace-controller"


@attrs.frozen(kw_only=True)
class RecordedEvent:
    """An Event as the recorder saw it: which object, what, and its count so far."""

    key: Key
    type: str
    reason: str
    message: str
    count: int
    time: str


Sink = Callable[[RecordedEvent], None]


def event_name(name: str, uid: str, type_: str, reason: str, message: str) -> str:
    """``<name>.<16 hex>``: one name per (object incarnation, type, reason, message)."""
    digest = hashlib.sha256(f"{uid}\x00{type_}\x00{reason}\x00{message}".encode()).hexdigest()
    return f"{name[:236]}.{digest[:16]}"


class EventRecorder:
    """Writes Events through a `ClusterClient`, counting repeats (see the module docstring)."""

    def __init__(
        self,
        client: ClusterClient,
        *,
        clock: Clock,
        component: str = COMPONENT,
        sinks: tuple[Sink, ...] = (),
        on_error: Callable[[BaseException], None] | None = None,
        write: bool = True,
    ) -> None:
        self.client = client
        self.clock = clock
        self.component = component
        self.sinks = list(sinks)
        self.on_error = on_error
        #: False: only the sinks see Events (nothing is written to the cluster)
        self.write = write
        # (kind, namespace, event name) -> (count, firstTimestamp)
        self._counts: dict[tuple[str, str, str], tuple[int, str]] = {}
        #: Events written (created or counted up)
        self.writes = 0
        #: Events deleted by `purge`
        self.deleted = 0

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    async def record(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> RecordedEvent:
        """Record one Event on ``obj`` (its manifest: kind, name, namespace, uid are read)."""
        meta = obj.get("metadata") or {}
        kind = str(obj.get("kind") or "")
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name") or "")
        uid = str(meta.get("uid") or "")
        now = rfc3339(self.clock.now())
        ev_name = event_name(name, uid, type_, reason, message)
        seen, first = self._counts.get((kind, namespace, ev_name), (0, now))
        count = seen + 1
        if self.write:
            count, first = await self._write(
                obj, namespace, ev_name, (type_, reason, message), count, first, now
            )
        self._counts[(kind, namespace, ev_name)] = (count, first)
        recorded = RecordedEvent(
            key=Key(kind, namespace, name),
            type=type_,
            reason=reason,
            message=message,
            count=count,
            time=now,
        )
        for sink in self.sinks:
            sink(recorded)
        return recorded

    async def purge(self, obj: Mapping[str, Any]) -> int:
        """Delete every Event about ``obj`` (this incarnation: by ``involvedObject.uid``), as
        the garbage collector will not; returns how many went. Raises `BackendError` (the list
        or a delete failed); an Event already gone is fine. Nothing happens when the recorder
        does not write (``write=False``) or the object has no uid."""
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid or not self.write:
            return 0
        namespace = str(meta.get("namespace") or "default")
        listed = await self.client.list(
            "v1", "Event", namespace=namespace, fields={"involvedObject.uid": uid}
        )
        deleted = 0
        for event in listed.items:
            if (event.get("involvedObject") or {}).get("uid") != uid:
                continue  # a client that ignored the field selector: never delete another's
            name = str((event.get("metadata") or {}).get("name") or "")
            try:
                await self.client.delete(ObjectRef("v1", "Event", name, namespace))
                deleted += 1
            except NotFound:
                pass
        self.deleted += deleted
        return deleted

    def forget(self, key: Key) -> None:
        """Drop the cached counts of an object that is gone."""
        prefix = f"{key.name[:236]}."
        for cached in [
            k
            for k in self._counts
            if k[0] == key.kind and k[1] == key.namespace and k[2].startswith(prefix)
        ]:
            del self._counts[cached]

    async def _write(
        self,
        obj: Mapping[str, Any],
        namespace: str,
        ev_name: str,
        what: tuple[str, str, str],
        count: int,
        first: str,
        now: str,
    ) -> tuple[int, str]:
        try:
            if count == 1:
                try:
                    await self.client.create(
                        self._manifest(obj, namespace, ev_name, what, 1, first, now)
                    )
                    self.writes += 1
                    return 1, first
                except AlreadyExists:  # a previous engine recorded it: continue its count
                    existing = await self.client.get(ObjectRef("v1", "Event", ev_name, namespace))
                    count = int(existing.get("count") or 1) + 1
                    first = str(existing.get("firstTimestamp") or first)
            event = self._manifest(obj, namespace, ev_name, what, count, first, now)
            await self.client.apply(event, field_manager=self.component)
            self.writes += 1
        except (NotFound, NamespaceTerminating):
            pass  # the namespace or the object is going away: nothing to tell
        except BackendError as error:
            if self.on_error is not None:
                self.on_error(error)
        return count, first

    def _manifest(
        self,
        obj: Mapping[str, Any],
        namespace: str,
        ev_name: str,
        what: tuple[str, str, str],
        count: int,
        first: str,
        last: str,
    ) -> Manifest:
        type_, reason, message = what
        meta = obj.get("metadata") or {}
        involved: dict[str, Any] = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta.get("name", ""),
            "namespace": namespace,
        }
        owner: list[dict[str, Any]] = []
        if meta.get("uid"):
            involved["uid"] = meta["uid"]
            owner = [
                {
                    "apiVersion": obj.get("apiVersion", ""),
                    "kind": obj.get("kind", ""),
                    "name": meta.get("name", ""),
                    "uid": meta["uid"],
                }
            ]
        metadata: dict[str, Any] = {"name": ev_name, "namespace": namespace}
        if owner:
            metadata["ownerReferences"] = owner
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": metadata,
            "involvedObject": involved,
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "count": count,
            "firstTimestamp": first,
            "lastTimestamp": last,
            "source": {"component": self.component},
            "reportingComponent": self.component,
        }
