"""`FakeApiServer`: the fake cluster behind a Kubernetes-compatible HTTP API, on loopback.

    async with FakeApiServer(port=0, speed=60) as server:   # a random free port
        print(server.url)                                   # http://127.0.0.1:PORT
        server.write_kubeconfig("kaito-playground.kubeconfig")

On start it seeds the namespaces ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease`` and the CRDs it serves, starts the `Pacer` (virtual time runs at ``speed``
virtual seconds per real second) and, unless ``engine=False``, the KAITO engine
(`kaito_backends.engine.controller.Controller`) in-process against the same fake cluster, so a
Workspace applied with kubectl gets NodeClaims, Nodes, a StatefulSet, Pods and a status.

It serves the kinds of ``registry`` (`kaito_core.kinds.Registry`, default: Workspace and
InferenceSet) beside the built-in ones (`kaito_backends.apiserver.registry.ResourceTable`),
with the ``/scale`` subresource of a kind that has one (`kaito_backends.apiserver.scale`), and
its engine reconciles them. A custom resource (Workspace, NodeClaim, ...) is served only while
its CustomResourceDefinition is in the cluster, as on a real server (`FakeApiServer.served`):
delete ``nodeclaims.karpenter.sh`` from the store and NodeClaim paths answer ``404 page not
found``; `seed` installs it again.

With ``record_requests`` every request answered is kept in `FakeApiServer.requests`
(`RecordedRequest`: method, path, query, status code; a watch when it ends), as a real API
server's audit log would show them: tests count what a client asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from kaito_backends.apiserver import discovery
from kaito_backends.apiserver.bodies import too_large
from kaito_backends.apiserver.crds import crd_manifests, crd_status
from kaito_backends.apiserver.fanout import WatchHub
from kaito_backends.apiserver.handlers import Handlers, json_response
from kaito_backends.apiserver.kubeconfig import write_kubeconfig
from kaito_backends.apiserver.pacing import PacedClock, Pacer
from kaito_backends.apiserver.parsing import Target, flag, parse_target
from kaito_backends.apiserver.registry import ResourceTable, resource_table
from kaito_backends.apiserver.scale import serve_scale
from kaito_backends.apiserver.status import PAGE_NOT_FOUND, ApiError
from kaito_backends.apiserver.watch import serve_watch
from kaito_backends.clock import rfc3339
from kaito_backends.documents import MAX_REQUEST_BYTES
from kaito_backends.errors import AlreadyExists
from kaito_backends.fake import FakeCluster
from kaito_backends.kinds import KindHooks
from kaito_core.kinds import Registry
from kaito_core.validation import ValidationContext

__all__ = ["SEEDED_NAMESPACES", "FakeApiServer", "RecordedRequest"]

_log = logging.getLogger("kaito.apiserver")

#: Namespaces that exist from the start.
SEEDED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_HEALTH = ("healthz", "livez", "readyz")


@attrs.frozen
class RecordedRequest:
    """One request the server answered (``record_requests``)."""

    method: str
    path: str
    #: the raw query string (``""`` when none)
    query: str
    #: the HTTP status of the answer
    code: int


class FakeApiServer:
    """The fake cluster served over HTTP (see the module docstring). Use as ``async with``."""

    def __init__(
        self,
        cluster: FakeCluster | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 60.0,
        tick: float = 0.05,
        engine: bool = True,
        engine_log: Any = None,
        bookmark_interval: float = 5.0,
        access_log: bool = False,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
        record_requests: bool = False,
    ) -> None:
        if cluster is None:
            cluster = FakeCluster(clock=PacedClock(datetime.now(UTC).replace(microsecond=0)))
        elif engine and not isinstance(cluster.clock, PacedClock):
            raise ValueError(
                "an engine needs the cluster on a PacedClock: FakeCluster(clock=PacedClock())"
            )
        self.cluster = cluster
        self.host = host
        self.port = port
        self.kinds = registry
        self.hooks = hooks
        #: the resources served: the built-in ones and the registered kinds
        self.table = resource_table(registry)
        self._served: tuple[frozenset[str], ResourceTable] | None = None
        self.handlers = Handlers(cluster)
        self.hub = WatchHub(cluster.store)
        self.pacer = Pacer(cluster, speed=speed, tick=tick)
        self.engine = engine
        self.engine_log = engine_log
        self.bookmark_interval = bookmark_interval
        self.controller: Any = None
        self._access_log = access_log
        self._engine_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.record_requests = record_requests
        #: every request answered, oldest first (with ``record_requests``)
        self.requests: list[RecordedRequest] = []
        self.app = web.Application(middlewares=[self._errors], client_max_size=MAX_REQUEST_BYTES)
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Seed, listen, start the clock and the engine. ``port`` is the bound port afterwards."""
        await self.seed()
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=2.0, **kwargs)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.pacer.start()
        if self.engine:
            await self._start_engine()

    async def _start_engine(self) -> None:
        from kaito_backends.engine.controller import Controller

        self.controller = Controller(
            self.cluster.client(),
            self.cluster.provisioner(),
            clock=self.cluster.clock,
            log=self.engine_log,
            registry=self.kinds,
            hooks=self.hooks,
            # no admission webhook here: the loop judges each spec as the webhook would
            validation=ValidationContext(provisioner="fake"),
        )
        self._engine_task = asyncio.create_task(self.controller.run(), name="kaito-engine")

    async def stop(self) -> None:
        """Close watches, stop the engine and the clock, stop listening."""
        self._closing.set()
        self.hub.wake()
        task, self._engine_task = self._engine_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pacer.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.hub.close()

    async def __aenter__(self) -> FakeApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server to ``path``; returns the path."""
        return write_kubeconfig(path, self.url)

    async def seed(self) -> None:
        """Create the standard namespaces and the served CRDs (existing ones are kept)."""
        for name in SEEDED_NAMESPACES:
            await self.handlers.ensure_namespace(name)
        client = self.cluster.client()
        now = rfc3339(self.cluster.clock.now())
        for manifest in crd_manifests(self.table):
            try:
                created = await client.create(manifest)
            except AlreadyExists:
                continue
            await client.apply_status({**created, "status": crd_status(manifest, now)})

    def served(self) -> ResourceTable:
        """What is served now: ``table`` less the custom resources whose
        CustomResourceDefinition is not in the cluster (a real server serves a custom resource
        only while its CRD exists: the path is ``404 page not found``, discovery omits it)."""
        find = self.cluster.store.find
        missing = frozenset(
            r.qualified
            for r in self.table.custom()
            if find("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, r.qualified)
            is None
        )
        if not missing:
            return self.table
        if self._served is None or self._served[0] != missing:
            kept = tuple(r for r in self.table.resources if r.qualified not in missing)
            self._served = (missing, ResourceTable(kept))
        return self._served[1]

    # -- routing ---------------------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = await self._answer(request, handler)
        if self.record_requests:
            self.requests.append(
                RecordedRequest(request.method, request.path, request.query_string, response.status)
            )
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except ApiError as exc:
            if exc.plain:
                return web.Response(
                    text=PAGE_NOT_FOUND, status=exc.code, content_type="text/plain", charset="utf-8"
                )
            headers = (
                {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
            )
            return json_response(exc.body(), status=exc.code, headers=headers)
        except web.HTTPRequestEntityTooLarge:
            return json_response(too_large().body(), status=413)
        except web.HTTPException:
            raise
        except Exception as exc:
            _log.exception("request %s %s failed", request.method, request.path_qs)
            return json_response(
                ApiError(500, "InternalError", f"internal error: {exc}").body(), status=500
            )
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        table = self.served()
        if request.method not in ("GET", "HEAD") and (not parts or parts[0] not in ("api", "apis")):
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        if not parts:
            return json_response(
                {
                    "paths": [
                        "/api",
                        "/api/v1",
                        "/apis",
                        "/openapi/v3",
                        "/version",
                        *(f"/{h}" for h in _HEALTH),
                    ]
                }
            )
        head = parts[0]
        if head == "version" and len(parts) == 1:
            return json_response(discovery.version_info())
        if head in _HEALTH and len(parts) == 1:
            return web.Response(text="ok", content_type="text/plain")
        if head == "openapi":
            return self._openapi(parts[1:], table)
        if head == "api":
            if len(parts) == 1:
                return json_response(discovery.api_versions(f"{self.host}:{self.port}"))
            if parts[1] != "v1":
                raise ApiError.not_found(None, None)
            if len(parts) == 2:
                return self._discovered(discovery.resource_list("", "v1", table))
            target = parse_target("", "v1", parts[2:], table=table)
            return await self._resource(request, target)
        if head == "apis":
            if len(parts) == 1:
                return json_response(discovery.api_group_list(table))
            if len(parts) == 2:
                return self._discovered(discovery.api_group(parts[1], table))
            if len(parts) == 3:
                return self._discovered(discovery.resource_list(parts[1], parts[2], table))
            target = parse_target(parts[1], parts[2], parts[3:], table=table)
            return await self._resource(request, target)
        raise ApiError.not_found(None, None)

    @staticmethod
    def _discovered(body: dict[str, Any] | None) -> web.Response:
        if body is None:
            raise ApiError.not_found(None, None)
        return json_response(body)

    @staticmethod
    def _openapi(parts: list[str], table: Any) -> web.Response:
        if parts == ["v3"]:
            return json_response(discovery.openapi_root(table))
        if len(parts) >= 3 and parts[0] == "v3":
            if parts[1] == "api" and len(parts) == 3:
                return FakeApiServer._discovered(
                    discovery.openapi_group_version("", parts[2], table)
                )
            if parts[1] == "apis" and len(parts) == 4:
                return FakeApiServer._discovered(
                    discovery.openapi_group_version(parts[2], parts[3], table)
                )
        raise ApiError.not_found(None, None)

    async def _resource(self, request: web.Request, target: Target) -> web.StreamResponse:
        handlers = self.handlers
        method = request.method
        if target.subresource == "scale":
            return await serve_scale(handlers, request, target)
        watching = target.legacy_watch or flag(request.query.get("watch"))
        if method in ("GET", "HEAD"):
            if watching and target.subresource is None:
                return await serve_watch(
                    request,
                    target,
                    handlers,
                    hub=self.hub,
                    bookmark_interval=self.bookmark_interval,
                    closing=self._closing,
                )
            if target.name is None:
                return await handlers.list(request, target)
            return await handlers.get(request, target)
        if method == "POST" and target.subresource is None:
            return await handlers.create(request, target)
        if method == "PUT" and target.name is not None:
            return await handlers.update(request, target)
        if method == "PATCH" and target.name is not None:
            return await handlers.patch(request, target)
        if method == "DELETE" and target.subresource is None:
            if target.name is None:
                return await handlers.delete_collection(request, target)
            return await handlers.delete(request, target)
        raise ApiError.method_not_allowed(method.lower(), target.resource)
