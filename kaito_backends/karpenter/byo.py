"""`ByoProvisioner`: bring your own nodes. Nothing is provisioned; GPUs come from node labels.

The `NodeProvisioner` protocol's writes are no-ops and ``observe`` reports no NodeClaims:
the Workspace's ``resource.labelSelector`` picks existing Nodes, and the planner (with
``PlanSettings(provisioner="byo")``) renders no claims and reads readiness from those Nodes.
What the machines offer is read from the labels NVIDIA GPU Feature Discovery puts on them
(``nvidia.com/gpu.product``, ``.count``, ``.memory``, ``nvidia.com/cuda.compute.*``):
`gpu_config_from_nodes` is `kaito_core.gpu.GpuConfig.from_node_labels` over the first Ready
node (by name). With a client, ``nodes(selector)`` lists the matching Nodes and
``gpu_config(selector)`` combines the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kaito_backends.karpenter.readiness import node_ready
from kaito_backends.objects import Key, Manifest
from kaito_backends.protocols import ClusterClient
from kaito_core.gpu import GpuConfig, GpuLabelsError

if TYPE_CHECKING:
    from kaito_presets import GpuSku

__all__ = ["ByoProvisioner", "gpu_config_from_nodes"]


def _name(node: Mapping[str, Any]) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def gpu_config_from_nodes(nodes: Iterable[Mapping[str, Any]]) -> GpuConfig:
    """The GPUs of the first Ready, not deleting node (by name), from its ``nvidia.com`` labels.

    Raises `kaito_core.gpu.GpuLabelsError` when no node is ready or its labels are incomplete.
    """
    for node in sorted(nodes, key=_name):
        if node_ready(node):
            labels = (node.get("metadata") or {}).get("labels") or {}
            return GpuConfig.from_node_labels(labels, node_name=_name(node))
    raise GpuLabelsError("no ready node to read the nvidia.com GPU labels from")


class ByoProvisioner:
    """A `NodeProvisioner` that provisions nothing (see the module docstring)."""

    name = "byo"

    def __init__(self, client: ClusterClient | None = None) -> None:
        self.client = client

    async def instance_types(self) -> Sequence[GpuSku]:
        """None: bring-your-own nodes are whatever the cluster has."""
        return ()

    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        """Nothing to do: the nodes exist already."""

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        """No NodeClaims, ever."""
        return ()

    async def release(self, key: Key) -> None:
        """Nothing to release: the nodes are the user's."""

    async def nodes(self, selector: Mapping[str, str]) -> tuple[Manifest, ...]:
        """The Nodes whose labels include ``selector`` (ready or not), by name."""
        if self.client is None:
            raise RuntimeError("ByoProvisioner(client) is needed to read nodes")
        listed = await self.client.list("v1", "Node", labels=dict(selector))
        return tuple(sorted(listed.items, key=_name))

    async def gpu_config(self, selector: Mapping[str, str]) -> GpuConfig:
        """The GPUs of the first Ready node matching ``selector`` (`gpu_config_from_nodes`)."""
        return gpu_config_from_nodes(await self.nodes(selector))
