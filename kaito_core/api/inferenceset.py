"""The InferenceSet API (`kaito.sh/v1beta1`, with `v1alpha1` read too) as frozen attrs classes.

Pure: no I/O, no clock, no logging.

An InferenceSet runs `spec.replicas` copies of one inference Workspace, each built from
`spec.template` (upstream's ``api/v1beta1/inferenceset_types.go``). Unlike a Workspace it has a
``spec`` wrapper. Field names are snake_case here and camelCase on the wire; every optional field
defaults to ``None`` so a manifest read and written back is the same document. CRD defaults
(``replicas: 1``, the ``RollingUpdate`` strategy with ``maxUnavailable: 1``, the auto-upgrade
defaults, ``accessMode: public``) are applied by `InferenceSet.with_defaults`, as the API server
would. The schemaless performance metrics stay plain JSON, as for Workspaces.

v1alpha1 has the same fields except ``spec.template.resource.partition``; the CRD has no
conversion webhook, so reading a v1alpha1 object as v1beta1 only rewrites ``apiVersion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core.api.types import (
    V1BETA1,
    Condition,
    ConditionedStatus,
    InferenceSpec,
    LabelSelector,
    ObjectMeta,
    PartitionSpec,
    PresetSpec,
    VersionedObject,
)

__all__ = [
    "DEFAULT_MAINTENANCE_WINDOW_DURATION",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_REPLICAS",
    "STRATEGY_IN_PLACE",
    "STRATEGY_SURGE",
    "UPDATE_ON_DELETE",
    "UPDATE_ROLLING",
    "AutoUpgradePolicy",
    "AutoUpgradeStatus",
    "InferenceSet",
    "InferenceSetResource",
    "InferenceSetSpec",
    "InferenceSetStatus",
    "InferenceSetTemplate",
    "MaintenanceWindow",
    "RollingUpdate",
    "UpdateStrategy",
]

JSON = dict[str, Any]

DEFAULT_REPLICAS = 1
DEFAULT_MAX_UNAVAILABLE = 1
DEFAULT_MAINTENANCE_WINDOW_DURATION = "4h"
UPDATE_ROLLING = "RollingUpdate"
UPDATE_ON_DELETE = "OnDelete"
STRATEGY_IN_PLACE = "InPlace"
STRATEGY_SURGE = "Surge"


@attrs.frozen(kw_only=True)
class InferenceSetResource:
    """What each replica runs on: an instance type (auto-provisioning) and/or a GPU partition."""

    instance_type: str | None = None
    #: v1beta1 only; copied verbatim to every replica.
    partition: PartitionSpec | None = None


@attrs.frozen(kw_only=True)
class InferenceSetTemplate:
    """The replica template: labels and annotations for each Workspace, its resource and
    inference (the same `InferenceSpec` a Workspace has)."""

    #: Only ``labels`` and ``annotations`` are used (upstream's schema keeps a whole ObjectMeta).
    metadata: ObjectMeta | None = None
    resource: InferenceSetResource | None = None
    inference: InferenceSpec


@attrs.frozen(kw_only=True)
class RollingUpdate:
    """``appsv1.RollingUpdateStatefulSetStrategy``: how many replicas may be unavailable while
    the template rolls out (an integer or a percentage string such as ``"25%"``), and the
    ordinal below which replicas keep their template."""

    max_unavailable: int | str | None = None
    partition: int | None = None


@attrs.frozen(kw_only=True)
class UpdateStrategy:
    """``appsv1.StatefulSetUpdateStrategy``: ``RollingUpdate`` (the default) or ``OnDelete``."""

    type: str | None = None
    rolling_update: RollingUpdate | None = None


@attrs.frozen(kw_only=True)
class MaintenanceWindow:
    """When automatic upgrades may start: a 5-field cron ``schedule`` (UTC) and how long the
    window stays open after each tick (a Go duration, default ``4h``)."""

    schedule: str
    duration: str | None = None


@attrs.frozen(kw_only=True)
class AutoUpgradePolicy:
    """Automatic base-image upgrades of the replicas (behind the ``enableBaseImageAutoUpgrade``
    feature gate upstream)."""

    enabled: bool | None = None
    #: ``InPlace`` (default) or ``Surge``.
    strategy: str | None = None
    maintenance_window: MaintenanceWindow | None = None


@attrs.frozen(kw_only=True)
class InferenceSetSpec:
    template: InferenceSetTemplate
    #: The node selector every replica's ``resource.labelSelector`` gets (required).
    label_selector: LabelSelector
    replicas: int | None = None
    #: Most GPU nodes the replicas together may use; 0 or absent means no limit.
    node_count_limit: int | None = None
    update_strategy: UpdateStrategy | None = None
    auto_upgrade: AutoUpgradePolicy | None = None


@attrs.frozen(kw_only=True)
class AutoUpgradeStatus:
    num_drifted_workspaces: int | None = None
    last_successful_upgrade_time: str | None = None


@attrs.frozen(kw_only=True)
class InferenceSetStatus(ConditionedStatus):
    """``replicas`` (replica Workspaces that exist), ``readyReplicas``, the ``selector`` the scale
    subresource reports, conditions, aggregated performance and auto-upgrade progress."""

    replicas: int | None = None
    ready_replicas: int | None = None
    selector: str | None = None
    conditions: tuple[Condition, ...] | None = None
    performance: JSON | None = None
    auto_upgrade: AutoUpgradeStatus | None = None


@attrs.frozen(kw_only=True)
class InferenceSet(VersionedObject):
    """A KAITO InferenceSet: `spec.replicas` Workspaces made from `spec.template`."""

    api_version: str = V1BETA1
    kind: str = "InferenceSet"
    metadata: ObjectMeta = attrs.field(factory=ObjectMeta)
    spec: InferenceSetSpec
    status: InferenceSetStatus | None = None

    @property
    def replicas(self) -> int:
        """`spec.replicas`, 1 when absent (the CRD default)."""
        replicas = self.spec.replicas
        return DEFAULT_REPLICAS if replicas is None else replicas

    @property
    def template_labels(self) -> Mapping[str, str]:
        meta = self.spec.template.metadata
        return (meta.labels if meta else None) or {}

    @property
    def template_annotations(self) -> Mapping[str, str]:
        meta = self.spec.template.metadata
        return (meta.annotations if meta else None) or {}

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> InferenceSet:
        """Parse a manifest; raises `kaito_core.api.ManifestError` naming each bad field."""
        from kaito_core.api.inferenceset_serde import inferenceset_from_manifest

        return inferenceset_from_manifest(manifest)

    def to_manifest(self) -> dict[str, Any]:
        """The wire form: camelCase keys, absent fields omitted."""
        from kaito_core.api.inferenceset_serde import inferenceset_to_manifest

        return inferenceset_to_manifest(self)

    def with_defaults(self) -> InferenceSet:
        """The InferenceSet as the API server stores it: CRD schema defaults filled in.

        ``replicas`` 1; ``updateStrategy`` ``{type: RollingUpdate, rollingUpdate:
        {maxUnavailable: 1}}`` when absent (a whole-object default: a strategy the user wrote is
        kept as written); in ``autoUpgrade``, ``enabled: false``, ``strategy: InPlace`` and the
        window's ``duration: 4h``; the template preset's ``accessMode: public``.
        """
        spec = self.spec
        changes: dict[str, Any] = {}
        if spec.replicas is None:
            changes["replicas"] = DEFAULT_REPLICAS
        if spec.update_strategy is None:
            changes["update_strategy"] = UpdateStrategy(
                type=UPDATE_ROLLING,
                rolling_update=RollingUpdate(max_unavailable=DEFAULT_MAX_UNAVAILABLE),
            )
        if spec.auto_upgrade is not None:
            changes["auto_upgrade"] = _default_auto_upgrade(spec.auto_upgrade)
        inference = spec.template.inference
        if inference.preset is not None and inference.preset.access_mode is None:
            preset: PresetSpec = attrs.evolve(inference.preset, access_mode="public")
            changes["template"] = attrs.evolve(
                spec.template, inference=attrs.evolve(inference, preset=preset)
            )
        if not changes:
            return self
        return attrs.evolve(self, spec=attrs.evolve(spec, **changes))

    def as_v1beta1(self) -> InferenceSet:
        """The same InferenceSet read as v1beta1: the API server only rewrites ``apiVersion``."""
        return attrs.evolve(self, api_version=V1BETA1)


def _default_auto_upgrade(policy: AutoUpgradePolicy) -> AutoUpgradePolicy:
    window = policy.maintenance_window
    if window is not None and window.duration is None:
        window = attrs.evolve(window, duration=DEFAULT_MAINTENANCE_WINDOW_DURATION)
    return attrs.evolve(
        policy,
        enabled=False if policy.enabled is None else policy.enabled,
        strategy=STRATEGY_IN_PLACE if policy.strategy is None else policy.strategy,
        maintenance_window=window,
    )
