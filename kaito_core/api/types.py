"""The Workspace API (`kaito.sh/v1beta1`, with `v1alpha1` read too) as frozen attrs classes.

Pure: no I/O, no clock, no logging.

Field names are snake_case here and camelCase on the wire (see `kaito_core.api.serde`). Every
optional field defaults to ``None`` so that a manifest read and written back is the same
document: "absent" and "set to the default" stay distinguishable. CRD defaults (``count: 1``,
``accessMode: public``, the v1alpha1 instance type) are applied by `Workspace.with_defaults`,
the way the API server would.

Schemaless parts of upstream's CRD (a pod template, a volume source, performance metrics) are
kept as plain JSON dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "V1ALPHA1",
    "V1BETA1",
    "AdapterSpec",
    "Condition",
    "ConditionedStatus",
    "DataDestination",
    "DataSource",
    "InferenceSpec",
    "LabelSelector",
    "LabelSelectorRequirement",
    "NamedObject",
    "ObjectMeta",
    "PartitionSpec",
    "PresetOptions",
    "PresetSpec",
    "ResourceSpec",
    "TuningSpec",
    "VersionedObject",
    "Workspace",
    "WorkspacePhase",
    "WorkspaceStatus",
]

V1BETA1 = "kaito.sh/v1beta1"
V1ALPHA1 = "kaito.sh/v1alpha1"

#: The instance type the v1alpha1 CRD fills in when a manifest names none.
V1ALPHA1_DEFAULT_INSTANCE_TYPE = "Standard_NC24ads_A100_v4"

JSON = dict[str, Any]


class NamedObject:
    """What every kind's object reads of its ``metadata`` (`ObjectMeta`): a base for the frozen
    attrs class of a kind (`Workspace`, `kaito_core.api.InferenceSet`, `RAGEngine`, ...)."""

    __slots__ = ()
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        """The namespace, ``default`` when the manifest names none (as kubectl would apply it)."""
        return self.metadata.namespace or "default"

    @property
    def labels(self) -> Mapping[str, str]:
        return self.metadata.labels or {}

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.metadata.annotations or {}


class VersionedObject(NamedObject):
    """A `NamedObject` of the ``kaito.sh`` group, served in `V1BETA1` and `V1ALPHA1`."""

    __slots__ = ()
    api_version: str

    @property
    def is_v1alpha1(self) -> bool:
        return self.api_version == V1ALPHA1


class ConditionedStatus:
    """A base for a kind's status class that has ``conditions`` (a tuple of `Condition`)."""

    __slots__ = ()
    conditions: tuple[Condition, ...] | None

    def condition(self, type_: str) -> Condition | None:
        """The condition of this type, if present."""
        for condition in self.conditions or ():
            if condition.type == type_:
                return condition
        return None


@attrs.frozen(kw_only=True)
class ObjectMeta:
    """The subset of `metav1.ObjectMeta` the engine reads; anything else rides along in `extra`."""

    name: str | None = None
    namespace: str | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    finalizers: tuple[str, ...] | None = None
    #: ownerReferences, managedFields, generateName, ...: kept verbatim, never interpreted.
    extra: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class LabelSelector:
    match_labels: Mapping[str, str] | None = None
    match_expressions: tuple[LabelSelectorRequirement, ...] | None = None


@attrs.frozen(kw_only=True)
class PartitionSpec:
    """How BYO GPUs are split: ``mig`` (a MIG ``profile``) or ``accelerator`` (a GPU ``count``)."""

    mode: str
    profile: str | None = None
    count: int | None = None


@attrs.frozen(kw_only=True)
class ResourceSpec:
    count: int | None = None
    instance_type: str | None = None
    label_selector: LabelSelector | None = None
    preferred_nodes: tuple[str, ...] | None = None
    partition: PartitionSpec | None = None


@attrs.frozen(kw_only=True)
class PresetOptions:
    image: str | None = None
    image_pull_secrets: tuple[str, ...] | None = None
    #: Name of a Secret with key ``HF_TOKEN`` (v1beta1 only).
    model_access_secret: str | None = None


@attrs.frozen(kw_only=True)
class PresetSpec:
    name: str
    access_mode: str | None = None
    preset_options: PresetOptions | None = None


