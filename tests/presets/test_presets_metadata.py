"""The metadata-source seam: derivations and OfflineMetadataSource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaito_presets import (
    GIB,
    MetadataError,
    OfflineMetadataSource,
    UnsupportedArchitectureError,
    default_catalog,
)
from kaito_presets.metadata import (
    kv_cache_bytes_per_token,
    preset_from_facts,
    readiness_timeout_seconds,
)

PHI4_MINI = {
    "hf_id": "microsoft/Phi-4-mini-instruct",
    "model_file_size": "7.15Gi",
    "architectures": ["Phi3ForCausalLM"],
    "token_limit": 131072,
    "hidden_size": 3072,
    "num_hidden_layers": 32,
    "num_attention_heads": 24,
    "num_key_value_heads": 8,
    "chat_template": "tool-chat-phi4-mini.jinja",
}


@pytest.mark.parametrize(
    ("dims", "expected"),
    [
        (
            {
                "hidden_size": 3072,
                "num_hidden_layers": 32,
                "num_attention_heads": 24,
                "num_key_value_heads": 8,
            },
            (131072, "GQA"),
        ),
        (
            {
                "hidden_size": 7168,
                "num_hidden_layers": 61,
                "num_attention_heads": 128,
                "num_key_value_heads": 128,
                "kv_lora_rank": 512,
                "qk_rope_head_dim": 64,
            },
            (70272, "MLA"),
        ),
        (
            {"hidden_size": 3072, "num_hidden_layers": 32, "num_attention_heads": 32},
            (393216, "MHA"),
        ),
        (
            {
                "hidden_size": 4544,
                "num_hidden_layers": 32,
                "num_attention_heads": 71,
                "multi_query": True,
            },
            (8192, "MQA"),
        ),
        (
            {
                "hidden_size": 5120,
                "num_hidden_layers": 40,
                "num_attention_heads": 40,
                "num_key_value_heads": 10,
            },
            (204800, "GQA"),
        ),
        (
            {"hidden_size": None, "num_hidden_layers": None, "num_attention_heads": None},
            (0, "Unknown"),
        ),
    ],
    ids=["phi-4-mini-gqa", "deepseek-mla", "phi-3-mha", "falcon-7b-mqa", "phi-4-gqa", "unknown"],
)
def test_kv_cache_bytes_per_token(dims: dict[str, Any], expected: tuple[int, str]) -> None:
    """KV bytes per token follow presets.md §1.3 (fp16, MLA, MQA fallback)."""
    assert kv_cache_bytes_per_token(**dims) == expected


@pytest.mark.parametrize(
    ("size", "seconds"),
    [(7.15, 1800), (61.03, 1999), (121.54, 3088), (641.3, 10800), (0.0, 1800)],
    ids=["floor", "qwen-32b", "gpt-oss-120b", "ceiling", "zero"],
)
def test_readiness_timeout(size: float, seconds: int) -> None:
    """Readiness timeout is clamp(15 min + 18 s/GiB, 30 min, 180 min), rounded up."""
    assert readiness_timeout_seconds(size) == seconds


def test_preset_from_facts_derives_fields() -> None:
    """Name, disk, weights, parsers and vLLM params are derived from catalog-entry facts."""
    preset = preset_from_facts(PHI4_MINI)
    catalog_preset = default_catalog().model("phi-4-mini-instruct")
    assert preset.name == "phi-4-mini-instruct"
    assert preset.repo == "microsoft/phi-4-mini-instruct"
    for field in (
        "weights_bytes",
        "disk_gib",
        "bytes_per_token",
        "attn_type",
        "dtype",
        "vllm_params",
        "readiness_timeout_seconds",
        "token_limit",
        "chat_template",
    ):
        assert getattr(preset, field) == getattr(catalog_preset, field), field
    assert preset.runtimes == ("vllm",)
    assert preset.transformers is None
    assert preset.tuning is None


def test_preset_from_facts_defaults() -> None:
    """Token limit defaults to 2048, quantized models get dtype auto, parsers add flags."""
    preset = preset_from_facts(
        {
            "hf_id": "acme/Quant-7B-AWQ",
            "weights_bytes": 5 * GIB,
            "quant_method": "awq",
            "tool_call_parser": "hermes",
            "reasoning_parser": "qwen3",
            "mistral_format": True,
        }
    )
    params = dict(preset.vllm_params)
    assert preset.token_limit == 2048
    assert preset.model_file_size == "5.00Gi"
    assert preset.disk_gib == 85
    assert preset.dtype == "auto"
    assert params["dtype"] == "auto"
    assert params["tool-call-parser"] == "hermes"
    assert params["enable-auto-tool-choice"] == ""
    assert params["reasoning-parser"] == "qwen3"
    assert params["load_format"] == params["tokenizer_mode"] == "mistral"
    assert (preset.bytes_per_token, preset.attn_type) == (0, "Unknown")


def test_preset_from_facts_accepts_upstream_keys() -> None:
    """Upstream model_catalog.yaml camelCase keys are understood."""
    preset = preset_from_facts(
        {
            "name": "deepseek-ai/DeepSeek-V3.2",
            "description": "ignored",
            "modelFileSize": "642.14Gi",
            "architectures": ["DeepseekV32ForCausalLM"],
            "modelTokenLimit": 163840,
            "hiddenSize": 7168,
            "numHiddenLayers": 61,
            "numAttentionHeads": 128,
            "numKeyValueHeads": 128,
            "kvLoraRank": 512,
            "qkRopeHeadDim": 64,
            "quantMethod": "fp8",
        }
    )
    assert preset.name == "deepseek-v3.2"
    assert (preset.bytes_per_token, preset.attn_type) == (70272, "MLA")
    assert preset.hybrid_kv_cache
    assert preset.requires_deepgemm
    assert preset.requires_cuda_toolkit
    assert preset.readiness_timeout_seconds == 10800


def test_explicit_facts_win() -> None:
    """Any ModelPreset field given explicitly overrides the derived value."""
    preset = preset_from_facts({**PHI4_MINI, "disk_gib": 500, "family": "phi4"})
    assert preset.disk_gib == 500
    assert preset.family == "phi4"


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"model_file_size": "1Gi"}, "hf_id must be"),
        ({"hf_id": "no-slash", "model_file_size": "1Gi"}, "hf_id must be"),
        ({"hf_id": "a/b"}, "model_file_size or weights_bytes is required"),
        ({"hf_id": "a/b", "model_file_size": "7GB"}, "must look like"),
        ({"hf_id": "a/b", "model_file_size": "1Gi", "colour": "red"}, "unknown model metadata"),
        ({"hf_id": "a/b", "model_file_size": "1Gi", "token_limit": "x", "runtimes": "vllm"}, "a/b"),
    ],
    ids=["no-id", "bad-id", "no-size", "bad-size", "unknown-key", "bad-type"],
)
def test_preset_from_facts_errors(facts: dict[str, Any], message: str) -> None:
    """Incomplete or malformed facts raise MetadataError naming the problem."""
    with pytest.raises(MetadataError, match=message):
        preset_from_facts(facts)


def test_offline_source_lookup() -> None:
    """Lookups are case-insensitive; unknown ids give None."""
    source = OfflineMetadataSource.from_mapping({"models": [PHI4_MINI]})
    assert source.lookup("MICROSOFT/phi-4-MINI-instruct") is not None
    assert source.lookup("microsoft/other") is None
    assert [p.name for p in source.presets()] == ["phi-4-mini-instruct"]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PHI4_MINI),
        json.dumps([PHI4_MINI]),
        json.dumps({"models": [PHI4_MINI]}),
        "hf_id: microsoft/Phi-4-mini-instruct\nmodel_file_size: 7.15Gi\n"
        "architectures: [Phi3ForCausalLM]\n",
    ],
    ids=["json-entry", "json-list", "json-models", "yaml-entry"],
)
def test_offline_source_from_text(text: str) -> None:
    """JSON and YAML text in any of the accepted shapes loads."""
    source = OfflineMetadataSource.from_text(text)
    preset = source.lookup("microsoft/phi-4-mini-instruct")
    assert preset is not None
    assert preset.disk_gib == 87


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", "just a string", "{unclosed: [", '{"models": 3}'],
    ids=["list-of-ints", "scalar", "bad-yaml", "models-not-list"],
)
def test_offline_source_bad_text(text: str) -> None:
    """Text that is not entries raises MetadataError."""
    with pytest.raises(MetadataError):
        OfflineMetadataSource.from_text(text)


def test_offline_source_rejects_duplicates() -> None:
    """The same HF id twice (any case) is an error."""
    other = {**PHI4_MINI, "hf_id": "MICROSOFT/phi-4-mini-instruct"}
    with pytest.raises(MetadataError, match="given twice"):
        OfflineMetadataSource.from_entries([PHI4_MINI, other])


def test_offline_source_rejects_unsupported_architecture() -> None:
    """A model none of whose architectures vLLM runs is rejected on lookup."""
    source = OfflineMetadataSource.from_mapping(
        {"hf_id": "acme/Weird", "model_file_size": "1.00Gi", "architectures": ["BertModel", "X"]},
    )
    with pytest.raises(UnsupportedArchitectureError, match=r"^unsupported model architecture"):
        source.lookup("acme/weird")


def test_offline_source_custom_allow_list() -> None:
    """A caller-given allow-list replaces the shipped one."""
    source = OfflineMetadataSource.from_mapping(
        {"hf_id": "acme/Weird", "model_file_size": "1.00Gi", "architectures": ["WeirdNet"]},
        vllm_architectures=frozenset({"WeirdNet"}),
    )
    assert source.lookup("acme/weird") is not None


def test_no_architectures_is_accepted() -> None:
    """A model that declares no architecture is accepted (as upstream)."""
    source = OfflineMetadataSource.from_mapping({"hf_id": "acme/Bare", "model_file_size": "1.00Gi"})
    assert source.lookup("acme/bare") is not None


def test_derivations_agree_with_catalog(reference_models: list[dict[str, Any]]) -> None:
    """Deriving each reference preset from its raw dimensions reproduces the catalog values."""
    catalog = default_catalog()
    for rec in reference_models:
        facts = {
            "hf_id": rec["hf_model_id"],
            "model_file_size": rec["model_file_size"],
            "architectures": rec["architectures"],
            "token_limit": rec["model_token_limit"],
            "quant_method": rec["quant_method"],
            "tool_call_parser": rec["tool_call_parser"],
            "reasoning_parser": rec["reasoning_parser"],
            "chat_template": rec["chat_template"],
        }
        for dim in (
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "kv_lora_rank",
            "qk_rope_head_dim",
        ):
            facts[dim] = rec[dim]
        derived = preset_from_facts(facts)
        shipped = catalog.model(rec["hf_model_id"])
        for field in (
            "name",
            "weights_bytes",
            "disk_gib",
            "bytes_per_token",
            "attn_type",
            "dtype",
            "hybrid_kv_cache",
            "lmcache_disabled",
            "requires_deepgemm",
            "requires_cuda_toolkit",
            "readiness_timeout_seconds",
        ):
            assert getattr(derived, field) == getattr(shipped, field), (rec["preset_name"], field)
