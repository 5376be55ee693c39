"""KubernetesClient on the wire: what it sends, and how it reads answers and failures."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_backends.errors import (
    AlreadyExists,
    BackendError,
    Conflict,
    Gone,
    Invalid,
    KindNotServed,
    NamespaceTerminating,
    NotFound,
    Transient,
    Unreachable,
)
from kaito_backends.kubernetes import APPLY_PATCH, JSON_PATCH, ApiError, KubernetesClient
from kaito_backends.kubernetes.failures import error_from_status
from kaito_backends.objects import ObjectRef
from tests.kubernetes.stub import Events, Reply, Stub, event, obj, object_list, status

CM = "/api/v1/namespaces/default/configmaps"
REF = ObjectRef("v1", "ConfigMap", "a", "default")

#: (HTTP code, Status reason, headers, details, expected class, expected delay)
ERRORS: list[tuple[int, str, dict[str, str], dict[str, Any], type[BackendError], float | None]] = [
    (404, "NotFound", {}, {}, NotFound, None),
    (409, "AlreadyExists", {}, {}, AlreadyExists, None),
    (409, "Conflict", {}, {}, Conflict, None),
    (410, "Expired", {}, {}, Gone, None),
    (400, "BadRequest", {}, {}, Invalid, None),
    (422, "Invalid", {}, {}, Invalid, None),
    (429, "TooManyRequests", {"Retry-After": "7"}, {}, Transient, 7.0),
    (429, "TooManyRequests", {}, {"retryAfterSeconds": 3}, Transient, 3.0),
    (500, "InternalError", {}, {}, Transient, None),
    (503, "ServiceUnavailable", {"Retry-After": "2"}, {}, Transient, 2.0),
    (504, "Timeout", {}, {}, Transient, None),
    (401, "Unauthorized", {}, {}, ApiError, None),
    (403, "Forbidden", {}, {}, ApiError, None),
    (
        403,
        "Forbidden",
        {},
        {
            "causes": [
                {
                    "reason": "NamespaceTerminating",
                    "message": "namespace team-a is being terminated",
                    "field": "metadata.namespace",
                }
            ]
        },
        NamespaceTerminating,
        None,
    ),
]


@pytest.mark.parametrize(
    ("code", "reason", "headers", "details", "expected", "delay"),
    ERRORS,
    ids=[f"{e[0]}-{e[1]}-{'header' if e[2] else 'details' if e[3] else 'plain'}" for e in ERRORS],
)
async def test_http_failures_map_to_the_error_tree(
    stub: Stub,
    stub_client: KubernetesClient,
    code: int,
    reason: str,
    headers: dict[str, str],
    details: dict[str, Any],
    expected: type[BackendError],
    delay: float | None,
) -> None:
    """Each HTTP failure raises its class, with the server's message and Retry-After."""
    message = f'configmaps "a" {reason}'
    stub.on("GET", f"{CM}/a", Reply(status(code, reason, message, **details), code, headers))
    with pytest.raises(BackendError) as caught:
        await stub_client.get(REF)
    assert type(caught.value) is expected
    assert caught.value.message == message
    if expected is Transient:
        assert isinstance(caught.value, Transient)
        assert caught.value.delay == delay
    if expected is ApiError:
        assert isinstance(caught.value, ApiError)
        assert (caught.value.code, caught.value.reason) == (code, reason)
    if expected is NamespaceTerminating:
        assert isinstance(caught.value, NamespaceTerminating)
        assert caught.value.namespace == "team-a"


@pytest.mark.parametrize(
    ("call", "method"),
    [
        ("get", "GET"),
        ("apply", "PATCH"),
        ("create", "POST"),
        ("update", "PUT"),
        ("apply_status", "PATCH"),
        ("delete", "DELETE"),
    ],
)
async def test_a_path_nothing_serves_is_kind_not_served_naming_the_kind(
    stub: Stub, stub_client: KubernetesClient, call: str, method: str
) -> None:
    """``404 page not found`` as text (no CRD): KindNotServed, a NotFound, naming the kind and
    its CRD; a NotFound Status stays a plain NotFound."""
    claim = {"apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": {"name": "c"}}
    path = "/apis/karpenter.sh/v1/nodeclaims" + ("" if call == "create" else "/c")
    if call == "apply_status":
        path += "/status"
    stub.on(method, path, Reply(b"404 page not found\n", 404))
    argument: Any = (
        ObjectRef("karpenter.sh/v1", "NodeClaim", "c") if call in ("get", "delete") else claim
    )
    with pytest.raises(KindNotServed) as caught:
        await getattr(stub_client, call)(argument)
    assert isinstance(caught.value, NotFound)
    assert (caught.value.api_version, caught.value.kind) == ("karpenter.sh/v1", "NodeClaim")
    assert caught.value.reason == "NodeClaimCRDMissing"
    assert "nodeclaims.karpenter.sh" in str(caught.value)
    assert "not installed" in str(caught.value)
    assert type(error_from_status(404, status(404, "NotFound", "x"))) is NotFound


