"""``?watch=true``: a stream of JSON lines ``{"type": ..., "object": ...}``, one per change.

- ``resourceVersion``: without one (or ``0``) the stream starts with an ADDED event per existing
  object; with one, every change after it. A version older than the fake's retained history
  gets one ``ERROR`` event carrying a 410 ``Status`` (reason ``Expired``), then the stream ends;
  so does a watch whose reader falls too far behind.
- ``labelSelector`` / ``fieldSelector``: an object that stops matching is sent as DELETED, one
  that starts matching as ADDED, as the API server does.
- ``allowWatchBookmarks=true``: a BOOKMARK (kind, apiVersion and ``metadata.resourceVersion``
  only) whenever the stream has been idle for the bookmark interval.
- ``sendInitialEvents=true``: the existing objects as ADDED, then a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"``, then changes.
- ``timeoutSeconds``: the stream ends (cleanly) after that many seconds.
- Table ``Accept``: each object is a one-row Table; column definitions in the first only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from kaito_backends.apiserver.handlers import Handlers, ordered, selectors
from kaito_backends.apiserver.parsing import Target, flag, negotiate
from kaito_backends.apiserver.selectors import Requirement, Selector
from kaito_backends.apiserver.status import ApiError, from_backend
from kaito_backends.apiserver.tables import columns_for, partial_metadata, table
from kaito_backends.errors import BackendError
from kaito_backends.objects import Manifest
from kaito_backends.protocols import WatchEvent

__all__ = ["serve_watch"]

_INITIAL_EVENTS_END = "k8s.io/initial-events-end"
#: How often an idle stream wakes up to notice a closed connection or a shutting-down server.
_POLL = 0.5


def _key(obj: Manifest) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


async def serve_watch(
    request: web.Request,
    target: Target,
    handlers: Handlers,
    *,
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
    namespace = target.namespace if resource.namespaced else None
    client = handlers.client

    def matches(obj: Manifest) -> bool:
        return labels.matches_labels(
            (obj.get("metadata") or {}).get("labels") or {}
        ) and fields.matches_fields(obj)

    headers_sent = False

    def encode(kind: str, obj: Manifest) -> bytes:
        nonlocal headers_sent
        body: Any = obj
        if kind in ("ADDED", "MODIFIED", "DELETED"):
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
        return json.dumps({"type": kind, "object": body}, separators=(",", ":")).encode() + b"\n"

    def bookmark(version: str, *, initial_end: bool = False) -> Manifest:
        meta: dict[str, Any] = {"resourceVersion": version}
        if initial_end:
            meta["annotations"] = {_INITIAL_EVENTS_END: "true"}
        return {"kind": resource.kind, "apiVersion": target.api_version, "metadata": meta}

    seen: set[tuple[str, str]] = set()
    pending: list[bytes] = []
    try:
        if initial:
            listed = await client.list(target.api_version, resource.kind, namespace=namespace)
            for obj in listed.items:
                if matches(obj):
                    seen.add(_key(obj))
                    pending.append(encode("ADDED", obj))
            end = bookmark(listed.resource_version, initial_end=True)
            pending.append(encode("BOOKMARK", end))
            resource_version = listed.resource_version
        elif resource_version not in (None, "0") and (labels or fields):
            listed = await client.list(target.api_version, resource.kind, namespace=namespace)
            seen.update(_key(o) for o in listed.items if matches(o))
    except BackendError as exc:
        raise from_backend(exc, resource, None) from None

    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in client.watch(
                target.api_version,
                resource.kind,
                namespace=namespace,
                resource_version=resource_version,
            ):
                queue.put_nowait(("event", event))
        except BackendError as exc:
            queue.put_nowait(("error", exc))
        else:
            queue.put_nowait(("end", None))

    filtered = bool(labels or fields)

    def translate(event: WatchEvent) -> tuple[str, Manifest] | None:
        if not filtered:
            return event.type, event.object
        key = _key(event.object)
        if event.type == "DELETED":
            if key in seen:
                seen.discard(key)
                return "DELETED", event.object
            return None
        if matches(event.object):
            kind = "MODIFIED" if event.type == "MODIFIED" and key in seen else "ADDED"
            seen.add(key)
            return kind, event.object
        if key in seen:
            seen.discard(key)
            return "DELETED", event.object
        return None

    def transport_closed() -> bool:
        return request.transport is None or request.transport.is_closing()

    task = asyncio.create_task(pump(), name="apiserver-watch")
    deadline = None if timeout is None else time.monotonic() + timeout
    last_write = time.monotonic()
    try:
        for chunk in pending:
            await response.write(chunk)
        while not closing.is_set() and not transport_closed():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = _POLL if deadline is None else min(_POLL, deadline - now)
            try:
                what, item = await asyncio.wait_for(queue.get(), timeout=max(0.0, wait))
            except TimeoutError:
                if bookmarks and time.monotonic() - last_write >= bookmark_interval:
                    for _ in range(3):  # let the pump move anything the store just pushed
                        await asyncio.sleep(0)
                    if queue.empty():
                        version = handlers.cluster.store.resource_version
                        await response.write(encode("BOOKMARK", bookmark(version)))
                        last_write = time.monotonic()
                continue
            if what == "end":
                break
            if what == "error":
                error = from_backend(item, resource, None)
                await response.write(encode("ERROR", error.body()))
                break
            translated = translate(item)
            if translated is not None:
                await response.write(encode(*translated))
                last_write = time.monotonic()
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    with contextlib.suppress(ConnectionResetError, ConnectionError):
        await response.write_eof()
    return response
