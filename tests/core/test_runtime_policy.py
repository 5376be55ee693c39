"""Runtime policy by GPU generation and vendor (kaito_core.runtime_policy)."""

from __future__ import annotations

import pytest

from kaito_core.errors import SpecError, UnsupportedGpuError
from kaito_core.gpu import GpuConfig
from kaito_core.runtime_policy import RuntimePolicy, alternative_skus, runtime_policy, usability
from kaito_presets import Catalog, default_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped catalog."""
    return default_catalog()


def _gpu(catalog: Catalog, instance_type: str) -> GpuConfig:
    return GpuConfig.from_sku(catalog.sku(instance_type))


@pytest.mark.parametrize(
    ("instance_type", "runtime"),
    [
        ("Standard_NC24ads_A100_v4", "vllm"),
        ("Standard_NC24ads_A100_v4", "transformers"),
        ("Standard_NV36ads_A10_v5", "vllm"),
        ("Standard_ND96isr_H200_v5", "vllm"),
        ("g6.xlarge", "vllm"),
        ("Standard_NC4_A2", "transformers"),
    ],
    ids=["a100-vllm", "a100-tfs", "a10", "h200", "l4", "arc-a2"],
)
def test_ampere_and_newer_keep_upstream_behaviour(
    catalog: Catalog, instance_type: str, runtime: str
) -> None:
    """cc >= 8.0: no override, no note."""
    assert runtime_policy(gpu=_gpu(catalog, instance_type), runtime=runtime) == RuntimePolicy()


@pytest.mark.parametrize(
    ("instance_type", "runtime", "note"),
    [
        (
            "Standard_NC6s_v3",
            "vllm",
            "float16 chosen for vLLM: NVIDIA V100 (compute capability 7.0) has no bfloat16 support",
        ),
        (
            "Standard_NC24s_v3",
            "transformers",
            "float16 chosen for Transformers: NVIDIA V100 (compute capability 7.0) has no bfloat16 "
            "support",
        ),
        (
            "Standard_NC4as_T4_v3",
            "vllm",
            "float16 chosen for vLLM: NVIDIA T4 (compute capability 7.5) has no bfloat16 support",
        ),
        (
            "Standard_NC64as_T4_v3",
            "transformers",
            "float16 chosen for Transformers: NVIDIA T4 (compute capability 7.5) has no bfloat16 "
            "support",
        ),
    ],
    ids=["v100-vllm", "v100-tfs", "t4-vllm", "t4-tfs"],
)
def test_volta_and_turing_get_float16(
    catalog: Catalog, instance_type: str, runtime: str, note: str
) -> None:
    """cc 7.x: float16 with a note, for vLLM and for Transformers (tuning)."""
    policy = runtime_policy(gpu=_gpu(catalog, instance_type), runtime=runtime, catalog=catalog)
    assert policy == RuntimePolicy(dtype="float16", note=note)


@pytest.mark.parametrize(
    ("instance_type", "gpu_name", "why", "alternatives"),
    [
        (
            "Standard_NV6",
            "NVIDIA M60",
            "compute capability 5.2 of NVIDIA M60 is below 7.0",
            ["Standard_NC16as_T4_v3", "Standard_NC4as_T4_v3", "Standard_NC6s_v3"],
        ),
        (
            "Standard_NV24",
            "NVIDIA M60",
            "compute capability 5.2 of NVIDIA M60 is below 7.0",
            ["Standard_NC24rs_v3", "Standard_NC24s_v3", "Standard_NC64as_T4_v3"],
        ),
        (
            "Standard_NC6",
            "NVIDIA K80",
            "compute capability 3.7 of NVIDIA K80 is below 7.0",
            ["Standard_NC16as_T4_v3", "Standard_NC4as_T4_v3", "Standard_NC6s_v3"],
        ),
        (
            "Standard_NG32ads_V620_v1",
            "AMD Radeon PRO V620",
            "vendor amd) are not NVIDIA GPUs",
            ["Standard_NV36ads_A10_v5", "Standard_NV72ads_A10_v5"],
        ),
        (
            "Standard_NV32as_v4",
            "AMD Radeon Instinct MI25",
            "vendor amd) are not NVIDIA GPUs",
            ["Standard_NC16as_T4_v3", "Standard_NC4as_T4_v3"],
        ),
        (
            "g4ad.xlarge",
            "AMD Radeon Pro V520",
            "vendor amd) are not NVIDIA GPUs",
            ["g5.16xlarge", "g5.2xlarge", "g5.4xlarge"],
        ),
        (
            "trn1.2xlarge",
            "AWS Trainium accelerators",
            "vendor aws) are not NVIDIA GPUs",
            ["g5.16xlarge"],
        ),
        (
            "inf2.xlarge",
            "AWS Inferentia2 accelerators",
            "vendor aws) are not NVIDIA GPUs",
            ["g5.16xlarge"],
        ),
    ],
    ids=["m60", "m60x4", "k80", "amd-v620", "amd-mi25", "amd-v520", "trainium", "inferentia"],
)
def test_unsupported_gpus_are_rejected(
    catalog: Catalog, instance_type: str, gpu_name: str, why: str, alternatives: list[str]
) -> None:
    """cc < 7.0 and non-NVIDIA accelerators raise, naming SKU, GPU, reason and alternatives."""
    for runtime in ("vllm", "transformers"):
        with pytest.raises(UnsupportedGpuError) as info:
            runtime_policy(gpu=_gpu(catalog, instance_type), runtime=runtime, catalog=catalog)
        message = str(info.value)
        assert f"instance type {instance_type}" in message
        assert gpu_name in message
        assert why in message
        assert "Supported alternatives of similar memory: " in message
        for alternative in alternatives:
            assert alternative in message
        assert isinstance(info.value, SpecError)
        assert info.value.reason == "UnsupportedGPU"
        assert info.value.path == "spec.resource.instanceType"


def test_below_minimum_message_names_the_floor(catalog: Catalog) -> None:
    """The cc message says 7.0 is the minimum any runtime we start supports."""
    with pytest.raises(UnsupportedGpuError, match="the minimum any runtime we start supports"):
        runtime_policy(gpu=_gpu(catalog, "Standard_NV12s_v3"), runtime="vllm", catalog=catalog)


def test_alternatives_are_same_cloud_nvidia_and_modern_enough(catalog: Catalog) -> None:
    """Alternatives are at most 3 NVIDIA SKUs of the same cloud with cc >= 7.0."""
    for sku in catalog.skus():
        gpu = GpuConfig.from_sku(sku)
        found = alternative_skus(gpu, catalog)
        assert 1 <= len(found) <= 3
        for alt in found:
            assert alt.cloud == sku.cloud
            assert alt.vendor == "nvidia"
            assert alt.compute_capability is not None
            assert alt.compute_capability >= 7.0
            assert alt.instance_type != sku.instance_type


def test_error_without_catalog_has_no_alternatives(catalog: Catalog) -> None:
    """Without a catalog the error still names SKU, GPU and reason."""
    with pytest.raises(UnsupportedGpuError) as info:
        runtime_policy(gpu=_gpu(catalog, "Standard_NV6"), runtime="vllm")
    assert "alternatives" not in str(info.value)
    assert "Standard_NV6" in str(info.value)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, RuntimePolicy()),
        (
            {"nvidia.com/cuda.compute.major": "9", "nvidia.com/cuda.compute.minor": "0"},
            RuntimePolicy(),
        ),
        (
            {"nvidia.com/cuda.compute.major": "7", "nvidia.com/cuda.compute.minor": "5"},
            RuntimePolicy(
                dtype="float16",
                note="float16 chosen for vLLM: Tesla-T4 (compute "
                "capability 7.5) has no bfloat16 support",
            ),
        ),
    ],
    ids=["unknown-cc", "hopper", "turing"],
)
def test_byo_nodes(labels: dict[str, str], expected: RuntimePolicy) -> None:
    """BYO nodes: unknown cc keeps the model dtype; known cc follows the table."""
    base = {
        "nvidia.com/gpu.product": "Tesla-T4",
        "nvidia.com/gpu.count": "1",
        "nvidia.com/gpu.memory": "15360",
    }
    gpu = GpuConfig.from_node_labels({**base, **labels})
    assert runtime_policy(gpu=gpu, runtime="vllm") == expected


def test_byo_old_gpu_rejected(catalog: Catalog) -> None:
    """A BYO K80 (cc 3.7) is rejected; alternatives come from every cloud."""
    gpu = GpuConfig.from_node_labels(
        {
            "nvidia.com/gpu.product": "Tesla-K80",
            "nvidia.com/gpu.count": "1",
            "nvidia.com/gpu.memory": "12288",
            "nvidia.com/cuda.compute.major": "3",
            "nvidia.com/cuda.compute.minor": "7",
        }
    )
    with pytest.raises(UnsupportedGpuError) as info:
        runtime_policy(gpu=gpu, runtime="vllm", catalog=catalog)
    message = str(info.value)
    assert "Tesla-K80" in message
    assert "compute capability 3.7" in message
    assert info.value.path == "spec.resource.labelSelector"


def test_unknown_runtime() -> None:
    """Only vllm and transformers are runtimes."""
    gpu = GpuConfig(sku="unknown", gpu_count=1, gpu_memory_gib=80, gpu_model="NVIDIA A100")
    with pytest.raises(ValueError, match="unknown runtime"):
        runtime_policy(gpu=gpu, runtime="tgi")


@pytest.mark.parametrize(
    ("instance_type", "usable", "reason"),
    [
        ("Standard_NC24ads_A100_v4", "yes", ""),
        ("p5.48xlarge", "yes", ""),
        ("Standard_NC6s_v3", "float16", "no bfloat16 below compute capability 8.0"),
        ("Standard_NC4as_T4_v3", "float16", "no bfloat16 below compute capability 8.0"),
        ("Standard_NV6", "no", "compute capability 5.2 is below 7.0"),
        ("Standard_NG32ads_V620_v1", "no", "not NVIDIA (vendor amd)"),
        ("g4ad.xlarge", "no", "not NVIDIA (vendor amd)"),
        ("inf2.xlarge", "no", "not NVIDIA (vendor aws)"),
        ("trn1.2xlarge", "no", "not NVIDIA (vendor aws)"),
    ],
    ids=["a100", "h100", "v100", "t4", "m60", "amd-v620", "amd-v520", "inferentia", "trainium"],
)
def test_usability_says_yes_float16_or_no_with_why(
    catalog: Catalog, instance_type: str, usable: str, reason: str
) -> None:
    """usability(): yes with no reason; float16 and no always say why."""
    verdict = usability(gpu=_gpu(catalog, instance_type))
    assert verdict.usable == usable
    if reason:
        assert reason in verdict.reason
    else:
        assert verdict.reason == ""


@pytest.mark.parametrize("runtime", ["vllm", "transformers"])
def test_usability_agrees_with_the_policy_validation_enforces(
    catalog: Catalog, runtime: str
) -> None:
    """For every catalog SKU: no <=> runtime_policy raises; float16 <=> the dtype is overridden."""
    for sku in catalog.skus():
        gpu = GpuConfig.from_sku(sku)
        verdict = usability(gpu=gpu)
        try:
            policy = runtime_policy(gpu=gpu, runtime=runtime, catalog=catalog)
        except UnsupportedGpuError:
            assert verdict.usable == "no", sku.instance_type
            continue
        expected = "float16" if policy.dtype == "float16" else "yes"
        assert verdict.usable == expected, sku.instance_type
