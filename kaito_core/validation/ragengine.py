"""`validate_ragengine`: the admission rules for a RAGEngine, on create and on update.

Pure: no I/O, no clock, no logging.

Upstream's ``RAGEngine.Validate`` (``api/v1beta1/ragengine_validation.go`` and its v1alpha1
twin): the create rules run on every request, the update rules on top when there is an old
object. The spec rules are in `kaito_core.validation.ragengine_spec`; this module adds the
metadata rules and the update rules (upstream reports them under ``resource.resource``; here they
are ``spec.compute...``). ``docs/ragengine.md`` lists every rule with its message.
"""

from __future__ import annotations

import re

from kaito_core.api.ragengine import RAGEngine
from kaito_core.errors import FieldError
from kaito_core.validation.context import ValidationContext
from kaito_core.validation.names import (
    dns1123_label,
    quote,
    validate_annotations,
    validate_labels,
)
from kaito_core.validation.ragengine_spec import (
    validate_compute,
    validate_embedding,
    validate_guardrails,
    validate_inference_service,
    validate_storage,
)
from kaito_core.validation.resource import selector_as_map
from kaito_presets import Catalog, default_catalog

__all__ = ["MSG_IMMUTABLE", "validate_ragengine"]

C = "spec.compute"
MSG_IMMUTABLE = "field is immutable"
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def _metadata(rag: RAGEngine) -> list[FieldError]:
    """M1-M3: the name is a DNS-1035 label (it names the RAG Service), the namespace a DNS-1123
    label; labels and annotations follow Kubernetes' rules."""
    meta = rag.metadata
    errors: list[FieldError] = []
    if not meta.name:
        if not (meta.extra or {}).get("generateName"):
            errors.append(
                FieldError(path="metadata.name", message="name or generateName is required")
            )
    elif len(meta.name) > 63 or not _DNS1035.fullmatch(meta.name):
        errors.append(
            FieldError(
                path="metadata.name",
                message=f"invalid value {quote(meta.name)}: a RAGEngine's name is the name of its "
                "Service, so it must be a DNS-1035 label: at most 63 lower case alphanumeric "
                "characters or '-', starting with a letter and ending with an alphanumeric "
                "character",
            )
        )
    if meta.namespace and (problems := dns1123_label(meta.namespace)):
        errors.append(
            FieldError(
                path="metadata.namespace",
                message=f"invalid value {quote(meta.namespace)}: " + "; ".join(problems),
            )
        )
    errors += validate_labels(rag.labels, "metadata.labels")
    errors += validate_annotations(rag.annotations, "metadata.annotations")
    return errors


def _spec(rag: RAGEngine, catalog: Catalog, context: ValidationContext) -> list[FieldError]:
    spec = rag.spec
    if spec is None:
        return [FieldError(path="spec.embedding", message="Embedding must be specified")]
    errors = validate_inference_service(spec.inference_service, url_required=rag.is_v1alpha1)
    errors += validate_embedding(spec.embedding)
    errors += validate_compute(rag, catalog=catalog, context=context)
    errors += validate_storage(spec.storage, v1alpha1=rag.is_v1alpha1)
    errors += validate_guardrails(rag, context=context)
    return errors


def _instance_type_update(
    new: str, old: str, *, context: ValidationContext, v1alpha1: bool
) -> list[FieldError]:
    path = f"{C}.instanceType"
    if v1alpha1:
        return [] if new == old else [FieldError(path=path, message=MSG_IMMUTABLE)]
    if not context.nap:
        if not old and new:
            return [
                FieldError(
                    path=path,
                    message="instanceType must be empty when node auto-provisioning is disabled "
                    "(BYO scenario)",
                )
            ]
        if old and new and new != old:
            return [FieldError(path=path, message="instanceType cannot be changed once set")]
        return []
    if old and new and new != old:
        return [
            FieldError(
                path=path,
                message="instanceType cannot be changed once set when node auto-provisioning is "
                "enabled",
            )
        ]
    return []


def _update(new: RAGEngine, old: RAGEngine, context: ValidationContext) -> list[FieldError]:
    """U1-U5: compute cannot appear or vanish; its count, partition, instance type and label
    selector (as a map) are fixed."""
    mine, theirs = new.compute, old.compute
    if mine is not None and theirs is None:
        return [FieldError(path=C, message="Compute resources cannot be added after creation")]
    if mine is None and theirs is not None:
        return [FieldError(path=C, message="Compute resources cannot be removed after creation")]
    if mine is None or theirs is None:
        return []
    errors: list[FieldError] = []
    if mine.count is not None and theirs.count is not None and mine.count != theirs.count:
        errors.append(FieldError(path=f"{C}.count", message=MSG_IMMUTABLE))
    if mine.partition != theirs.partition:
        errors.append(FieldError(path=f"{C}.partition", message=MSG_IMMUTABLE))
    errors += _instance_type_update(
        new.instance_type, old.instance_type, context=context, v1alpha1=new.is_v1alpha1
    )
    new_map, new_problem = selector_as_map(mine.label_selector)
    old_map, old_problem = selector_as_map(theirs.label_selector)
    if new_problem is not None or old_problem is not None:
        errors.append(
            FieldError(
                path=f"{C}.labelSelector", message="Only allow matchLabels or 'IN' matchExpression"
            )
        )
    elif new_map != old_map:
        errors.append(FieldError(path=f"{C}.labelSelector", message=MSG_IMMUTABLE))
    return errors


def validate_ragengine(
    rag: RAGEngine,
    *,
    old: RAGEngine | None = None,
    catalog: Catalog | None = None,
    context: ValidationContext | None = None,
) -> list[FieldError]:
    """Every problem the admission webhook would report for `rag` (creating it, or updating
    `old` to it), as field errors with wire paths; empty when the RAGEngine is valid.

    CRD defaults are applied first (``compute.count: 1``; the v1alpha1 instance type), as the
    API server does before admission. `context` says what the webhook knows about the cluster:
    node auto-provisioning, the cloud's SKU table, and (when not ``None``) the ConfigMaps that
    exist, for the guardrails policy.

    Pure: no I/O, no clock, no logging.
    """
    catalog = catalog if catalog is not None else default_catalog()
    context = context if context is not None else ValidationContext()
    new = rag.with_defaults()
    errors = _metadata(new) + _spec(new, catalog, context)
    if old is not None:
        errors += _update(new, old.with_defaults(), context)
    return list(dict.fromkeys(errors))
