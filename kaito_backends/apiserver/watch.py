"""``?watch=true``: a stream of JSON lines ``{"type": ..., "object": ...}``, one per change.

- ``resourceVersion``: without one (or ``0``) the stream starts with an ADDED event per existing
  object; with one, every change after it. A version older than the fake's retained history
  gets one ``ERROR`` event carrying a 410 ``Status`` (reason ``Expired``), then the stream ends;
  so does a watch whose reader falls too far behind.
- ``labelSelector`` / ``fieldSelector``: each change is judged by the object before and after
  it, as the API server's watch cache does: one that starts matching is sent as ADDED, one that
  stops matching (or is deleted while matching) as DELETED, one that matches before and after
  as MODIFIED. A DELETED for an object that stopped matching carries its state before the
  change (the one that matched) at the change's ``resourceVersion``, as the watch cache sends
  it. No per-stream memory is involved, so a stream opened at a ``resourceVersion`` reports the
  changes after it exactly as a list at that version saw the objects: an object deleted between
  ``kubectl delete --wait``'s list and its watch arrives as DELETED.
- ``allowWatchBookmarks=true``: a BOOKMARK (kind, apiVersion and ``metadata.resourceVersion``
  only) whenever the stream has been idle for the bookmark interval.
- ``sendInitialEvents=true``: the existing objects as ADDED, then a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"``, then changes.
- ``timeoutSeconds``: the stream ends (cleanly) after that many seconds.
- Table ``Accept``: each object is a one-row Table; column definitions in the first only.

Streams read the changes through the server's `kaito_backends.apiserver.fanout.WatchHub`
(one log per kind, each event encoded once, wake-ups coalesced), so many open watches cost the
server little per write. The fake cluster's watch faults apply per event and stream: an
injected or seeded drop ends the stream, a ``watch_gone`` sends a 410 ``ERROR`` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from kaito_backends.apiserver.fanout import WatchHub, encoded, line
from kaito_backends.apiserver.handlers import Handlers, ordered, selectors
from kaito_backends.apiserver.parsing import Target, flag, negotiate
from kaito_backends.apiserver.selectors import Requirement, Selector
from kaito_backends.apiserver.status import ApiError, from_backend
from kaito_backends.apiserver.tables import columns_for, partial_metadata, table
from kaito_backends.errors import BackendError, Gone
from kaito_backends.objects import Manifest

__all__ = ["serve_watch"]

_INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _too_slow() -> dict[str, Any]:
    return ApiError(410, "Expired", "watch closed: the consumer fell too far behind").body()


async def serve_watch(
    request: web.Request,
    target: Target,
    handlers: Handlers,
    *,
    hub: WatchHub,
    bookmark_interval: float,
    closing: asyncio.Event,
) -> web.StreamResponse:
    """Serve one watch until it times out, the client goes away or the server stops."""
    negotiated = negotiate(request.headers.get("Accept"))
    labels, fields = selectors(request)
    if target.name is not None:  # GET .../<name>?watch=true watches one object
        fields = Selector((*fields.requirements, Requirement("metadata.name", "=", (target.name,))))
    query = request.query
    resource_version = query.get("resourceVersion") or None
    bookmarks = flag(query.get("allowWatchBookmarks"))
    initial = flag(query.get("sendInitialEvents"))
    try:
        timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
    except ValueError:
        raise ApiError.bad_request("timeoutSeconds must be a number") from None
    resource = target.resource
    api_version = target.api_version
    namespace = target.namespace if resource.namespaced else None
    cluster = handlers.cluster
    store = cluster.store
    filtered = bool(labels or fields)
    plain = negotiated.representation == "object"

    def matches(obj: Manifest) -> bool:
        return labels.matches_labels(
            (obj.get("metadata") or {}).get("labels") or {}
        ) and fields.matches_fields(obj)

    headers_sent = False

    def encode(kind: str, obj: Manifest) -> bytes:
        nonlocal headers_sent
        body: Any = obj
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            if obj.get("apiVersion") != api_version:
                obj = {**obj, "apiVersion": api_version}
            if negotiated.representation == "table":
                body = table(
                    columns_for(resource, target.version),
                    [obj],
                    now=handlers.now(),
                    resource_version=str((obj.get("metadata") or {}).get("resourceVersion", "")),
                    include_object=query.get("includeObject", "Metadata"),
                    table_version=negotiated.version,
                    headers=not headers_sent,
                )
                headers_sent = True
            elif negotiated.representation == "partial":
                body = partial_metadata(obj)
            else:
                body = ordered(obj)
        return line(kind, json.dumps(body, separators=(",", ":")).encode())

    def bookmark(version: str, *, initial_end: bool = False) -> Manifest:
        meta: dict[str, Any] = {"resourceVersion": version}
        if initial_end:
            meta["annotations"] = {_INITIAL_EVENTS_END: "true"}
        return {"kind": resource.kind, "apiVersion": api_version, "metadata": meta}

    def translate(change: str, obj: Manifest, old: Manifest | None) -> str | None:
        """The event type this stream sends for a change (selectors applied), or None: judged
        by the object before (``old``) and after it alone, never by what the stream sent."""
        if not filtered:
            return change
        after = change != "DELETED" and matches(obj)
        # a deletion's object is the object's last state (with the deleting resourceVersion)
        before = matches(obj) if change == "DELETED" else old is not None and matches(old)
        if after:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None

    def departed(change: str, sent: str, obj: Manifest, old: Manifest | None) -> Manifest | None:
        """For an object that stopped matching: its previous state at the new version."""
        if sent != "DELETED" or change == "DELETED" or old is None:
            return None
        version = (obj.get("metadata") or {}).get("resourceVersion")
        return {**old, "metadata": {**(old.get("metadata") or {}), "resourceVersion": version}}

    pending: list[bytes] = []
    expired: Gone | None = None
    try:
        cluster.recorder.record("watch", resource.kind, namespace, None)
        cluster.faults.api("watch", resource.kind)
        end = bookmark(store.resource_version, initial_end=True) if initial else None
        version = None if initial else resource_version
        backlog = store.backlog(api_version, resource.kind, namespace, version)
    except Gone as exc:  # too old: the stream opens and says so, as the API server's does
        expired, backlog, end = exc, [], None
    except BackendError as exc:
        raise from_backend(exc, resource, None) from None
    # the stream joins the hub before anything awaits, so no change between the backlog and the
    # log can be missed
    stream, _ = hub.open(api_version, resource.kind)
    try:
        for change, obj, old in backlog:
            sent = translate(change, obj, old)
            if sent is not None:
                pending.append(encode(sent, departed(change, sent, obj, old) or obj))
        if end is not None:
            pending.append(encode("BOOKMARK", end))
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
    except BaseException:
        hub.close_stream(api_version, resource.kind, stream)
        raise
    if expired is not None:
        hub.close_stream(api_version, resource.kind, stream)
        await response.write(encode("ERROR", from_backend(expired, resource, None).body()))
        with contextlib.suppress(ConnectionResetError, ConnectionError):
            await response.write_eof()
        return response
    rng = cluster.faults.watch_stream()

    def transport_closed() -> bool:
        return request.transport is None or request.transport.is_closing()

    deadline = None if timeout is None else time.monotonic() + timeout
    last_write = time.monotonic()
    try:
        if pending:
            await response.write(b"".join(pending))
        while not closing.is_set() and not transport_closed():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if not hub.pending(api_version, resource.kind, stream):
                await hub.wait(api_version, resource.kind)
                if (
                    bookmarks
                    and not hub.pending(api_version, resource.kind, stream)
                    and time.monotonic() - last_write >= bookmark_interval
                ):
                    await response.write(encode("BOOKMARK", bookmark(store.resource_version)))
                    last_write = time.monotonic()
                continue
            faulty = cluster.faults.watches_faulty(resource.kind)
            if plain and not filtered and not faulty:
                span = hub.advance(api_version, resource.kind, stream)
                if span is None:
                    await response.write(encode("ERROR", _too_slow()))
                    break
                chunk = hub.chunk(api_version, resource.kind, namespace, span, ordered)
                if chunk:
                    await response.write(chunk)
                    last_write = time.monotonic()
                continue
            entries = hub.since(api_version, resource.kind, stream)
            if entries is None:
                await response.write(encode("ERROR", _too_slow()))
                break
            chunks: list[bytes] = []
            broken: str | None = None
            for entry in entries:
                if namespace is not None and entry.namespace != namespace:
                    continue
                if faulty:
                    broken = cluster.faults.watch_event(rng, resource.kind)
                    if broken is not None:
                        break
                sent = translate(entry.change, entry.obj, entry.old)
                if sent is None:
                    continue
                previous = departed(entry.change, sent, entry.obj, entry.old)
                if previous is not None:
                    chunks.append(encode(sent, previous))
                elif plain:
                    chunks.append(line(sent, encoded(entry, api_version, ordered)))
                else:
                    chunks.append(encode(sent, entry.obj))
            if broken == "gone":
                error = from_backend(cluster.faults.watch_error(), resource, None)
                chunks.append(encode("ERROR", error.body()))
            if chunks:
                await response.write(b"".join(chunks))
                last_write = time.monotonic()
            if broken is not None:
                break
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        hub.close_stream(api_version, resource.kind, stream)
    with contextlib.suppress(ConnectionResetError, ConnectionError):
        await response.write_eof()
    return response
