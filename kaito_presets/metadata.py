"""The metadata-source seam: presets for Hugging Face models that are not in the catalog.

Pure: no I/O, no clock, no logging.

Upstream fetches ``config.json`` and the file tree from the Hugging Face Hub for any ``org/name``
id and runs its generator over the result. Here the catalog asks a `MetadataSource`; the shell may
plug in a Hub fetcher, and `OfflineMetadataSource` ships for facts the caller already has (a dict,
or the text of a JSON/YAML file the shell read). The derivations below are the generator's rules
(presets.md §1.3): disk = ``int(size + 80)`` GiB, token limit 2048 by default, fp16 KV bytes per
token from the model dimensions, readiness timeout ``clamp(15 min + 18 s/GiB, 30 min, 180 min)``.
Parsers and chat templates are taken as given (no prefix rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import attrs
import yaml

from kaito_presets.catalog import UnsupportedArchitectureError, is_hf_id, shipped_vllm_architectures
from kaito_presets.models import GIB, ModelPreset

__all__ = [
    "CHAT_TEMPLATE_DIR",
    "MetadataError",
    "MetadataSource",
    "OfflineMetadataSource",
    "kv_cache_bytes_per_token",
    "preset_from_facts",
    "readiness_timeout_seconds",
]

CHAT_TEMPLATE_DIR = "/workspace/chat_templates"
_SYSTEM_DISK_GIB = 80
_DEFAULT_TOKEN_LIMIT = 2048

#: Architecture prefixes that need vLLM's hybrid KV-cache manager (LMCache offload off).
_HYBRID_KV_PREFIXES = ("NemotronH", "Gemma4", "Qwen3_5", "DeepseekV4", "DeepseekV32")
#: Architecture prefixes whose LMCache CPU offload is disabled (hybrid ones are too).
_LMCACHE_OFF_PREFIXES = ("GptOss",)
#: Architecture prefixes that need DeepGEMM (and so the CUDA toolkit).
_DEEPGEMM_PREFIXES = ("DeepseekV4", "DeepseekV32", "GlmMoeDsa")
#: Preset names that need FlashInfer (and so the CUDA toolkit).
_FLASHINFER_NAMES = frozenset({"mistral-small-4-119b-2603"})

#: Upstream ``model_catalog.yaml`` keys accepted as spellings of our fields.
_CAMEL_KEYS = {
    "name": "hf_id",
    "modelFileSize": "model_file_size",
    "modelTokenLimit": "token_limit",
    "hiddenSize": "hidden_size",
    "numHiddenLayers": "num_hidden_layers",
    "numAttentionHeads": "num_attention_heads",
    "numKeyValueHeads": "num_key_value_heads",
    "headDim": "head_dim",
    "kvLoraRank": "kv_lora_rank",
    "qkRopeHeadDim": "qk_rope_head_dim",
    "quantMethod": "quant_method",
    "loadFormat": "load_format",
    "configFormat": "config_format",
    "tokenizerMode": "tokenizer_mode",
}
#: Upstream catalog keys that carry nothing we use.
_IGNORED_KEYS = frozenset({"description", "license", "pipelineTag", "baseModel", "quantBits"})
#: Model dimensions (and format switches) used only to derive other fields.
_DERIVATION_KEYS = frozenset(
    {
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "kv_lora_rank",
        "qk_rope_head_dim",
        "multi_query",
        "mistral_format",
        "load_format",
        "config_format",
        "tokenizer_mode",
        "extra_vllm_params",
    }
)
_PRESET_FIELDS = frozenset(f.name for f in attrs.fields(ModelPreset))
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*Gi\s*$")


class MetadataError(ValueError):
    """Facts given to `OfflineMetadataSource` are incomplete or malformed."""


class MetadataSource(Protocol):
    """Where the catalog gets presets for ``org/name`` ids it does not hold."""

    def lookup(self, hf_id: str) -> ModelPreset | None:
        """The preset for `hf_id` (any case), None if unknown. May raise a `CatalogError`."""
        ...


def kv_cache_bytes_per_token(
    *,
    hidden_size: int | None,
    num_hidden_layers: int | None,
    num_attention_heads: int | None,
    num_key_value_heads: int | None = None,
    head_dim: int | None = None,
    kv_lora_rank: int | None = None,
    qk_rope_head_dim: int | None = None,
    multi_query: bool = False,
) -> tuple[int, str]:
    """KV-cache bytes per token (fp16) and the attention type, upstream's way.

    MLA (``kv_lora_rank`` set) stores ``kv_lora_rank + qk_rope_head_dim`` elements per layer;
    otherwise ``2 * kv_heads * head_dim``. Missing dimensions give ``(0, "Unknown")``.
    """
    if not num_hidden_layers or not num_attention_heads:
        return 0, "Unknown"
    if kv_lora_rank:
        return (kv_lora_rank + (qk_rope_head_dim or 0)) * num_hidden_layers * 2, "MLA"
    dim = head_dim or (hidden_size // num_attention_heads if hidden_size else 0)
    if not dim:
        return 0, "Unknown"
    kv_heads = num_key_value_heads or (1 if multi_query else num_attention_heads)
    if kv_heads == num_attention_heads:
        attn = "MHA"
    elif kv_heads == 1:
        attn = "MQA"
    else:
        attn = "GQA"
    return 2 * kv_heads * dim * num_hidden_layers * 2, attn


def readiness_timeout_seconds(size_gib: float) -> int:
    """``clamp(15 min + 18 s per GiB of weights, 30 min, 180 min)``, rounded up to a second."""
    return math.ceil(min(max(900 + size_gib * 18, 1800), 10800))


def _parse_size(text: str) -> Decimal:
    match = _SIZE_RE.match(text)
    if match is None:
        raise MetadataError(f"model_file_size must look like '7.15Gi', got {text!r}")
    try:
        return Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex only admits decimals
        raise MetadataError(f"bad model_file_size {text!r}") from exc


def _has_prefix(architectures: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(a.startswith(prefixes) for a in architectures)


def _normalise_keys(facts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if key in _IGNORED_KEYS:
            continue
        name = _CAMEL_KEYS.get(key, key)
        if name not in _PRESET_FIELDS and name not in _DERIVATION_KEYS:
            raise MetadataError(f"unknown model metadata field {key!r}")
        if name in out:
            raise MetadataError(f"model metadata field {name!r} given twice")
        out[name] = value
    return out


def preset_from_facts(facts: Mapping[str, Any]) -> ModelPreset:
    """Derive a full `ModelPreset` from catalog-entry facts (ours or upstream's camelCase keys).

    Required: ``hf_id`` and one of ``model_file_size`` / ``weights_bytes``. Every other
    `ModelPreset` field may be given and wins over the derived value.
    """
    f = _normalise_keys(facts)
    hf_id = f.pop("hf_id", None)
    if not isinstance(hf_id, str) or not is_hf_id(hf_id):
        raise MetadataError(f"hf_id must be an 'org/name' Hugging Face id, got {hf_id!r}")
    name = str(f.pop("name", hf_id.rsplit("/", 1)[-1].lower()))
    if "model_file_size" in f:
        model_file_size = str(f.pop("model_file_size"))
        size = _parse_size(model_file_size)
        weights_bytes = int(f.pop("weights_bytes", math.ceil(size * GIB)))
    elif "weights_bytes" in f:
        weights_bytes = int(f.pop("weights_bytes"))
        model_file_size = f"{weights_bytes / GIB:.2f}Gi"
        size = Decimal(model_file_size[:-2])
    else:
        raise MetadataError(f"{hf_id}: model_file_size or weights_bytes is required")
    size_gib = float(size)
    architectures = tuple(f.pop("architectures", ()) or ())

    dims = {k: f.pop(k) for k in list(f) if k in _DERIVATION_KEYS}
    derived_bpt, derived_attn = kv_cache_bytes_per_token(
        hidden_size=dims.get("hidden_size"),
        num_hidden_layers=dims.get("num_hidden_layers"),
        num_attention_heads=dims.get("num_attention_heads"),
        num_key_value_heads=dims.get("num_key_value_heads"),
        head_dim=dims.get("head_dim"),
        kv_lora_rank=dims.get("kv_lora_rank"),
        qk_rope_head_dim=dims.get("qk_rope_head_dim"),
        multi_query=bool(dims.get("multi_query", False)),
    )
    quant_method = f.pop("quant_method", None) or None
    dtype = str(f.pop("dtype", "auto" if quant_method else "bfloat16"))
    tool_call_parser = f.pop("tool_call_parser", None) or None
    reasoning_parser = f.pop("reasoning_parser", None) or None
    chat_template = f.pop("chat_template", None) or None

    fmt = "mistral" if dims.get("mistral_format") else "auto"
    params: dict[str, str] = {
        "load_format": str(dims.get("load_format", fmt)),
        "config_format": str(dims.get("config_format", fmt)),
        "tokenizer_mode": str(dims.get("tokenizer_mode", fmt)),
        "trust-remote-code": "",
        "dtype": dtype,
    }
    if tool_call_parser:
        params["tool-call-parser"] = tool_call_parser
        params["enable-auto-tool-choice"] = ""
    if chat_template:
        params["chat-template"] = f"{CHAT_TEMPLATE_DIR}/{chat_template}"
    if reasoning_parser:
        params["reasoning-parser"] = reasoning_parser
    params.update({str(k): str(v) for k, v in dict(dims.get("extra_vllm_params") or {}).items()})

    deepgemm = _has_prefix(architectures, _DEEPGEMM_PREFIXES)
    hybrid = _has_prefix(architectures, _HYBRID_KV_PREFIXES)
    values: dict[str, Any] = {
        "name": name,
        "hf_id": hf_id,
        "legacy_alias": None,
        "family": "huggingface",
        "architectures": architectures,
        "runtimes": ("vllm",),
        "model_file_size": model_file_size,
        "weights_bytes": weights_bytes,
        "disk_gib": int(size_gib + _SYSTEM_DISK_GIB),
        "token_limit": _DEFAULT_TOKEN_LIMIT,
        "bytes_per_token": derived_bpt,
        "attn_type": derived_attn,
        "dtype": dtype,
        "quant_method": quant_method,
        "tool_call_parser": tool_call_parser,
        "reasoning_parser": reasoning_parser,
        "chat_template": chat_template,
        "vllm_params": params,
        "hybrid_kv_cache": hybrid,
        "lmcache_disabled": hybrid or _has_prefix(architectures, _LMCACHE_OFF_PREFIXES),
        "requires_deepgemm": deepgemm,
        "requires_cuda_toolkit": deepgemm or name in _FLASHINFER_NAMES,
        "readiness_timeout_seconds": readiness_timeout_seconds(size_gib),
    }
    values.update(f)  # explicit facts win
    try:
        return ModelPreset(**values)
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"{hf_id}: {exc}") from exc


class OfflineMetadataSource:
    """A `MetadataSource` over facts the caller already holds (no network, no files).

    Lookups are case-insensitive on the Hugging Face id. A model none of whose architectures is in
    the vLLM allow-list raises `UnsupportedArchitectureError` when it is looked up.
    """

    __slots__ = ("_presets", "_vllm_architectures")

    def __init__(
        self,
        presets: Iterable[ModelPreset] = (),
        *,
        vllm_architectures: frozenset[str] | None = None,
    ) -> None:
        by_id: dict[str, ModelPreset] = {}
        for preset in presets:
            if preset.repo in by_id:
                raise MetadataError(f"model {preset.hf_id} is given twice")
            by_id[preset.repo] = preset
        self._presets = by_id
        self._vllm_architectures = (
            shipped_vllm_architectures() if vllm_architectures is None else vllm_architectures
        )

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[Mapping[str, Any]],
        *,
        vllm_architectures: frozenset[str] | None = None,
    ) -> OfflineMetadataSource:
        """One preset per entry, each derived with `preset_from_facts`."""
        return cls((preset_from_facts(e) for e in entries), vllm_architectures=vllm_architectures)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        vllm_architectures: frozenset[str] | None = None,
    ) -> OfflineMetadataSource:
        """From ``{"models": [entry, ...]}`` or one entry (a mapping with ``hf_id`` or ``name``)."""
        if "models" in data:
            entries = data["models"]
            if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
                raise MetadataError("'models' must be a list of mappings")
            return cls.from_entries(entries, vllm_architectures=vllm_architectures)
        return cls.from_entries([data], vllm_architectures=vllm_architectures)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        vllm_architectures: frozenset[str] | None = None,
    ) -> OfflineMetadataSource:
        """From JSON or YAML text: a list of entries, ``{"models": [...]}`` or one entry."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MetadataError(f"model metadata is not valid JSON/YAML: {exc}") from exc
        if isinstance(data, list) and all(isinstance(e, Mapping) for e in data):
            return cls.from_entries(data, vllm_architectures=vllm_architectures)
        if isinstance(data, Mapping):
            return cls.from_mapping(data, vllm_architectures=vllm_architectures)
        raise MetadataError("model metadata must be a mapping or a list of mappings")

    def lookup(self, hf_id: str) -> ModelPreset | None:
        """The preset for `hf_id` (any case), None if not given."""
        preset = self._presets.get(hf_id.lower())
        if preset is None:
            return None
        archs = preset.architectures
        if archs and not any(a in self._vllm_architectures for a in archs):
            raise UnsupportedArchitectureError(preset.hf_id, archs)
        return preset

    def presets(self) -> tuple[ModelPreset, ...]:
        """Every preset held, sorted by Hugging Face id."""
        return tuple(self._presets[k] for k in sorted(self._presets))

    def __repr__(self) -> str:
        return f"<OfflineMetadataSource {len(self._presets)} models>"
