"""Which GPUs we can start a runtime on, and what must change for older ones.

Pure: no I/O, no clock, no logging.

Upstream v0.12 dropped every SKU below compute capability 8.0, because presets run in bfloat16.
We keep serving Volta and Turing (7.x) GPUs by running them in float16, and reject only what no
runtime we start can use:

============================  ===========================================================
GPU                           policy
============================  ===========================================================
NVIDIA, cc >= 8.0             upstream behaviour: the model's own dtype
NVIDIA, cc 7.x (V100, T4)     ``float16`` (no bfloat16 on these GPUs), with a note
NVIDIA, cc unknown (BYO)      the model's own dtype (nothing known to act on)
NVIDIA, cc < 7.0 (M60, K80)   `UnsupportedGpuError`, naming alternatives
not NVIDIA (AMD, Trainium)    `UnsupportedGpuError`, naming alternatives
============================  ===========================================================

The estimator's arithmetic does not change with the dtype: float16 weights are as large as
bfloat16 ones.

`usability` states the same table per GPU without a runtime (``yes`` / ``float16`` / ``no`` and
why); ``kaito skus`` shows it. Both read one private verdict, so the catalog listing and
validation never disagree.
"""

from __future__ import annotations

import attrs

from kaito_core.errors import UnsupportedGpuError
from kaito_core.gpu import UNKNOWN_SKU, GpuConfig
from kaito_presets import Catalog, GpuSku

__all__ = [
    "MIN_BF16_COMPUTE_CAPABILITY",
    "MIN_COMPUTE_CAPABILITY",
    "RUNTIMES",
    "RuntimePolicy",
    "Usability",
    "alternative_skus",
    "runtime_policy",
    "usability",
]

#: The oldest NVIDIA generation our images run on (Volta).
MIN_COMPUTE_CAPABILITY = 7.0
#: bfloat16 needs Ampere or newer.
MIN_BF16_COMPUTE_CAPABILITY = 8.0
RUNTIMES = ("transformers", "vllm")
_MAX_ALTERNATIVES = 3


@attrs.frozen(kw_only=True)
class RuntimePolicy:
    """What the runtime must do differently on this GPU."""

    #: ``float16`` to override the model's dtype; None keeps the model's dtype.
    dtype: str | None = None
    #: A sentence for users explaining the override, if any.
    note: str | None = None


@attrs.frozen(kw_only=True)
class Usability:
    """Whether a runtime can start on a GPU, for listings (``kaito skus``)."""

    #: ``yes`` (the model's own dtype), ``float16`` (runs, with the dtype overridden) or ``no``.
    usable: str
    #: Why, for ``float16`` and ``no``; empty for ``yes``.
    reason: str = ""


def _rejection(gpu: GpuConfig) -> str | None:
    """``vendor`` or ``capability`` when no runtime we start can use `gpu`, else None."""
    if gpu.vendor != "nvidia":
        return "vendor"
    cc = gpu.compute_capability
    if cc is not None and cc < MIN_COMPUTE_CAPABILITY:
        return "capability"
    return None


def _needs_float16(gpu: GpuConfig) -> bool:
    cc = gpu.compute_capability
    return cc is not None and cc < MIN_BF16_COMPUTE_CAPABILITY


def usability(*, gpu: GpuConfig) -> Usability:
    """Whether any runtime starts on `gpu`, and how: the verdict `runtime_policy` enforces.

    Pure: no I/O, no clock, no logging.
    """
    rejection = _rejection(gpu)
    if rejection == "vendor":
        return Usability(
            usable="no",
            reason=f"not NVIDIA (vendor {gpu.vendor}): the vLLM and Transformers images need CUDA",
        )
    if rejection == "capability":
        return Usability(
            usable="no",
            reason=(
                f"compute capability {gpu.compute_capability:.1f} is below "
                f"{MIN_COMPUTE_CAPABILITY:.1f}, the oldest any runtime supports"
            ),
        )
    if _needs_float16(gpu):
        return Usability(
            usable="float16",
            reason=(
                f"no bfloat16 below compute capability {MIN_BF16_COMPUTE_CAPABILITY:.1f}: "
                "runs in float16 (upstream v0.12 dropped it)"
            ),
        )
    return Usability(usable="yes")


