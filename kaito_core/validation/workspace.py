"""`validate`: the admission rules for a Workspace, on create and on update (v1beta1).

Pure: no I/O, no clock, no logging.

Upstream's ``Workspace.Validate`` (``api/v1beta1/workspace_validation.go``) with its paths made
real wire paths, the CRD's own constraints added, and the defects listed in ``docs/validation.md``
fixed. v1alpha1 Workspaces go to `kaito_core.validation.v1alpha1`.
"""

from __future__ import annotations

from kaito_core.api.types import Workspace
from kaito_core.errors import FieldError, SpecError
from kaito_core.gpu import GpuConfig
from kaito_core.render.meta import sanitized_match_labels
from kaito_core.validation import v1alpha1
from kaito_core.validation.context import ValidationContext
from kaito_core.validation.facts import ANNOTATION_MODEL_STREAMING, Facts, annotation_path
from kaito_core.validation.immutability import update_common
from kaito_core.validation.inference import (
    validate_inference_config,
    validate_inference_create,
    validate_streaming,
)
from kaito_core.validation.resource import (
    byo_node_gpus,
    gpu_policy,
    validate_count,
    validate_instance_type_nap,
    validate_memory,
    validate_node_labels,
    validate_partition,
    validate_selector,
)
from kaito_core.validation.toplevel import (
    validate_annotation_values,
    validate_metadata,
    validate_toggles,
)
from kaito_core.validation.tuning import validate_tuning_create, validate_tuning_resource
from kaito_presets import Catalog, GpuSku, default_catalog

__all__ = ["validate"]

R = "spec.resource"


def validate(
    workspace: Workspace,
    *,
    old: Workspace | None = None,
    catalog: Catalog | None = None,
    context: ValidationContext | None = None,
) -> list[FieldError]:
    """Every problem the admission webhook would report for `workspace` (creating it, or updating
    `old` to it), as field errors with wire paths; empty when the Workspace is valid.

    CRD defaults are applied first (``count: 1``, ``accessMode: public``, the v1alpha1 instance
    type), as the API server does before admission. Pure: no I/O, no clock, no logging.
    """
    ws = workspace.with_defaults()
    previous = old.with_defaults() if old is not None else None
    facts = Facts(
        ws,
        catalog=catalog if catalog is not None else default_catalog(),
        context=context if context is not None else ValidationContext(),
        old=previous,
    )
    errors = validate_metadata(ws, previous)
    if ws.is_v1alpha1:
        errors += (
            v1alpha1.validate_create(facts)
            if previous is None
            else v1alpha1.validate_update(facts, previous)
        )
    elif previous is None:
        errors += _create(facts)
    else:
        errors += _update(facts, previous)
    return list(dict.fromkeys(errors))


# --- resources ---------------------------------------------------------------------------------


def _sku_checks(
    facts: Facts, sku: GpuSku, *, memory: bool, distributed_rule: bool
) -> list[FieldError]:
    model = facts.model if facts.ws.inference is not None else None
    if (
        facts.ws.tuning is not None
        and facts.ws.tuning.preset is not None
        and facts.ws.tuning.preset.name
    ):
        model = facts.lookup(facts.ws.tuning.preset.name, "tuning").model
    if model is None:
        return []
    errors = gpu_policy(facts, GpuConfig.from_sku(sku), f"{R}.instanceType")
    if memory and facts.ws.inference is not None:
        errors += validate_memory(
            facts,
            model,
            node_memory_gib=sku.gpu_memory_gib,
            machines=facts.count,
            where=f"Instance type {facts.instance_type}",
            distributed_rule=distributed_rule,
        )
    return errors


def _byo_checks(facts: Facts) -> list[FieldError]:
    """R5: the BYO nodes matching the selector, when the node inventory is known."""
    model = facts.model
    if model is None or not facts.context.nodes:
        return []
    gpus, errors = byo_node_gpus(facts.context.nodes, sanitized_match_labels(facts.ws))
    if gpus is None:
        return errors
    try:
        gpu = GpuConfig.from_node_labels(gpus.labels)
    except (SpecError, ValueError, KeyError):
        gpu = None
    if gpu is not None:
        errors += gpu_policy(facts, gpu, f"{R}.labelSelector")
    errors += validate_memory(
        facts,
        model,
        node_memory_gib=gpus.node_memory_gib,
        machines=gpus.nodes,
        where=f"the {gpus.nodes} node(s) matching the label selector ({gpus.product})",
    )
    return errors


