"""Node-count estimation, parallelism tiers and GPU configs (kaito_core.sizing / kaito_core.gpu)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.errors import SizingError, SpecError
from kaito_core.gpu import KNOWN_MIG_PROFILES, GpuLabelsError, MigProfileError, PartitionCountError
from kaito_core.sizing import (
    GpuConfig,
    GpuTooSmallError,
    MigShortfallError,
    NotDistributableError,
    Parallelism,
    TransformersMultiNodeError,
    check_transformers_fits,
    estimate_node_count,
    parallelism,
)
from kaito_presets import GIB, default_catalog
from kaito_presets.testing import make_model

REFERENCE_MODELS = (
    Path(__file__).resolve().parents[3] / "shared" / "kaito-reference" / "data" / "models.json"
)

A10 = "Standard_NV36ads_A10_v5"
A100 = "Standard_NC24ads_A100_v4"
A100X4 = "Standard_NC96ads_A100_v4"
H100X8 = "Standard_ND96isr_H100_v5"
H200X8 = "Standard_ND96isr_H200_v5"

# (preset, instance type, nodes at ctx 2048), from upstream's own estimator.
EXPECTED_NODES = [
    ("phi-4", A10, 2),
    ("phi-4", A100, 1),
    ("phi-4-mini-instruct", A10, 1),
    ("llama-3.3-70b-instruct", A10, 9),
    ("llama-3.3-70b-instruct", A100, 3),
    ("llama-3.3-70b-instruct", A100X4, 1),
    ("deepseek-r1-0528", A10, 39),
    ("deepseek-r1-0528", A100, 11),
    ("deepseek-r1-0528", A100X4, 3),
    ("deepseek-r1-0528", H100X8, 2),
    ("deepseek-r1-0528", H200X8, 1),
    ("qwen2.5-coder-32b-instruct", A10, 4),
    ("qwen2.5-coder-32b-instruct", A100, 2),
    ("gpt-oss-120b", A10, 8),
    ("gpt-oss-120b", A100, 3),
    ("gemma-3-27b-it", A10, 4),
    ("mistral-large-3-675b-instruct-2512", A100X4, 3),
    ("qwen3.5-397b-a17b-gptq-int4", A10, 14),
    ("qwen3.5-397b-a17b-gptq-int4", A100, 4),
    ("deepseek-v4-pro", A100X4, 4),
    ("deepseek-v4-pro", H100X8, 2),
    ("kimi-k2.6", A10, 34),
    ("granite-4.1-8b", A10, 1),
]

# (preset, instance type, nodes, expected vLLM flags as upstream reports them)
EXPECTED_PARALLELISM = [
    (
        "phi-4",
        A10,
        2,
        {
            "tensor-parallel-size": 1,
            "pipeline-parallel-size": 2,
            "distributed-executor-backend": "ray",
        },
    ),
    ("phi-4", A100, 1, {"tensor-parallel-size": 1}),
    ("phi-4", A100X4, 1, {"data-parallel-size": 4, "tensor-parallel-size": 1}),
    ("phi-4", H200X8, 1, {"data-parallel-size": 8, "tensor-parallel-size": 1}),
    ("qwen2.5-coder-32b-instruct", A100X4, 1, {"tensor-parallel-size": 4}),
    ("qwen2.5-coder-32b-instruct", H200X8, 1, {"data-parallel-size": 8, "tensor-parallel-size": 1}),
    ("llama-3.3-70b-instruct", H100X8, 1, {"tensor-parallel-size": 8}),
    (
        "deepseek-r1-0528",
        A100X4,
        3,
        {
            "tensor-parallel-size": 4,
            "pipeline-parallel-size": 3,
            "distributed-executor-backend": "ray",
        },
    ),
    ("deepseek-r1-0528", H200X8, 1, {"tensor-parallel-size": 8}),
]


def _gpu(instance_type: str) -> GpuConfig:
    return GpuConfig.from_sku(default_catalog().sku(instance_type))


def _reference_presets() -> list[dict[str, Any]]:
    if not REFERENCE_MODELS.is_file():
        pytest.skip(f"upstream reference corpus not found at {REFERENCE_MODELS}")
    data = json.loads(REFERENCE_MODELS.read_text(encoding="utf-8"))
    return [p for p in data["presets"] if not p.get("removed_in_v012")]


def _upstream_flags(par: Parallelism) -> dict[str, Any]:
    """Our flags in the shape of models.json example_vllm_parallelism (no kv-cache flag)."""
    out: dict[str, Any] = {}
    for key, value in par.flags:
        if key == "kaito-kv-cache-cpu-memory-utilization":
            continue
        out[key] = int(value) if value.isdigit() else value
    return out


@pytest.mark.parametrize(
    ("preset", "sku", "nodes"), EXPECTED_NODES, ids=[f"{p}@{s}" for p, s, _ in EXPECTED_NODES]
)
def test_expected_node_counts(preset: str, sku: str, nodes: int) -> None:
    """Node counts match upstream's estimator for a table of presets and SKUs."""
    model = default_catalog().model(preset)
    assert estimate_node_count(model=model, gpu=_gpu(sku)) == nodes


