"""The Workspace API model: attrs classes, the wire converter and manifest loading.

Pure: no I/O, no clock, no logging.
"""

from kaito_core.api.documents import Document, LoadResult, ManifestLoadError, load_documents
from kaito_core.api.serde import ManifestError, from_manifest, to_manifest
from kaito_core.api.types import (
    V1ALPHA1,
    V1BETA1,
    AdapterSpec,
    Condition,
    DataDestination,
    DataSource,
    InferenceSpec,
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    PartitionSpec,
    PresetOptions,
    PresetSpec,
    ResourceSpec,
    TuningSpec,
    Workspace,
    WorkspaceStatus,
)

__all__ = [
    "V1ALPHA1",
    "V1BETA1",
    "AdapterSpec",
    "Condition",
    "DataDestination",
    "DataSource",
    "Document",
    "InferenceSpec",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LoadResult",
    "ManifestError",
    "ManifestLoadError",
    "ObjectMeta",
    "PartitionSpec",
    "PresetOptions",
    "PresetSpec",
    "ResourceSpec",
    "TuningSpec",
    "Workspace",
    "WorkspaceStatus",
    "from_manifest",
    "load_documents",
    "to_manifest",
]
