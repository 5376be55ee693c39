"""Watch fan-out: every stream sees every change once, in order, whatever the batching."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.apiserver.fanout import WatchHub
from kaito_backends.apiserver.handlers import ordered
from kaito_backends.fake import FakeCluster

CM = "/api/v1/namespaces/{ns}/configmaps"


def _cm(name: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }


async def test_the_hub_logs_changes_once_for_every_open_stream() -> None:
    """Changes after `open` are read by each stream; the shared chunk is built once."""
    cluster = FakeCluster()
    hub = WatchHub(cluster.store, flush_interval=0.001)
    client = cluster.client()
    await client.create(_cm("before"))
    first, _ = hub.open("v1", "ConfigMap")
    second, _ = hub.open("v1", "ConfigMap")
    for i in range(5):
        await client.create(_cm(f"c{i}", "default" if i % 2 else "other"))
    one = hub.advance("v1", "ConfigMap", first)
    two = hub.advance("v1", "ConfigMap", second)
    assert one == two
    assert one is not None
    chunk = hub.chunk("v1", "ConfigMap", None, one, ordered)
    assert hub.chunk("v1", "ConfigMap", None, one, ordered) is chunk
    names = [json.loads(line)["object"]["metadata"]["name"] for line in chunk.splitlines()]
    assert names == ["c0", "c1", "c2", "c3", "c4"]
    scoped = hub.chunk("v1", "ConfigMap", "default", one, ordered)
    assert [json.loads(line)["object"]["metadata"]["name"] for line in scoped.splitlines()] == [
        "c1",
        "c3",
    ]
    hub.close_stream("v1", "ConfigMap", first)
    hub.close_stream("v1", "ConfigMap", second)
    assert hub.streams() == 0
    hub.close()


async def test_a_stream_that_falls_too_far_behind_is_told_so() -> None:
    """Past ``max_lag`` unread changes, `advance` says the stream must be closed (410)."""
    cluster = FakeCluster()
    hub = WatchHub(cluster.store, max_lag=3)
    stream, _ = hub.open("v1", "ConfigMap")
    for i in range(4):
        await cluster.client().create(_cm(f"c{i}"))
    assert hub.advance("v1", "ConfigMap", stream) is None
    hub.close()


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


async def _read(resp: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = await asyncio.wait_for(resp.content.readline(), 10)
        assert line, f"the stream ended after {len(events)} events"
        events.append(json.loads(line))
    return events


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [f"c{i}" for i in range(60)]),
        ({"labelSelector": "even=yes"}, [f"c{i}" for i in range(0, 60, 2)]),
        ({"fieldSelector": "metadata.name=c7"}, ["c7"]),
    ],
    ids=["plain", "label-selector", "field-selector"],
)
async def test_many_streams_see_every_change_once_in_order(
    server: FakeApiServer, http: aiohttp.ClientSession, params: dict[str, str], expected: list[str]
) -> None:
    """12 streams (two namespaces' worth of writes), 60 creates in bursts: each stream gets
    exactly its events, in resourceVersion order, nothing from the other namespace."""
    client = server.cluster.client()
    listed = await client.list("v1", "ConfigMap", namespace="default")
    streams = []
    for _ in range(12):
        query = {"watch": "true", "resourceVersion": listed.resource_version, **params}
        streams.append(await http.get(CM.format(ns="default"), params=query))
    try:
        for i in range(60):
            cm = _cm(f"c{i}")
            cm["metadata"]["labels"] = {"even": "yes" if i % 2 == 0 else "no"}
            await client.create(cm)
            await client.create(_cm(f"o{i}", "elsewhere"))
            if i % 10 == 0:
                await asyncio.sleep(0.02)
        for resp in streams:
            events = await _read(resp, len(expected))
            assert [e["type"] for e in events] == ["ADDED"] * len(expected)
            assert [e["object"]["metadata"]["name"] for e in events] == expected
            versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
            assert versions == sorted(versions)
    finally:
        for resp in streams:
            resp.close()
