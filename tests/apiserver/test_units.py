"""Pure pieces of the fake API server: selectors, patches, JSONPath, tables, protobuf, CRDs."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kaito_backends.apiserver.crds import crd_manifest, printer_columns
from kaito_backends.apiserver.discovery import openapi_group_version, resource_list
from kaito_backends.apiserver.jsonpath import compile_path
from kaito_backends.apiserver.parsing import negotiate
from kaito_backends.apiserver.patches import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kaito_backends.apiserver.protobuf import ProtobufError, decode_object
from kaito_backends.apiserver.registry import find_resource
from kaito_backends.apiserver.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from kaito_backends.apiserver.status import ApiError
from kaito_backends.apiserver.tables import columns_for, human_duration, table


# -- selectors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a==b,c!=d", {"a": "b", "c": "e"}, True),
        ("a=b,c!=d", {"a": "b", "c": "d"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env in (prod,staging),tier notin (db)", {"env": "prod", "tier": "db"}, False),
        ("env notin (prod)", {}, True),
        ("gpu", {"gpu": ""}, True),
        ("!gpu", {"gpu": "x"}, False),
        ("", {"x": "y"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches_labels(labels) is expected


def test_bad_selectors_raise() -> None:
    with pytest.raises(SelectorError):
        parse_label_selector("a in (b")
    with pytest.raises(SelectorError):
        parse_field_selector("metadata.name")


def test_field_selectors_read_dotted_paths() -> None:
    pod = {"metadata": {"name": "p", "namespace": "default"}, "status": {"phase": "Running"}}
    assert parse_field_selector("metadata.name=p,status.phase=Running").matches_fields(pod)
    assert not parse_field_selector("metadata.name!=p").matches_fields(pod)
    assert parse_field_selector("spec.nodeName=").matches_fields(pod)


# -- patches -------------------------------------------------------------------------------------
def test_merge_patch_is_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3]}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "l": [3]}
    assert target["c"] == {"d": "e", "f": "g"}  # unchanged


def test_strategic_merge_patch_merges_lists_by_key() -> None:
    spec = {
        "containers": [
            {
                "name": "a",
                "image": "x",
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80}],
            },
            {"name": "b", "image": "y"},
        ],
        "finalizers": ["one"],
        "conditions": [{"type": "Ready", "status": "False"}],
    }
    patch = {
        "containers": [
            {"name": "a", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 81}]},
            {"name": "b", "$patch": "delete"},
            {"name": "c", "image": "z"},
        ],
        "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}],
        "finalizers": ["two"],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    result = strategic_merge_patch(spec, patch)
    assert [c["name"] for c in result["containers"]] == ["a", "c"]
    assert result["containers"][0]["image"] == "x"
    assert [e["name"] for e in result["containers"][0]["env"]] == ["A", "B"]
    assert [p["containerPort"] for p in result["containers"][0]["ports"]] == [80, 81]
    assert result["finalizers"] == ["one", "two"]
    assert result["conditions"] == [{"type": "Ready", "status": "True"}]
    deleted = strategic_merge_patch(result, {"$deleteFromPrimitiveList/finalizers": ["one"]})
    assert deleted["finalizers"] == ["two"]
    assert strategic_merge_patch({"m": {"a": 1}}, {"m": {"$patch": "replace", "b": 2}}) == {
        "m": {"b": 2}
    }
    assert strategic_merge_patch({"args": ["a"]}, {"args": ["b"]}) == {"args": ["b"]}


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "d"}
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "replace", "path": "/c", "value": "e"},
        {"op": "copy", "from": "/c", "path": "/f"},
        {"op": "move", "from": "/f", "path": "/g~1h"},
        {"op": "remove", "path": "/a/b/0"},
        {"op": "test", "path": "/g~1h", "value": "e"},
    ]
    assert json_patch(doc, ops) == {"a": {"b": [2, 3]}, "c": "e", "g/h": "e"}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/c", "value": "nope"}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/missing"}])


# -- JSONPath, durations, tables -----------------------------------------------------------------
def test_jsonpath_subset() -> None:
    obj = {
        "metadata": {"labels": {"node.kubernetes.io/instance-type": "Standard_NC24ads_A100_v4"}},
        "status": {
            "conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]
        },
    }
    assert compile_path(r".metadata.labels.node\.kubernetes\.io/instance-type").first(obj) == (
        "Standard_NC24ads_A100_v4"
    )
    assert compile_path('.status.conditions[?(@.type=="Ready")].status').first(obj) == "True"
    assert compile_path(".status.conditions[0].type").first(obj) == "A"
    assert compile_path("{.status.conditions[*].type}").find(obj) == ["A", "Ready"]
    assert compile_path(".status.missing").first(obj) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (9 * 3600, "9h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
        (-5, "<invalid>"),
    ],
)
def test_human_duration_matches_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_workspace_table_shows_the_phase_and_since_when() -> None:
    """A Workspace that is not ready: Phase and Since (an age) after upstream's columns."""
    resource = find_resource("kaito.sh", "v1beta1", "workspaces")
    assert resource is not None
    now = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    ws = {
        "metadata": {"name": "w", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {
            "state": "Pending",
            "phase": {"name": "PullingImage", "since": "2026-01-01T00:07:30Z"},
        },
    }
    body = table(columns_for(resource, "v1beta1"), [ws], now=now, resource_version="7")
    assert body["rows"][0]["cells"][-4:] == ["Pending", "10m", "PullingImage", "2m30s"]
    old = table(columns_for(resource, "v1alpha1"), [ws], now=now, resource_version="7")
    assert "Phase" not in [c["name"] for c in old["columnDefinitions"]]


def test_workspace_table_uses_the_crd_columns() -> None:
    resource = find_resource("kaito.sh", "v1beta1", "workspaces")
    assert resource is not None
    now = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    ws = {
        "metadata": {"name": "w", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
        "status": {
            "targetNodeCount": 2,
            "state": "Ready",
            "conditions": [{"type": "ResourceReady", "status": "True"}],
        },
    }
    body = table(columns_for(resource, "v1beta1"), [ws], now=now, resource_version="7")
    names = [c["name"] for c in body["columnDefinitions"]]
    assert names == [
        "Name",
        "Instance",
        "ResourceReady",
        "InferenceReady",
        "JobStarted",
        "WorkspaceSucceeded",
        "TargetNodeCount",
        "State",
        "Age",
        "Phase",
        "Since",
    ]
    assert body["rows"][0]["cells"] == [
        "w",
        "Standard_NC24ads_A100_v4",
        "True",
        None,
        None,
        None,
        2,
        "Ready",
        "10m",
        None,
        None,
    ]
    assert body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    alpha = [c.name for c in columns_for(resource, "v1alpha1")]
    assert alpha == [
        "Name",
        "Instance",
        "ResourceReady",
        "InferenceReady",
        "JobStarted",
        "WorkspaceSucceeded",
        "Age",
    ]


def test_pod_table_status_and_readiness() -> None:
    resource = find_resource("", "v1", "pods")
    assert resource is not None
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 1, "state": {"running": {}}},
                {
                    "name": "b",
                    "ready": False,
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "ImagePullBackOff"}},
                },
            ],
        },
    }
    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    cells = table(columns_for(resource, "v1"), [pod], now=now, resource_version="1")["rows"][0][
        "cells"
    ]
    assert cells[:5] == ["p", "1/2", "ImagePullBackOff", "3", "30s"]


