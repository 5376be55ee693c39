"""Karpenter-kwok's instance types: one per GPU SKU of the project's catalog.

Karpenter's kwok provider reads its instance types from the JSON file named by
``INSTANCE_TYPES_FILE_PATH`` (a list of ``{name, offerings, architecture, operatingSystems,
resources}``). `instance_types` makes one entry per GPU SKU of
``kaito_presets.default_catalog()``:

- ``resources``: ``nvidia.com/gpu`` = the SKU's GPU count, plus CPU, memory, pods and ephemeral
  storage large enough for any Workspace pod (the catalog does not know them);
- one on-demand offering in zone ``kwok-a`` whose requirements carry the SKU's facts, so they
  become the labels of the kwok Node Karpenter launches: the labels the NVIDIA GPU feature
  discovery sets (``nvidia.com/gpu.count``, ``nvidia.com/gpu.memory`` in MiB per GPU,
  ``nvidia.com/gpu.product``, ``nvidia.com/cuda.compute.major`` / ``.minor``) and the cloud's
  Karpenter labels (Azure's ``karpenter.azure.com/sku-name``, ``sku-gpu-count``,
  ``sku-gpu-name``; AWS' ``karpenter.k8s.aws/instance-gpu-count``, ``instance-gpu-memory``).
  A NodeClaim's requirement on one of these keys is then satisfiable, as on the real provider.

The same catalog gives byte-identical JSON (sorted).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kaito_presets import default_catalog

__all__ = ["ZONE", "instance_types", "instance_types_json"]

ZONE = "kwok-a"
_GPU = "nvidia.com/gpu"


def _label_value(text: str) -> str:
    """A label value: alphanumerics, ``-``, ``_``, ``.``; at most 63, alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return value.strip("-_.")


def _labels(sku: Any) -> dict[str, str]:
    per_gpu_mib = round(sku.gpu_memory_gib * 1024 / sku.gpu_count)
    product = _label_value(sku.gpu_model)
    labels = {
        "nvidia.com/gpu.count": str(sku.gpu_count),
        "nvidia.com/gpu.memory": str(per_gpu_mib),
        "nvidia.com/gpu.product": product,
    }
    if sku.compute_capability:
        major, _, minor = f"{sku.compute_capability:.1f}".partition(".")
        labels |= {"nvidia.com/cuda.compute.major": major, "nvidia.com/cuda.compute.minor": minor}
    if sku.cloud in ("azure", "arc"):
        labels |= {
            "karpenter.azure.com/sku-name": sku.instance_type,
            "karpenter.azure.com/sku-gpu-count": str(sku.gpu_count),
            "karpenter.azure.com/sku-gpu-name": product,
        }
    elif sku.cloud == "aws":
        labels |= {
            "karpenter.k8s.aws/instance-gpu-count": str(sku.gpu_count),
            "karpenter.k8s.aws/instance-gpu-memory": str(per_gpu_mib),
        }
    return dict(sorted(labels.items()))


def instance_types() -> list[dict[str, Any]]:
    """The instance-type list (see the module docstring), sorted by name."""
    entries = []
    for sku in sorted(default_catalog().skus(), key=lambda s: s.instance_type):
        if sku.gpu_count <= 0:
            continue
        requirements = [
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [ZONE]},
            *(
                {"key": key, "operator": "In", "values": [value]}
                for key, value in _labels(sku).items()
            ),
        ]
        entries.append(
            {
                "name": sku.instance_type,
                "offerings": [{"Available": True, "Price": 1.0, "Requirements": requirements}],
                "architecture": "amd64",
                "operatingSystems": ["linux"],
                "resources": {
                    "cpu": "96",
                    "memory": "1024Gi",
                    "ephemeral-storage": "4Ti",
                    "pods": "110",
                    _GPU: str(sku.gpu_count),
                },
            }
        )
    return entries


def instance_types_json() -> str:
    """`instance_types` as the JSON file Karpenter-kwok reads."""
    return json.dumps(instance_types(), indent=1, sort_keys=True) + "\n"
