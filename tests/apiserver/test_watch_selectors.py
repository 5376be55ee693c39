"""A selector-filtered watch opened at a resourceVersion reports every change after it, judged
by the object before and after the change (as the API server's watch cache does), whether the
change happened before the stream opened or while it is open.

This is how ``kubectl delete --wait`` (and every informer) works: a list with
``fieldSelector=metadata.name=<name>``, then a watch from the list's resourceVersion. An object
deleted between the two must arrive as DELETED, or kubectl waits until its timeout (the deletion
alone: `test_watch_deletions`); one relabelled out of the selector or into it likewise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.errors import NotFound
from kaito_backends.fake import FakeClient
from kaito_backends.objects import ObjectRef

CM = "/api/v1/namespaces/default/configmaps"
RED = "color=red"
SENTINEL = "zz-sentinel"


def _ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "ConfigMap", name, "default")


async def _put(client: FakeClient, name: str, color: str, *, hold: bool = False) -> None:
    """Create the ConfigMap with that color label, or relabel it (and change its data)."""
    try:
        obj = await client.get(_ref(name))
    except NotFound:
        meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"color": color}}
        if hold:
            meta["finalizers"] = ["example.com/hold"]
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
        return
    obj["metadata"]["labels"] = {"color": color}
    obj["data"] = {"n": str(int((obj.get("data") or {}).get("n", "0")) + 1)}
    await client.update(obj)


async def _release(client: FakeClient, name: str) -> None:
    """Remove the ConfigMap's finalizers (it goes if its deletion had started)."""
    obj = await client.get(_ref(name))
    obj["metadata"]["finalizers"] = []
    await client.update(obj)


async def _list(http: aiohttp.ClientSession, params: dict[str, str]) -> dict[str, Any]:
    async with http.get(CM, params=params) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def _events_until(resp: aiohttp.ClientResponse, last: str) -> list[dict[str, Any]]:
    """The stream's events up to and including the ADDED of ``last``."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while True:
            line = await resp.content.readline()
            assert line, f"the stream ended after {events}"
            event = json.loads(line)
            events.append(event)
            if event["type"] == "ADDED" and event["object"]["metadata"]["name"] == last:
                return events


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


async def _delete(client: FakeClient) -> None:
    await client.delete(_ref("x"))


async def _relabel_blue(client: FakeClient) -> None:
    await _put(client, "x", "blue")


async def _relabel_red(client: FakeClient) -> None:
    await _put(client, "x", "red")


async def _delete_then_release(client: FakeClient) -> None:
    await client.delete(_ref("x"))
    await _release(client, "x")


async def _watch_around(
    http: aiohttp.ClientSession, client: FakeClient, change: Any, opened: str
) -> list[dict[str, Any]]:
    """List red ConfigMaps, make ``change`` before or after opening a watch from the list's
    version (``opened``), then create a sentinel: the stream's events up to it."""
    listed = await _list(http, {"labelSelector": RED})
    version = listed["metadata"]["resourceVersion"]
    query = {"watch": "true", "labelSelector": RED, "resourceVersion": version}
    if opened == "after":
        resp = await http.get(CM, params=query)
        await change(client)
    else:
        await change(client)
        resp = await http.get(CM, params=query)
    try:
        await _put(client, SENTINEL, "red")
        return await _events_until(resp, SENTINEL)
    finally:
        resp.close()


@pytest.mark.parametrize("opened", ["before", "after"], ids=["change-in-backlog", "change-live"])
@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        ("red", _delete, ["DELETED"]),
        ("blue", _delete, []),
        ("red", _relabel_blue, ["DELETED"]),
        ("blue", _relabel_red, ["ADDED"]),
        ("red", _relabel_red, ["MODIFIED"]),
        (None, _relabel_red, ["ADDED"]),
        ("held-red", _delete_then_release, ["MODIFIED", "DELETED"]),
        ("held-blue", _delete_then_release, []),
    ],
    ids=[
        "deleted-while-matching",
        "deleted-never-matching",
        "stops-matching",
        "starts-matching",
        "modified-still-matching",
        "created-matching",
        "finalized-while-matching",
        "finalized-never-matching",
    ],
)
async def test_a_change_after_the_listed_version_is_reported_as_the_list_saw_the_object(
    server: FakeApiServer,
    http: aiohttp.ClientSession,
    start: str | None,
    change: Any,
    expected: list[str],
    opened: str,
) -> None:
    """A labelSelector watch from a list's version: each change to ``x`` as the table says."""
    client = server.cluster.client()
    if start is not None:
        await _put(client, "x", start.removeprefix("held-"), hold=start.startswith("held-"))
    events = await _watch_around(http, client, change, opened)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events[:-1]] == [
        (kind, "x") for kind in expected
    ]
    for event in events[:-1]:  # what every event carries matched the selector
        assert event["object"]["metadata"]["labels"] == {"color": "red"}, event


