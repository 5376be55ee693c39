"""The ConfigMaps a Workspace points at: ``inference_config.yaml`` and ``training_config.yaml``.

Pure: no I/O, no clock, no logging.

KAITO's chart installs three templates in its release namespace: ``lora-params-template`` and
``qlora-params-template`` (the tuning defaults used when ``tuning.config`` is empty) and
``inference-params-template`` (read by v1alpha1 when ``inference.config`` is empty). Their
content is built in here, so they are always found.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from kaito_core.api.yamlsafe import ManifestLoadError, YamlLimits, load_yaml
from kaito_core.errors import FieldError
from kaito_core.validation.context import ValidationContext
from kaito_core.validation.names import quote

__all__ = [
    "CONFIG_VALUE_LIMITS",
    "INFERENCE_CONFIG_KEY",
    "INFERENCE_TEMPLATE",
    "TRAINING_CONFIG_KEY",
    "TUNING_SECTIONS",
    "TUNING_TEMPLATES",
    "ConfigMapLookup",
    "builtin_config_map",
    "config_map_not_found",
    "config_map_text",
    "find_config_map",
    "max_model_len_problem",
    "parse_inference_config",
    "read_inference_config",
    "tuning_config_problems",
    "vllm_key_problem",
    "vllm_value_problem",
]

INFERENCE_CONFIG_KEY = "inference_config.yaml"
TRAINING_CONFIG_KEY = "training_config.yaml"
INFERENCE_TEMPLATE = "inference-params-template"
#: Default tuning ConfigMap per method.
TUNING_TEMPLATES = {"lora": "lora-params-template", "qlora": "qlora-params-template"}
TUNING_SECTIONS = (
    "ModelConfig",
    "QuantizationConfig",
    "LoraConfig",
    "TrainingArguments",
    "DatasetConfig",
    "DataCollator",
)

_TRAINING_COMMON = """\
  ModelConfig:
    torch_dtype: "bfloat16"
    local_files_only: true
    device_map: "auto"
  LoraConfig:
    r: 8
    lora_alpha: 8
    lora_dropout: 0.0
  TrainingArguments:
    output_dir: "/mnt/results"
    ddp_find_unused_parameters: false
    save_strategy: "no"
    per_device_train_batch_size: 1
  DataCollator:
    mlm: true
  DatasetConfig:
    shuffle_dataset: true
    train_test_split: 1
"""
_BUILTIN_DATA: dict[str, dict[str, str]] = {
    "lora-params-template": {
        TRAINING_CONFIG_KEY: "training_config:\n"
        + _TRAINING_COMMON
        + "  QuantizationConfig:\n    load_in_4bit: false\n"
    },
    "qlora-params-template": {
        TRAINING_CONFIG_KEY: "training_config:\n" + _TRAINING_COMMON + "  QuantizationConfig:\n"
        "    load_in_4bit: true\n"
        '    bnb_4bit_quant_type: "nf4"\n'
        '    bnb_4bit_compute_dtype: "bfloat16"\n'
        "    bnb_4bit_use_double_quant: true\n"
    },
    INFERENCE_TEMPLATE: {
        INFERENCE_CONFIG_KEY: "vllm:\n  cpu-offload-gb: 0\nkv_cache_cpu_memory_utilization: 0.5\n"
    },
}

#: A ConfigMap holds at most 1 MiB in all; the YAML of one value may not expand past that.
CONFIG_VALUE_LIMITS = YamlLimits(
    input_bytes=1024 * 1024, document_bytes=1024 * 1024, total_bytes=1024 * 1024
)


def builtin_config_map(name: str, namespace: str) -> dict[str, Any] | None:
    """One of the chart's template ConfigMaps, as it sits in the release namespace."""
    data = _BUILTIN_DATA.get(name)
    if data is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


class ConfigMapLookup:
    """The result of looking a ConfigMap up: found, known to be missing, or not knowable."""

    def __init__(self, manifest: Mapping[str, Any] | None, *, known: bool) -> None:
        self.manifest = manifest
        self.known = known

    @property
    def missing(self) -> bool:
        return self.known and self.manifest is None


def find_config_map(context: ValidationContext, namespace: str, name: str) -> ConfigMapLookup:
    """Look a ConfigMap up in the context (the built-in templates live in the release namespace)."""
    if context.config_maps is not None:
        found = context.config_maps.get((namespace, name))
        if found is not None:
            return ConfigMapLookup(found, known=True)
    if namespace == context.release_namespace:
        builtin = builtin_config_map(name, namespace)
        if builtin is not None:
            return ConfigMapLookup(builtin, known=True)
    return ConfigMapLookup(None, known=context.config_maps is not None)