@pytest.mark.upstream
def test_every_reference_node_estimate() -> None:
    """Every example_node_estimates_ctx2048 entry of models.json is reproduced."""
    catalog = default_catalog()
    checked = 0
    for rec in _reference_presets():
        model = catalog.model(rec["hf_model_id"])
        for sku, nodes in rec["example_node_estimates_ctx2048"].items():
            assert estimate_node_count(model=model, gpu=_gpu(sku)) == nodes, (
                rec["preset_name"],
                sku,
            )
            checked += 1
    assert checked == 300


@pytest.mark.parametrize(
    ("preset", "sku", "nodes", "flags"),
    EXPECTED_PARALLELISM,
    ids=[f"{p}@{s}x{n}" for p, s, n, _ in EXPECTED_PARALLELISM],
)
def test_expected_parallelism(preset: str, sku: str, nodes: int, flags: dict[str, Any]) -> None:
    """Parallel flags match upstream's three tiers for a table of presets and SKUs."""
    model = default_catalog().model(preset)
    assert _upstream_flags(parallelism(model=model, gpu=_gpu(sku), node_count=nodes)) == flags


@pytest.mark.upstream
def test_every_reference_parallelism() -> None:
    """Every example_vllm_parallelism entry of models.json is reproduced."""
    catalog = default_catalog()
    for rec in _reference_presets():
        model = catalog.model(rec["hf_model_id"])
        for sku, flags in rec["example_vllm_parallelism"].items():
            gpu = _gpu(sku)
            nodes = estimate_node_count(model=model, gpu=gpu)
            par = parallelism(model=model, gpu=gpu, node_count=nodes)
            assert _upstream_flags(par) == flags, (rec["preset_name"], sku)


@pytest.mark.parametrize(
    ("preset", "sku", "nodes"),
    [
        ("phi-4", A10, 2),
        ("llama-3.3-70b-instruct", A100, 3),
        ("llama-3.3-70b-instruct", A100X4, 1),
        ("deepseek-ai/DeepSeek-R1-0528", H100X8, 2),
        ("deepseek-ai/DeepSeek-R1-0528", H200X8, 1),
    ],
    ids=["phi-4-a10", "llama-70b-a100", "llama-70b-a100x4", "r1-h100", "r1-h200"],
)
def test_presets_md_worked_examples(preset: str, sku: str, nodes: int) -> None:
    """The worked examples of presets.md §3.2."""
    assert estimate_node_count(model=default_catalog().model(preset), gpu=_gpu(sku)) == nodes


@pytest.mark.parametrize(("size_gib", "nodes"), [(64, 4), (16, 1)], ids=["64Gi", "16Gi"])
def test_controller_md_worked_example(size_gib: int, nodes: int) -> None:
    """controller.md §3.3: a 64Gi model on an A10 needs 4 nodes, a 16Gi one fits 1."""
    model = make_model(weights_bytes=size_gib * GIB, model_file_size=f"{size_gib}Gi")
    assert estimate_node_count(model=model, gpu=_gpu(A10)) == nodes


def test_phi4_worked_arithmetic() -> None:
    """phi-4 on one A10: 27.86 GiB of vLLM weights over 16.64 GiB per GPU -> 2 GPUs."""
    model = default_catalog().model("phi-4")
    gpu = _gpu(A10)
    available = 24 * 0.84
    reserve = 2.3 + 2048 * model.bytes_per_token / GIB
    per_gpu_for_weights = (available - reserve) / 1.05
    assert round(model.weights_bytes * 1.02 / GIB, 2) == 27.86
    assert round(per_gpu_for_weights, 2) == 16.64
    assert estimate_node_count(model=model, gpu=gpu) == 2


