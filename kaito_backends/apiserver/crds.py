"""The CustomResourceDefinitions the fake API server serves, with their printer columns.

The printer columns are the upstream ones (``additionalPrinterColumns`` of KAITO's
``workspaces.kaito.sh`` CRD at v0.12.0, per version, and of Karpenter's ``karpenter.sh/v1``
NodeClaim and NodePool CRDs); ``tests/apiserver`` compares them with the upstream CRD files
when the reference corpus is present. The CRD objects themselves are trimmed: names, scope,
versions, printer columns, the status subresource and a schema that keeps unknown fields (the
fake does no schema validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from kaito_backends.apiserver.registry import Resource, resource_for_kind

__all__ = [
    "CRD_KINDS",
    "PrinterColumn",
    "crd_manifest",
    "crd_manifests",
    "crd_status",
    "printer_columns",
]


@attrs.frozen(kw_only=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""

    def to_crd(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jsonPath": self.json_path, "name": self.name}
        if self.priority:
            out["priority"] = self.priority
        out["type"] = self.type
        return out


def _col(name: str, json_path: str, type_: str = "string", priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name=name, type=type_, json_path=json_path, priority=priority)


def _condition(type_: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].status'


_AGE = _col("Age", ".metadata.creationTimestamp", "date")

_WORKSPACE_V1ALPHA1 = (
    _col("Instance", ".resource.instanceType"),
    _col("ResourceReady", _condition("ResourceReady")),
    _col("InferenceReady", _condition("InferenceReady")),
    _col("JobStarted", _condition("JobStarted")),
    _col("WorkspaceSucceeded", _condition("WorkspaceSucceeded")),
    _AGE,
)
_WORKSPACE_V1BETA1 = (
    *_WORKSPACE_V1ALPHA1[:-1],
    _col("TargetNodeCount", ".status.targetNodeCount", "integer"),
    _col("State", ".status.state"),
    _AGE,
)
_NODECLAIM_V1 = (
    _col("Type", r".metadata.labels.node\.kubernetes\.io/instance-type"),
    _col("Capacity", r".metadata.labels.karpenter\.sh/capacity-type"),
    _col("Zone", r".metadata.labels.topology\.kubernetes\.io/zone"),
    _col("Node", ".status.nodeName"),
    _col("Ready", _condition("Ready")),
    _AGE,
    _col("ImageID", ".status.imageID", priority=1),
    _col("ID", ".status.providerID", priority=1),
    _col("NodePool", r".metadata.labels.karpenter\.sh/nodepool", priority=1),
    _col("NodeClass", ".spec.nodeClassRef.name", priority=1),
    _col("Drifted", _condition("Drifted"), priority=1),
)
_NODEPOOL_V1 = (
    _col("NodeClass", ".spec.template.spec.nodeClassRef.name"),
    _col("Nodes", ".status.resources.nodes"),
    _col("Ready", _condition("Ready")),
    _AGE,
    _col("Weight", ".spec.weight", "integer", priority=1),
    _col("CPU", ".status.resources.cpu", priority=1),
    _col("Memory", ".status.resources.memory", priority=1),
)

#: (group, kind) -> version -> printer columns.
_COLUMNS: dict[tuple[str, str], dict[str, tuple[PrinterColumn, ...]]] = {
    ("kaito.sh", "Workspace"): {"v1alpha1": _WORKSPACE_V1ALPHA1, "v1beta1": _WORKSPACE_V1BETA1},
    ("karpenter.sh", "NodeClaim"): {"v1": _NODECLAIM_V1},
    ("karpenter.sh", "NodePool"): {"v1": _NODEPOOL_V1},
}
#: The custom kinds, as (group, kind), in the order ``kubectl get crd`` lists them (by name).
CRD_KINDS: tuple[tuple[str, str], ...] = tuple(sorted(_COLUMNS, key=lambda gk: (gk[0], gk[1])))

_STORAGE = {("kaito.sh", "Workspace"): "v1beta1"}


def printer_columns(group: str, kind: str, version: str) -> tuple[PrinterColumn, ...] | None:
    """The printer columns of a custom kind in one version, or None for a built-in kind."""
    per_version = _COLUMNS.get((group, kind))
    if per_version is None:
        return None
    return per_version.get(version, ())


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


def crd_manifest(group: str, kind: str) -> dict[str, Any]:
    """The CustomResourceDefinition of a served custom kind (without server-set metadata)."""
    resource = resource_for_kind(group, kind)
    if resource is None or (group, kind) not in _COLUMNS:
        raise KeyError(f"{kind}.{group} is not a custom resource the fake serves")
    storage = _STORAGE.get((group, kind), resource.preferred_version)
    versions: list[dict[str, Any]] = []
    for version in sorted(resource.versions):
        columns: Sequence[PrinterColumn] = _COLUMNS[(group, kind)].get(version, ())
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
                "storage": version == storage,
                "subresources": {"status": {}},
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


def crd_manifests() -> list[dict[str, Any]]:
    """Every served CRD, by name."""
    return sorted((crd_manifest(g, k) for g, k in CRD_KINDS), key=lambda m: m["metadata"]["name"])
