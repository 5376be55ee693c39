"""The ``/scale`` subresource of InferenceSets over HTTP, as kube-apiserver serves a CRD's:
discovery, GET, PUT and PATCH of an ``autoscaling/v1`` Scale, and the errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer

BASE = "/apis/kaito.sh/v1beta1/namespaces/default/inferencesets"
SCALE = f"{BASE}/phi/scale"
MERGE = {"Content-Type": "application/merge-patch+json"}


def inferenceset(replicas: int | None = 2) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "labelSelector": {"matchLabels": {"apps": "phi"}},
        "template": {
            "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "InferenceSet",
        "metadata": {"name": "phi"},
        "spec": spec,
    }


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


async def _create(http: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(BASE, json=body) as resp:
        assert resp.status == 201, await resp.text()
        created: dict[str, Any] = await resp.json()
        return created


async def _call(
    http: aiohttp.ClientSession, method: str, body: Any = None, headers: Any = None
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body)
    headers = headers or ({"Content-Type": "application/json"} if data else None)
    async with http.request(method, SCALE, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_discovery_lists_the_scale_subresource(http: aiohttp.ClientSession) -> None:
    """``inferencesets/scale`` is an autoscaling/v1 Scale with get, patch and update; a
    Workspace has no scale subresource."""
    async with http.get("/apis/kaito.sh/v1beta1") as resp:
        resources = {r["name"]: r for r in (await resp.json())["resources"]}
    assert resources["inferencesets/scale"] == {
        "name": "inferencesets/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }
    assert "workspaces/scale" not in resources
    async with http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") as resp:
        crds = {c["metadata"]["name"]: c for c in (await resp.json())["items"]}
    for version in crds["inferencesets.kaito.sh"]["spec"]["versions"]:
        assert version["subresources"]["scale"] == {
            "labelSelectorPath": ".status.selector",
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
        }
    async with http.get("/apis/kaito.sh/v1beta1/namespaces/default/workspaces/x/scale") as resp:
        assert resp.status == 404


async def test_get_put_and_patch_a_scale(http: aiohttp.ClientSession) -> None:
    """GET reads spec.replicas (the CRD default 1 when absent) and status; PUT and every patch
    type write spec.replicas alone and bump the generation; a Scale of another version reads
    the same object."""
    created = await _create(http, inferenceset(replicas=None))
    code, scale = await _call(http, "GET")
    assert code == 200
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "phi",
            "namespace": "default",
            "uid": created["metadata"]["uid"],
            "resourceVersion": created["metadata"]["resourceVersion"],
            "creationTimestamp": created["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 1},
        "status": {"replicas": 0},
    }
    code, scale = await _call(http, "PUT", {"spec": {"replicas": 3}})
    assert (code, scale["spec"]["replicas"]) == (200, 3)
    code, scale = await _call(http, "PATCH", {"spec": {"replicas": 4}}, MERGE)
    assert (code, scale["spec"]["replicas"]) == (200, 4)
    strategic = {"Content-Type": "application/strategic-merge-patch+json"}
    code, scale = await _call(http, "PATCH", {"spec": {"replicas": 5}}, strategic)
    assert (code, scale["spec"]["replicas"]) == (200, 5)
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 0}]
    code, scale = await _call(http, "PATCH", ops, {"Content-Type": "application/json-patch+json"})
    assert (code, scale["spec"]["replicas"]) == (200, 0)
    async with http.get(f"{BASE}/phi") as resp:
        stored = await resp.json()
    assert stored["spec"]["replicas"] == 0
    assert stored["metadata"]["generation"] == 5
    assert stored["spec"]["template"] == inferenceset()["spec"]["template"]
    alpha = "/apis/kaito.sh/v1alpha1/namespaces/default/inferencesets/phi/scale"
    async with http.get(alpha) as resp:
        assert (await resp.json())["spec"]["replicas"] == 0


@pytest.mark.parametrize(
    ("method", "body", "headers", "code", "message"),
    [
        (
            "PUT",
            {"spec": {"replicas": -1}},
            None,
            422,
            'Scale.autoscaling "phi" is invalid: spec.replicas: Invalid value: -1: must be '
            "greater than or equal to 0",
        ),
        (
            "PATCH",
            {"spec": {"replicas": "3"}},
            MERGE,
            422,
            "Scale.autoscaling \"phi\" is invalid: spec.replicas: Invalid value: '3': must be an "
            "integer",
        ),
        (
            "PUT",
            {"spec": {"replicas": 2**31}},
            None,
            422,
            'Scale.autoscaling "phi" is invalid: spec.replicas: Invalid value: 2147483648: must '
            "be less than or equal to 2147483647",
        ),
        (
            "PUT",
            {"metadata": {"name": "other"}, "spec": {"replicas": 1}},
            None,
            400,
            "the name of the object (other) does not match the name on the URL (phi)",
        ),
        (
            "PUT",
            {"apiVersion": "apps/v1", "kind": "Scale", "spec": {"replicas": 1}},
            None,
            400,
            "apiVersion 'apps/v1' does not match the expected autoscaling/v1",
        ),
        (
            "PUT",
            {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}},
            None,
            409,
            "the object has been modified",
        ),
        (
            "PATCH",
            {"spec": {"replicas": 1}},
            {"Content-Type": "application/apply-patch+yaml"},
            415,
            "the body of the request was in an unknown format: application/apply-patch+yaml",
        ),
        ("PUT", [1, 2], None, 400, "the request body must be a JSON object"),
    ],
    ids=[
        "negative",
        "not-an-integer",
        "beyond-int32",
        "other-name",
        "other-api",
        "stale-version",
        "server-side-apply",
        "not-an-object",
    ],
)
async def test_bad_scales_are_refused_with_a_status(
    http: aiohttp.ClientSession,
    method: str,
    body: Any,
    headers: Any,
    code: int,
    message: str,
) -> None:
    """Each bad request is a 4xx with a Status naming the problem; nothing is written."""
    await _create(http, inferenceset(replicas=2))
    got, status = await _call(http, method, body, headers)
    assert got == code
    assert status["kind"] == "Status"
    assert message in status["message"]
    async with http.get(f"{BASE}/phi") as resp:
        assert (await resp.json())["spec"]["replicas"] == 2


async def test_a_missing_object_has_no_scale(http: aiohttp.ClientSession) -> None:
    """404 with the resource's name, for GET and PATCH alike."""
    for method, body in (("GET", None), ("PATCH", {"spec": {"replicas": 1}})):
        code, status = await _call(http, method, body, MERGE if body else None)
        assert code == 404
        assert status["message"] == 'inferencesets.kaito.sh "phi" not found'
