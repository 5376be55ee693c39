"""Least privilege for Secrets: the operator reads their metadata only, never their data.

The client asks for ``PartialObjectMetadata`` (lists: ``PartialObjectMetadataList``) with no
plain-JSON fallback; the fake API server answers it as a real one does; the engine's Secret
informer and one-shot observer ask for nothing more; and a canary in a Secret's data never
reaches anything the operator holds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.engine.controller import Controller
from kaito_backends.engine.observer import ListObserver
from kaito_backends.fake import FakeCluster
from kaito_backends.kubernetes import KubernetesClient
from kaito_backends.kubernetes.client import METADATA, METADATA_LIST
from kaito_backends.objects import Manifest, WorkspaceKey
from tests.kubernetes.stub import Events, Reply, Stub, event, object_list

CANARY = "czNjcmV0LWNhbmFyeS0xMjM="  # base64 of "s3cret-canary-123"
SECRETS = "/api/v1/namespaces/default/secrets"


def _secret(name: str = "hf-token") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "Opaque",
        "data": {"token": CANARY},
    }


async def test_the_client_asks_for_partial_metadata(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """List and watch send the PartialObjectMetadata Accept headers, with no JSON fallback, and
    keep only apiVersion, kind and metadata even from a server that sends more."""
    leaky = {**_secret(), "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata"}
    leaky["metadata"] = {**leaky["metadata"], "resourceVersion": "5"}
    stub.on("GET", SECRETS, Reply(body=object_list("7", leaky)))
    stub.on("GET", SECRETS, Events([event("ADDED", leaky)], end="end"), watch=True)
    listed = await stub_client.list("v1", "Secret", namespace="default", metadata_only=True)
    events = [
        e
        async for e in stub_client.watch(
            "v1", "Secret", namespace="default", resource_version="7", metadata_only=True
        )
    ]
    (lister,) = [s for s in stub.seen("GET") if not s.watch]
    (watcher,) = [s for s in stub.seen("GET") if s.watch]
    assert lister.headers["Accept"] == METADATA_LIST
    assert watcher.headers["Accept"] == METADATA
    assert "application/json," not in lister.headers["Accept"]
    expected = {"apiVersion": "v1", "kind": "Secret", "metadata": leaky["metadata"]}
    assert list(listed.items) == [expected]
    assert [e.object for e in events] == [expected]


async def test_the_fake_apiserver_serves_partial_metadata(fake_apiserver: FakeApiServer) -> None:
    """GET, list and watch in PartialObjectMetadata carry no data, as a real server's do."""
    await fake_apiserver.cluster.client().create(_secret())
    async with aiohttp.ClientSession(base_url=fake_apiserver.url) as http:
        async with http.get(SECRETS, headers={"Accept": METADATA_LIST}) as resp:
            raw = await resp.read()
        listed = json.loads(raw)
        assert (listed["kind"], listed["apiVersion"]) == (
            "PartialObjectMetadataList",
            "meta.k8s.io/v1",
        )
        assert [i["kind"] for i in listed["items"]] == ["PartialObjectMetadata"]
        async with http.get(f"{SECRETS}/hf-token", headers={"Accept": METADATA}) as resp:
            raw += await resp.read()
        async with http.get(
            SECRETS, params={"watch": "true"}, headers={"Accept": METADATA}
        ) as resp:
            line = await asyncio.wait_for(resp.content.readline(), 5)
        raw += line
        assert json.loads(line)["object"]["kind"] == "PartialObjectMetadata"
    assert CANARY.encode() not in raw
    assert b'"data"' not in raw


async def test_the_kubernetes_client_never_receives_secret_data(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """Through real HTTP: metadata-only lists and watches hold no trace of the canary."""
    await fake_apiserver.cluster.client().create(_secret())
    listed = await kube.list("v1", "Secret", metadata_only=True)
    assert [i["metadata"]["name"] for i in listed.items] == ["hf-token"]
    stream = kube.watch("v1", "Secret", metadata_only=True)
    first = await asyncio.wait_for(anext(stream), 5)
    await stream.aclose()  # type: ignore[attr-defined]
    assert CANARY not in json.dumps([list(listed.items), first.object])


class _Spy:
    """A `ClusterClient` wrapper that remembers every object it hands out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[Any] = []
        self.secret_reads: list[tuple[str, bool]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, ref: Any) -> Manifest:
        found: Manifest = await self.inner.get(ref)
        self.seen.append(found)
        return found

    async def list(self, api_version: str, kind: str, **options: Any) -> Any:
        if kind == "Secret":
            self.secret_reads.append(("list", bool(options.get("metadata_only"))))
        result = await self.inner.list(api_version, kind, **options)
        self.seen.extend(result.items)
        return result

    async def _watch(self, stream: Any) -> Any:
        async for item in stream:
            self.seen.append(item.object)
            yield item

    def watch(self, api_version: str, kind: str, **options: Any) -> Any:
        if kind == "Secret":
            self.secret_reads.append(("watch", bool(options.get("metadata_only"))))
        return self._watch(self.inner.watch(api_version, kind, **options))


async def test_the_engine_reads_secrets_as_metadata_only() -> None:
    """The controller's informers and the list observer: every Secret read is metadata-only,
    and the canary is in nothing the engine was given, while the Secret's existence is seen."""
    cluster = FakeCluster()
    await cluster.client().create(_secret())
    spy = _Spy(cluster.client())
    async with Controller(spy, cluster.provisioner(), clock=cluster.clock) as controller:
        await controller.run_until_settled(60)
        assert controller.observer.secret_names("default") == frozenset({"hf-token"})
    observed = await ListObserver(spy, cluster.provisioner()).observe(
        WorkspaceKey("default", "phi"), {"metadata": {"name": "phi", "namespace": "default"}}
    )
    assert observed.secrets == frozenset({"hf-token"})
    assert spy.secret_reads
    assert all(metadata_only for _, metadata_only in spy.secret_reads), spy.secret_reads
    assert CANARY not in json.dumps(spy.seen, default=str)
