"""What validation knows about the cluster it validates for: flags, gates, objects it can see.

Pure: no I/O, no clock, no logging.

Upstream's webhook reads this from its flags, its environment and the API server; here the caller
passes it in. Anything unknown stays unknown: ``config_maps=None`` skips the "ConfigMap not found"
checks (their content is still validated when the ConfigMap is at hand), an empty ``nodes`` skips
the BYO node checks, an empty ``node_classes`` skips the NodeClass allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["PROVISIONERS", "FeatureGates", "ValidationContext"]

#: Node provisioners the engine knows; ``byo`` turns node auto-provisioning off.
PROVISIONERS = ("aks", "azure-gpu-provisioner", "byo", "fake", "karpenter")


@attrs.frozen(kw_only=True)
class FeatureGates:
    """The controller's feature gates that change what the webhook accepts."""

    #: ``vLLM``: off means every workspace runs the Transformers runtime.
    vllm: bool = True
    #: ``enableMIG``: allow ``resource.partition.mode: mig`` (BYO nodes only).
    enable_mig: bool = False
    #: ``enableAccelerator``: allow ``resource.partition.mode: accelerator`` (BYO nodes only).
    enable_accelerator: bool = False
    #: ``ModelStreaming``: weights streamed from a ModelMirror instead of downloaded.
    model_streaming: bool = False


@attrs.frozen(kw_only=True)
class ValidationContext:
    """The cluster a Workspace is validated for.

    ``config_maps`` maps ``(namespace, name)`` to ConfigMap manifests; ``nodes`` holds Node
    manifests (for bring-your-own nodes); ``release_namespace`` is where KAITO's default tuning
    templates live (their content is built in, so they are always found there).
    """

    #: False = bring your own nodes (upstream ``disableNodeAutoProvisioning``).
    node_auto_provisioning: bool = True
    provisioner: str = attrs.field(
        default="karpenter", validator=attrs.validators.in_(PROVISIONERS)
    )
    #: ``azure``, ``aws`` or ``arc`` select a SKU table; anything else has none.
    cloud_provider: str = "azure"
    feature_gates: FeatureGates = FeatureGates()
    #: The Karpenter NodeClasses KAITO manages (``--karpenter-node-classes``); empty = not known.
    node_classes: tuple[str, ...] = ()
    config_maps: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
    nodes: tuple[Mapping[str, Any], ...] = ()
    release_namespace: str = "kaito-system"

    @property
    def nap(self) -> bool:
        """Node auto-provisioning is on (the ``byo`` provisioner always turns it off)."""
        return self.node_auto_provisioning and self.provisioner != "byo"
