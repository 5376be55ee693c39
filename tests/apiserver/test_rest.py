"""The REST API with real clients: kubernetes-asyncio for the typed verbs, aiohttp for the rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer

k8s = pytest.importorskip("kubernetes_asyncio")
from kubernetes_asyncio import client as k8s_client  # noqa: E402
from kubernetes_asyncio import watch as k8s_watch  # noqa: E402
from kubernetes_asyncio.client.rest import ApiException  # noqa: E402

WORKSPACE = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "phi", "labels": {"team": "a"}},
    "resource": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "phi"}},
    },
    "inference": {"preset": {"name": "phi-4-mini-instruct"}},
}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def api(server: FakeApiServer) -> AsyncIterator[Any]:
    async with k8s_client.ApiClient(k8s_client.Configuration(host=server.url)) as api_client:
        yield api_client


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


def _status(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


# -- core objects with the typed client ----------------------------------------------------------
async def test_configmap_crud_and_selectors(api: Any) -> None:
    core = k8s_client.CoreV1Api(api)
    for name, env in (("a", "prod"), ("b", "staging"), ("c", "dev")):
        await core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": {"env": env}}, "data": {"k": name}}
        )
    listed = await core.list_namespaced_config_map(
        "default", label_selector="env in (prod,staging)"
    )
    assert [i.metadata.name for i in listed.items] == ["a", "b"]
    listed = await core.list_namespaced_config_map(
        "default", label_selector="env!=prod,env notin (dev)"
    )
    assert [i.metadata.name for i in listed.items] == ["b"]
    listed = await core.list_config_map_for_all_namespaces(field_selector="metadata.name=c")
    assert [i.metadata.name for i in listed.items] == ["c"]
    listed = await core.list_namespaced_config_map(
        "default", limit=1
    )  # limit is ignored, not an error
    assert len(listed.items) == 3

    got = await core.read_namespaced_config_map("a", "default")
    assert got.data == {"k": "a"}
    patched = await core.patch_namespaced_config_map("a", "default", {"data": {"extra": "1"}})
    assert patched.data == {"k": "a", "extra": "1"}
    assert int(patched.metadata.resource_version) > int(got.metadata.resource_version)
    patched = await core.patch_namespaced_config_map(
        "a", "default", [{"op": "replace", "path": "/data/k", "value": "z"}]
    )
    assert patched.data["k"] == "z"

    await core.delete_namespaced_config_map("a", "default")
    with pytest.raises(ApiException) as caught:
        await core.read_namespaced_config_map("a", "default")
    assert caught.value.status == 404
    assert _status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "a" not found',
        "reason": "NotFound",
        "details": {"name": "a", "kind": "configmaps"},
        "code": 404,
    }


async def test_create_twice_is_409_already_exists_and_stale_update_is_409_conflict(
    api: Any,
) -> None:
    core = k8s_client.CoreV1Api(api)
    created = await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "x"}, "data": {"a": "1"}}
    )
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"
    assert _status(caught.value)["message"] == 'configmaps "x" already exists'

    await core.patch_namespaced_config_map("x", "default", {"data": {"a": "2"}})
    stale = {
        "metadata": {"name": "x", "resourceVersion": created.metadata.resource_version},
        "data": {"a": "3"},
    }
    with pytest.raises(ApiException) as caught:
        await core.replace_namespaced_config_map("x", "default", stale)
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "Conflict"
    assert "the object has been modified" in _status(caught.value)["message"]


async def test_strategic_merge_patch_merges_containers_and_env_by_name(api: Any) -> None:
    apps = k8s_client.AppsV1Api(api)
    template = {
        "metadata": {"labels": {"app": "s"}},
        "spec": {
            "containers": [
                {"name": "main", "image": "a:1", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "b:1"},
            ]
        },
    }
    await apps.create_namespaced_stateful_set(
        "default",
        {
            "metadata": {"name": "s"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "s"}},
                "serviceName": "s",
                "template": template,
            },
        },
    )
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}
            }
        }
    }
    result = await apps.patch_namespaced_stateful_set(
        "s", "default", patch
    )  # strategic merge for dicts
    containers = result.spec.template.spec.containers
    assert [c.name for c in containers] == ["main", "side"]
    assert [(e.name, e.value) for e in containers[0].env] == [("A", "1"), ("B", "2")]
    assert containers[0].image == "a:1"


# -- custom objects ------------------------------------------------------------------------------
async def test_workspace_versions_status_subresource_and_finalizers(api: Any) -> None:
    custom = k8s_client.CustomObjectsApi(api)
    created = await custom.create_namespaced_custom_object(
        "kaito.sh", "v1beta1", "default", "workspaces", WORKSPACE
    )
    assert created["metadata"]["generation"] == 1
    alpha = await custom.get_namespaced_custom_object(
        "kaito.sh", "v1alpha1", "default", "workspaces", "phi"
    )
    assert alpha["apiVersion"] == "kaito.sh/v1alpha1"
    assert alpha["metadata"]["uid"] == created["metadata"]["uid"]

    listed = await custom.list_namespaced_custom_object(
        "kaito.sh", "v1beta1", "default", "workspaces", label_selector="team=a"
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == ["phi"]
    assert listed["kind"] == "WorkspaceList"

    status = {
        "status": {"state": "Ready", "conditions": [{"type": "ResourceReady", "status": "True"}]}
    }
    after = await custom.patch_namespaced_custom_object_status(
        "kaito.sh", "v1beta1", "default", "workspaces", "phi", status
    )
    assert after["status"]["state"] == "Ready"
    assert after["metadata"]["generation"] == 1
    # The main resource ignores status; spec changes bump the generation.
    body = {"resource": {"count": 2}, "status": {"state": "Hacked"}}
    after = await custom.patch_namespaced_custom_object(
        "kaito.sh",
        "v1beta1",
        "default",
        "workspaces",
        "phi",
        body,
        _content_type="application/merge-patch+json",
    )
    assert after["status"]["state"] == "Ready"
    assert after["resource"]["count"] == 2
    assert after["metadata"]["generation"] == 2

    await custom.patch_namespaced_custom_object(
        "kaito.sh",
        "v1beta1",
        "default",
        "workspaces",
        "phi",
        {"metadata": {"finalizers": ["example.com/hold"]}},
        _content_type="application/merge-patch+json",
    )
    await custom.delete_namespaced_custom_object(
        "kaito.sh", "v1beta1", "default", "workspaces", "phi"
    )
    held = await custom.get_namespaced_custom_object(
        "kaito.sh", "v1beta1", "default", "workspaces", "phi"
    )
    assert held["metadata"]["deletionTimestamp"]
    await custom.patch_namespaced_custom_object(
        "kaito.sh",
        "v1beta1",
        "default",
        "workspaces",
        "phi",
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    with pytest.raises(ApiException) as caught:
        await custom.get_namespaced_custom_object(
            "kaito.sh", "v1beta1", "default", "workspaces", "phi"
        )
    assert _status(caught.value)["details"] == {
        "name": "phi",
        "group": "kaito.sh",
        "kind": "workspaces",
    }
    assert _status(caught.value)["message"] == 'workspaces.kaito.sh "phi" not found'


async def test_cluster_scoped_nodeclaims(api: Any) -> None:
    custom = k8s_client.CustomObjectsApi(api)
    claim = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "c1"},
        "spec": {
            "nodeClassRef": {"group": "kaito.sh", "kind": "KaitoNodeClass", "name": "default"},
            "requirements": [],
        },
    }
    await custom.create_cluster_custom_object("karpenter.sh", "v1", "nodeclaims", claim)
    got = await custom.get_cluster_custom_object("karpenter.sh", "v1", "nodeclaims", "c1")
    assert "namespace" not in got["metadata"]


async def test_watch_with_the_typed_client(api: Any) -> None:
    core = k8s_client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "w1"}})
    seen: list[tuple[str, str]] = []
    watcher = k8s_watch.Watch()
    async for event in watcher.stream(
        core.list_namespaced_config_map, "default", timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 1:
            await core.patch_namespaced_config_map("w1", "default", {"data": {"a": "b"}})
        elif len(seen) == 2:
            await core.delete_namespaced_config_map("w1", "default")
        else:
            watcher.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


# -- raw HTTP ------------------------------------------------------------------------------------
async def _lines(
    response: aiohttp.ClientResponse, count: int, timeout: float = 5.0
) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            line = await response.content.readline()
            if not line:
                break
            out.append(json.loads(line))
    return out


async def test_watch_too_old_resource_version_is_410(
    server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    client = server.cluster.client()
    for i in range(30):  # the fixture keeps 20 events of history
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"c{i}", "namespace": "default"},
            }
        )
    async with http.get(
        "/api/v1/namespaces/default/configmaps", params={"watch": "1", "resourceVersion": "2"}
    ) as resp:
        assert resp.status == 200
        (event,) = await _lines(resp, 2)
    assert event["type"] == "ERROR"
    assert event["object"]["kind"] == "Status"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"


async def test_watch_bookmarks_and_initial_events(
    server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    await server.cluster.client().create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "default"}}
    )
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    async with http.get("/api/v1/namespaces/default/configmaps", params=params) as resp:
        events = await _lines(resp, 3)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["object"]["metadata"]["resourceVersion"]


async def test_watch_label_selector_sends_deleted_when_an_object_stops_matching(
    server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    client = server.cluster.client()
    cm = await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "l", "namespace": "default", "labels": {"x": "1"}},
        }
    )
    async with http.get(
        "/api/v1/namespaces/default/configmaps", params={"watch": "1", "labelSelector": "x=1"}
    ) as resp:
        first = await _lines(resp, 1)
        await client.update({**cm, "metadata": {**cm["metadata"], "labels": {"x": "2"}}})
        second = await _lines(resp, 1)
    assert (first[0]["type"], second[0]["type"]) == ("ADDED", "DELETED")


async def test_server_side_apply_creates_then_prunes(http: aiohttp.ClientSession) -> None:
    url = "/api/v1/namespaces/default/configmaps/applied"
    headers = {"Content-Type": "application/apply-patch+yaml"}
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n  b: '2'\n"
    async with http.patch(url, data=doc, headers=headers, params={"fieldManager": "me"}) as resp:
        assert resp.status == 201
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    async with http.patch(
        url, data=doc, headers=headers, params={"fieldManager": "me", "force": "true"}
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"] == {"a": "1"}
    async with http.patch(url, data=doc, headers=headers) as resp:
        assert resp.status == 400


async def test_tables_for_kubectl(server: FakeApiServer, http: aiohttp.ClientSession) -> None:
    await server.cluster.client().create(
        {**WORKSPACE, "metadata": {"name": "phi", "namespace": "default"}}
    )
    async with http.get(
        "/apis/kaito.sh/v1alpha1/namespaces/default/workspaces", headers={"Accept": TABLE}
    ) as resp:
        body = await resp.json()
    assert body["kind"] == "Table"
    assert [c["name"] for c in body["columnDefinitions"]] == [
        "Name",
        "Instance",
        "ResourceReady",
        "InferenceReady",
        "JobStarted",
        "WorkspaceSucceeded",
        "Age",
    ]
    assert body["rows"][0]["cells"][:2] == ["phi", "Standard_NC24ads_A100_v4"]
    async with http.get("/api/v1/nodes", headers={"Accept": TABLE}) as resp:
        nodes = await resp.json()
    assert [c["name"] for c in nodes["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
    ]


async def test_errors_are_status_bodies(http: aiohttp.ClientSession) -> None:
    cases = [
        ("GET", "/api/v1/namespaces/default/configmaps/nope", None, 404, "NotFound"),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps?labelSelector=a+in+(b",
            None,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=All",
            {"metadata": {"name": "d"}},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {"metadata": {"name": "x"}},
            405,
            "MethodNotAllowed",
        ),
        ("DELETE", "/api/v1/namespaces/default", None, 403, "Forbidden"),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"kind": "Secret", "metadata": {"name": "x"}},
            400,
            "BadRequest",
        ),
    ]
    for method, url, body, code, reason in cases:
        async with http.request(method, url, json=body) as resp:
            status = await resp.json()
        assert (resp.status, status["code"], status["reason"], status["kind"]) == (
            code,
            code,
            reason,
            "Status",
        ), url


async def test_discovery_endpoints(http: aiohttp.ClientSession) -> None:
    async with http.get("/apis") as resp:
        groups = {g["name"]: g for g in (await resp.json())["groups"]}
    assert groups["kaito.sh"]["preferredVersion"]["version"] == "v1beta1"
    assert {"apps", "batch", "coordination.k8s.io", "karpenter.sh", "apiextensions.k8s.io"} <= set(
        groups
    )
    aggregated = {
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json"
    }
    async with http.get("/api", headers=aggregated) as resp:
        assert resp.content_type == "application/json"
        assert (await resp.json())["kind"] == "APIVersions"
    async with http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") as resp:
        names = [c["metadata"]["name"] for c in (await resp.json())["items"]]
    assert names == [
        "inferencesets.kaito.sh",
        "nodeclaims.karpenter.sh",
        "nodepools.karpenter.sh",
        "ragengines.kaito.sh",
        "workspaces.kaito.sh",
    ]
    async with http.get("/openapi/v2") as resp:
        assert resp.status == 404
