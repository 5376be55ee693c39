"""Probe and metrics endpoints: the API server's healthz format, per-check paths, shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from kaito_backends.operator.health import Health, observability_app

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
async def client(health: Health) -> AsyncIterator[Client]:
    registry = CollectorRegistry()
    Counter("demo", "A demo counter.", registry=registry).inc(3)
    async with TestClient(TestServer(observability_app(health=health, registry=registry))) as c:
        yield c


async def get(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status, await response.text()


async def test_passing_checks_answer_ok(client: Client, health: Health) -> None:
    """Every check passes: 200 ``ok``; verbose lists them."""
    health.add_readiness("cluster", lambda: True)
    assert await get(client, "/healthz") == (200, "ok")
    assert await get(client, "/readyz") == (200, "ok")
    status, text = await get(client, "/readyz?verbose")
    assert status == 200
    assert text == "[+]cluster ok\nreadyz check passed\n"


async def test_a_failing_check_is_500_with_its_reason(client: Client, health: Health) -> None:
    """A failing readiness check names itself and why; liveness is unaffected."""
    health.add_readiness("cluster", lambda: True)
    health.add_readiness("informers", lambda: "caches not synced: Pod")
    status, text = await get(client, "/readyz")
    assert status == 500
    assert "[-]informers failed: caches not synced: Pod" in text
    assert text.endswith("readyz check failed\n")
    assert (await get(client, "/healthz"))[0] == 200


@pytest.mark.parametrize(
    ("result", "reason"),
    [(False, "not yet"), ("busy", "busy"), (ValueError("boom"), "ValueError: boom")],
    ids=["false", "string", "raises"],
)
async def test_check_results(client: Client, health: Health, result: object, reason: str) -> None:
    """False, a string and an exception all fail the check."""

    def check() -> object:
        if isinstance(result, Exception):
            raise result
        return result

    health.add_liveness("thing", check)  # type: ignore[arg-type]
    status, text = await get(client, "/healthz")
    assert status == 500
    assert f"[-]thing failed: {reason}" in text


async def test_single_check_paths(client: Client, health: Health) -> None:
    """/readyz/<name> runs one check; an unknown name is 404."""
    health.add_readiness("webhook", lambda: None)
    health.add_readiness("informers", lambda: False)
    assert await get(client, "/readyz/webhook") == (200, "ok")
    assert (await get(client, "/readyz/informers"))[0] == 500
    assert (await get(client, "/readyz/nope"))[0] == 404


async def test_shutdown_makes_the_replica_unready(client: Client, health: Health) -> None:
    """begin_shutdown fails readiness at once, not liveness."""
    health.begin_shutdown()
    status, text = await get(client, "/readyz")
    assert status == 500
    assert "[-]shutdown failed" in text
    assert (await get(client, "/healthz"))[0] == 200


async def test_metrics_exposition(client: Client) -> None:
    """/metrics serves the registry in the Prometheus text format."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert "demo_total 3.0" in await response.text()