def test_negotiation() -> None:
    kubectl = (
        "application/json;as=Table;v=v1;g=meta.k8s.io,"
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    )
    assert negotiate(kubectl).representation == "table"
    assert negotiate("application/json").representation == "object"
    assert (
        negotiate("application/vnd.kubernetes.protobuf,application/json").representation == "object"
    )
    assert (
        negotiate("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").representation
        == "partial"
    )
    with pytest.raises(ApiError) as caught:
        negotiate("application/vnd.kubernetes.protobuf")
    assert caught.value.code == 406


# -- protobuf ------------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def test_protobuf_configmap_and_secret_decode() -> None:
    meta = _field(1, "cm") + _field(3, "ns") + _field(11, _field(1, "app") + _field(2, "x"))
    configmap = (
        _field(1, meta)
        + _field(2, _field(1, "k") + _field(2, "v"))
        + _field(3, _field(1, "b") + _field(2, b"\x00\x01"))
    )
    body = b"k8s\x00" + _field(1, _field(1, "v1") + _field(2, "ConfigMap")) + _field(2, configmap)
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", "labels": {"app": "x"}},
        "data": {"k": "v"},
        "binaryData": {"b": "AAE="},
    }
    secret = (
        _field(1, _field(1, "s"))
        + _field(2, _field(1, "tok") + _field(2, b"abc"))
        + _field(3, "Opaque")
    )
    body = b"k8s\x00" + _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, secret)
    assert decode_object(body)["data"] == {"tok": "YWJj"}
    with pytest.raises(ProtobufError):
        decode_object(b"k8s\x00" + _field(1, _field(1, "apps/v1") + _field(2, "Deployment")))


