"""``spec.inference``: preset or template, runtime support, secrets, adapters, the config map.

Pure: no I/O, no clock, no logging.

Upstream's ``InferenceSpec.validateCreate`` / ``validateUpdate``,
``AdapterSpec.validateCreateorUpdate``, ``validateInferenceConfig`` and
``validateStreamingCSIDriver``. Adapters are checked on create
as well as on update, and a vLLM adapter strength of exactly 1.0 is accepted as the identity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from kaito_core.api.types import AdapterSpec, InferenceSpec, PresetSpec
from kaito_core.errors import FieldError
from kaito_core.validation.configmaps import (
    max_model_len_problem,
    read_inference_config,
)
from kaito_core.validation.datasources import (
    source_kinds,
    validate_image,
    validate_secret_name,
)
from kaito_core.validation.facts import ANNOTATION_MODEL_STREAMING, Facts
from kaito_core.validation.names import dns1123_subdomain, quote
from kaito_presets import ModelPreset

__all__ = [
    "MAX_ADAPTERS",
    "parse_strength",
    "validate_access_mode",
    "validate_adapters",
    "validate_inference_config",
    "validate_inference_create",
    "validate_inference_update",
    "validate_streaming",
]

INF = "spec.inference"
MAX_ADAPTERS = 10
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_STREAMING_CSI = {"azure": "blob.csi.azure.com"}


def parse_strength(text: str) -> tuple[float | None, str | None]:
    """Go's ``strconv.ParseFloat`` on an adapter strength: the value, or the parse error."""
    if _FLOAT.fullmatch(text) or _SPECIAL.fullmatch(text):
        value = float(text)
        return value, None
    return None, f"strconv.ParseFloat: parsing {quote(text)}: invalid syntax"


def validate_access_mode(preset: PresetSpec, base: str) -> list[FieldError]:
    """The CRD enum ``public|private``."""
    if preset.access_mode is not None and preset.access_mode not in ("public", "private"):
        return [
            FieldError(
                path=f"{base}.accessMode",
                message=f"Unsupported value: {quote(preset.access_mode)}: supported values: "
                '"public", "private"',
            )
        ]
    return []


# --- adapters -----------------------------------------------------------------------------------


def _adapter_name(adapter: AdapterSpec) -> str:
    return (adapter.source.name if adapter.source else None) or ""


def _validate_adapter(facts: Facts, adapter: AdapterSpec, base: str) -> list[FieldError]:
    """A1-A6 for one adapter, plus the strength rule of the runtime."""
    source = adapter.source
    if source is None:
        return [FieldError(path=f"{base}.source", message="required field is missing")]
    src = f"{base}.source"
    errors: list[FieldError] = []
    name = source.name or ""
    if not name:
        errors.append(
            FieldError(path=f"{src}.name", message="Name of Adapter field must be specified")
        )
    elif problems := dns1123_subdomain(name):
        errors.append(
            FieldError(
                path=f"{src}.name", message=f"invalid value {quote(name)}: " + "; ".join(problems)
            )
        )
    kinds = source_kinds(source)
    if source.urls:
        errors.append(
            FieldError(path=f"{src}.urls", message="URLs are not supported as adapter source")
        )
    if not source.image and source.volume_source is None:
        errors.append(
            FieldError(
                path=src, message="Either Image or Volume must be specified for adapter source"
            )
        )
    elif len(kinds) > 1:
        errors.append(
            FieldError(path=src, message="Exactly one of URLs, Volume, or Image must be specified")
        )
    if source.image:
        errors += validate_image(source.image, f"{src}.image", "adapter")
    for index, secret in enumerate(source.image_pull_secrets or ()):
        errors += validate_secret_name(
            secret, f"{src}.imagePullSecrets[{index}]", what="image pull Secret"
        )
    errors += _validate_strength(facts, adapter, base, name)
    return errors


def _validate_strength(
    facts: Facts, adapter: AdapterSpec, base: str, name: str
) -> list[FieldError]:
    if adapter.strength is None:
        return []
    path = f"{base}.strength"
    value, problem = parse_strength(adapter.strength)
    if value is None:
        return [
            FieldError(path=path, message=f"Invalid strength value for Adapter '{name}': {problem}")
        ]
    if math.isnan(value) or not 0 <= value <= 1:
        return [
            FieldError(
                path=path, message=f"Strength value for Adapter '{name}' must be between 0 and 1"
            )
        ]
    preset = facts.inference_preset is not None
    if preset and facts.runtime == "vllm" and value != 1.0:
        return [
            FieldError(
                path=path,
                message="Runtime validation: vLLM does not support adapter strength (only 1.0, "
                f"the identity, is accepted; got {quote(adapter.strength)})",
            )
        ]
    return []


def validate_adapters(
    facts: Facts, adapters: Sequence[AdapterSpec], model: ModelPreset | None
) -> list[FieldError]:
    """I7, I8 and every adapter's own rules; vLLM's LoRA support of the model."""
    errors: list[FieldError] = []
    if len(adapters) > MAX_ADAPTERS:
        errors.append(
            FieldError(
                path=f"{INF}.adapters",
                message=f"Number of Adapters exceeds the maximum limit, maximum of {MAX_ADAPTERS} "
                "allowed",
            )
        )
    seen: set[str] = set()
    for index, adapter in enumerate(adapters):
        base = f"{INF}.adapters[{index}]"
        errors += _validate_adapter(facts, adapter, base)
        name = _adapter_name(adapter)
        if name and name in seen:
            errors.append(
                FieldError(
                    path=f"{base}.source.name",
                    message=f"Duplicate adapter source name found: {name}",
                )
            )
        seen.add(name)
    if adapters and model is not None and facts.runtime == "vllm" and model.disallow_lora:
        errors.append(
            FieldError(
                path=f"{INF}.adapters",
                message=f"Runtime validation: vLLM does not support LoRA adapters for this model: "
                f"{model.name}",
            )
        )
    return errors


