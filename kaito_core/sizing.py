"""How many nodes a preset needs on a GPU config, and how vLLM spreads it over them.

Pure: no I/O, no clock, no logging.

`estimate_node_count` is upstream's v0.12 node estimator (presets.md §3.2) byte for byte, quirks
included, so a workspace gets the same ``status.targetNodeCount`` here as upstream:

    model      = weights_bytes * 1.02
    per_gpu    = total_gpu_bytes // gpu_count
    available  = per_gpu * 0.84
    reserve    = 2.3 GiB + max_model_len * bytes_per_token / gpu_count
    for_weight = (available - reserve) / 1.05
    gpus       = int(model / for_weight) + 1
    nodes      = ceil(gpus / gpu_count)

`parallelism` picks the vLLM parallel flags (§3.3): data-parallel when a small model sits on a
multi-GPU node, tensor-parallel over every GPU of a node, plus pipeline-parallel across nodes.
"""

from __future__ import annotations

import attrs

from kaito_core.errors import SizingError
from kaito_core.gpu import GpuConfig
from kaito_presets import GIB, ModelPreset

__all__ = [
    "BASE_OVERHEAD_GIB",
    "DEFAULT_MAX_MODEL_LEN",
    "GPU_MEMORY_UTILIZATION",
    "OVERHEAD_WEIGHT_FACTOR",
    "WEIGHT_EXPANSION_FACTOR",
    "GpuConfig",
    "GpuTooSmallError",
    "MigShortfallError",
    "NotDistributableError",
    "Parallelism",
    "TransformersMultiNodeError",
    "check_transformers_fits",
    "estimate_node_count",
    "parallelism",
]

#: vLLM holds weights about 2% larger than their safetensor size.
WEIGHT_EXPANSION_FACTOR = 1.02
#: The share of GPU memory the estimator assumes vLLM may use (0.84 even on A10, where vLLM is
#: started with 0.82: an upstream quirk kept for identical node counts).
GPU_MEMORY_UTILIZATION = 0.84
#: CUDA context, NCCL buffers, activations and CUDA graphs of a small model, per GPU.
BASE_OVERHEAD_GIB = 2.3
#: Runtime overhead growing with the per-GPU weight share.
OVERHEAD_WEIGHT_FACTOR = 0.05
#: Context the KV-cache reserve is sized for when the ConfigMap sets no ``max-model-len``.
DEFAULT_MAX_MODEL_LEN = 2048

_KV_OFFLOAD_OFF = ("kaito-kv-cache-cpu-memory-utilization", "0")


class GpuTooSmallError(SizingError):
    """One GPU cannot even hold the fixed overhead and the KV cache."""

    reason = "GPUTooSmall"


class MigShortfallError(SizingError):
    """The model does not fit one MIG slice (a slice cannot be spread over nodes)."""

    reason = "MIGSliceTooSmall"


class NotDistributableError(SizingError):
    """The model needs several nodes but cannot run distributed."""

    reason = "NotDistributable"


class TransformersMultiNodeError(SizingError):
    """Transformers serves from one node; the weights are larger than its GPU memory."""

    reason = "TransformersMultiNode"


def _total_bytes(gpu: GpuConfig) -> int:
    return round(gpu.gpu_memory_gib * GIB)