@attrs.frozen(kw_only=True)
class DataSource:
    """Where adapters or tuning data come from: exactly one of urls, image, volume_source."""

    name: str | None = None
    urls: tuple[str, ...] | None = None
    volume_source: JSON | None = None
    image: str | None = None
    image_pull_secrets: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class DataDestination:
    """Where tuning results go: exactly one of volume_source or image (with a push secret)."""

    volume_source: JSON | None = None
    image: str | None = None
    image_push_secret: str | None = None


@attrs.frozen(kw_only=True)
class AdapterSpec:
    source: DataSource | None = None
    #: A float in [0, 1] written as a string, as upstream's API has it.
    strength: str | None = None


@attrs.frozen(kw_only=True)
class InferenceSpec:
    preset: PresetSpec | None = None
    #: A user pod template (`corev1.PodTemplateSpec`), kept as JSON.
    template: JSON | None = None
    #: Name of a ConfigMap (key ``inference_config.yaml``) in the workspace's namespace.
    config: str | None = None
    adapters: tuple[AdapterSpec, ...] | None = None


@attrs.frozen(kw_only=True)
class TuningSpec:
    preset: PresetSpec | None = None
    method: str | None = None
    config: str | None = None
    input: DataSource | None = None
    output: DataDestination | None = None


@attrs.frozen(kw_only=True)
class Condition:
    """A `metav1.Condition`."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    observed_generation: int | None = None


@attrs.frozen(kw_only=True)
class WorkspacePhase:
    """Where a Workspace that is not ready yet is on its way (``status.phase``, a kaito-py
    extension): ``ProvisioningNodes``, ``InitializingNodes``, ``PullingImage``,
    ``LoadingWeights`` or ``WarmingUp`` (`kaito_core.phases`), since when, and what
    is behind."""

    name: str
    #: RFC 3339 time the Workspace entered this phase.
    since: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class WorkspaceStatus(ConditionedStatus):
    worker_nodes: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] | None = None
    target_node_count: int | None = None
    state: str | None = None
    performance: JSON | None = None
    #: kaito-py: the phase of a Workspace that is not ready; absent once it is.
    phase: WorkspacePhase | None = None


@attrs.frozen(kw_only=True)
class Workspace(VersionedObject):
    """A KAITO Workspace; `resource`, `inference`, `tuning` sit at the top level, as upstream's."""

    api_version: str = V1BETA1
    kind: str = "Workspace"
    metadata: ObjectMeta = attrs.field(factory=ObjectMeta)
    resource: ResourceSpec | None = None
    inference: InferenceSpec | None = None
    tuning: TuningSpec | None = None
    status: WorkspaceStatus | None = None

    @property
    def match_labels(self) -> Mapping[str, str]:
        selector = self.resource.label_selector if self.resource else None
        return (selector.match_labels if selector else None) or {}

    @property
    def preset(self) -> PresetSpec | None:
        """The inference or tuning preset, whichever the workspace has."""
        if self.inference is not None and self.inference.preset is not None:
            return self.inference.preset
        if self.tuning is not None:
            return self.tuning.preset
        return None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Workspace:
        """Parse a manifest; raises `kaito_core.api.ManifestError` naming each bad field."""
        from kaito_core.api.serde import from_manifest

        return from_manifest(manifest)

    def to_manifest(self) -> dict[str, Any]:
        """The wire form: camelCase keys, absent fields omitted."""
        from kaito_core.api.serde import to_manifest

        return to_manifest(self)

    def with_defaults(self) -> Workspace:
        """The workspace as the API server stores it: CRD schema defaults filled in."""
        resource = self.resource or ResourceSpec()
        if resource.count is None:
            resource = attrs.evolve(resource, count=1)
        if self.is_v1alpha1 and resource.instance_type is None:
            resource = attrs.evolve(resource, instance_type=V1ALPHA1_DEFAULT_INSTANCE_TYPE)
        inference, tuning = self.inference, self.tuning
        if inference is not None and inference.preset is not None:
            inference = attrs.evolve(inference, preset=_default_access_mode(inference.preset))
        if tuning is not None and tuning.preset is not None:
            tuning = attrs.evolve(tuning, preset=_default_access_mode(tuning.preset))
        return attrs.evolve(self, resource=resource, inference=inference, tuning=tuning)

    def as_v1beta1(self) -> Workspace:
        """The same workspace read as v1beta1: the API server only rewrites ``apiVersion``."""
        return attrs.evolve(self, api_version=V1BETA1)


def _default_access_mode(preset: PresetSpec) -> PresetSpec:
    if preset.access_mode is None:
        return attrs.evolve(preset, access_mode="public")
    return preset