# --- create -------------------------------------------------------------------------------------


def _validate_preset(facts: Facts, preset: PresetSpec) -> list[FieldError]:
    """I2-I6: a known preset, served by the runtime, with the secret it needs (and no other)."""
    base = f"{INF}.preset"
    errors = validate_access_mode(preset, base)
    if not preset.name:
        return [*errors, FieldError(path=f"{base}.name", message="required field is missing")]
    lookup = facts.lookup(preset.name)
    if lookup.model is None:
        return [*errors, FieldError(path=f"{base}.name", message=lookup.message or "")]
    model = lookup.model
    if facts.runtime == "transformers" and not (
        model.transformers is not None and model.supports_runtime("transformers")
    ):
        errors.append(
            FieldError(
                path=f"{base}.name",
                message=f"Runtime validation: model {model.name} does not support inference with "
                "Huggingface Transformers runtime",
            )
        )
    options = preset.preset_options
    if facts.ws.is_v1alpha1:
        return errors + _private_access(preset, base)
    secret = (options.model_access_secret if options else None) or ""
    secret_path = f"{base}.presetOptions.modelAccessSecret"
    if model.download_at_runtime and model.download_auth_required and not secret:
        errors.append(
            FieldError(
                path=secret_path,
                message="This preset requires authentication and needs a modelAccessSecret with "
                "HF_TOKEN key under presetOptions to download the model",
            )
        )
    if not model.download_at_runtime and secret:
        errors.append(
            FieldError(
                path=secret_path,
                message="This preset does not require a modelAccessSecret with HF_TOKEN key under "
                "presetOptions",
            )
        )
    if secret:
        errors += validate_secret_name(secret, secret_path, what="Secret with HF_TOKEN")
    return errors


def _private_access(preset: PresetSpec, base: str) -> list[FieldError]:
    """v1alpha1: the private access mode pulls the preset's image, which must be given."""
    if preset.access_mode != "private":
        return []
    image = (preset.preset_options.image if preset.preset_options else None) or ""
    path = f"{base}.presetOptions.image"
    if not image:
        return [
            FieldError(
                path=path,
                message="When AccessMode is private, an image must be provided in PresetOptions",
            )
        ]
    return validate_image(image, path, "preset")


def validate_inference_create(facts: Facts, inference: InferenceSpec) -> list[FieldError]:
    """I1-I8 and the adapters' own rules."""
    errors: list[FieldError] = []
    if inference.preset is None and inference.template is None:
        errors.append(FieldError(path=INF, message="Preset or Template must be specified"))
    elif inference.preset is not None and inference.template is not None:
        errors.append(
            FieldError(path=INF, message="Preset and Template cannot be set at the same time")
        )
    if inference.preset is not None:
        errors += _validate_preset(facts, inference.preset)
    if inference.config:
        errors += validate_secret_name(inference.config, f"{INF}.config", what="ConfigMap")
    errors += validate_adapters(facts, inference.adapters or (), facts.model)
    return errors


def validate_inference_config(facts: Facts, inference: InferenceSpec) -> list[FieldError]:
    """K1-K4: the ``inference.config`` ConfigMap exists, parses, and its max-model-len fits."""
    name = inference.config
    if not name or facts.runtime != "vllm" or dns1123_subdomain(name):
        return []
    path = f"{INF}.config"
    namespace = facts.ws.namespace
    errors, params = read_inference_config(facts.context, namespace, name, path)
    if params is None:
        return errors
    model = facts.model
    limit = model.token_limit if model is not None else 0
    if (problem := max_model_len_problem(params, limit)) is not None:
        return [FieldError(path=path, message=problem)]
    return []


def validate_streaming(facts: Facts) -> list[FieldError]:
    """Model streaming needs a CSI driver for the cloud (``blob.csi.azure.com`` on Azure)."""
    ws = facts.ws
    if (
        not facts.gates.model_streaming
        or facts.inference_preset is None
        or ws.annotations.get(ANNOTATION_MODEL_STREAMING) == "disabled"
        or facts.runtime != "vllm"
    ):
        return []
    cloud = facts.context.cloud_provider
    if cloud not in _STREAMING_CSI:
        return [
            FieldError(
                path=f"{INF}.preset",
                message=f"unsupported cloud provider {quote(cloud)} for model streaming",
            )
        ]
    return []


# --- update -------------------------------------------------------------------------------------


def validate_inference_update(
    facts: Facts, new: InferenceSpec, old: InferenceSpec
) -> list[FieldError]:
    """U10: the preset is immutable, the template cannot appear or vanish, adapters are valid."""
    errors: list[FieldError] = []
    if new.preset != old.preset:
        errors.append(FieldError(path=f"{INF}.preset", message="field is immutable"))
    if (new.template is None) != (old.template is None):
        errors.append(
            FieldError(
                path=f"{INF}.template", message="field cannot be unset/set if it was set/unset"
            )
        )
    errors += validate_adapters(facts, new.adapters or (), facts.model)
    return errors
