"""Where a real kube-apiserver was seen to answer differently, the fake answers the same way:
``404 page not found`` as text for paths nothing serves, and 403 for new content in a namespace
being terminated (docs/real-cluster-notes in the issue: v1.36 on loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer

NS = "/api/v1/namespaces/team-a"


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


@pytest.mark.parametrize(
    "path",
    [
        "/apis/nope.example.com/v1/foos",
        "/apis/nope.example.com",
        "/apis/kaito.sh/v9/workspaces",
        "/apis/kaito.sh/v1beta1/namespaces/default/nothings",
        "/api/v2",
        "/api/v1/namespaces/default/configmaps/x/status",
        "/api/v1/namespaces/default/nodes",
        "/nothing-here",
    ],
    ids=[
        "unknown-group",
        "unknown-group-discovery",
        "unknown-version",
        "unknown-resource",
        "unknown-core-version",
        "unknown-subresource",
        "cluster-scoped-in-namespace",
        "unknown-path",
    ],
)
async def test_paths_nothing_serves_answer_404_page_not_found(
    http: aiohttp.ClientSession, path: str
) -> None:
    """As the real server's router: plain text, not a Status."""
    async with http.get(path) as resp:
        assert resp.status == 404
        assert resp.content_type == "text/plain"
        assert await resp.text() == "404 page not found\n"


async def test_a_missing_object_is_still_a_status(http: aiohttp.ClientSession) -> None:
    """A served resource without the named object answers a NotFound Status."""
    async with http.get("/api/v1/namespaces/default/configmaps/nope") as resp:
        assert resp.status == 404
        body = await resp.json()
    assert (body["kind"], body["reason"]) == ("Status", "NotFound")


async def _json(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as resp:
        return resp.status, json.loads(await resp.read())


async def test_a_terminating_namespace_refuses_new_content(
    http: aiohttp.ClientSession,
) -> None:
    """DELETE makes the namespace Terminating while a finalizer holds content; creates are 403
    with the real message and cause; the namespace goes once it is empty."""
    status, _ = await _json(http, "POST", "/api/v1/namespaces", {"metadata": {"name": "team-a"}})
    assert status == 201
    held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    assert (await _json(http, "POST", f"{NS}/configmaps", held))[0] == 201
    status, namespace = await _json(http, "DELETE", NS)
    assert status == 200
    assert namespace["status"]["phase"] == "Terminating"
    status, refused = await _json(http, "POST", f"{NS}/configmaps", {"metadata": {"name": "x"}})
    assert status == 403
    assert refused["reason"] == "Forbidden"
    assert refused["message"] == (
        'configmaps "x" is forbidden: unable to create new content in namespace team-a because '
        "it is being terminated"
    )
    assert refused["details"]["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace team-a is being terminated",
            "field": "metadata.namespace",
        }
    ]
    await asyncio.sleep(0.3)  # the namespace controller runs; the finalizer still holds
    status, namespace = await _json(http, "GET", NS)
    assert (status, namespace["status"]["phase"]) == (200, "Terminating")
    async with http.patch(
        f"{NS}/configmaps/held",
        data=json.dumps({"metadata": {"finalizers": None}}),
        headers={"Content-Type": "application/merge-patch+json"},
    ) as resp:
        assert resp.status == 200
    for _ in range(100):
        status, _ = await _json(http, "GET", NS)
        if status == 404:
            break
        await asyncio.sleep(0.05)
    assert status == 404, "the emptied namespace is gone"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", f"{NS}/configmaps", {"Content-Type": "application/json"}),
        (
            "PATCH",
            f"{NS}/configmaps/x?fieldManager=test",
            {"Content-Type": "application/apply-patch+yaml"},
        ),
    ],
    ids=["create", "server-side-apply"],
)
async def test_content_in_a_missing_namespace_is_404_until_it_exists(
    http: aiohttp.ClientSession, method: str, path: str, headers: dict[str, str]
) -> None:
    """No namespace is made on the fly: 404 ``namespaces "team-a" not found`` as the
    NamespaceLifecycle admission answers, then the same request works once it is created."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    async with http.request(method, path, data=json.dumps(body), headers=headers) as resp:
        assert resp.status == 404
        refused = await resp.json()
    assert (refused["reason"], refused["message"]) == ("NotFound", 'namespaces "team-a" not found')
    assert refused["details"] == {"name": "team-a", "kind": "namespaces"}
    async with http.get("/api/v1/namespaces/team-a") as resp:
        assert resp.status == 404, "nothing was created"
    assert (await _json(http, "POST", "/api/v1/namespaces", {"metadata": {"name": "team-a"}}))[
        0
    ] == 201
    async with http.request(method, path, data=json.dumps(body), headers=headers) as resp:
        assert resp.status == 201


async def test_the_standard_namespaces_exist_from_the_start(http: aiohttp.ClientSession) -> None:
    """default, kube-system, kube-public and kube-node-lease are there, Active."""
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        status, namespace = await _json(http, "GET", f"/api/v1/namespaces/{name}")
        assert (status, namespace["status"]["phase"]) == (200, "Active")


async def test_a_custom_resource_is_served_only_while_its_crd_exists(
    server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    """Without ``nodeclaims.karpenter.sh`` NodeClaim paths are ``404 page not found`` and
    discovery leaves them out, as on a real server; installing the CRD serves them again."""
    path = "/apis/karpenter.sh/v1/nodeclaims"
    server.cluster.store.delete(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "nodeclaims.karpenter.sh"
    )
    async with http.get(path) as resp:
        assert (resp.status, await resp.text()) == (404, "404 page not found\n")
    status, resources = await _json(http, "GET", "/apis/karpenter.sh/v1")
    assert status == 200
    assert [r["name"] for r in resources["resources"]] == ["nodepools", "nodepools/status"]
    async with http.get("/apis/kaito.sh/v1beta1/workspaces") as resp:
        assert resp.status == 200, "other custom resources are still served"
    await server.seed()
    async with http.get(path) as resp:
        assert resp.status == 200
