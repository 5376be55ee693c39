"""Rules on the Workspace as a whole: metadata, KAITO's annotations, inference or tuning.

Pure: no I/O, no clock, no logging.

The name must be a DNS-1123 label (upstream checks it on create and update); namespace, labels
and annotations follow the API server's own rules. The annotation rules (C5-C8) run on create,
and on update only for annotations whose value changed, so an old object stays updatable.
"""

from __future__ import annotations

from collections.abc import Mapping

from kaito_core.api.types import Workspace
from kaito_core.errors import FieldError
from kaito_core.validation.facts import (
    ANNOTATION_LOCAL_WEIGHTS,
    ANNOTATION_NODE_CLASS,
    ANNOTATION_NODE_IMAGE_FAMILY,
    ANNOTATION_PERFORMANCE_MODE,
    Facts,
    annotation_path,
)
from kaito_core.validation.names import dns1123_label, quote, validate_annotations, validate_labels

__all__ = [
    "NODE_IMAGE_FAMILIES",
    "PERFORMANCE_MODES",
    "validate_annotation_values",
    "validate_metadata",
    "validate_toggles",
]

NODE_IMAGE_FAMILIES = ("azurelinux", "ubuntu")
PERFORMANCE_MODES = ("balanced", "interactivity", "throughput")


def validate_metadata(ws: Workspace, old: Workspace | None) -> list[FieldError]:
    """The name is a DNS-1123 label; namespace, labels and annotations follow Kubernetes rules."""
    meta = ws.metadata
    errors: list[FieldError] = []
    if not meta.name:
        if not (meta.extra or {}).get("generateName"):
            errors.append(
                FieldError(path="metadata.name", message="name or generateName is required")
            )
    elif problems := dns1123_label(meta.name):
        errors.append(
            FieldError(
                path="metadata.name",
                message=f"invalid value {quote(meta.name)}: " + "; ".join(problems),
            )
        )
    if meta.namespace and (problems := dns1123_label(meta.namespace)):
        errors.append(
            FieldError(
                path="metadata.namespace",
                message=f"invalid value {quote(meta.namespace)}: " + "; ".join(problems),
            )
        )
    errors += validate_labels(ws.labels, "metadata.labels")
    errors += validate_annotations(ws.annotations, "metadata.annotations")
    return errors


def validate_annotation_values(
    facts: Facts, *, old: Mapping[str, str] | None, image_family_only: bool = False
) -> list[FieldError]:
    """C5-C8 on the KAITO annotations; on update only annotations whose value changed."""
    annotations = facts.ws.annotations
    errors: list[FieldError] = []

    def changed(key: str) -> bool:
        return key in annotations and (old is None or old.get(key) != annotations[key])

    if changed(ANNOTATION_NODE_IMAGE_FAMILY):
        value = annotations[ANNOTATION_NODE_IMAGE_FAMILY]
        if value.strip().lower() not in NODE_IMAGE_FAMILIES:
            errors.append(
                FieldError(
                    path=annotation_path(ANNOTATION_NODE_IMAGE_FAMILY),
                    message=f'unsupported node image family "{value}", supported values are '
                    + ", ".join(NODE_IMAGE_FAMILIES),
                )
            )
    if image_family_only:
        return errors
    if changed(ANNOTATION_PERFORMANCE_MODE):
        value = annotations[ANNOTATION_PERFORMANCE_MODE]
        if value not in PERFORMANCE_MODES:
            errors.append(
                FieldError(
                    path=annotation_path(ANNOTATION_PERFORMANCE_MODE),
                    message=f'"{value}" is not a valid performance mode; choose one of: '
                    + ", ".join(PERFORMANCE_MODES),
                )
            )
    if changed(ANNOTATION_LOCAL_WEIGHTS):
        value = annotations[ANNOTATION_LOCAL_WEIGHTS]
        if value not in ("true", "false"):
            errors.append(
                FieldError(
                    path=annotation_path(ANNOTATION_LOCAL_WEIGHTS),
                    message=f'"{value}" must be "true" or "false"',
                )
            )
    node_class = annotations.get(ANNOTATION_NODE_CLASS, "")
    allowed = facts.context.node_classes
    if (
        node_class
        and changed(ANNOTATION_NODE_CLASS)
        and facts.context.provisioner == "karpenter"
        and allowed
        and node_class not in allowed
    ):
        errors.append(
            FieldError(
                path=annotation_path(ANNOTATION_NODE_CLASS),
                message=f'"{node_class}" is not a KAITO-managed NodeClass, supported values are '
                f"[{' '.join(sorted(allowed))}]",
            )
        )
    return errors


def validate_toggles(ws: Workspace) -> list[FieldError]:
    """C1/C2: exactly one of inference and tuning."""
    if ws.inference is None and ws.tuning is None:
        return [
            FieldError(
                path="spec", message="Either Inference or Tuning must be specified, not neither"
            )
        ]
    if ws.inference is not None and ws.tuning is not None:
        return [
            FieldError(
                path="spec", message="Either Inference or Tuning must be specified, but not both"
            )
        ]
    return []