def estimate_node_count(
    *,
    model: ModelPreset | None,
    gpu: GpuConfig,
    max_model_len: int | None = None,
    count: int | None = None,
) -> int:
    """Nodes needed to serve `model` with vLLM on nodes like `gpu`.

    Pure: no I/O, no clock, no logging.

    Without a model (template inference) or without GPU facts, the requested `count` (or 1).
    Otherwise the count is computed and `count` is ignored, as upstream does under node
    auto-provisioning. `max_model_len` is the ConfigMap's explicit ``vllm.max-model-len``.
    """
    requested = count if count is not None and count > 0 else 1
    if model is None or gpu.gpu_count <= 0 or gpu.gpu_memory_gib <= 0:
        return requested
    context = max_model_len if max_model_len is not None and max_model_len > 0 else None
    ctx = context or DEFAULT_MAX_MODEL_LEN

    model_bytes = model.weights_bytes * WEIGHT_EXPANSION_FACTOR
    per_gpu = _total_bytes(gpu) // gpu.gpu_count
    available = per_gpu * GPU_MEMORY_UTILIZATION
    base = BASE_OVERHEAD_GIB * GIB
    kv_cache = ctx * model.bytes_per_token / gpu.gpu_count
    reserve = base + kv_cache
    if available <= reserve:
        raise GpuTooSmallError(
            f"GPU memory {per_gpu} bytes is too small, needs at least {reserve / GIB:.1f} GB "
            f"overhead (base: {BASE_OVERHEAD_GIB:.1f}GB + KV Cache: {kv_cache / GIB:.1f} GB) "
            f"for model {model.name} at max-model-len {ctx}",
            path="spec.resource",
        )
    for_weights = (available - reserve) / (1 + OVERHEAD_WEIGHT_FACTOR)
    min_gpus = int(model_bytes / for_weights) + 1
    nodes = -(-min_gpus // gpu.gpu_count)

    if gpu.is_mig and nodes > 1:
        overhead = reserve + OVERHEAD_WEIGHT_FACTOR * model_bytes
        raise MigShortfallError(
            f"model needs {(model_bytes + overhead) / GIB:.1f}GB (weights {model_bytes / GIB:.1f}GB"
            f" + overhead {overhead / GIB:.1f}GB) but MIG profile {gpu.mig_profile or 'in use'} "
            f"only provides {per_gpu / GIB:.0f}GB ({available / GIB:.1f}GB available after vLLM "
            "gpu-memory-utilization)",
            path="spec.resource.partition",
        )
    if nodes > 1 and not model.distributed:
        raise NotDistributableError(
            "models with disabled support distributed inference cannot be distributed across "
            "more than 1 GPU node, please use a node with larger GPU memory, calculated nodes: "
            f"{nodes}",
            path="spec.resource.instanceType",
        )
    return nodes


@attrs.frozen(kw_only=True)
class Parallelism:
    """How vLLM spreads one model: tensor x pipeline x data parallel, and the flags that say so."""

    tensor: int
    pipeline: int
    data: int
    #: Sorted vLLM flags, e.g. ``(("tensor-parallel-size", "4"),)``.
    flags: tuple[tuple[str, str], ...]


def parallelism(*, model: ModelPreset, gpu: GpuConfig, node_count: int) -> Parallelism:
    """The parallel layout of `model` on `node_count` nodes like `gpu` (upstream's three tiers).

    Pure: no I/O, no clock, no logging.

    1. Data parallel: one node with several GPUs and weights under half of one GPU
       (``weights * gpus * 2 < node memory``): ``data-parallel-size=<gpus>``, TP 1.
    2. Tensor parallel over all GPUs of the node (never a smaller divisor).
    3. Several nodes: also ``pipeline-parallel-size=<nodes>`` on the Ray executor.
    The data- and pipeline-parallel tiers turn LMCache CPU offload off.
    """
    gpus = max(gpu.gpu_count, 1)
    nodes = max(node_count, 1)
    if nodes > 1 and not model.distributed:
        raise NotDistributableError(
            f"model {model.name} cannot be distributed across {nodes} nodes",
            path="spec.resource",
        )
    if nodes == 1 and gpus > 1 and model.weights_bytes * gpus * 2 < _total_bytes(gpu):
        flags = {
            "data-parallel-size": str(gpus),
            "tensor-parallel-size": "1",
            _KV_OFFLOAD_OFF[0]: _KV_OFFLOAD_OFF[1],
        }
        return Parallelism(tensor=1, pipeline=1, data=gpus, flags=tuple(sorted(flags.items())))
    flags = {"tensor-parallel-size": str(gpus)}
    if nodes > 1:
        flags["pipeline-parallel-size"] = str(nodes)
        flags["distributed-executor-backend"] = "ray"
        flags[_KV_OFFLOAD_OFF[0]] = _KV_OFFLOAD_OFF[1]
    return Parallelism(tensor=gpus, pipeline=nodes, data=1, flags=tuple(sorted(flags.items())))


def check_transformers_fits(*, model: ModelPreset, gpu: GpuConfig) -> None:
    """Raise `TransformersMultiNodeError` if the weights exceed one node's GPU memory.

    Pure: no I/O, no clock, no logging.
    """
    if model.weights_bytes > _total_bytes(gpu):
        raise TransformersMultiNodeError(
            "Multi-node distributed inference is not supported with Huggingface Transformers "
            "runtime",
            path="spec.resource.instanceType",
        )
