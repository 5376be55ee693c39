"""InferenceSet manifests (camelCase JSON) to and from the attrs model, on the strict converter.

Pure: no I/O, no clock, no logging.

The same converter as Workspaces (`kaito_core.api.serde`): a string given a number, a list
given a map, a boolean given ``"true"`` or a field the schema does not know are problems reported
with the wire path (``spec.updateStrategy.rollingUpdate.maxUnavailable``), never coerced or
dropped. The pieces an InferenceSet shares with a Workspace (`InferenceSpec`, `LabelSelector`,
`PartitionSpec`, `Condition`, `ObjectMeta`) are the Workspace model's own classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core.api.inferenceset import (
    AutoUpgradePolicy,
    AutoUpgradeStatus,
    InferenceSet,
    InferenceSetResource,
    InferenceSetSpec,
    InferenceSetStatus,
    InferenceSetTemplate,
    MaintenanceWindow,
    RollingUpdate,
    UpdateStrategy,
)
from kaito_core.api.serde import (
    ManifestError,
    converter,
    field_problems,
    register_model_classes,
    unknown_fields,
    unstructure_meta,
)
from kaito_core.api.shapes import described
from kaito_core.api.types import V1ALPHA1, V1BETA1, ObjectMeta
from kaito_core.errors import FieldError

__all__ = ["KIND", "inferenceset_from_manifest", "inferenceset_to_manifest"]

KIND = "InferenceSet"

register_model_classes(
    InferenceSetResource,
    InferenceSetTemplate,
    RollingUpdate,
    UpdateStrategy,
    MaintenanceWindow,
    AutoUpgradePolicy,
    InferenceSetSpec,
    AutoUpgradeStatus,
    InferenceSetStatus,
)


@attrs.frozen
class _Manifest:
    """The top-level fields of an InferenceSet manifest (for "did you mean" only)."""

    api_version: str
    kind: str
    metadata: Any
    spec: Any
    status: Any


_PARTS: dict[str, type] = {
    "metadata": ObjectMeta,
    "spec": InferenceSetSpec,
    "status": InferenceSetStatus,
}


def inferenceset_from_manifest(manifest: Mapping[str, Any]) -> InferenceSet:
    """Parse an InferenceSet manifest; raises `ManifestError` listing every problem with its
    path.

    Pure: no I/O, no clock, no logging.
    """
    if not isinstance(manifest, Mapping):
        raise ManifestError(
            [FieldError(path="", message=f"expected an object, found {described(manifest)}")]
        )
    errors: list[FieldError] = []
    api_version = manifest.get("apiVersion")
    if api_version not in (V1BETA1, V1ALPHA1):
        errors.append(
            FieldError(
                path="apiVersion",
                message=f"unsupported apiVersion {api_version!r}; expected {V1BETA1} or {V1ALPHA1}",
            )
        )
    if manifest.get("kind") != KIND:
        errors.append(
            FieldError(path="kind", message=f"expected {KIND}, got {manifest.get('kind')!r}")
        )
    fields: dict[str, Any] = {}
    for key, value in manifest.items():
        if key in ("apiVersion", "kind"):
            continue
        target = _PARTS.get(key)
        if target is None:
            if key in ("template", "replicas"):
                hint = "unknown field (InferenceSet fields go under spec)"
                errors.append(FieldError(path=str(key), message=hint))
            else:
                errors += unknown_fields(_Manifest, (str(key),), "")[0]
            continue
        if value is None:
            continue
        try:
            fields[key] = converter.structure(value, target)
        except Exception as exc:
            errors += field_problems(exc, key)
    if "spec" not in fields and not any(e.path.startswith("spec") for e in errors):
        errors.append(FieldError(path="spec", message="required field is missing"))
    if errors:
        raise ManifestError(errors)
    return InferenceSet(
        api_version=str(api_version),
        kind=KIND,
        metadata=fields.get("metadata", ObjectMeta()),
        spec=fields["spec"],
        status=fields.get("status"),
    )


def inferenceset_to_manifest(iset: InferenceSet) -> dict[str, Any]:
    """The wire form of an InferenceSet (camelCase keys, absent fields omitted).

    Pure: no I/O, no clock, no logging.
    """
    out: dict[str, Any] = {
        "apiVersion": iset.api_version,
        "kind": iset.kind,
        "metadata": unstructure_meta(iset.metadata),
        "spec": converter.unstructure(iset.spec),
    }
    if iset.status is not None:
        out["status"] = converter.unstructure(iset.status)
    return out