@pytest.mark.parametrize("opened", ["before", "after"], ids=["change-in-backlog", "change-live"])
async def test_an_object_that_stops_matching_is_deleted_as_it_was_at_the_new_version(
    server: FakeApiServer, http: aiohttp.ClientSession, opened: str
) -> None:
    """As the watch cache: the DELETED of an object relabelled out of the selector carries its
    previous (matching) state, with the relabelling's resourceVersion."""
    client = server.cluster.client()
    await _put(client, "x", "red")
    (deleted, _) = await _watch_around(http, client, _relabel_blue, opened)
    now = await client.get(_ref("x"))
    assert deleted["type"] == "DELETED"
    assert deleted["object"]["metadata"]["labels"] == {"color": "red"}
    assert "data" not in deleted["object"]  # the state before the relabelling
    assert deleted["object"]["metadata"]["resourceVersion"] == now["metadata"]["resourceVersion"]


# -- any interleaving --------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b"])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _NAMES, st.sampled_from(["red", "blue"]), st.booleans()),
        st.tuples(st.just("delete"), _NAMES),
        st.tuples(st.just("release"), _NAMES),
        st.tuples(st.just("pause")),
    ),
    max_size=5,
)
_SELECTORS = st.sampled_from(
    [
        {"labelSelector": RED},
        {"labelSelector": "color!=blue"},
        {"fieldSelector": "metadata.name!=b"},
    ]
)


async def _apply(server: FakeApiServer, ops: list[tuple[Any, ...]]) -> None:
    """The writes in order; one the object's state makes meaningless (delete of nothing) is
    skipped."""
    client = server.cluster.client()
    for kind, *args in ops:
        if kind == "pause":  # long enough for the hub to flush between writes
            await asyncio.sleep(0.012)
            continue
        name = args[0]
        exists = server.cluster.store.find("v1", "ConfigMap", "default", name) is not None
        if kind == "put":
            await _put(client, name, args[1], hold=args[2])
        elif kind == "delete" and exists:
            await client.delete(_ref(name))
        elif kind == "release" and exists:
            await _release(client, name)


def _versions(listed: dict[str, Any]) -> dict[str, str]:
    """A list's objects: name to resourceVersion."""
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listed["items"]}


async def _scenario(
    phases: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]],
    selector: dict[str, str],
) -> None:
    before, between, live = phases
    async with (
        FakeApiServer(port=0, engine=False) as server,
        aiohttp.ClientSession(base_url=server.url) as http,
    ):
        await _apply(server, before)
        listed = await _list(http, selector)
        await _apply(server, between)
        query = {"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]}
        resp = await http.get(CM, params={**query, **selector})
        try:
            await _apply(server, live)
            await _put(server.cluster.client(), SENTINEL, "red")
            events = await _events_until(resp, SENTINEL)
        finally:
            resp.close()
        final = await _list(http, selector)
    state = _versions(listed)
    for event in events:
        name = event["object"]["metadata"]["name"]
        assert (event["type"] == "ADDED") == (name not in state), (event["type"], name, events)
        if event["type"] == "DELETED":
            del state[name]
        else:
            state[name] = event["object"]["metadata"]["resourceVersion"]
    assert state == _versions(final)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_OPS, between=_OPS, live=_OPS, selector=_SELECTORS)
def test_list_then_watch_replays_to_the_final_list_for_any_interleaving(
    before: list[tuple[Any, ...]],
    between: list[tuple[Any, ...]],
    live: list[tuple[Any, ...]],
    selector: dict[str, str],
) -> None:
    """For any writes before a list, between it and a watch from its version (the backlog) and
    while the watch is open (live): the list plus the events equal the final list, an ADDED
    only for an object not yet seen, MODIFIED and DELETED only for one seen."""
    asyncio.run(_scenario((before, between, live), selector))
