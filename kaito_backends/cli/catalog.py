"""``kaito presets`` and ``kaito skus``: the model and GPU catalogs as tables or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import attrs

from kaito_backends.cli.output import dump_json, table
from kaito_core.gpu import GpuConfig
from kaito_core.runtime_policy import Usability, usability
from kaito_presets import GpuSku, ModelPreset, default_catalog

__all__ = ["register_presets", "register_skus"]


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )


def register_presets(sub: Any) -> None:
    parser = sub.add_parser("presets", help="list the model presets", description=_PRESETS_DOC)
    _add_output(parser)
    parser.add_argument("--runtime", choices=("vllm", "transformers"), help="only this runtime")
    parser.add_argument("--tuning", action="store_true", help="only presets that support tuning")
    parser.set_defaults(func=run_presets)


def register_skus(sub: Any) -> None:
    parser = sub.add_parser("skus", help="list the GPU instance types", description=_SKUS_DOC)
    _add_output(parser)
    parser.add_argument("--cloud", choices=("azure", "aws", "arc"), help="only this cloud")
    parser.set_defaults(func=run_skus)


_PRESETS_DOC = "The model catalog: every preset name, its aliases, size, context and runtimes."
_SKUS_DOC = (
    "The GPU catalog: every instance type with GPU count, memory, model and compute capability, "
    "and whether a runtime can start on it: USABLE is yes (the model's own dtype), float16 "
    "(Volta/Turing: runs with the dtype overridden) or no (with why), the same verdict "
    "`kaito validate` applies."
)


def _preset_json(model: ModelPreset) -> dict[str, Any]:
    """A preset as JSON; (key, value) parameter pairs become maps."""
    data = attrs.asdict(model)
    data["vllm_params"] = dict(model.vllm_params)
    if model.transformers is not None:
        data["transformers"]["model_run_params"] = dict(model.transformers.model_run_params)
        data["transformers"]["accelerate_params"] = dict(model.transformers.accelerate_params)
    return data


def run_presets(args: argparse.Namespace) -> int:
    models = [
        m
        for m in default_catalog().models()
        if (args.runtime is None or args.runtime in m.runtimes) and (not args.tuning or m.tuning)
    ]
    if args.output == "json":
        sys.stdout.write(dump_json([_preset_json(m) for m in models]))
        return 0
    rows = [
        (
            m.name,
            m.legacy_alias if m.legacy_alias and m.legacy_alias != m.name else "-",
            m.hf_id,
            m.model_file_size,
            m.token_limit,
            ",".join(m.runtimes),
            ",".join(m.tuning.methods) if m.tuning else "-",
        )
        for m in models
    ]
    print(table(("name", "alias", "model", "size", "context", "runtimes", "tuning"), rows))
    return 0


def _capability(sku: GpuSku) -> str:
    return "-" if sku.compute_capability is None else f"{sku.compute_capability:.1f}"


def _usability(sku: GpuSku) -> Usability:
    return usability(gpu=GpuConfig.from_sku(sku))


def _sku_json(sku: GpuSku) -> dict[str, Any]:
    verdict = _usability(sku)
    return {**attrs.asdict(sku), "usable": verdict.usable, "usable_reason": verdict.reason}


def run_skus(args: argparse.Namespace) -> int:
    skus = [s for s in default_catalog().skus() if args.cloud is None or s.cloud == args.cloud]
    if args.output == "json":
        sys.stdout.write(dump_json([_sku_json(s) for s in skus]))
        return 0
    rows = []
    for s in skus:
        verdict = _usability(s)
        rows.append(
            (
                s.instance_type,
                s.cloud,
                s.gpu_count,
                f"{s.gpu_memory_gib:g}Gi",
                s.gpu_model,
                _capability(s),
                "yes" if s.nvme else "no",
                verdict.usable,
                verdict.reason or "-",
            )
        )
    headers = ("instance type", "cloud", "gpus", "gpu memory", "gpu", "cc", "nvme", "usable", "why")
    print(table(headers, rows))
    return 0
