"""What every rule needs to know about the Workspace under validation, resolved once.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from kaito_core.api.types import PresetSpec, Workspace
from kaito_core.render.context import runtime_name
from kaito_core.validation.context import ValidationContext
from kaito_presets import Catalog, CatalogError, ModelPreset

__all__ = [
    "ANNOTATION_BYPASS",
    "ANNOTATION_LOCAL_WEIGHTS",
    "ANNOTATION_MODEL_STREAMING",
    "ANNOTATION_NODE_CLASS",
    "ANNOTATION_NODE_IMAGE_FAMILY",
    "ANNOTATION_PERFORMANCE_MODE",
    "Facts",
    "ModelLookup",
    "annotation_path",
    "resolve_model",
]

ANNOTATION_BYPASS = "kaito.sh/bypass-resource-checks"
ANNOTATION_NODE_IMAGE_FAMILY = "kaito.sh/node-image-family"
ANNOTATION_NODE_CLASS = "kaito.sh/node-class-name"
ANNOTATION_PERFORMANCE_MODE = "kaito.sh/performance-mode"
ANNOTATION_LOCAL_WEIGHTS = "kaito.sh/use-local-weights"
ANNOTATION_MODEL_STREAMING = "kaito.sh/model-streaming"


def annotation_path(key: str) -> str:
    """``metadata.annotations["kaito.sh/..."]``."""
    return f'metadata.annotations["{key}"]'


class ModelLookup:
    """A preset name resolved against the catalog: the model, or why there is none."""

    __slots__ = ("deprecated", "message", "model", "name")

    def __init__(
        self, name: str, model: ModelPreset | None, message: str | None, *, deprecated: bool
    ) -> None:
        self.name = name
        self.model = model
        self.message = message
        self.deprecated = deprecated


def resolve_model(catalog: Catalog, name: str, *, kind: str = "inference") -> ModelLookup:
    """Upstream's order: deprecated, then ``IsValidPreset``, then ``GetModelByName``."""
    if catalog.is_deprecated(name):
        return ModelLookup(
            name, None, f"Model {name} is deprecated and no longer supported", deprecated=True
        )
    if not catalog.is_valid_preset_name(name):
        message = f"Unsupported {kind} preset name {name}"
        if catalog.is_removed(name):
            message += " (this preset was removed in KAITO v0.12)"
        message += catalog.preset_name_hint(name)
        return ModelLookup(name, None, message, deprecated=False)
    try:
        model = catalog.model(name)
    except CatalogError as exc:
        detail = str(exc)
        if catalog.metadata_source is None and "/" in name:
            detail = (
                f"model {name} is not in the catalog and no Hugging Face metadata source is "
                "configured"
            )
        return ModelLookup(name, None, f"failed to get model preset: {detail}", deprecated=False)
    return ModelLookup(name, model, None, deprecated=False)


class Facts:
    """The Workspace (with CRD defaults applied), its context, runtime and resolved preset."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        catalog: Catalog,
        context: ValidationContext,
        old: Workspace | None = None,
    ) -> None:
        self.ws = workspace
        self.old = old
        self.catalog = catalog
        self.context = context
        self.gates = context.feature_gates
        self.nap = context.nap
        self.bypass = ANNOTATION_BYPASS in workspace.annotations
        self._lookups: dict[tuple[str, str], ModelLookup] = {}
        if workspace.tuning is not None:
            self.runtime = "transformers"
        else:
            self.runtime = runtime_name(workspace, vllm_enabled=context.feature_gates.vllm)

    @property
    def instance_type(self) -> str:
        return (self.ws.resource.instance_type if self.ws.resource else None) or ""

    @property
    def count(self) -> int:
        return (self.ws.resource.count if self.ws.resource else None) or 1

    @property
    def inference_preset(self) -> PresetSpec | None:
        inference = self.ws.inference
        return inference.preset if inference is not None else None

    def lookup(self, name: str, kind: str = "inference") -> ModelLookup:
        """The catalog lookup of `name`, memoised."""
        key = (name, kind)
        if key not in self._lookups:
            self._lookups[key] = resolve_model(self.catalog, name, kind=kind)
        return self._lookups[key]

    @property
    def model(self) -> ModelPreset | None:
        """The inference preset's model, if the preset names one the catalog resolves."""
        preset = self.inference_preset
        if preset is None or not preset.name:
            return None
        return self.lookup(preset.name).model
