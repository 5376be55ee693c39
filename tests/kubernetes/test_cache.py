"""The kubernetes `Informer` front end over `KubernetesClient`: 410 Gone, dropped watches, missing
CRDs, copies, the change stream and the Workspace index. Bookmarks and backoff are the engine
informer's, tested in tests/engine/test_plumbing.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from kaito_backends.engine.informers import MISSING_KIND_RETRY
from kaito_backends.kubernetes import Change, Informer, KubernetesClient, workspace_keys
from kaito_backends.objects import ObjectRef, WorkspaceKey
from tests.kubernetes.stub import Events, Reply, Stub, event, obj, object_list, status

CM = "/api/v1/namespaces/default/configmaps"


class Sleeps:
    """A recording ``sleep`` that returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (in real time) until ``check()`` holds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def drain(queue: asyncio.Queue[Change]) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of every change queued so far."""
    out: list[tuple[str, str, str]] = []
    while not queue.empty():
        change = queue.get_nowait()
        meta = change.object["metadata"]
        out.append((change.type, meta["name"], meta.get("resourceVersion", "")))
    return out


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def informer(stub_client: KubernetesClient, sleeps: Sleeps) -> AsyncIterator[Informer]:
    cache = Informer(stub_client, "v1", "ConfigMap", namespace="default", jitter=0.0, sleep=sleeps)
    try:
        yield cache
    finally:
        await cache.stop()


async def test_a_410_during_the_watch_relists_and_delivers_the_differences(
    stub: Stub, informer: Informer
) -> None:
    """Gone: list again, then ADDED/MODIFIED/DELETED for what changed meanwhile; watch on."""
    stub.on(
        "GET",
        CM,
        Reply(object_list("10", obj("a", "5"), obj("b", "6"))),
        Reply(object_list("20", obj("b", "15"), obj("c", "16"))),
    )
    stub.on(
        "GET",
        CM,
        Events([event("ERROR", status(410, "Expired", "too old resource version"))]),
        Events([], end="hang"),
        watch=True,
    )
    changes = informer.subscribe()
    informer.start()
    await stub.wait_for(2, watch=True)
    assert drain(changes) == [
        ("ADDED", "a", "5"),
        ("ADDED", "b", "6"),
        ("DELETED", "a", "5"),
        ("MODIFIED", "b", "15"),
        ("ADDED", "c", "16"),
    ]
    assert informer.relists == 2
    assert [s.query.get("resourceVersion") for s in stub.seen(watch=True)] == ["10", "20"]
    assert [o["metadata"]["name"] for o in informer.list()] == ["b", "c"]


async def test_a_dropped_watch_reconnects_from_the_last_version(
    stub: Stub, informer: Informer, sleeps: Sleeps
) -> None:
    """A connection cut mid-stream: watch again from the last event's version, at once."""
    stub.on("GET", CM, Reply(object_list("10", obj("a", "5"))))
    stub.on(
        "GET",
        CM,
        Events([event("MODIFIED", obj("a", "11"))], end="drop"),
        Events([], end="hang"),
        watch=True,
    )
    informer.start()
    await stub.wait_for(2, watch=True)
    assert stub.seen(watch=True)[1].query["resourceVersion"] == "11"
    assert informer.relists == 1
    assert informer.rewatches == 1
    assert sleeps.calls == []  # a healthy stream is re-opened without backoff
    cached = informer.get("a", "default")
    assert cached is not None
    assert cached["metadata"]["resourceVersion"] == "11"


async def test_a_kind_the_server_does_not_serve_reads_as_empty(
    stub: Stub, stub_client: KubernetesClient, sleeps: Sleeps
) -> None:
    """No CRD (404 on list and watch): synced, empty, missing; retried every
    missing_kind_retry seconds (MISSING_KIND_RETRY, 15, the figure docs/kubernetes.md gives)."""
    cache = Informer(stub_client, "karpenter.sh/v1", "NodeClaim", sleep=sleeps, backoff_max=7.0)
    cache.start()
    try:
        await cache.wait_synced(5)
        await until(lambda: bool(sleeps.calls))
        assert cache.missing
        assert len(cache) == 0
        assert sleeps.calls[0] == MISSING_KIND_RETRY == 15.0
    finally:
        await cache.stop()


def test_workspace_keys_read_both_label_families() -> None:
    """kaito.sh/workspace(+namespace) and karpenter.kaito.sh/workspace-name(+namespace)."""
    claim = {
        "metadata": {
            "name": "c",
            "labels": {
                "kaito.sh/workspace": "phi",
                "kaito.sh/workspacenamespace": "team",
                "karpenter.kaito.sh/workspace-name": "phi",
                "karpenter.kaito.sh/workspace-namespace": "team",
            },
        }
    }
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"kaito.sh/workspace": "w"}}}
    assert workspace_keys(claim) == [WorkspaceKey("team", "phi")]
    assert workspace_keys(pod) == [WorkspaceKey("ns", "w")]
    assert workspace_keys({"metadata": {"name": "x"}}) == []


async def test_the_cache_follows_a_cluster_and_indexes_by_workspace(
    kube: KubernetesClient,
) -> None:
    """Against the fake API server: creates, updates and deletes reach cache, index and handlers."""
    seen: list[Change] = []
    cache = Informer(kube, "v1", "ConfigMap", namespace="default")
    cache.add_handler(seen.append)
    cache.start()
    try:
        await cache.wait_synced(5)
        labels = {"kaito.sh/workspace": "phi"}
        for name in ("one", "two"):
            await kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": "default", "labels": labels},
                    "data": {"k": name},
                }
            )
        key = WorkspaceKey("default", "phi")
        await until(lambda: len(cache.by_workspace(key)) == 2)
        current = cache.get("one", "default")
        assert current is not None
        current["data"]["k"] = "changed here"  # a copy: the cache is not touched
        cached = cache.get("one", "default")
        assert cached is not None
        assert cached["data"] == {"k": "one"}
        current["metadata"]["labels"] = {}
        await kube.update(current)
        await until(lambda: len(cache.by_workspace(key)) == 1)
        await kube.delete(ObjectRef("v1", "ConfigMap", "two", "default"))
        await until(lambda: cache.get("two", "default") is None)
        assert [(c.type, c.object["metadata"]["name"]) for c in seen] == [
            ("ADDED", "one"),
            ("ADDED", "two"),
            ("MODIFIED", "one"),
            ("DELETED", "two"),
        ]
        assert seen[2].old is not None
        assert seen[2].old["metadata"]["labels"] == labels
        assert cache.list(labels={"kaito.sh/workspace": "phi"}) == []
    finally:
        await cache.stop()
