"""Convert the upstream reference data into kaito_presets' own data files (run once, commit output).

Usage::

    python tools/build_catalog.py [--reference DIR] [--out kaito_presets/data]

``--reference`` defaults to ``../shared/kaito-reference/data`` next to the repository.

Reads ``models.json``, ``skus.json`` and ``skus-legacy.json`` from the reference corpus and writes
``models.json``, ``skus.json`` and ``vllm_architectures.json`` in our schema (snake_case fields that
match the attrs classes). Output is deterministic (sorted keys, stable order) so re-running it on
the same input gives byte-identical files. The package never reads the reference corpus itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "kaito-reference" / "data"
DEFAULT_OUT = ROOT / "kaito_presets" / "data"

#: Causal-LM (and a few multimodal) architectures vLLM is well known to run. The upstream list
#: (``vllm_model_arch_list.txt``, 356 entries) is not in the reference corpus; the shipped
#: allow-list is this set plus every architecture of the catalog.
WELL_KNOWN_VLLM_ARCHITECTURES = (
    "AquilaForCausalLM",
    "ArcticForCausalLM",
    "BaiChuanForCausalLM",
    "BaichuanForCausalLM",
    "BloomForCausalLM",
    "CohereForCausalLM",
    "Cohere2ForCausalLM",
    "DbrxForCausalLM",
    "DeciLMForCausalLM",
    "DeepseekForCausalLM",
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "ExaoneForCausalLM",
    "FalconForCausalLM",
    "FalconMambaForCausalLM",
    "GPT2LMHeadModel",
    "GPTBigCodeForCausalLM",
    "GPTJForCausalLM",
    "GPTNeoXForCausalLM",
    "Gemma2ForCausalLM",
    "Gemma3ForCausalLM",
    "Gemma3ForConditionalGeneration",
    "GemmaForCausalLM",
    "Glm4ForCausalLM",
    "GlmForCausalLM",
    "GptOssForCausalLM",
    "GraniteForCausalLM",
    "GraniteMoeForCausalLM",
    "InternLM2ForCausalLM",
    "InternLMForCausalLM",
    "JAISLMHeadModel",
    "JambaForCausalLM",
    "Llama4ForConditionalGeneration",
    "LlamaForCausalLM",
    "LlavaForConditionalGeneration",
    "MPTForCausalLM",
    "MambaForCausalLM",
    "MiniCPMForCausalLM",
    "Mistral3ForConditionalGeneration",
    "MistralForCausalLM",
    "MixtralForCausalLM",
    "NemotronForCausalLM",
    "OPTForCausalLM",
    "Olmo2ForCausalLM",
    "OlmoForCausalLM",
    "OlmoeForCausalLM",
    "OrionForCausalLM",
    "PersimmonForCausalLM",
    "Phi3ForCausalLM",
    "PhiForCausalLM",
    "PhiMoEForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen2MoeForCausalLM",
    "Qwen2VLForConditionalGeneration",
    "Qwen2_5_VLForConditionalGeneration",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "QWenLMHeadModel",
    "StableLmForCausalLM",
    "Starcoder2ForCausalLM",
    "XverseForCausalLM",
)

GIB = 1 << 30


def _gi(text: str) -> float:
    if not text.endswith("Gi"):
        raise ValueError(f"expected a Gi quantity, got {text!r}")
    return float(text[:-2])


def _readiness_seconds(size_gib: float) -> int:
    return math.ceil(min(max(900 + size_gib * 18, 1800), 10800))


def _transformers(record: dict[str, Any]) -> dict[str, Any] | None:
    tfs = record.get("transformers")
    if not tfs:
        return None
    return {
        "model_run_params": dict(sorted(tfs["model_run_params"].items())),
        "accelerate_params": dict(sorted(tfs["accelerate_params"].items())),
        "main_file": tfs["inference_main_file"],
    }


def _tuning(record: dict[str, Any]) -> dict[str, Any] | None:
    tuning = record.get("tuning")
    if not tuning:
        return None
    legacy = record.get("supported_models_yaml") or {}
    # Upstream names the weights image after the supported_models.yaml entry; for
    # mistral-7b-v0.3 that entry is "mistral-7b" (upstream looks up the wrong name and panics).
    image_name = tuning.get("ModelName") or record["preset_name"]
    if legacy.get("name"):
        image_name = legacy["name"]
    return {
        "methods": list(tuning["methods"]),
        "disk_gib": int(_gi(tuning["DiskStorageRequirement"])),
        "weights_gib": _gi(tuning["TotalSafeTensorFileSize"]),
        "weights_image_tag": legacy.get("tag") or "0.2.0",
        "weights_image_name": None if image_name == record["preset_name"] else image_name,
    }


def _model(record: dict[str, Any]) -> dict[str, Any]:
    size_gib = _gi(record["model_file_size"])
    disk = int(_gi(record["disk_storage_requirement"]))
    seconds = _readiness_seconds(size_gib)
    if abs(seconds / 60 - record["readiness_timeout_minutes"]) > 0.02:
        raise ValueError(f"{record['preset_name']}: readiness timeout disagrees with the formula")
    if record["preset_name"] != record["hf_model_id"].rsplit("/", 1)[-1].lower():
        raise ValueError(f"{record['preset_name']}: name is not the last segment of the HF id")
    return {
        "name": record["preset_name"],
        "hf_id": record["hf_model_id"],
        "legacy_alias": record["legacy_preset_alias"],
        "family": record["family"],
        "architectures": list(record["architectures"]),
        "runtimes": list(record["runtimes"]),
        "model_file_size": record["model_file_size"],
        "weights_bytes": record["total_safetensor_file_size_bytes"],
        "disk_gib": disk,
        "token_limit": record["model_token_limit"],
        "bytes_per_token": record["bytes_per_token"],
        "attn_type": record["attn_type"],
        "dtype": record["dtype"],
        "quant_method": record["quant_method"],
        "tool_call_parser": record["tool_call_parser"],
        "reasoning_parser": record["reasoning_parser"],
        "chat_template": record["chat_template"],
        "vllm_params": dict(sorted(record["vllm_model_run_params"].items())),
        "hybrid_kv_cache": record["hybrid_kv_cache_manager_required"],
        "lmcache_disabled": record["lmcache_cpu_offload_disabled"],
        "requires_deepgemm": record["requires_deepgemm"],
        "requires_cuda_toolkit": record["requires_cuda_toolkit"],
        "readiness_timeout_seconds": seconds,
        "download_at_runtime": record["download_at_runtime"],
        # Gated on Hugging Face (supported_models.yaml's downloadAuthRequired: the Llama presets).
        # v0.12 never sets it for catalog models, so they pass validation without a token and
        # then fail to download; we keep the flag so validation asks for modelAccessSecret.
        "download_auth_required": bool(
            record["download_auth_required_v012"] or record["legacy_download_auth_required"]
        ),
        "distributed": record["support_distributed_inference"],
        "disallow_lora": False,
        "transformers": _transformers(record),
        "tuning": _tuning(record),
    }


def _sku(record: dict[str, Any], *, legacy: bool) -> dict[str, Any]:
    return {
        "instance_type": record["instance_type"],
        "cloud": record["cloud"],
        "gpu_count": record["gpu_count"],
        "gpu_memory_gib": record["gpu_memory_total_gib"],
        "gpu_model": record["gpu_model"],
        "vendor": record["accelerator_vendor"],
        "nvme": record["nvme_disk_enabled"],
        "compute_capability": record["cuda_compute_capability"],
        "legacy": legacy,
    }


#: Azure's K80 NC-series (one GPU = half a K80 board, 12 GiB; CUDA compute capability 3.7). They
#: were in the first KAITO SKU table (Azure/kaito ``api/v1alpha1/sku_config.go``) and gone before
#: v0.6.2, so the reference corpus lacks them; we keep them as legacy so that a Workspace naming
#: one is rejected with the reason and alternatives rather than as an unknown instance type.
K80_SKUS = tuple(
    {
        "instance_type": name,
        "cloud": "azure",
        "gpu_count": count,
        "gpu_memory_gib": 12 * count,
        "gpu_model": "NVIDIA K80",
        "vendor": "nvidia",
        "nvme": False,
        "compute_capability": 3.7,
        "legacy": True,
    }
    for name, count in (
        ("Standard_NC6", 1),
        ("Standard_NC12", 2),
        ("Standard_NC24", 4),
        ("Standard_NC24r", 4),
    )
)


def build(reference: Path) -> dict[str, Any]:
    """The three output documents, keyed by file name."""
    models_doc = json.loads((reference / "models.json").read_text(encoding="utf-8"))
    current = [r for r in models_doc["presets"] if not r.get("removed_in_v012")]
    gone = [r for r in models_doc["presets"] if r.get("removed_in_v012")]
    if len(current) != 60:
        raise ValueError(f"expected 60 catalog presets, found {len(current)}")
    aliases = {
        r["legacy_preset_alias"]: r["hf_model_id"] for r in current if r["legacy_preset_alias"]
    }
    if len(aliases) != 25:
        raise ValueError(f"expected 25 legacy aliases, found {len(aliases)}")
    deprecated = sorted(
        r["preset_name"] for r in gone if (r.get("supported_models_yaml") or {}).get("deprecated")
    )
    removed = sorted(r["preset_name"] for r in gone if r["preset_name"] not in deprecated)
    models = sorted((_model(r) for r in current), key=lambda m: m["name"])

    skus = [
        _sku(r, legacy=False)
        for r in json.loads((reference / "skus.json").read_text(encoding="utf-8"))["skus"]
    ]
    legacy_skus = [
        _sku(r, legacy=True)
        for r in json.loads((reference / "skus-legacy.json").read_text(encoding="utf-8"))["skus"]
    ]
    all_skus = sorted(
        skus + legacy_skus + [dict(k80) for k80 in K80_SKUS],
        key=lambda s: (s["cloud"], s["instance_type"]),
    )

    architectures = set(WELL_KNOWN_VLLM_ARCHITECTURES)
    for model in models:
        architectures.update(model["architectures"])
    return {
        "models.json": {
            "source": "kaito-project/kaito v0.12.0 (generated by tools/build_catalog.py)",
            "base_image_tag": models_doc["base_image"]["tag"],
            "aliases": dict(sorted(aliases.items())),
            "deprecated": deprecated,
            "removed": removed,
            "models": models,
        },
        "skus.json": {
            "source": (
                "kaito-project/kaito v0.12.0 pkg/sku plus SKUs dropped since (legacy): v0.6.2's, "
                "and the K80 NC-series of Azure/kaito's first api/v1alpha1/sku_config.go"
            ),
            "skus": all_skus,
        },
        "vllm_architectures.json": {
            "source": "architectures of the catalog plus well-known vLLM architectures",
            "architectures": sorted(architectures),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    documents = build(args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in documents.items():
        path = args.out / name
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