def _instance_type_rules(facts: Facts) -> list[FieldError]:
    """C3/C4: BYO wants no instance type, auto-provisioning needs one."""
    if not facts.nap and facts.instance_type:
        return [
            FieldError(
                path=f"{R}.instanceType",
                message="instanceType must be empty when node auto-provisioning is disabled (BYO "
                "scenario)",
            )
        ]
    if facts.nap and not facts.instance_type:
        return [
            FieldError(
                path=f"{R}.instanceType",
                message="instanceType is required when node auto-provisioning is enabled",
            )
        ]
    return []


def _resource_for_inference(facts: Facts) -> list[FieldError]:
    resource = facts.ws.resource
    partition = resource.partition if resource else None
    if not facts.nap:
        if partition is not None:
            return validate_partition(facts, facts.model)
        return _byo_checks(facts)
    errors: list[FieldError] = []
    if partition is not None:
        errors.append(
            FieldError(
                path=f"{R}.partition",
                message="GPU partitioning is only supported with BYO nodes "
                "(disableNodeAutoProvisioning=true)",
            )
        )
    sku_errors, sku = validate_instance_type_nap(facts)
    errors += sku_errors
    if sku is not None:
        errors += _sku_checks(facts, sku, memory=facts.runtime != "vllm", distributed_rule=True)
    return errors


def _resource_for_tuning(facts: Facts) -> list[FieldError]:
    errors = validate_tuning_resource(facts)
    if facts.nap:
        sku_errors, sku = validate_instance_type_nap(facts)
        errors += sku_errors
        if sku is not None:
            errors += _sku_checks(facts, sku, memory=False, distributed_rule=False)
    return errors


# --- create and update ---------------------------------------------------------------------------


def _create(facts: Facts) -> list[FieldError]:
    ws = facts.ws
    errors = validate_toggles(ws)
    errors += _instance_type_rules(facts)
    errors += validate_annotation_values(facts, old=None)
    errors += validate_count(ws.resource)
    errors += validate_selector(ws.resource)
    errors += validate_node_labels(facts)
    if ws.inference is not None:
        errors += _resource_for_inference(facts)
        errors += validate_inference_create(facts, ws.inference)
        errors += validate_inference_config(facts, ws.inference)
        errors += validate_streaming(facts)
    if ws.tuning is not None:
        errors += _resource_for_tuning(facts)
        errors += validate_tuning_create(facts, ws.tuning)
    return errors


def _update(facts: Facts, old: Workspace) -> list[FieldError]:
    ws = facts.ws
    errors = update_common(facts, old)
    new_it, old_it = (
        facts.instance_type,
        (old.resource.instance_type if old.resource else None) or "",
    )
    path = f"{R}.instanceType"
    if not facts.nap:
        if not old_it and new_it:
            errors.append(
                FieldError(
                    path=path,
                    message="instanceType must be empty when node auto-provisioning is disabled "
                    "(BYO scenario)",
                )
            )
        elif old_it and new_it and new_it != old_it:
            errors.append(FieldError(path=path, message="instanceType cannot be changed once set"))
    elif not new_it:
        errors.append(
            FieldError(
                path=path, message="instanceType is required when node auto-provisioning is enabled"
            )
        )
    elif old_it and new_it != old_it:
        errors.append(
            FieldError(
                path=path,
                message="instanceType cannot be changed once set when node auto-provisioning is "
                "enabled",
            )
        )
    errors += validate_annotation_values(facts, old=old.annotations)
    if facts.gates.model_streaming and ws.annotations.get(
        ANNOTATION_MODEL_STREAMING
    ) != old.annotations.get(ANNOTATION_MODEL_STREAMING):
        errors.append(
            FieldError(
                path=annotation_path(ANNOTATION_MODEL_STREAMING),
                message=f"annotation {ANNOTATION_MODEL_STREAMING} is immutable after creation",
            )
        )
    return errors
