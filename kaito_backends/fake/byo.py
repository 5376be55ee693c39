"""Bring-your-own nodes: a Node manifest the user gives joins the fake cluster as a working node.

With node auto-provisioning off (``kaito up --byo``), the GPU nodes are the user's: the Node
manifests given next to the Workspaces describe them, usually by the labels GPU Feature
Discovery puts on a node (``nvidia.com/gpu.product``, ``nvidia.com/gpu.count``,
``nvidia.com/gpu.memory``) and rarely with a ``status``. `joined_node` completes such a manifest
the way the node's kubelet and NVIDIA's device plugin would:

- the well-known labels ``kubernetes.io/hostname``, ``kubernetes.io/os`` and
  ``kubernetes.io/arch`` when missing;
- ``status.capacity`` (and ``allocatable``, when absent) with ``nvidia.com/gpu`` from the
  ``nvidia.com/gpu.count`` label, or from the SKU of a ``node.kubernetes.io/instance-type`` label
  the catalog knows, plus cpu, memory and pods when missing;
- a ``Ready`` condition, True, when the manifest has none. A condition the user wrote (a
  ``Ready: "False"`` node, say) is kept as written.

What is not modelled: a node that goes away or becomes NotReady on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kaito_backends.objects import Manifest, clone

if TYPE_CHECKING:
    from kaito_presets import Catalog

__all__ = ["joined_node"]

_GPU_RESOURCE = "nvidia.com/gpu"
_GPU_COUNT = "nvidia.com/gpu.count"
_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_DEFAULT_CAPACITY = {"cpu": "96", "memory": "768Gi", "pods": "110"}


def _gpu_count(labels: Mapping[str, Any], catalog: Catalog) -> int | None:
    text = str(labels.get(_GPU_COUNT, "")).strip()
    if text.isdigit():
        return int(text)
    sku = catalog.find_sku(str(labels.get(_INSTANCE_TYPE, "")))
    return int(sku.gpu_count) if sku is not None and sku.vendor == "nvidia" else None


def joined_node(manifest: Mapping[str, Any], *, catalog: Catalog, now: str) -> Manifest:
    """`manifest` (a ``v1`` Node) as a node that has joined the cluster (see the module
    docstring); the input is not changed."""
    node: Manifest = clone(dict(manifest))
    meta = node["metadata"] = dict(node.get("metadata") or {})
    name = str(meta.get("name") or "")
    labels = meta["labels"] = dict(meta.get("labels") or {})
    labels.setdefault("kubernetes.io/hostname", name)
    labels.setdefault("kubernetes.io/os", "linux")
    labels.setdefault("kubernetes.io/arch", "amd64")
    node["spec"] = dict(node.get("spec") or {})
    status = node["status"] = dict(node.get("status") or {})
    capacity = dict(status.get("capacity") or {})
    for resource, value in _DEFAULT_CAPACITY.items():
        capacity.setdefault(resource, value)
    gpus = _gpu_count(labels, catalog)
    if gpus is not None:
        capacity.setdefault(_GPU_RESOURCE, str(gpus))
    status["capacity"] = capacity
    status["allocatable"] = dict(status.get("allocatable") or capacity)
    conditions = list(status.get("conditions") or ())
    if not any(isinstance(c, Mapping) and c.get("type") == "Ready" for c in conditions):
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        )
    status["conditions"] = conditions
    return node
