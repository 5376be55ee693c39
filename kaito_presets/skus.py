"""GPU instance types (SKUs) of the catalog.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import attrs

__all__ = ["CLOUDS", "GpuSku"]

#: Clouds that have a SKU table (upstream ``CLOUD_PROVIDER`` values).
CLOUDS = ("arc", "aws", "azure")


@attrs.frozen(kw_only=True)
class GpuSku:
    """One instance type: its GPUs and whether it has local NVMe."""

    #: ``Standard_NC24ads_A100_v4``, ``p5.48xlarge``, ...
    instance_type: str
    #: ``azure``, ``aws`` or ``arc``.
    cloud: str
    gpu_count: int
    #: GPU memory of the whole node (all GPUs), GiB.
    gpu_memory_gib: float
    #: ``NVIDIA A100``, ``AMD Radeon PRO V620``, ...
    gpu_model: str
    #: ``nvidia``, ``amd`` or ``aws``.
    vendor: str
    nvme: bool
    #: CUDA compute capability (8.0 for A100); None for non-NVIDIA accelerators.
    compute_capability: float | None
    #: Dropped by upstream v0.12 (pre-Ampere or old AMD); kept so we can serve or explain them.
    legacy: bool = False

    @property
    def gpu_memory_per_gpu_gib(self) -> float:
        """Memory of one GPU, GiB."""
        return self.gpu_memory_gib / self.gpu_count
