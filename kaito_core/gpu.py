"""The GPU configuration of one node (or one partition of it) that a workspace is sized for.

Pure: no I/O, no clock, no logging.

Three sources, as upstream: a catalog SKU (node auto-provisioning), the NVIDIA GPU Feature
Discovery labels of a ready node (bring-your-own nodes, SKU ``unknown``), or a MIG profile
(``partition.mode=mig``). An accelerator partition scales a node's config to fewer whole GPUs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from kaito_core.errors import SizingError
from kaito_presets import GpuSku

__all__ = [
    "KNOWN_MIG_PROFILES",
    "LABEL_CUDA_MAJOR",
    "LABEL_CUDA_MINOR",
    "LABEL_GPU_COUNT",
    "LABEL_GPU_MEMORY",
    "LABEL_GPU_PRODUCT",
    "LABEL_MIG_CONFIG",
    "LABEL_MIG_CONFIG_STATE",
    "UNKNOWN_SKU",
    "GpuConfig",
    "GpuLabelsError",
    "MigProfileError",
    "PartitionCountError",
    "validate_mig_profile",
]

UNKNOWN_SKU = "unknown"
LABEL_GPU_PRODUCT = "nvidia.com/gpu.product"
LABEL_GPU_COUNT = "nvidia.com/gpu.count"
LABEL_GPU_MEMORY = "nvidia.com/gpu.memory"  # MiB per GPU
LABEL_CUDA_MAJOR = "nvidia.com/cuda.compute.major"
LABEL_CUDA_MINOR = "nvidia.com/cuda.compute.minor"
LABEL_MIG_CONFIG = "nvidia.com/mig.config"
LABEL_MIG_CONFIG_STATE = "nvidia.com/mig.config.state"

_MIG_RE = re.compile(r"^(\d+)g\.([\d.]+)gb$")

#: Known NVIDIA MIG profiles -> (GPUs offering them, the lowest compute capability among those).
#: ``+me`` media-extension variants are left out: the profile format does not admit them.
KNOWN_MIG_PROFILES: Mapping[str, tuple[str, float]] = {
    # A30 24GB
    "1g.6gb": ("A30", 8.0),
    "2g.12gb": ("A30", 8.0),
    "4g.24gb": ("A30", 8.0),
    # A100 40GB
    "1g.5gb": ("A100-40GB", 8.0),
    "2g.10gb": ("A100-40GB", 8.0),
    "3g.20gb": ("A100-40GB", 8.0),
    "4g.20gb": ("A100-40GB", 8.0),
    "7g.40gb": ("A100-40GB", 8.0),
    # A100 80GB and H100 80GB (1g.10gb also exists on A100 40GB)
    "1g.10gb": ("A100-40GB/A100-80GB/H100-80GB", 8.0),
    "1g.20gb": ("A100-80GB/H100-80GB", 8.0),
    "2g.20gb": ("A100-80GB/H100-80GB", 8.0),
    "3g.40gb": ("A100-80GB/H100-80GB", 8.0),
    "4g.40gb": ("A100-80GB/H100-80GB", 8.0),
    "7g.80gb": ("A100-80GB/H100-80GB", 8.0),
    # H100 NVL 94GB and GH200 96GB
    "1g.12gb": ("H100-94GB/H100-96GB", 9.0),
    "1g.24gb": ("H100-94GB/H100-96GB", 9.0),
    "2g.24gb": ("H100-94GB/H100-96GB", 9.0),
    "3g.47gb": ("H100-94GB", 9.0),
    "4g.47gb": ("H100-94GB", 9.0),
    "7g.94gb": ("H100-94GB", 9.0),
    "3g.48gb": ("H100-96GB", 9.0),
    "4g.48gb": ("H100-96GB", 9.0),
    "7g.96gb": ("H100-96GB", 9.0),
    # H200 141GB
    "1g.18gb": ("H200-141GB", 9.0),
    "1g.35gb": ("H200-141GB", 9.0),
    "2g.35gb": ("H200-141GB", 9.0),
    "3g.71gb": ("H200-141GB", 9.0),
    "4g.71gb": ("H200-141GB", 9.0),
    "7g.141gb": ("H200-141GB", 9.0),
    # B200 180GB
    "1g.23gb": ("B200-180GB", 10.0),
    "1g.45gb": ("B200-180GB", 10.0),
    "2g.45gb": ("B200-180GB", 10.0),
    "3g.90gb": ("B200-180GB", 10.0),
    "4g.90gb": ("B200-180GB", 10.0),
    "7g.180gb": ("B200-180GB", 10.0),
}


class GpuLabelsError(SizingError):
    """A node's NVIDIA labels are missing or unreadable, so its GPUs are unknown."""

    reason = "GPUConfigUnknown"


class MigProfileError(SizingError):
    """A MIG profile is malformed or not one NVIDIA GPUs offer."""

    reason = "InvalidMIGProfile"


class PartitionCountError(SizingError):
    """An accelerator partition asks for more GPUs than the node has (or fewer than one)."""

    reason = "InvalidPartition"


def validate_mig_profile(profile: str) -> tuple[int, float]:
    """Compute slices and memory (GB) of `profile`; raises `MigProfileError` if unknown."""
    match = _MIG_RE.match(profile)
    if match is None:
        raise MigProfileError(
            f"invalid MIG profile format {profile!r}: expected format like '1g.10gb'",
            path="spec.resource.partition.profile",
        )
    slices, memory = int(match.group(1)), float(match.group(2))
    if profile not in KNOWN_MIG_PROFILES:
        known = ", ".join(sorted(KNOWN_MIG_PROFILES, key=_mig_sort_key))
        raise MigProfileError(
            f"unknown MIG profile {profile!r}: must be one of {known}",
            path="spec.resource.partition.profile",
        )
    return slices, memory