def config_map_not_found(path: str, name: str, namespace: str) -> FieldError:
    """The webhook's error for a ``config`` naming a ConfigMap that does not exist."""
    return FieldError(
        path=path,
        message=f"ConfigMap '{name}' specified in 'config' not found in namespace '{namespace}'",
    )


def read_inference_config(
    context: ValidationContext, namespace: str, name: str, path: str
) -> tuple[list[FieldError], dict[str, str] | None]:
    """The vLLM parameters of the inference ConfigMap ``namespace/name``: ``(errors, params)``;
    params is None when it is missing, unreadable (errors say why) or not known."""
    found = find_config_map(context, namespace, name)
    if found.missing:
        return [config_map_not_found(path, name, namespace)], None
    if found.manifest is None:
        return [], None
    text, problem = config_map_text(found.manifest, INFERENCE_CONFIG_KEY)
    if problem is not None:
        return [FieldError(path=path, message=problem)], None
    if text is None:
        message = f"missing {INFERENCE_CONFIG_KEY} in ConfigMap '{name}'"
        return [FieldError(path=path, message=message)], None
    params, problem = parse_inference_config(text)
    if problem is not None:
        return [FieldError(path=path, message=problem)], None
    return [], params


def config_map_text(manifest: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    """``(text, problem)``: the string under ``data[key]``; both None when the key is absent."""
    name = _name_of(manifest)
    data = manifest.get("data")
    if data is None:
        return None, None
    if not isinstance(data, Mapping):
        return None, f"ConfigMap '{name}' has a 'data' field that is not a map"
    if key not in data:
        return None, None
    value = data[key]
    if not isinstance(value, str):
        return None, f"ConfigMap '{name}' key {key} must hold a string"
    return value, None


def _name_of(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


def _load_yaml(text: str) -> tuple[Any, str | None]:
    """The one document of a ConfigMap value within `CONFIG_VALUE_LIMITS`, or why not."""
    try:
        return load_yaml(text, limits=CONFIG_VALUE_LIMITS), None
    except ManifestLoadError as exc:
        return None, str(exc).removeprefix("invalid YAML: ")


# --- inference_config.yaml --------------------------------------------------------------------

#: A vLLM option name as ``inference_config.yaml`` spells it under ``vllm:``: a letter, then
#: letters, digits, ``-``, ``_`` and ``.`` (nested options such as
#: ``compilation-config.level``), at most 128 characters. Every key becomes ``--KEY=VALUE`` on
#: the server's shell command line, so nothing else is accepted.
VLLM_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")


def vllm_key_problem(key: object) -> str | None:
    """Why `key` cannot be a vLLM option name under ``vllm:``, or None if it can."""
    if not isinstance(key, str):
        return f"vllm key {quote(str(key))} must be a string naming a vLLM option"
    if VLLM_KEY.fullmatch(key):
        return None
    hint = ""
    if key.startswith("-"):
        hint = " (write the option without its leading dashes)"
    elif "=" in key:
        hint = " (write the value under the key, not in it)"
    return (
        f"vllm key {quote(key)} is not a vLLM option name: a letter, then letters, digits, "
        f"'-', '_' or '.', at most 128 characters{hint}"
    )


def vllm_value_problem(key: str, value: str) -> str | None:
    """Why `value` cannot be passed to vLLM as ``--KEY=VALUE``: control characters (a NUL
    ends a command-line argument early, the others are never part of an option value)."""
    if any((ord(c) < 0x20 and c not in "\t\n") or ord(c) == 0x7F for c in value):
        return f"vllm.{key} must not contain control characters"
    return None


def _scalar_text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def parse_inference_config(text: str) -> tuple[dict[str, str], str | None]:
    """The ``vllm`` section as strings (upstream's ``{vllm: map[string]string}``), or a problem.

    Other top-level keys are allowed; a ``vllm`` that is not a map of scalars is not.
    """
    document, problem = _load_yaml(text)
    if problem is not None:
        return {}, f"Failed to parse {INFERENCE_CONFIG_KEY}: {problem}"
    if document is None:
        return {}, None
    if not isinstance(document, dict):
        return {}, f"Failed to parse {INFERENCE_CONFIG_KEY}: the document must be a map"
    section = document.get("vllm")
    if section is None:
        return {}, None
    if not isinstance(section, dict):
        return {}, f"Failed to parse {INFERENCE_CONFIG_KEY}: 'vllm' must be a map of strings"
    params: dict[str, str] = {}
    for key, value in section.items():
        if problem := vllm_key_problem(key):
            return {}, f"Invalid {INFERENCE_CONFIG_KEY}: {problem}"
        text_value = _scalar_text(value)
        if text_value is None:
            return {}, (
                f"Failed to parse {INFERENCE_CONFIG_KEY}: vllm.{key} must be a string, number "
                "or boolean"
            )
        if problem := vllm_value_problem(key, text_value):
            return {}, f"Invalid {INFERENCE_CONFIG_KEY}: {problem}"
        params[str(key)] = text_value
    return params, None


def max_model_len_problem(params: Mapping[str, str], token_limit: int) -> str | None:
    """``vllm.max-model-len`` must be an integer within the model's context window."""
    raw = params.get("max-model-len", "")
    if not raw.strip():
        return None
    text = raw.strip()
    if not re.fullmatch("[+-]?[0-9]{1,18}", text):
        return (
            f"max-model-len must be an integer: strconv.Atoi: parsing {quote(text)}: invalid syntax"
        )
    value = int(text)
    if value <= 0:
        return f"max-model-len must be a positive integer, got {value}"
    if token_limit > 0 and value > token_limit:
        return (
            f"max-model-len {value} exceeds model's maximum supported context window "
            f"{token_limit} (ModelTokenLimit)"
        )
    return None


# --- training_config.yaml ---------------------------------------------------------------------


def _type_name(value: object) -> str:
    return {
        str: "string",
        int: "int",
        float: "float64",
        list: "[]interface {}",
        dict: "map[string]interface {}",
    }.get(type(value), type(value).__name__)


def _quantization_flags(section: Mapping[Any, Any]) -> tuple[bool, bool, list[str]]:
    problems: list[str] = []
    flags = []
    for key in ("load_in_4bit", "load_in_8bit"):
        value = section.get(key)
        if value is None or isinstance(value, bool):
            flags.append(bool(value))
        else:
            problems.append(
                f"QuantizationConfig.{key}: value must be either nil or a boolean, got type "
                f"{_type_name(value)}"
            )
            flags.append(False)
    return flags[0], flags[1], problems


def _method_problems(sections: Mapping[Any, Any], method: str, cm: str) -> list[str]:
    quant = sections.get("QuantizationConfig")
    qlora_needs = (
        f"For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true in "
        f"ConfigMap '{cm}'"
    )
    if quant is None:
        return [qlora_needs] if method == "qlora" else []
    if not isinstance(quant, Mapping):
        return [f"Expected 'QuantizationConfig' in ConfigMap '{cm}' to contain a map"]
    in4, in8, problems = _quantization_flags(quant)
    if problems:
        return problems
    if in4 and in8:
        return [f"Cannot set both 'load_in_4bit' and 'load_in_8bit' to true in ConfigMap '{cm}'"]
    if method == "lora" and (in4 or in8):
        return [
            f"For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap '{cm}' must not "
            "be true"
        ]
    if method == "qlora" and not (in4 or in8):
        return [qlora_needs]
    return []


def _output_dir_problems(sections: Mapping[Any, Any], cm: str) -> list[str]:
    arguments = sections.get("TrainingArguments")
    if not isinstance(arguments, Mapping) or "output_dir" not in arguments:
        return []
    directory = arguments["output_dir"]
    if not isinstance(directory, str):
        return [f"output_dir is not a string in ConfigMap '{cm}'"]
    resolved = posixpath.normpath("/mnt/" + directory)
    if resolved == "/mnt" or not resolved.startswith("/mnt/"):
        return [f"Invalid output_dir specified: '{directory}', must be a directory"]
    return []


def tuning_config_problems(text: str, method: str, cm: str) -> list[str]:
    """Problems of a ``training_config.yaml`` for `method` (``lora``/``qlora``)."""
    document, problem = _load_yaml(text)
    if problem is not None:
        return [f"Failed to parse {TRAINING_CONFIG_KEY} in ConfigMap '{cm}': {problem}"]
    sections = document.get("training_config") if isinstance(document, dict) else None
    if not isinstance(sections, dict):
        return ["Expected 'training_config' key to contain a map"]
    problems: list[str] = []
    for section in sections:
        if not isinstance(section, str):
            problems.append("Section key must be a string")
        elif section not in TUNING_SECTIONS:
            problems.append(f"Unrecognized section: {section}")
    if method in ("lora", "qlora"):
        problems += _method_problems(sections, method, cm)
    problems += _output_dir_problems(sections, cm)
    return problems