# -- CRDs and discovery --------------------------------------------------------------------------
def test_discovery_lists_workspaces_with_short_names_and_status() -> None:
    body = resource_list("kaito.sh", "v1beta1")
    assert body is not None
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["workspaces"]["shortNames"] == ["wk", "wks"]
    assert by_name["workspaces"]["categories"] == ["workspace"]
    assert by_name["workspaces"]["namespaced"] is True
    assert by_name["workspaces/status"]["verbs"] == ["get", "patch", "update"]
    claims = {r["name"]: r for r in (resource_list("karpenter.sh", "v1") or {})["resources"]}
    assert claims["nodeclaims"]["namespaced"] is False
    core = {r["name"] for r in (resource_list("", "v1") or {})["resources"]}
    assert {
        "pods",
        "pods/status",
        "nodes",
        "configmaps",
        "secrets",
        "events",
        "namespaces",
        "services",
    } <= core
    assert resource_list("kaito.sh", "v2") is None


def test_openapi_declares_field_validation_for_kubectl() -> None:
    doc = openapi_group_version("kaito.sh", "v1beta1")
    assert doc is not None
    (path,) = [p for p in doc["paths"] if p.endswith("/workspaces/{name}")]
    patch = doc["paths"][path]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "kaito.sh",
        "version": "v1beta1",
        "kind": "Workspace",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_crd_manifest_shape() -> None:
    crd = crd_manifest("kaito.sh", "Workspace")
    assert crd["metadata"]["name"] == "workspaces.kaito.sh"
    assert [(v["name"], v["storage"]) for v in crd["spec"]["versions"]] == [
        ("v1alpha1", False),
        ("v1beta1", True),
    ]
    assert crd["spec"]["names"]["shortNames"] == ["wk", "wks"]


@pytest.mark.upstream
@pytest.mark.parametrize(
    ("file", "group", "kind"),
    [
        ("kaito.sh_workspaces.yaml", "kaito.sh", "Workspace"),
        ("karpenter.sh_nodeclaims.yaml", "karpenter.sh", "NodeClaim"),
    ],
)
def test_printer_columns_match_upstream_crds(
    reference: Path, file: str, group: str, kind: str
) -> None:
    upstream = yaml.safe_load((reference / "crds" / file).read_text())
    for version in upstream["spec"]["versions"]:
        expected = [
            (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
            for c in version.get("additionalPrinterColumns", ())
        ]
        ours = printer_columns(group, kind, version["name"])
        assert ours is not None
        if (kind, version["name"]) == ("Workspace", "v1beta1"):
            expected += [("Phase", "string", ".status.phase.name", 0)]
            expected += [("Since", "date", ".status.phase.since", 0)]
        assert [(c.name, c.type, c.json_path, c.priority) for c in ours] == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".columns",
        ".crds",
        ".discovery",
        ".handlers",
        ".jsonpath",
        ".kubeconfig",
        ".pacing",
        ".parsing",
        ".patches",
        ".printers",
        ".protobuf",
        ".registry",
        ".selectors",
        ".server",
        ".status",
        ".tables",
        ".watch",
    ],
)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(f"kaito_backends.apiserver{name}")
    names = list(module.__all__)
    for item in names:
        assert hasattr(module, item), item
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in names]
    assert key == sorted(key)
