"""The CustomResourceDefinitions the fake API server serves, with their printer columns.

The custom resources are those of the server's `kaito_backends.apiserver.registry.ResourceTable`:
Karpenter's ``karpenter.sh/v1`` NodeClaim and NodePool, and every kind of the kind registry
(``workspaces.kaito.sh``, ...). Printer columns are the upstream ones (a registered kind's come
from its `kaito_core.kinds.KindSpec`: the Workspace's are those of KAITO's CRD at v0.12.0, per
version); ``tests/apiserver`` compares them with the upstream CRD files when the reference
corpus is present. The CRD objects themselves are trimmed: names, scope, versions, printer
columns, the status subresource (and the scale subresource of a kind that has one) and a
schema that keeps unknown fields (the fake does no schema validation).
"""

from __future__ import annotations

from typing import Any

from kaito_backends.apiserver.registry import Resource, ResourceTable, resource_table
from kaito_core.kinds import PrinterColumn

__all__ = [
    "CRD_KINDS",
    "PrinterColumn",
    "crd_manifest",
    "crd_manifests",
    "crd_status",
    "printer_columns",
]

#: The custom kinds of the default registry's table, as (group, kind), by CRD name.
CRD_KINDS: tuple[tuple[str, str], ...] = tuple((r.group, r.kind) for r in resource_table().custom())


def printer_columns(
    group: str, kind: str, version: str, table: ResourceTable | None = None
) -> tuple[PrinterColumn, ...] | None:
    """The printer columns of a custom kind in one version, or None for a built-in kind."""
    resource = (table or resource_table()).resource_for_kind(group, kind)
    if resource is None or resource.columns is None:
        return None
    return resource.columns.get(version, ())


def _names(resource: Resource) -> dict[str, Any]:
    names: dict[str, Any] = {}
    if resource.categories:
        names["categories"] = list(resource.categories)
    names["kind"] = resource.kind
    names["listKind"] = resource.list_kind
    names["plural"] = resource.plural
    if resource.short_names:
        names["shortNames"] = list(resource.short_names)
    names["singular"] = resource.singular
    return names


def crd_manifest(group: str, kind: str, table: ResourceTable | None = None) -> dict[str, Any]:
    """The CustomResourceDefinition of a served custom kind (without server-set metadata)."""
    resource = (table or resource_table()).resource_for_kind(group, kind)
    if resource is None or resource.columns is None:
        raise KeyError(f"{kind}.{group} is not a custom resource the fake serves")
    versions: list[dict[str, Any]] = []
    for version in sorted(resource.versions):
        columns = resource.columns.get(version, ())
        versions.append(
            {
                "additionalPrinterColumns": [c.to_crd() for c in columns],
                "name": version,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
                "served": True,
                "storage": version == resource.preferred_version,
                "subresources": (
                    {"scale": resource.scale.to_crd(), "status": {}}
                    if resource.scale is not None
                    else {"status": {}}
                ),
            }
        )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.qualified},
        "spec": {
            "group": group,
            "names": _names(resource),
            "scope": "Namespaced" if resource.namespaced else "Cluster",
            "versions": versions,
        },
    }


def crd_status(manifest: dict[str, Any], now: str) -> dict[str, Any]:
    """The status an established CRD has (names accepted, established, stored versions)."""
    spec = manifest["spec"]
    storage = [v["name"] for v in spec["versions"] if v["storage"]]
    return {
        "acceptedNames": dict(spec["names"]),
        "conditions": [
            {
                "lastTransitionTime": now,
                "message": "no conflicts found",
                "reason": "NoConflicts",
                "status": "True",
                "type": "NamesAccepted",
            },
            {
                "lastTransitionTime": now,
                "message": "the initial names have been accepted",
                "reason": "InitialNamesAccepted",
                "status": "True",
                "type": "Established",
            },
        ],
        "storedVersions": storage,
    }


def crd_manifests(table: ResourceTable | None = None) -> list[dict[str, Any]]:
    """Every served CRD, by name."""
    table = table or resource_table()
    return [crd_manifest(r.group, r.kind, table) for r in table.custom()]