def test_boundary_of_one_gpu() -> None:
    """Weights just under one GPU's budget fit one node; just over needs a second."""
    gpu = _gpu(A100)
    per_gpu_for_weights = (80 * GIB * 0.84 - 2.3 * GIB) / 1.05
    fits = make_model(weights_bytes=int(per_gpu_for_weights / 1.02 * 0.999), bytes_per_token=0)
    spills = make_model(weights_bytes=int(per_gpu_for_weights / 1.02 * 1.001), bytes_per_token=0)
    assert estimate_node_count(model=fits, gpu=gpu) == 1
    assert estimate_node_count(model=spills, gpu=gpu) == 2


def test_max_model_len_increases_nodes() -> None:
    """A longer max-model-len reserves more KV cache and can need more nodes."""
    model = default_catalog().model("llama-3.3-70b-instruct")
    gpu = _gpu(A100)
    short = estimate_node_count(model=model, gpu=gpu, max_model_len=2048)
    long = estimate_node_count(model=model, gpu=gpu, max_model_len=65536)
    assert short == 3
    assert long > short
    assert estimate_node_count(model=model, gpu=gpu, max_model_len=None) == short
    assert estimate_node_count(model=model, gpu=gpu, max_model_len=0) == short


def test_gpu_too_small() -> None:
    """KV cache plus overhead larger than a GPU raises GpuTooSmallError with upstream wording."""
    model = default_catalog().model("phi-3-mini-128k-instruct")
    with pytest.raises(GpuTooSmallError) as info:
        estimate_node_count(model=model, gpu=_gpu(A10), max_model_len=131072)
    assert "is too small, needs at least" in str(info.value)
    assert isinstance(info.value, SizingError)
    assert isinstance(info.value, SpecError)
    assert info.value.reason == "GPUTooSmall"


def test_mig_shortfall() -> None:
    """A model larger than a MIG slice raises MigShortfallError naming the profile."""
    model = default_catalog().model("phi-4")
    with pytest.raises(MigShortfallError) as info:
        estimate_node_count(model=model, gpu=GpuConfig.from_mig_profile("2g.20gb"))
    message = str(info.value)
    assert message.startswith("model needs ")
    assert "but MIG profile 2g.20gb only provides 20GB" in message
    assert estimate_node_count(model=model, gpu=GpuConfig.from_mig_profile("3g.40gb")) == 1


def test_not_distributable() -> None:
    """A model that needs several nodes but cannot be distributed is an error."""
    model = make_model(weights_bytes=64 * GIB, distributed=False)
    with pytest.raises(NotDistributableError, match="calculated nodes: 4"):
        estimate_node_count(model=model, gpu=_gpu(A10))
    with pytest.raises(NotDistributableError):
        parallelism(model=model, gpu=_gpu(A10), node_count=4)


@pytest.mark.parametrize(
    ("count", "expected"), [(None, 1), (0, 1), (3, 3)], ids=["none", "zero", "three"]
)
def test_no_model_uses_requested_count(count: int | None, expected: int) -> None:
    """Without a preset the requested count (default 1) is the node count."""
    assert estimate_node_count(model=None, gpu=_gpu(A100), count=count) == expected


def test_count_ignored_when_sizing_is_possible() -> None:
    """With a preset and GPU facts the computed count wins over the requested one."""
    model = default_catalog().model("phi-4")
    assert estimate_node_count(model=model, gpu=_gpu(A100), count=5) == 1
    no_memory = GpuConfig(sku="unknown", gpu_count=0, gpu_memory_gib=0, gpu_model="")
    assert estimate_node_count(model=model, gpu=no_memory, count=5) == 5