def alternative_skus(
    gpu: GpuConfig, catalog: Catalog, *, limit: int = _MAX_ALTERNATIVES
) -> tuple[GpuSku, ...]:
    """Up to `limit` NVIDIA SKUs with cc >= 7.0 whose per-GPU memory is closest to `gpu`'s.

    Pure: no I/O, no clock, no logging.

    Only SKUs of the same cloud as `gpu`'s SKU are considered when that SKU is in the catalog.
    Ties go to a similar GPU count, then to current (non-legacy) SKUs, then by name.
    """
    own = catalog.find_sku(gpu.sku) if gpu.sku != UNKNOWN_SKU else None
    candidates = [
        s
        for s in catalog.skus(cloud=own.cloud if own is not None else None)
        if s.vendor == "nvidia"
        and s.compute_capability is not None
        and s.compute_capability >= MIN_COMPUTE_CAPABILITY
        and s.instance_type.lower() != gpu.sku.lower()
    ]
    target = gpu.gpu_memory_per_gpu_gib
    candidates.sort(
        key=lambda s: (
            abs(s.gpu_memory_per_gpu_gib - target),
            abs(s.gpu_count - gpu.gpu_count),
            s.legacy,
            s.instance_type,
        )
    )
    return tuple(candidates[:limit])


def _describe(gpu: GpuConfig) -> str:
    if gpu.sku == UNKNOWN_SKU:
        return f"the nodes' {gpu.gpu_model or 'unknown'} GPUs"
    return f"instance type {gpu.sku} ({gpu.gpu_count}x {gpu.gpu_model or 'unknown GPU'})"


def _reject(gpu: GpuConfig, why: str, catalog: Catalog | None) -> UnsupportedGpuError:
    message = f"{_describe(gpu)} cannot run any KAITO runtime: {why}."
    if catalog is not None:
        alternatives = alternative_skus(gpu, catalog)
        if alternatives:
            listed = ", ".join(
                f"{s.instance_type} ({s.gpu_count}x {s.gpu_model} {s.gpu_memory_per_gpu_gib:g}GiB)"
                for s in alternatives
            )
            message += f" Supported alternatives of similar memory: {listed}."
    path = "spec.resource.labelSelector" if gpu.sku == UNKNOWN_SKU else "spec.resource.instanceType"
    return UnsupportedGpuError(message, path=path)


def runtime_policy(
    *, gpu: GpuConfig, runtime: str, catalog: Catalog | None = None
) -> RuntimePolicy:
    """The dtype override and note for `runtime` on `gpu`, or `UnsupportedGpuError`.

    Pure: no I/O, no clock, no logging.

    `catalog` (when given) supplies the alternatives named in the error.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    rejection = _rejection(gpu)
    if rejection == "vendor":
        why = (
            f"its accelerators ({gpu.gpu_model or 'unknown model'}, vendor {gpu.vendor}) are not "
            "NVIDIA GPUs, and our vLLM and Transformers images need NVIDIA CUDA"
        )
        raise _reject(gpu, why, catalog)
    if rejection == "capability":
        why = (
            f"compute capability {gpu.compute_capability:.1f} of {gpu.gpu_model or 'its GPU'} is "
            f"below {MIN_COMPUTE_CAPABILITY:.1f}, the minimum any runtime we start supports"
        )
        raise _reject(gpu, why, catalog)
    if not _needs_float16(gpu):
        return RuntimePolicy()
    runtime_label = "vLLM" if runtime == "vllm" else "Transformers"
    return RuntimePolicy(
        dtype="float16",
        note=(
            f"float16 chosen for {runtime_label}: {gpu.gpu_model} (compute capability "
            f"{gpu.compute_capability:.1f}) has no bfloat16 support"
        ),
    )
