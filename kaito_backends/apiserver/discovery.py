"""Discovery documents: ``/version``, ``/api``, ``/apis``, per-group and per-version lists, OpenAPI.

Only the legacy (unaggregated) discovery format is served: a client asking for aggregated
discovery (``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``)
gets plain ``APIVersions`` / ``APIGroupList`` with ``Content-Type: application/json``, which
kubectl and client-go recognise and follow with a request per group-version.

OpenAPI: ``/openapi/v2`` is absent (404). ``/openapi/v3`` lists every served group-version and
each one's document holds, per resource, only a PATCH operation that declares the
``fieldValidation`` query parameter and the group-version-kind. That is what kubectl reads to
decide the server validates fields itself, so ``kubectl apply``/``create`` work without
``--validate=false`` (the fake does not validate schemas; ``fieldValidation`` is ignored).
There are no schemas: ``kubectl explain`` does not work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
from typing import Any

from kaito_backends.apiserver.registry import Group, Resource, ResourceTable, resource_table

__all__ = [
    "KUBERNETES_VERSION",
    "api_group",
    "api_group_list",
    "api_versions",
    "openapi_group_version",
    "openapi_root",
    "resource_list",
    "version_info",
]

#: The Kubernetes version the fake claims (kubectl warns beyond one minor version of skew).
KUBERNETES_VERSION = (1, 32, 0)


def version_info() -> dict[str, Any]:
    major, minor, patch = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}+kaito-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_body(group: Group) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group.name}/{v}", "version": v} for v in group.versions]
    return {"name": group.name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(table: ResourceTable | None = None) -> dict[str, Any]:
    """``/apis``: every named group (of ``table``, default: the default registry's)."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_body(g) for g in (table or resource_table()).groups if g.name],
    }


def api_group(name: str, table: ResourceTable | None = None) -> dict[str, Any] | None:
    """``/apis/<group>``, or None when the group is not served."""
    group = (table or resource_table()).find_group(name)
    if group is None or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(group)}


def _hash(resource: Resource) -> str:
    digest = hashlib.sha256(f"{resource.group}/{resource.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resource_entries(resource: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entry["storageVersionHash"] = _hash(resource)
    entries = [entry]
    if resource.has_status:
        status_verbs = ["get"] if resource.read_only else ["get", "patch", "update"]
        entries.append(
            {
                "name": f"{resource.plural}/status",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": status_verbs,
            }
        )
    if resource.scale is not None:  # as kube-apiserver lists a CRD's scale subresource
        entries.append(
            {
                "name": f"{resource.plural}/scale",
                "singularName": "",
                "namespaced": resource.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }
        )
    return entries


def resource_list(
    group_name: str, version: str, table: ResourceTable | None = None
) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``, or None when not served."""
    group = (table or resource_table()).find_group(group_name)
    if group is None or version not in group.versions:
        return None
    group_version = f"{group_name}/{version}" if group_name else version
    resources = [
        e
        for r in sorted(group.resources(version), key=lambda r: r.plural)
        for e in _resource_entries(r)
    ]
    body: dict[str, Any] = {
        "kind": "APIResourceList",
        "groupVersion": group_version,
        "resources": resources,
    }
    if group_name:
        body = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }
    return body


# -- OpenAPI v3 ----------------------------------------------------------------------------------
def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_group_version(
    group_name: str, version: str, table: ResourceTable | None = None
) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group-version (see the module docstring), or None."""
    group = (table or resource_table()).find_group(group_name)
    if group is None or version not in group.versions:
        return None
    paths: dict[str, Any] = {}
    for resource in sorted(group.resources(version), key=lambda r: r.plural):
        prefix = f"/{_gv_path(group_name, version)}"
        if resource.namespaced:
            prefix += "/namespaces/{namespace}"
        gvk = {"group": group_name, "version": version, "kind": resource.kind}
        parameters = [
            {
                "name": "fieldManager",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            },
            {
                "name": "fieldValidation",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            },
        ]
        paths[f"{prefix}/{resource.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{resource.kind}",
                "parameters": parameters,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {
            "title": "Kubernetes (kaito fake API server)",
            "version": "v{}.{}.{}".format(*KUBERNETES_VERSION),
        },
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_root(table: ResourceTable | None = None) -> dict[str, Any]:
    """``/openapi/v3``: where each group-version's document is."""
    table = table or resource_table()
    paths = {}
    for group in table.groups:
        for version in group.versions:
            document = openapi_group_version(group.name, version, table)
            digest = (
                hashlib.sha256(json.dumps(document, sort_keys=True).encode())
                .hexdigest()[:32]
                .upper()
            )
            path = _gv_path(group.name, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
