"""Builders for tests: small presets, SKUs and catalogs with overridable fields.

Pure: no I/O, no clock, no logging. Shipped so every package's tests build values the same way.

    model = make_model(name="tiny", weights_bytes=4 * GIB)
    catalog = make_catalog(models=[model])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kaito_presets.catalog import Catalog
from kaito_presets.metadata import MetadataSource
from kaito_presets.models import GIB, ModelPreset, TransformersSupport, TuningSupport
from kaito_presets.skus import GpuSku

__all__ = [
    "TEST_VLLM_ARCHITECTURES",
    "make_catalog",
    "make_model",
    "make_sku",
    "make_transformers",
    "make_tuning",
]

#: The allow-list `make_catalog` uses unless told otherwise.
TEST_VLLM_ARCHITECTURES = frozenset(
    {"LlamaForCausalLM", "MistralForCausalLM", "Phi3ForCausalLM", "Qwen2ForCausalLM"}
)


def make_transformers(**overrides: Any) -> TransformersSupport:
    """Transformers support like phi-3's (``torch_dtype=auto``, text-generation)."""
    base = TransformersSupport(
        model_run_params={
            "torch_dtype": "auto",
            "pipeline": "text-generation",
            "trust_remote_code": "",
        },
        accelerate_params={
            "num_processes": "1",
            "num_machines": "1",
            "machine_rank": "0",
            "gpu_ids": "all",
        },
        main_file="/workspace/tfs/inference_api.py",
    )
    return attrs.evolve(base, **overrides)


def make_tuning(**overrides: Any) -> TuningSupport:
    """LoRA/QLoRA tuning support like phi-3-mini's."""
    base = TuningSupport(
        methods=("lora", "qlora"), disk_gib=80, weights_gib=72.0, weights_image_tag="0.2.0"
    )
    return attrs.evolve(base, **overrides)


def make_model(**overrides: Any) -> ModelPreset:
    """A small phi-3-mini-like preset (8 GiB of weights); any field can be overridden.

    Overriding ``hf_id`` alone also renames the preset (lower-cased last path segment).
    """
    hf_id = str(overrides.get("hf_id", "example/Tiny-Model-8B"))
    name = hf_id.rsplit("/", 1)[-1].lower()
    base = ModelPreset(
        name=name,
        hf_id=hf_id,
        legacy_alias=None,
        family="test",
        architectures=("Phi3ForCausalLM",),
        runtimes=("vllm", "transformers"),
        model_file_size="8.00Gi",
        weights_bytes=8 * GIB,
        disk_gib=88,
        token_limit=4096,
        bytes_per_token=131072,
        attn_type="GQA",
        dtype="bfloat16",
        quant_method=None,
        tool_call_parser=None,
        reasoning_parser=None,
        chat_template=None,
        vllm_params={
            "config_format": "auto",
            "dtype": "bfloat16",
            "load_format": "auto",
            "tokenizer_mode": "auto",
            "trust-remote-code": "",
        },
        hybrid_kv_cache=False,
        lmcache_disabled=False,
        requires_deepgemm=False,
        requires_cuda_toolkit=False,
        readiness_timeout_seconds=1800,
        transformers=make_transformers(),
        tuning=None,
    )
    return attrs.evolve(base, **overrides)


def make_sku(**overrides: Any) -> GpuSku:
    """A one-GPU 80 GiB A100 Azure SKU; any field can be overridden."""
    base = GpuSku(
        instance_type="Standard_NC24ads_A100_v4",
        cloud="azure",
        gpu_count=1,
        gpu_memory_gib=80.0,
        gpu_model="NVIDIA A100",
        vendor="nvidia",
        nvme=True,
        compute_capability=8.0,
    )
    return attrs.evolve(base, **overrides)


def make_catalog(
    *,
    models: Iterable[ModelPreset] | None = None,
    skus: Iterable[GpuSku] | None = None,
    aliases: Mapping[str, str] | None = None,
    deprecated: Iterable[str] = ("phi-2",),
    removed: Iterable[str] = ("falcon-7b",),
    metadata_source: MetadataSource | None = None,
    vllm_architectures: frozenset[str] = TEST_VLLM_ARCHITECTURES,
) -> Catalog:
    """A small catalog: by default one `make_model()` preset (alias ``tiny``) and three SKUs."""
    if models is None:
        models = [make_model()]
        if aliases is None:
            aliases = {"tiny": "example/Tiny-Model-8B"}
    if skus is None:
        skus = [
            make_sku(),
            make_sku(
                instance_type="Standard_NV36ads_A10_v5",
                gpu_memory_gib=24.0,
                gpu_model="NVIDIA A10",
                nvme=False,
                compute_capability=8.6,
            ),
            make_sku(
                instance_type="Standard_NC6s_v3",
                gpu_memory_gib=16.0,
                gpu_model="NVIDIA V100",
                nvme=False,
                compute_capability=7.0,
                legacy=True,
            ),
        ]
    return Catalog(
        models=models,
        skus=skus,
        aliases=aliases or {},
        deprecated=deprecated,
        removed=removed,
        metadata_source=metadata_source,
        vllm_architectures=vllm_architectures,
    )
