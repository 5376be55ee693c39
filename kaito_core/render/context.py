"""Everything a renderer needs to know about one Workspace, decided once per plan.

Pure: no I/O, no clock, no logging.

`plan()` resolves the model, the GPU configuration, the node count, the runtime and the revision,
then hands one `RenderContext` to every renderer, so renderers never look anything up
themselves and never disagree with each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core.api.types import Workspace
from kaito_core.render.meta import LABEL_WORKSPACE, LABEL_WORKSPACE_NAMESPACE
from kaito_presets import DEFAULT_REGISTRY, ModelPreset

__all__ = [
    "ANNOTATION_RUNTIME",
    "RUNTIME_TRANSFORMERS",
    "RUNTIME_VLLM",
    "RenderContext",
    "provisioner_selector",
    "runtime_name",
]

ANNOTATION_RUNTIME = "kaito.sh/runtime"
RUNTIME_VLLM = "vllm"
RUNTIME_TRANSFORMERS = "transformers"

#: Provisioners whose nodes carry the ``kaito.sh/workspace`` labels copied from NodeClaims.
_LABELLING_PROVISIONERS = frozenset({"azure-gpu-provisioner", "karpenter", "fake", "aks"})


def runtime_name(workspace: Workspace, *, vllm_enabled: bool = True) -> str:
    """``transformers`` if the annotation asks for it (or the vLLM gate is off), else ``vllm``."""
    if not vllm_enabled:
        return RUNTIME_TRANSFORMERS
    if workspace.annotations.get(ANNOTATION_RUNTIME) == RUNTIME_TRANSFORMERS:
        return RUNTIME_TRANSFORMERS
    return RUNTIME_VLLM


def provisioner_selector(workspace: Workspace, provisioner: str) -> list[tuple[str, str]]:
    """Node-selector pairs the provisioner guarantees on the workspace's nodes (none for BYO)."""
    if provisioner not in _LABELLING_PROVISIONERS:
        return []
    return [(LABEL_WORKSPACE, workspace.name), (LABEL_WORKSPACE_NAMESPACE, workspace.namespace)]


@attrs.frozen(kw_only=True)
class RenderContext:
    """The decided facts about one Workspace that every manifest is rendered from.

    `workspace` is already defaulted and read as v1beta1. `gpu` is a `kaito_core.sizing.GpuConfig`
    (``None`` for template inference with no known SKU). `inference_config` is the parsed
    ``vllm:`` section of the user's inference ConfigMap (values as strings; ``""`` for a bare
    flag); `tuning_config` the parsed ``training_config`` map of the tuning ConfigMap.
    """

    workspace: Workspace
    model: ModelPreset | None
    gpu: Any  # kaito_core.sizing.GpuConfig; Any here to keep this module import-light
    node_count: int
    runtime: str = RUNTIME_VLLM
    #: ``float16`` on pre-Ampere GPUs (see kaito_core.runtime_policy), else None.
    dtype_override: str | None = None
    revision: int = 1
    provisioner: str = "karpenter"
    cloud: str = "azure"
    registry: str = DEFAULT_REGISTRY
    inference_config: Mapping[str, str] | None = None
    tuning_config: Mapping[str, Any] | None = None
    #: True when the StorageClass ``kaito-local-nvme-disk`` exists (weights go to local NVMe).
    nvme_storage_class: bool = False
    #: How pods are secured: ``restricted`` (default) or ``baseline``
    #: (`kaito_core.render.podsecurity`).
    pod_security: str = "restricted"
