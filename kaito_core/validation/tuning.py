"""``spec.tuning``: method, training ConfigMap, input, output, preset; one node, no partition.

Pure: no I/O, no clock, no logging.

Upstream's ``TuningSpec.validateCreate`` / ``validateUpdate`` and
``ResourceSpec.validateCreateWithTuning``. With no ``tuning.config`` the chart's template for the
method (``lora-params-template`` / ``qlora-params-template``) is validated; its content is built in.
"""

from __future__ import annotations

from kaito_core.api.types import DataSource, TuningSpec
from kaito_core.errors import FieldError
from kaito_core.validation.configmaps import (
    TRAINING_CONFIG_KEY,
    TUNING_TEMPLATES,
    builtin_config_map,
    config_map_not_found,
    config_map_text,
    find_config_map,
    tuning_config_problems,
)
from kaito_core.validation.datasources import (
    validate_data_destination,
    validate_data_source,
    validate_image,
    validate_secret_name,
)
from kaito_core.validation.facts import Facts
from kaito_core.validation.inference import validate_access_mode
from kaito_core.validation.names import dns1123_label, dns1123_subdomain, quote

__all__ = [
    "TUNING_METHODS",
    "validate_tuning_config",
    "validate_tuning_create",
    "validate_tuning_resource",
    "validate_tuning_update",
]

T = "spec.tuning"
TUNING_METHODS = ("lora", "qlora")


def validate_tuning_resource(facts: Facts) -> list[FieldError]:
    """Tuning runs on one node and never on a GPU partition."""
    resource = facts.ws.resource
    errors: list[FieldError] = []
    if resource is not None and resource.count is not None and resource.count > 1:
        errors.append(
            FieldError(
                path="spec.resource.count",
                message="Tuning does not currently support multinode configurations. Please set "
                "the node count to 1. Future support with DeepSpeed will allow this.",
            )
        )
    if resource is not None and resource.partition is not None:
        errors.append(
            FieldError(
                path="spec.resource.partition",
                message="GPU partitioning is not supported for tuning workloads",
            )
        )
    return errors


def validate_tuning_config(facts: Facts, tuning: TuningSpec) -> list[FieldError]:
    """T2: the training ConfigMap (the user's, or the method's default template)."""
    method = (tuning.method or "").lower()
    path = f"{T}.config"
    if tuning.config:
        if problems := dns1123_subdomain(tuning.config):
            return [
                FieldError(
                    path=path,
                    message=f"invalid value {quote(tuning.config)}: " + "; ".join(problems),
                )
            ]
        name, namespace = tuning.config, facts.ws.namespace
        found = find_config_map(facts.context, namespace, name)
        if found.missing:
            return [config_map_not_found(path, name, namespace)]
        manifest = found.manifest
    elif method in TUNING_TEMPLATES:
        name = TUNING_TEMPLATES[method]
        manifest = builtin_config_map(name, facts.context.release_namespace)
    else:
        return []
    if manifest is None:
        return []
    text, problem = config_map_text(manifest, TRAINING_CONFIG_KEY)
    if problem is not None:
        return [FieldError(path=path, message=problem)]
    if text is None:
        return [
            FieldError(path=path, message=f"missing {TRAINING_CONFIG_KEY} in ConfigMap '{name}'")
        ]
    return [FieldError(path=path, message=m) for m in tuning_config_problems(text, method, name)]


def _validate_preset(facts: Facts, tuning: TuningSpec) -> list[FieldError]:
    """T5: a preset the catalog can tune, with the chosen method."""
    preset = tuning.preset
    if preset is None:
        return [FieldError(path=f"{T}.preset", message="required field is missing")]
    errors = validate_access_mode(preset, f"{T}.preset")
    path = f"{T}.preset.name"
    if not preset.name:
        return [*errors, FieldError(path=path, message="required field is missing")]
    lookup = facts.lookup(preset.name, "tuning")
    model = lookup.model
    if model is None:
        return [*errors, FieldError(path=path, message=lookup.message or "")]
    if model.tuning is None:
        return [
            *errors,
            FieldError(path=path, message=f"Unsupported tuning preset name {preset.name}"),
        ]
    method = (tuning.method or "").lower()
    if method in TUNING_METHODS and method not in model.tuning.methods:
        errors.append(
            FieldError(
                path=f"{T}.method",
                message=f"preset {preset.name} does not support tuning method {method}",
            )
        )
    return errors


def validate_tuning_create(facts: Facts, tuning: TuningSpec) -> list[FieldError]:
    """T1-T5."""
    errors: list[FieldError] = []
    method = tuning.method or ""
    if method.lower() not in TUNING_METHODS:
        errors.append(
            FieldError(
                path=f"{T}.method",
                message=f"invalid value {quote(method)}: supported tuning methods are lora and "
                "qlora",
            )
        )
    errors += validate_tuning_config(facts, tuning)
    if tuning.input is None:
        errors.append(FieldError(path=f"{T}.input", message="required field is missing"))
    else:
        errors += validate_data_source(tuning.input, f"{T}.input", role="input")
        errors += _validate_input_name(tuning.input)
    if tuning.output is None:
        errors.append(FieldError(path=f"{T}.output", message="required field is missing"))
    else:
        errors += validate_data_destination(tuning.output, f"{T}.output")
    errors += _validate_preset(facts, tuning)
    return errors


def _validate_input_name(source: DataSource) -> list[FieldError]:
    """An image input's pull secrets go in a volume named ``docker-config-<name>-tuning-input``
    (upstream's name), so the input name must make that a valid volume name (a DNS-1123 label).
    Upstream does not check, and the Job is refused by the API server instead."""
    if not (source.image and source.image_pull_secrets):
        return []
    name = source.name or ""
    problems = dns1123_label(f"docker-config-{name}-tuning-input")
    if not problems:
        return []
    return [
        FieldError(
            path=f"{T}.input.name",
            message=f"invalid value {quote(name)}: it names the pull-secret volume "
            f"docker-config-{name}-tuning-input, which is not a valid volume name: "
            + "; ".join(problems),
        )
    ]


def validate_tuning_update(facts: Facts, new: TuningSpec, old: TuningSpec) -> list[FieldError]:
    """U11: input and output stay set, the input name, preset and method do not change."""
    errors: list[FieldError] = []
    if new.input is None:
        errors.append(FieldError(path=f"{T}.input", message="required field is missing"))
    else:
        if old.input is not None and new.input.name != old.input.name:
            errors.append(
                FieldError(
                    path=f"{T}.input.name",
                    message="During tuning Name field cannot be changed once set",
                )
            )
        if new.input.image:
            errors += validate_image(new.input.image, f"{T}.input.image", "input")
    if new.output is None:
        errors.append(FieldError(path=f"{T}.output", message="required field is missing"))
    else:
        if new.output.image:
            errors += validate_image(new.output.image, f"{T}.output.image", "output")
        if new.output.image_push_secret:
            errors += validate_secret_name(
                new.output.image_push_secret,
                f"{T}.output.imagePushSecret",
                what="image push Secret",
            )
    if new.preset != old.preset:
        errors.append(FieldError(path=f"{T}.preset", message="Preset cannot be changed"))
    if (new.method or "").lower() != (old.method or "").lower():
        errors.append(FieldError(path=f"{T}.method", message="Method cannot be changed"))
    return errors
