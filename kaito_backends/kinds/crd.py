"""A kind's CustomResourceDefinition from its `kaito_core.kinds.KindSpec`.

`custom_resource_definition` writes the names (group, kind, plural, singular, short names,
categories, ``<Kind>List``), the scope, every served version (by name) with its printer columns,
the storage flag, the status subresource and the scale subresource when the kind has one. The
schema of each version is what ``schema`` returns for it (a kind's model-generated
``openAPIV3Schema``, as `kaito_backends.operator.crd.workspace_schema`), else an object that
keeps unknown fields (what the fake API server serves: it validates no schema). Keys are in a
fixed order, so the output is byte-stable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kaito_backends.objects import Manifest
from kaito_core.kinds import KindSpec

__all__ = ["PERMISSIVE_SCHEMA", "custom_resource_definition"]

#: The schema of a kind without one: any object.
PERMISSIVE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
}


def _names(spec: KindSpec[Any, Any]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    if spec.categories:
        names["categories"] = list(spec.categories)
    names["kind"] = spec.kind
    names["listKind"] = spec.list_kind
    names["plural"] = spec.plural
    if spec.short_names:
        names["shortNames"] = list(spec.short_names)
    names["singular"] = spec.singular
    return names


def custom_resource_definition(
    spec: KindSpec[Any, Any],
    *,
    labels: Mapping[str, str] | None = None,
    schema: Callable[[str], Mapping[str, Any]] | None = None,
) -> Manifest:
    """The ``apiextensions.k8s.io/v1`` CRD of ``spec`` (see the module docstring)."""
    metadata: dict[str, Any] = {"name": spec.qualified}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    subresources: dict[str, Any] = {"status": {}}
    if spec.scale is not None:
        subresources = {"scale": spec.scale.to_crd(), "status": {}}
    versions = [
        {
            "additionalPrinterColumns": [c.to_crd() for c in spec.columns(version)],
            "name": version,
            "schema": {"openAPIV3Schema": dict(schema(version) if schema else PERMISSIVE_SCHEMA)},
            "served": True,
            "storage": version == spec.storage_version,
            "subresources": dict(subresources),
        }
        for version in sorted(spec.versions)
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": spec.group,
            "names": _names(spec),
            "scope": "Namespaced" if spec.namespaced else "Cluster",
            "versions": versions,
        },
    }