def test_a_failure_without_a_status_body_keeps_the_text() -> None:
    """A proxy's plain-text 502 is Transient with its text."""
    error = error_from_status(502, b"Bad Gateway")
    assert isinstance(error, Transient)
    assert str(error) == "Bad Gateway"


async def test_an_unreachable_server_is_unreachable(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """No answer at all (connection refused) raises Unreachable, a Transient without delay."""
    await stub.stop()
    with pytest.raises(Unreachable) as caught:
        await stub_client.get(REF)
    assert isinstance(caught.value, Transient)
    assert caught.value.delay is None


async def test_requests_carry_the_kubeconfig_token(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """The kubeconfig's bearer token is sent with every request."""
    stub.on("GET", f"{CM}/a", Reply(obj("a", "1")))
    await stub_client.get(REF)
    (seen,) = stub.seen("GET")
    assert seen.headers["Authorization"] == "Bearer kaito-playground"
    assert seen.headers["Accept"] == "application/json"


async def test_apply_is_server_side_apply_with_one_field_manager(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """apply: PATCH, apply-patch+yaml, fieldManager=kaito, force=true, managedFields dropped."""
    stub.on("PATCH", f"{CM}/a", Reply(obj("a", "2")))
    manifest = obj("a", "1")
    manifest["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    applied = await stub_client.apply(manifest)
    (seen,) = stub.seen("PATCH")
    assert seen.headers["Content-Type"] == APPLY_PATCH
    assert seen.query == {"fieldManager": "kaito", "force": "true"}
    assert "managedFields" not in seen.body["metadata"]
    assert seen.body["metadata"]["resourceVersion"] == "1"  # the precondition is kept
    assert manifest["metadata"]["managedFields"]  # the caller's object is untouched
    assert applied["metadata"]["resourceVersion"] == "2"


async def test_apply_with_another_field_manager(stub: Stub, stub_client: KubernetesClient) -> None:
    """apply(field_manager=...) names that manager."""
    stub.on("PATCH", f"{CM}/a", Reply(obj("a", "2")))
    await stub_client.apply(obj("a", "1"), field_manager="kaito-status")
    assert stub.seen("PATCH")[0].query["fieldManager"] == "kaito-status"


WRITES = [
    pytest.param("POST", CM, "create", id="create"),
    pytest.param("PUT", f"{CM}/a", "update", id="update-finalizers"),
    pytest.param("PATCH", f"{CM}/a/status", "apply_status", id="status"),
]


@pytest.mark.parametrize(("method", "path", "call"), WRITES)
async def test_every_write_names_the_field_manager(
    stub: Stub, stub_client: KubernetesClient, method: str, path: str, call: str
) -> None:
    """create, update and status writes send ?fieldManager=kaito, as apply does."""
    stub.on(method, path, Reply(obj("a", "2")))
    manifest = obj("a", "1")
    manifest["status"] = {"phase": "x"}
    await getattr(stub_client, call)(manifest)
    (seen,) = stub.seen(method)
    assert seen.query == {"fieldManager": "kaito"}


async def test_status_writes_go_to_the_status_subresource(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """apply_status: a JSON patch to .../status replacing status, with the rv precondition."""
    path = "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/ws"
    stub.on("PATCH", f"{path}/status", Reply({"metadata": {"name": "ws"}, "status": {"x": 1}}))
    workspace = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default", "resourceVersion": "9"},
        "resource": {"instanceType": "big"},
        "status": {"x": 1},
    }
    written = await stub_client.apply_status(workspace)
    (seen,) = stub.seen("PATCH")
    assert seen.path == f"{path}/status"
    assert seen.headers["Content-Type"] == JSON_PATCH
    assert seen.body == [
        {"op": "add", "path": "/status", "value": {"x": 1}},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "9"},
    ]
    assert (written["apiVersion"], written["kind"]) == ("kaito.sh/v1beta1", "Workspace")


async def test_create_update_and_delete_use_their_verbs(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """create POSTs the collection, update PUTs the object, delete sends DeleteOptions."""
    stub.on("POST", CM, Reply(obj("a", "1"), 201))
    stub.on("PUT", f"{CM}/a", Reply(obj("a", "2")))
    stub.on("DELETE", f"{CM}/a", Reply(status(200, "", "")))
    await stub_client.create(obj("a", "0"))
    await stub_client.update(obj("a", "1"))
    await stub_client.delete(REF, propagation="Foreground")
    assert [(s.method, s.path) for s in stub.requests] == [
        ("POST", CM),
        ("PUT", f"{CM}/a"),
        ("DELETE", f"{CM}/a"),
    ]
    assert stub.requests[2].body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Foreground",
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},  # no namespace
        {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}},  # no apiVersion
    ],
    ids=["namespaced-without-namespace", "without-apiVersion"],
)
async def test_malformed_objects_are_invalid_before_any_request(
    stub: Stub, stub_client: KubernetesClient, bad: dict[str, Any]
) -> None:
    """Objects that cannot be addressed raise Invalid and send nothing."""
    with pytest.raises(Invalid):
        await stub_client.create(bad)
    with pytest.raises(Invalid):
        await stub_client.delete(ObjectRef("v1", "ConfigMap", "a"), propagation="Sideways")
    assert stub.requests == []


