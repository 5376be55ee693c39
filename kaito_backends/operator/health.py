"""Health, readiness and metrics endpoints of the operator (aiohttp).

``/healthz`` (liveness) and ``/readyz`` (readiness) answer ``200 ok`` when every check of their
kind passes, else ``500`` with one line per failing check (``[-]leader-election failed: ...``);
``?verbose`` lists every check (``[+]ping ok``); ``/healthz/<name>`` and ``/readyz/<name>`` run
one check. This is the format of the Kubernetes API server and controller-runtime.

What the operator registers (`kaito_backends.operator.runner`):

- liveness: ``ping`` (the event loop answers) and, with leader election, ``leader-election``
  (fails when this replica leads but has not renewed its Lease for the lease duration plus 20 s:
  a wedged leader is restarted);
- readiness: ``cluster`` (the first request to the API server succeeded: reachable, authorized,
  Workspace CRD installed), ``webhook`` (the webhook server is listening, when enabled), and
  without leader election ``informers`` (the controller's caches did their first list).
  **With leader election, readiness does not depend on leadership**: followers run no
  controller and have no caches to sync, but they serve the webhook, so every replica is ready
  once its own servers are up, the Service keeps all of them as webhook endpoints, and a
  failover never takes an endpoint away. Once shutdown begins every readiness check fails.

``/metrics`` serves a `prometheus_client.CollectorRegistry` in the text exposition format: the
engine's (`kaito_backends.engine.metrics.EngineMetrics.registry`), into which the runner also
registers the webhook's and the leader-election metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["Check", "CheckKind", "Health", "health_routes", "metrics_routes", "observability_app"]

#: A check returns None or True when fine, a reason (or False) when failing; raising fails too.
Check = Callable[[], "str | bool | None"]
CheckKind = Literal["healthz", "readyz"]


class Health:
    """Named liveness and readiness checks, evaluated on every probe."""

    def __init__(self) -> None:
        self._checks: dict[CheckKind, dict[str, Check]] = {"healthz": {}, "readyz": {}}
        self.shutting_down = False
        self.add_liveness("ping", lambda: None)

    def add_liveness(self, name: str, check: Check) -> None:
        """Add (or replace) a ``/healthz`` check."""
        self._checks["healthz"][name] = check

    def add_readiness(self, name: str, check: Check) -> None:
        """Add (or replace) a ``/readyz`` check."""
        self._checks["readyz"][name] = check

    def begin_shutdown(self) -> None:
        """From now on the replica is not ready (the Service stops sending it requests)."""
        self.shutting_down = True

    def names(self, kind: CheckKind) -> list[str]:
        return sorted(self._checks[kind])

    def run(self, kind: CheckKind, only: str | None = None) -> list[tuple[str, str | None]]:
        """(name, None when passing else the reason) for each check, sorted by name."""
        checks = self._checks[kind]
        if only is not None:
            checks = {only: checks[only]}
        results: list[tuple[str, str | None]] = []
        if kind == "readyz" and self.shutting_down and only is None:
            results.append(("shutdown", "the operator is shutting down"))
        for name in sorted(checks):
            results.append((name, _outcome(checks[name])))
        return results

    def ok(self, kind: CheckKind) -> bool:
        return all(reason is None for _, reason in self.run(kind))


def _outcome(check: Check) -> str | None:
    try:
        result = check()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    if result is None or result is True:
        return None
    if result is False:
        return "not yet"
    return str(result)


def _respond(health: Health, kind: CheckKind, request: web.Request) -> web.Response:
    only = request.match_info.get("name")
    if only is not None and only not in health.names(kind):
        return web.Response(status=404, text=f"no such check: {only}\n")
    results = health.run(kind, only)
    failed = [(name, reason) for name, reason in results if reason is not None]
    verbose = "verbose" in request.query
    if not failed and not verbose:
        return web.Response(text="ok")
    lines = []
    for name, reason in results:
        if reason is None:
            if verbose or only is not None:
                lines.append(f"[+]{name} ok")
        else:
            lines.append(f"[-]{name} failed: {reason}")
    label = "livez" if kind == "healthz" else "readyz"
    lines.append(f"{label} check {'failed' if failed else 'passed'}")
    return web.Response(status=500 if failed else 200, text="\n".join(lines) + "\n")


def health_routes(health: Health) -> list[web.RouteDef]:
    """``/healthz``, ``/readyz`` and their per-check sub-paths."""

    async def healthz(request: web.Request) -> web.Response:
        return _respond(health, "healthz", request)

    async def readyz(request: web.Request) -> web.Response:
        return _respond(health, "readyz", request)

    return [
        web.get("/healthz", healthz),
        web.get("/healthz/{name}", healthz),
        web.get("/readyz", readyz),
        web.get("/readyz/{name}", readyz),
    ]


def metrics_routes(registry: CollectorRegistry) -> list[web.RouteDef]:
    """``/metrics``: the registry in Prometheus' text exposition format."""

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    return [web.get("/metrics", metrics)]


def observability_app(
    *, health: Health | None = None, registry: CollectorRegistry | None = None
) -> web.Application:
    """An application with the health routes, the metrics route, or both."""
    app = web.Application()
    if health is not None:
        app.add_routes(health_routes(health))
    if registry is not None:
        app.add_routes(metrics_routes(registry))
    return app