@given(
    gpu_count=st.sampled_from([1, 2, 4, 8]),
    small=st.integers(min_value=4, max_value=200),
    extra=st.integers(min_value=0, max_value=200),
    weights_gib=st.integers(min_value=1, max_value=1000),
    bytes_per_token=st.sampled_from([0, 8192, 131072, 393216]),
)
def test_node_count_monotonic_in_gpu_memory(
    gpu_count: int, small: int, extra: int, weights_gib: int, bytes_per_token: int
) -> None:
    """More memory per GPU never needs more nodes, and at least one node is always needed."""
    model = make_model(weights_bytes=weights_gib * GIB, bytes_per_token=bytes_per_token)

    def nodes(per_gpu: int) -> int | None:
        gpu = GpuConfig(
            sku="x", gpu_count=gpu_count, gpu_memory_gib=per_gpu * gpu_count, gpu_model="NVIDIA X"
        )
        try:
            return estimate_node_count(model=model, gpu=gpu)
        except GpuTooSmallError:
            return None

    smaller, larger = nodes(small), nodes(small + extra)
    if smaller is not None:
        assert larger is not None
        assert 1 <= larger <= smaller


def test_parallelism_tiers_and_flags() -> None:
    """DP and PP tiers switch LMCache offload off; flags are sorted."""
    catalog = default_catalog()
    dp = parallelism(model=catalog.model("phi-4"), gpu=_gpu(A100X4), node_count=1)
    assert (dp.tensor, dp.pipeline, dp.data) == (1, 1, 4)
    assert dp.flags == (
        ("data-parallel-size", "4"),
        ("kaito-kv-cache-cpu-memory-utilization", "0"),
        ("tensor-parallel-size", "1"),
    )
    pp = parallelism(model=catalog.model("deepseek-r1-0528"), gpu=_gpu(H100X8), node_count=2)
    assert (pp.tensor, pp.pipeline, pp.data) == (8, 2, 1)
    assert pp.flags == (
        ("distributed-executor-backend", "ray"),
        ("kaito-kv-cache-cpu-memory-utilization", "0"),
        ("pipeline-parallel-size", "2"),
        ("tensor-parallel-size", "8"),
    )
    tp = parallelism(model=catalog.model("llama-3.3-70b-instruct"), gpu=_gpu(H100X8), node_count=1)
    assert tp.flags == (("tensor-parallel-size", "8"),)


def test_transformers_fits_one_node() -> None:
    """Transformers refuses weights larger than one node's GPU memory, with upstream wording."""
    model = default_catalog().model("llama-3.3-70b-instruct")
    with pytest.raises(TransformersMultiNodeError) as info:
        check_transformers_fits(model=model, gpu=_gpu(A100))
    assert str(info.value) == (
        "Multi-node distributed inference is not supported with Huggingface Transformers runtime"
    )
    check_transformers_fits(model=model, gpu=_gpu(A100X4))


# -- GpuConfig ---------------------------------------------------------------------------------

LABELS = {
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    "nvidia.com/gpu.count": "8",
    "nvidia.com/gpu.memory": "81920",
    "nvidia.com/cuda.compute.major": "8",
    "nvidia.com/cuda.compute.minor": "0",
}


def test_from_sku() -> None:
    """A SKU's facts carry over to its GpuConfig."""
    gpu = _gpu("Standard_NC6s_v3")
    assert (gpu.sku, gpu.gpu_count, gpu.gpu_memory_gib) == ("Standard_NC6s_v3", 1, 16.0)
    assert (gpu.gpu_model, gpu.compute_capability, gpu.vendor) == ("NVIDIA V100", 7.0, "nvidia")
    assert not gpu.supports_bfloat16
    assert _gpu(A100).nvme
    assert _gpu(A100).supports_bfloat16


def test_from_node_labels() -> None:
    """GFD labels give count, total memory (rounded GiB x count), product and cc."""
    gpu = GpuConfig.from_node_labels(LABELS)
    assert (gpu.sku, gpu.gpu_count, gpu.gpu_memory_gib) == ("unknown", 8, 640.0)
    assert (gpu.gpu_model, gpu.compute_capability, gpu.is_mig) == (
        "NVIDIA-A100-SXM4-80GB",
        8.0,
        False,
    )


@pytest.mark.parametrize(
    ("mib", "total"),
    [("81559", 160.0), ("15360", 30.0), ("23028", 44.0)],
    ids=["80GB-card", "t4", "a10"],
)
def test_node_label_memory_rounding(mib: str, total: float) -> None:
    """Per-GPU MiB round to the nearest GiB before multiplying by the count."""
    labels = {**LABELS, "nvidia.com/gpu.memory": mib, "nvidia.com/gpu.count": "2"}
    assert GpuConfig.from_node_labels(labels).gpu_memory_gib == total


