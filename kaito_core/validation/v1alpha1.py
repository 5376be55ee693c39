"""How ``kaito.sh/v1alpha1`` Workspaces are validated differently (upstream §2.6).

Pure: no I/O, no clock, no logging.

v1alpha1 has no node auto-provisioning switch (an instance type is always there, defaulted by
the CRD), no partitions, node classes or streaming, and no ``modelAccessSecret``. The GPU-memory
check always runs; an empty ``inference.config`` means the chart's ``inference-params-template``,
and ``max-model-len`` is required on multi-GPU nodes of less than 20 GiB per GPU or on several
nodes. The private access mode needs an image. Any change of the instance type is refused.
"""

from __future__ import annotations

from kaito_core.api.types import Workspace
from kaito_core.errors import FieldError
from kaito_core.gpu import GpuConfig
from kaito_core.validation.configmaps import (
    INFERENCE_TEMPLATE,
    max_model_len_problem,
    read_inference_config,
)
from kaito_core.validation.facts import Facts
from kaito_core.validation.immutability import update_common
from kaito_core.validation.inference import validate_inference_create
from kaito_core.validation.names import dns1123_subdomain
from kaito_core.validation.resource import (
    gpu_policy,
    validate_count,
    validate_instance_type_nap,
    validate_memory,
    validate_node_labels,
    validate_selector,
)
from kaito_core.validation.toplevel import validate_annotation_values, validate_toggles
from kaito_core.validation.tuning import (
    validate_tuning_create,
    validate_tuning_resource,
)
from kaito_presets import GpuSku

__all__ = ["MSG_MAX_MODEL_LEN_REQUIRED", "validate_create", "validate_update"]

R = "spec.resource"
MSG_MAX_MODEL_LEN_REQUIRED = (
    "max-model-len is required in the vllm section of inference_config.yaml when using multi-GPU "
    "instances with <20GB of memory per GPU or distributed inference"
)
_VERSION = "kaito.sh/v1alpha1"


def _v1beta1_only_fields(ws: Workspace) -> list[FieldError]:
    """Fields the v1alpha1 schema does not have (the API server would prune them)."""
    errors: list[FieldError] = []
    if ws.resource is not None and ws.resource.partition is not None:
        errors.append(
            FieldError(path=f"{R}.partition", message=f"unknown field: not part of {_VERSION}")
        )
    for base, preset in (
        ("spec.inference.preset", ws.inference.preset if ws.inference else None),
        ("spec.tuning.preset", ws.tuning.preset if ws.tuning else None),
    ):
        options = preset.preset_options if preset else None
        if options is not None and options.model_access_secret is not None:
            errors.append(
                FieldError(
                    path=f"{base}.presetOptions.modelAccessSecret",
                    message=f"unknown field: not part of {_VERSION}",
                )
            )
    return errors


def _inference_config(facts: Facts, sku: GpuSku | None) -> list[FieldError]:
    """The user's ConfigMap, or the default template; ``max-model-len`` where it is required."""
    inference = facts.ws.inference
    if inference is None or facts.runtime != "vllm":
        return []
    path = "spec.inference.config"
    if inference.config:
        if dns1123_subdomain(inference.config):
            return []
        name, namespace = inference.config, facts.ws.namespace
    else:
        name, namespace = INFERENCE_TEMPLATE, facts.context.release_namespace
    errors, params = read_inference_config(facts.context, namespace, name, path)
    if params is None:
        return errors
    if (problem := max_model_len_problem(params, 0)) is not None:
        return [FieldError(path=path, message=problem)]
    small_multi_gpu = sku is not None and sku.gpu_count > 1 and sku.gpu_memory_per_gpu_gib < 20
    if (
        inference.preset is not None
        and (small_multi_gpu or facts.count > 1)
        and not params.get("max-model-len", "").strip()
    ):
        return [FieldError(path=path, message=MSG_MAX_MODEL_LEN_REQUIRED)]
    return []


def _sku(facts: Facts) -> tuple[list[FieldError], GpuSku | None]:
    if not facts.instance_type:
        return [FieldError(path=f"{R}.instanceType", message="required field is missing")], None
    return validate_instance_type_nap(facts)


def _resource_for_inference(facts: Facts) -> tuple[list[FieldError], GpuSku | None]:
    errors, sku = _sku(facts)
    model = facts.model
    if sku is not None and model is not None:
        errors += gpu_policy(facts, GpuConfig.from_sku(sku), f"{R}.instanceType")
        errors += validate_memory(
            facts,
            model,
            node_memory_gib=sku.gpu_memory_gib,
            machines=facts.count,
            where=f"Instance type {facts.instance_type}",
            distributed_rule=False,
        )
    return errors, sku


def validate_create(facts: Facts) -> list[FieldError]:
    """Creating a v1alpha1 Workspace."""
    ws = facts.ws
    errors = validate_toggles(ws)
    errors += validate_node_labels(facts)
    errors += _v1beta1_only_fields(ws)
    errors += validate_annotation_values(facts, old=None, image_family_only=True)
    errors += validate_count(ws.resource)
    if ws.inference is not None:
        resource_errors, sku = _resource_for_inference(facts)
        errors += resource_errors
        errors += validate_selector(ws.resource)
        errors += validate_inference_create(facts, ws.inference)
        errors += _inference_config(facts, sku)
    if ws.tuning is not None:
        errors += validate_selector(ws.resource)
        errors += validate_tuning_resource(facts)
        sku_errors, sku = _sku(facts)
        errors += sku_errors
        tuning_preset = ws.tuning.preset
        model = (
            facts.lookup(tuning_preset.name, "tuning").model
            if tuning_preset and tuning_preset.name
            else None
        )
        if sku is not None and model is not None:
            errors += gpu_policy(facts, GpuConfig.from_sku(sku), f"{R}.instanceType")
        errors += validate_tuning_create(facts, ws.tuning)
    if ws.inference is None and ws.tuning is None:
        errors += validate_selector(ws.resource)
    return errors


def validate_update(facts: Facts, old: Workspace) -> list[FieldError]:
    """Updating a v1alpha1 Workspace: the v1beta1 update rules, and an immutable instance type."""
    errors = update_common(facts, old)
    old_it = (old.resource.instance_type if old.resource else None) or ""
    if facts.instance_type != old_it:
        errors.append(FieldError(path=f"{R}.instanceType", message="field is immutable"))
    errors += validate_annotation_values(facts, old=old.annotations, image_family_only=True)
    return errors
