"""The InferenceSet CustomResourceDefinition, generated from the attrs model of
`kaito_core.api.inferenceset` with the Workspace CRD's walker (`kaito_backends.operator.crd`).

Every table entry mirrors upstream's CRD (``config/crd/bases/kaito.sh_inferencesets.yaml`` of
KAITO v0.12); the classes InferenceSet shares with Workspace (`InferenceSpec`, `LabelSelector`,
`PartitionSpec`, `Condition`) keep the Workspace tables' entries:

- defaults: ``replicas`` 1 (int32, at least 0), ``updateStrategy`` ``{type: RollingUpdate,
  rollingUpdate: {maxUnavailable: 1}}``, ``autoUpgrade.enabled`` false, ``autoUpgrade.strategy``
  ``InPlace`` (of ``InPlace``/``Surge``), the window's ``duration`` ``4h``;
- schemaless (as upstream): the template's ``metadata`` and the ``updateStrategy`` (the model and
  the webhook check their shape);
- the status' ``performance.metrics``: a map of ``{description, value, unit}`` (with ``config``
  in v1beta1 only); ``autoUpgrade.lastSuccessfulUpgradeTime`` a date-time;
- what v1alpha1 lacks: ``template.resource.partition`` (its inference keeps
  ``modelAccessSecret``: v1alpha1 InferenceSets embed the v1beta1 ``InferenceSpec``).

Both versions are served (v1beta1 stored), with the ``status`` and ``scale`` subresources (the
scale subresource is what ``kubectl scale``, an HPA and KEDA act on), short names ``is``/``isets``,
category ``inferenceset`` and upstream's printer columns. No conversion webhook: the field names
are the same in both versions, as upstream's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.operator.crd import SchemaTables, SchemaWalker, Version, canonical
from kaito_core import inferenceset as facts
from kaito_core.api import inferenceset as api

__all__ = ["INFERENCESET_CRD_NAME", "inferenceset_crd", "inferenceset_schema"]

INFERENCESET_CRD_NAME = f"{facts.PLURAL}.{facts.GROUP}"

_SCHEMALESS: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def _metrics(version: Version) -> dict[str, Any]:
    metric: dict[str, Any] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "unit": {"type": "string"},
            "value": {"type": "string"},
        },
        "required": ["description", "value"],
    }
    if version == "v1beta1":
        metric["properties"]["config"] = {
            "type": "object",
            "additionalProperties": {"type": "string"},
        }
    return {
        "type": "object",
        "properties": {
            "metrics": {
                "type": "object",
                "additionalProperties": metric,
                "description": "Metric name to its aggregated measurement.",
            }
        },
    }


def _tables(version: Version) -> SchemaTables:
    return SchemaTables(
        extra={
            (api.InferenceSetSpec, "replicas"): {"default": 1, "format": "int32", "minimum": 0},
            (api.InferenceSetSpec, "label_selector"): {"x-kubernetes-map-type": "atomic"},
            (api.AutoUpgradePolicy, "enabled"): {"default": False},
            (api.AutoUpgradePolicy, "strategy"): {
                "default": api.STRATEGY_IN_PLACE,
                "enum": [api.STRATEGY_IN_PLACE, api.STRATEGY_SURGE],
            },
            (api.MaintenanceWindow, "duration"): {
                "default": api.DEFAULT_MAINTENANCE_WINDOW_DURATION
            },
            (api.AutoUpgradeStatus, "last_successful_upgrade_time"): {"format": "date-time"},
        },
        replaced={
            (api.InferenceSet, "metadata"): {"type": "object"},
            (api.InferenceSetTemplate, "metadata"): dict(_SCHEMALESS),
            (api.InferenceSetSpec, "update_strategy"): {
                "default": {
                    "rollingUpdate": {"maxUnavailable": api.DEFAULT_MAX_UNAVAILABLE},
                    "type": api.UPDATE_ROLLING,
                },
                **_SCHEMALESS,
            },
            (api.InferenceSetStatus, "performance"): _metrics(version),
        },
        descriptions={
            (api.InferenceSet, "spec"): "The replicas wanted: how many, from which template.",
            (api.InferenceSet, "status"): "What the controller observed of the replicas.",
            (api.InferenceSetSpec, "template"): "The Workspace every replica is made from.",
            (api.InferenceSetSpec, "replicas"): "Number of replica Workspaces.",
            (api.InferenceSetSpec, "label_selector"): "The node selector of every replica.",
            (
                api.InferenceSetSpec,
                "node_count_limit",
            ): "Most GPU nodes the replicas may use together (0: no limit).",
            (
                api.InferenceSetSpec,
                "update_strategy",
            ): "How replicas are replaced when the template changes (RollingUpdate or OnDelete).",
            (api.InferenceSetSpec, "auto_upgrade"): "Automatic base-image upgrades.",
            (api.InferenceSetTemplate, "metadata"): "Labels and annotations of every replica.",
            (
                api.InferenceSetResource,
                "partition",
            ): "GPU partitioning of each replica (BYO nodes only).",
            (api.InferenceSetStatus, "replicas"): "Replica Workspaces that exist.",
            (api.InferenceSetStatus, "ready_replicas"): "Replica Workspaces that are ready.",
            (
                api.InferenceSetStatus,
                "selector",
            ): "Label selector of the replicas' pods (for the scale subresource).",
        },
        v1beta1_only=frozenset({(api.InferenceSetResource, "partition")}),
    )


def inferenceset_schema(version: Version = "v1beta1") -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one InferenceSet version, from the attrs model."""
    schema = SchemaWalker(version, _tables(version)).object(api.InferenceSet)
    schema["description"] = "InferenceSet is the Schema for the InferenceSet API"
    schema["required"] = ["spec"]  # apiVersion and kind have defaults in the model, not on the wire
    return dict(canonical(schema))


def _version(version: Version, *, storage: bool) -> dict[str, Any]:
    return {
        "additionalPrinterColumns": [dict(c) for c in facts.PRINTER_COLUMNS],
        "name": version,
        "schema": {"openAPIV3Schema": inferenceset_schema(version)},
        "served": True,
        "storage": storage,
        "subresources": {"scale": dict(facts.SCALE_SUBRESOURCE), "status": {}},
    }


def inferenceset_crd(*, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``inferencesets.kaito.sh`` CustomResourceDefinition (apiextensions.k8s.io/v1)."""
    metadata: dict[str, Any] = {"name": INFERENCESET_CRD_NAME}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": facts.GROUP,
            "names": {
                "categories": list(facts.CATEGORIES),
                "kind": facts.KIND,
                "listKind": facts.LIST_KIND,
                "plural": facts.PLURAL,
                "shortNames": list(facts.SHORT_NAMES),
                "singular": facts.SINGULAR,
            },
            "scope": "Namespaced",
            "versions": [_version("v1alpha1", storage=False), _version("v1beta1", storage=True)],
        },
    }
