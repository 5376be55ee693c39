"""Watches with a selector and a resourceVersion see a deletion that happened before they
opened, as the API server sends it (what ``kubectl delete --wait`` relies on)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.objects import ObjectRef


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


async def _first(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        line = await asyncio.wait_for(resp.content.readline(), 5)
    except TimeoutError:
        raise AssertionError("no event within 5 s") from None
    assert line, "the stream ended"
    event: dict[str, Any] = json.loads(line)
    return event


@pytest.mark.parametrize(
    "params",
    [{"fieldSelector": "metadata.name=gone"}, {"labelSelector": "x=1"}],
    ids=["field-selector", "label-selector"],
)
async def test_a_deletion_before_the_watch_opened_is_sent(
    server: FakeApiServer, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    """Read at version V, object deleted, watch from V: the DELETED event comes."""
    client = server.cluster.client()
    created = await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "gone", "namespace": "default", "labels": {"x": "1"}},
        }
    )
    version = created["metadata"]["resourceVersion"]
    await client.delete(ObjectRef("v1", "ConfigMap", "gone", "default"))
    query = {"watch": "1", "resourceVersion": version, **params}
    async with http.get("/api/v1/namespaces/default/configmaps", params=query) as resp:
        event = await _first(resp)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "gone")


async def test_a_deletion_of_an_object_that_never_matched_is_not_sent(
    server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    """The selector still filters: another object's deletion is not an event of this watch."""
    client = server.cluster.client()
    other = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o", "namespace": "default"}}
    )
    await client.delete(ObjectRef("v1", "ConfigMap", "o", "default"))
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "m", "namespace": "default", "labels": {"x": "1"}},
        }
    )
    query = {
        "watch": "1",
        "resourceVersion": other["metadata"]["resourceVersion"],
        "labelSelector": "x=1",
    }
    async with http.get("/api/v1/namespaces/default/configmaps", params=query) as resp:
        event = await _first(resp)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "m")
