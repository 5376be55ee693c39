"""The Workspace and InferenceSet API models: attrs classes, the converter, manifest loading.

Pure: no I/O, no clock, no logging.
"""

from kaito_core.api.documents import Document, LoadResult, ManifestLoadError, load_documents
from kaito_core.api.inferenceset import (
    AutoUpgradePolicy,
    AutoUpgradeStatus,
    InferenceSet,
    InferenceSetResource,
    InferenceSetSpec,
    InferenceSetStatus,
    InferenceSetTemplate,
    MaintenanceWindow,
    RollingUpdate,
    UpdateStrategy,
)
from kaito_core.api.inferenceset_serde import inferenceset_from_manifest, inferenceset_to_manifest
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
    "AutoUpgradePolicy",
    "AutoUpgradeStatus",
    "Condition",
    "DataDestination",
    "DataSource",
    "Document",
    "InferenceSet",
    "InferenceSetResource",
    "InferenceSetSpec",
    "InferenceSetStatus",
    "InferenceSetTemplate",
    "InferenceSpec",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LoadResult",
    "MaintenanceWindow",
    "ManifestError",
    "ManifestLoadError",
    "ObjectMeta",
    "PartitionSpec",
    "PresetOptions",
    "PresetSpec",
    "ResourceSpec",
    "RollingUpdate",
    "TuningSpec",
    "UpdateStrategy",
    "Workspace",
    "WorkspaceStatus",
    "from_manifest",
    "inferenceset_from_manifest",
    "inferenceset_to_manifest",
    "load_documents",
    "to_manifest",
]
