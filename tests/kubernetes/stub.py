"""A scripted Kubernetes API server on loopback: answers what a test says, records every request.

    stub.on("GET", "/api/v1/namespaces/default/pods", Reply(body=pod_list("7", pod("a", "5"))))
    stub.on("GET", "/api/v1/namespaces/default/pods", Events([added(...)], end="drop"), watch=True)
    ...
    stub.seen("PATCH")        # the recorded requests (method, path, query, headers, body)

Answers are queued per (method, path, watch?): each request takes the next one and the last
one repeats. A path with no answer gets a 404 ``Status``. `Events` streams watch events as
JSON lines, then ends the response (``end``), cuts the connection mid-stream (``drop``), or
keeps it open until the client leaves or the stub stops (``hang``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Literal

import attrs
from aiohttp import web

__all__ = ["Events", "Reply", "Seen", "Stub", "event", "obj", "object_list", "status"]


@attrs.frozen(kw_only=True)
class Seen:
    """One recorded request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")


@attrs.frozen
class Reply:
    """A plain answer: status, JSON body (bytes: a plain-text body), headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Events:
    """A watch answer: these events, then ``end``, ``drop`` or ``hang``."""

    events: list[dict[str, Any]]
    end: Literal["end", "drop", "hang"] = "end"


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A failure ``Status`` body."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def obj(name: str, version: str, *, kind: str = "ConfigMap", **labels: str) -> dict[str, Any]:
    """A small object of ``kind`` in ``default`` at resourceVersion ``version``."""
    meta: dict[str, Any] = {"name": name, "namespace": "default", "resourceVersion": version}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"v": version}}


def object_list(version: str, *items: dict[str, Any], token: str = "") -> dict[str, Any]:
    """A list answer; items lose apiVersion and kind, as the API server sends them."""
    meta: dict[str, Any] = {"resourceVersion": version}
    if token:
        meta["continue"] = token
    bare = [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items]
    return {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta, "items": bare}


def event(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": body}


class Stub:
    """The scripted server (see the module docstring)."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._answers: dict[tuple[str, str, bool], list[Reply | Events]] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        #: set whenever a request arrives (tests wait on it)
        self.arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, method: str, path: str, *answers: Reply | Events, watch: bool = False) -> None:
        """Queue answers for requests of ``method`` to ``path`` (watches apart)."""
        self._answers.setdefault((method, path, watch), []).extend(answers)

    def seen(
        self, method: str | None = None, path: str | None = None, *, watch: bool | None = None
    ) -> list[Seen]:
        return [
            s
            for s in self.requests
            if (method is None or s.method == method)
            and (path is None or s.path == path)
            and (watch is None or s.watch == watch)
        ]

    async def wait_for(
        self, count: int, *, watch: bool | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until ``count`` requests (of this watch-ness) arrived."""

        async def enough() -> None:
            while len(self.seen(watch=watch)) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        seen = Seen(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
        )
        self.requests.append(seen)
        self.arrived.set()
        queue = self._answers.get((seen.method, seen.path, seen.watch))
        if not queue:
            return web.json_response(status(404, "NotFound", f"{seen.path} not found"), status=404)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Reply):
            if answer.body is None:
                return web.Response(status=answer.status, headers=answer.headers)
            if isinstance(answer.body, bytes):  # plain text, as Go's http.NotFound writes it
                return web.Response(
                    body=answer.body,
                    status=answer.status,
                    headers=answer.headers,
                    content_type="text/plain",
                )
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        return await self._stream(request, answer)

    async def _stream(self, request: web.Request, answer: Events) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for item in answer.events:
            await response.write(json.dumps(item).encode() + b"\n")
        if answer.end == "drop":
            await response.write(b'{"type":"MODIFIED","obj')  # torn mid-event
            if request.transport is not None:
                request.transport.abort()
            return response
        if answer.end == "hang":
            while not self._closing.is_set():
                if request.transport is None or request.transport.is_closing():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), 0.05)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