async def test_list_pages_types_and_sorts(stub: Stub, stub_client: KubernetesClient) -> None:
    """list: follows continue tokens, keeps the first page's version, fills apiVersion/kind."""
    stub.on(
        "GET",
        CM,
        Reply(object_list("40", obj("c", "3"), obj("a", "1"), token="next")),
        Reply(object_list("40", obj("b", "2"))),
    )
    listed = await stub_client.list(
        "v1", "ConfigMap", namespace="default", labels={"b": "2", "a": "1"}
    )
    assert [o["metadata"]["name"] for o in listed.items] == ["a", "b", "c"]
    assert listed.resource_version == "40"
    assert all((o["apiVersion"], o["kind"]) == ("v1", "ConfigMap") for o in listed.items)
    first, second = stub.seen("GET")
    assert first.query == {"labelSelector": "a=1,b=2", "limit": "500"}
    assert second.query["continue"] == "next"


async def test_list_sends_a_field_selector_with_values_escaped(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """list(fields=...): one ``fieldSelector``, sorted by path, separators in values escaped."""
    stub.on("GET", CM, Reply(object_list("40")))
    await stub_client.list(
        "v1", "ConfigMap", namespace="default", fields={"b.c": "x,y=z\\", "a": "1"}
    )
    (request,) = stub.seen("GET")
    assert request.query["fieldSelector"] == "a=1,b.c=x\\,y\\=z\\\\"


async def test_list_restarts_when_the_continue_token_expired(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """list: a 410 on a continued page starts the list again."""
    stub.on(
        "GET",
        CM,
        Reply(object_list("40", obj("a", "1"), token="old")),
        Reply(status(410, "Expired", "continue token expired"), 410),
        Reply(object_list("50", obj("a", "1"))),
    )
    listed = await stub_client.list("v1", "ConfigMap", namespace="default")
    assert listed.resource_version == "50"
    assert [o["metadata"]["name"] for o in listed.items] == ["a"]


async def test_list_of_a_kind_the_server_does_not_serve_is_empty(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """list: a 404 (a CRD not installed) is an empty list, never NotFound."""
    listed = await stub_client.list("karpenter.sh/v1", "NodeClaim")
    assert (listed.items, listed.resource_version) == ((), "")
    assert stub.seen()[0].path == "/apis/karpenter.sh/v1/nodeclaims"


async def test_watch_passes_bookmarks_and_raises_gone(
    stub: Stub, stub_client: KubernetesClient
) -> None:
    """watch: ADDED and BOOKMARK events come through; an ERROR 410 raises Gone."""
    bookmark = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "12"}}
    stub.on(
        "GET",
        CM,
        Events(
            [
                event("ADDED", obj("a", "11")),
                event("BOOKMARK", bookmark),
                event("ERROR", status(410, "Expired", "too old resource version: 5 (12)")),
            ]
        ),
        watch=True,
    )
    events = aiter(stub_client.watch("v1", "ConfigMap", namespace="default", resource_version="5"))
    first = await anext(events)
    second = await anext(events)
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")
    assert (second.type, second.object["metadata"]["resourceVersion"]) == ("BOOKMARK", "12")
    with pytest.raises(Gone, match="too old"):
        await anext(events)
    (seen,) = stub.seen(watch=True)
    assert seen.query["allowWatchBookmarks"] == "true"
    assert seen.query["resourceVersion"] == "5"
    assert seen.query["timeoutSeconds"] == "30"


async def test_a_dropped_watch_just_ends(stub: Stub, stub_client: KubernetesClient) -> None:
    """watch: a connection cut mid-event ends the iterator (the caller rewatches)."""
    stub.on("GET", CM, Events([event("ADDED", obj("a", "11"))], end="drop"), watch=True)
    seen = [e.type async for e in stub_client.watch("v1", "ConfigMap", namespace="default")]
    assert seen == ["ADDED"]


async def test_a_watch_refused_up_front_raises(stub: Stub, stub_client: KubernetesClient) -> None:
    """watch: an HTTP error instead of a stream raises its class (here Gone)."""
    stub.on("GET", CM, Reply(status(410, "Gone", "gone"), 410), watch=True)
    with pytest.raises(Gone):
        await anext(aiter(stub_client.watch("v1", "ConfigMap", namespace="default")))


async def test_workspaces_of_both_versions_share_a_resource(kube: KubernetesClient) -> None:
    """The resource map serves kaito.sh v1beta1 and v1alpha1 Workspaces (and knows the rest)."""
    for api_version in ("kaito.sh/v1beta1", "kaito.sh/v1alpha1"):
        resource = kube.resources.resource(api_version, "Workspace")
        assert (resource.plural, resource.namespaced, resource.has_status) == (
            "workspaces",
            True,
            True,
        )
    assert kube.resources.resource("karpenter.sh/v1", "NodePool").namespaced is False
    guessed = kube.resources.resource("policy/v1", "PodDisruptionBudget")
    assert guessed.collection("ns") == "/apis/policy/v1/namespaces/ns/poddisruptionbudgets"
    assert not kube.resources.known("policy/v1", "PodDisruptionBudget")