@pytest.mark.parametrize(
    "missing",
    ["nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory"],
    ids=["product", "count", "memory"],
)
def test_node_labels_missing(missing: str) -> None:
    """Any of the three required labels missing raises with upstream wording."""
    labels = {k: v for k, v in LABELS.items() if k != missing}
    with pytest.raises(GpuLabelsError) as info:
        GpuConfig.from_node_labels(labels, node_name="gpu-node-1")
    assert str(info.value) == "missing required nvidia.com labels on node gpu-node-1"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("nvidia.com/gpu.count", "eight", "invalid nvidia.com/gpu.count value on node n: eight"),
        ("nvidia.com/gpu.memory", "lots", "invalid nvidia.com/gpu.memory value on node n: lots"),
        ("nvidia.com/gpu.count", "0", "both must be > 0"),
    ],
    ids=["count", "memory", "zero"],
)
def test_node_labels_invalid(key: str, value: str, message: str) -> None:
    """Unreadable label values raise GpuLabelsError."""
    with pytest.raises(GpuLabelsError, match=message):
        GpuConfig.from_node_labels({**LABELS, key: value}, node_name="n")


def test_node_labels_optional_cc_and_mig() -> None:
    """Missing cc labels give None; a successful MIG config marks the node MIG."""
    labels = {k: v for k, v in LABELS.items() if "cuda" not in k}
    assert GpuConfig.from_node_labels(labels).compute_capability is None
    mig = {
        **LABELS,
        "nvidia.com/mig.config": "all-1g.10gb",
        "nvidia.com/mig.config.state": "success",
    }
    assert GpuConfig.from_node_labels(mig).is_mig
    disabled = {**mig, "nvidia.com/mig.config": "all-disabled"}
    assert not GpuConfig.from_node_labels(disabled).is_mig
    pending = {**mig, "nvidia.com/mig.config.state": "pending"}
    assert not GpuConfig.from_node_labels(pending).is_mig
    t4 = {**LABELS, "nvidia.com/cuda.compute.major": "7", "nvidia.com/cuda.compute.minor": "5"}
    assert GpuConfig.from_node_labels(t4).compute_capability == 7.5


def test_known_mig_profiles() -> None:
    """35 real NVIDIA MIG profiles are known, from 1g.5gb to 7g.180gb."""
    assert len(KNOWN_MIG_PROFILES) == 35
    for profile in ("1g.5gb", "1g.6gb", "3g.47gb", "7g.141gb", "7g.180gb"):
        assert profile in KNOWN_MIG_PROFILES


@pytest.mark.parametrize(
    ("profile", "memory"),
    [("1g.5gb", 5.0), ("3g.40gb", 40.0), ("3g.47gb", 47.0), ("7g.141gb", 141.0)],
    ids=["a100-40", "a100-80", "h100-94", "h200"],
)
def test_from_mig_profile(profile: str, memory: float) -> None:
    """A MIG slice is one GPU with the profile's GB as GiB."""
    gpu = GpuConfig.from_mig_profile(profile)
    assert (gpu.gpu_count, gpu.gpu_memory_gib, gpu.mig_profile, gpu.is_mig) == (
        1,
        memory,
        profile,
        True,
    )
    assert gpu.compute_capability is not None
    assert gpu.compute_capability >= 8.0


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("1g10gb", "invalid MIG profile format"),
        ("2g.15gb", "unknown MIG profile"),
        ("1g.5gb+me", "invalid MIG profile format"),
    ],
    ids=["format", "unknown", "media-extension"],
)
def test_bad_mig_profiles(profile: str, message: str) -> None:
    """Malformed or unknown MIG profiles raise MigProfileError."""
    with pytest.raises(MigProfileError, match=message):
        GpuConfig.from_mig_profile(profile)


def test_scaled_to() -> None:
    """An accelerator partition keeps per-GPU memory and replaces the count."""
    gpu = _gpu(H100X8).scaled_to(2)
    assert (gpu.gpu_count, gpu.gpu_memory_gib, gpu.gpu_model) == (2, 160.0, "NVIDIA H100")
    with pytest.raises(PartitionCountError, match=r"partition.count \(9\) exceeds GPUs"):
        _gpu(H100X8).scaled_to(9)
    with pytest.raises(PartitionCountError):
        _gpu(H100X8).scaled_to(0)