def _mig_sort_key(profile: str) -> tuple[float, int]:
    slices, memory = profile.split(".", 1)
    return float(memory[:-2]), int(slices[:-1])


@attrs.frozen(kw_only=True)
class GpuConfig:
    """GPUs of one node (or partition): count, total memory, model, capabilities."""

    #: Instance type, or ``unknown`` for bring-your-own nodes and partitions.
    sku: str
    gpu_count: int
    #: Total GPU memory of the node (all GPUs), GiB.
    gpu_memory_gib: float
    gpu_model: str
    nvme: bool = False
    compute_capability: float | None = None
    #: The MIG profile when sized for one MIG slice (``partition.mode=mig``).
    mig_profile: str | None = None
    vendor: str = "nvidia"
    #: GPUs are MIG-partitioned (a profile was given, or the node labels say so).
    is_mig: bool = False

    @property
    def gpu_memory_per_gpu_gib(self) -> float:
        """Memory of one GPU (or slice), GiB."""
        return self.gpu_memory_gib / self.gpu_count if self.gpu_count else 0.0

    @property
    def supports_bfloat16(self) -> bool:
        """True on Ampere and newer (compute capability >= 8.0)."""
        return self.compute_capability is not None and self.compute_capability >= 8.0

    @classmethod
    def from_sku(cls, sku: GpuSku) -> GpuConfig:
        """The config of a catalog SKU."""
        return cls(
            sku=sku.instance_type,
            gpu_count=sku.gpu_count,
            gpu_memory_gib=float(sku.gpu_memory_gib),
            gpu_model=sku.gpu_model,
            nvme=sku.nvme,
            compute_capability=sku.compute_capability,
            vendor=sku.vendor,
        )

    @classmethod
    def from_node_labels(cls, labels: Mapping[str, str], *, node_name: str = "") -> GpuConfig:
        """The config GPU Feature Discovery advertises on a node.

        ``nvidia.com/gpu.memory`` is MiB per GPU; the total is ``round(MiB / 1024) * count`` GiB.
        Product, count and memory are required; compute capability is read when present.
        """
        product = labels.get(LABEL_GPU_PRODUCT)
        count_text = labels.get(LABEL_GPU_COUNT)
        memory_text = labels.get(LABEL_GPU_MEMORY)
        if product is None or count_text is None or memory_text is None:
            raise GpuLabelsError(f"missing required nvidia.com labels on node {node_name}".rstrip())
        try:
            count = int(count_text)
        except ValueError:
            raise GpuLabelsError(
                f"invalid {LABEL_GPU_COUNT} value on node {node_name}: {count_text}"
            ) from None
        try:
            memory_mib = int(memory_text)
        except ValueError:
            raise GpuLabelsError(
                f"invalid {LABEL_GPU_MEMORY} value on node {node_name}: {memory_text}"
            ) from None
        if count <= 0 or memory_mib <= 0:
            raise GpuLabelsError(
                f"node {node_name} advertises {count} GPUs of {memory_mib} MiB; both must be > 0"
            )
        per_gpu_gib = int(memory_mib / 1024 + 0.5)
        mig_config = labels.get(LABEL_MIG_CONFIG, "")
        is_mig = (
            mig_config not in ("", "all-disabled")
            and labels.get(LABEL_MIG_CONFIG_STATE) == "success"
        )
        return cls(
            sku=UNKNOWN_SKU,
            gpu_count=count,
            gpu_memory_gib=float(per_gpu_gib * count),
            gpu_model=product,
            compute_capability=_compute_capability(labels),
            is_mig=is_mig,
        )

    @classmethod
    def from_mig_profile(cls, profile: str) -> GpuConfig:
        """One MIG slice: one GPU with ``floor(GB)`` GiB (``3g.47gb`` -> 47 GiB)."""
        _, memory_gb = validate_mig_profile(profile)
        gpus, capability = KNOWN_MIG_PROFILES[profile]
        return cls(
            sku=UNKNOWN_SKU,
            gpu_count=1,
            gpu_memory_gib=float(int(memory_gb)),
            gpu_model=f"NVIDIA MIG {profile} ({gpus})",
            compute_capability=capability,
            mig_profile=profile,
            is_mig=True,
        )

    def scaled_to(self, count: int) -> GpuConfig:
        """This node's config cut to `count` whole GPUs (accelerator partition)."""
        if count < 1 or count > self.gpu_count:
            raise PartitionCountError(
                f"partition.count ({count}) exceeds GPUs available on node ({self.gpu_count})"
                if count > self.gpu_count
                else f"partition.count ({count}) must be at least 1",
                path="spec.resource.partition.count",
            )
        return attrs.evolve(
            self, gpu_count=count, gpu_memory_gib=self.gpu_memory_per_gpu_gib * count
        )


def _compute_capability(labels: Mapping[str, str]) -> float | None:
    try:
        major = int(labels[LABEL_CUDA_MAJOR])
    except (KeyError, ValueError):
        return None
    try:
        minor = int(labels.get(LABEL_CUDA_MINOR, "0"))
    except ValueError:
        minor = 0
    return major + minor / 10
