"""The Workspace CustomResourceDefinition, generated from the attrs model of `kaito_core.api`.

`workspace_crd` walks the attrs classes from `kaito_core.api.types.Workspace` down: each field
becomes a property with its camelCase wire name and the OpenAPI type of its annotation
(``str`` string, ``int`` integer, ``tuple[X, ...]`` array of X, ``Mapping[str, str]`` a map of
strings, an attrs class an object; ``X | None`` is X). A field without a default is required.
What the Python types cannot say is in small tables keyed by (class, field), and every entry
mirrors upstream's CRD (``config/crd/bases/kaito.sh_workspaces.yaml`` of KAITO v0.12):

- defaults and enums: ``resource.count`` 1, ``preset.accessMode`` ``public`` of
  ``public``/``private``, ``partition.mode`` ``mig``/``accelerator``, and in v1alpha1 only the
  instance type ``Standard_NC24ads_A100_v4``;
- the schemaless parts (``x-kubernetes-preserve-unknown-fields``): the pod ``template``, each
  ``volumeSource``, and the performance ``metrics`` of the status;
- required fields the model leaves optional (``resource.labelSelector``, tuning ``input`` and
  ``output``, every part of a ``metav1.Condition``), ``metav1`` formats and patterns, list and
  map types of the label selector;
- what v1alpha1 lacks: ``resource.partition``, ``presetOptions.modelAccessSecret``, and the
  status' ``targetNodeCount``, ``state`` and ``performance``.

kaito-py adds ``status.phase`` (name, since, message) to v1beta1, the phase of a Workspace
that is not ready yet (``docs/status.md``), and two printer columns after upstream's, Phase
and Since. Both versions are served, v1beta1 is the storage version, both have the status
subresource, short names ``wk``/``wks``, category ``workspace`` and upstream's printer
columns. No conversion webhook: the field names are the same in both versions, as upstream's.

Every schema node's keys and properties are sorted, so the output is byte-stable.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kaito_backends.kinds.crd import custom_resource_definition
from kaito_core.api import types as api
from kaito_core.workspace_kind import PHASE_COLUMNS, WORKSPACE

__all__ = [
    "CRD_NAME",
    "EXTRA_PRINTER_COLUMNS",
    "PRINTER_COLUMNS",
    "SchemaTables",
    "SchemaWalker",
    "Version",
    "canonical",
    "workspace_crd",
    "workspace_schema",
]

CRD_NAME = "workspaces.kaito.sh"
Version = Literal["v1alpha1", "v1beta1"]

_SCHEMALESS: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

#: (class, field) -> what the schema of that field has on top of (or instead of) its type.
_EXTRA: dict[tuple[type, str], dict[str, Any]] = {
    (api.ResourceSpec, "count"): {"default": 1},
    (api.ResourceSpec, "label_selector"): {"x-kubernetes-map-type": "atomic"},
    (api.LabelSelector, "match_expressions"): {"x-kubernetes-list-type": "atomic"},
    (api.LabelSelectorRequirement, "values"): {"x-kubernetes-list-type": "atomic"},
    (api.PartitionSpec, "mode"): {"enum": ["mig", "accelerator"]},
    (api.PartitionSpec, "count"): {"minimum": 1},
    (api.PresetSpec, "access_mode"): {"default": "public", "enum": ["public", "private"]},
    (api.WorkspaceStatus, "target_node_count"): {"format": "int32"},
    (api.Condition, "last_transition_time"): {"format": "date-time"},
    (api.WorkspacePhase, "name"): {
        "enum": [
            "ProvisioningNodes",
            "InitializingNodes",
            "PullingImage",
            "LoadingWeights",
            "WarmingUp",
        ]
    },
    (api.WorkspacePhase, "since"): {"format": "date-time"},
    (api.WorkspacePhase, "message"): {"maxLength": 32768},
    (api.Condition, "message"): {"maxLength": 32768},
    (api.Condition, "observed_generation"): {"format": "int64", "minimum": 0},
    (api.Condition, "reason"): {
        "maxLength": 1024,
        "minLength": 1,
        "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    },
    (api.Condition, "status"): {"enum": ["True", "False", "Unknown"]},
    (api.Condition, "type"): {
        "maxLength": 316,
        "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    },
}

#: (class, field) -> the whole schema of a field the model keeps as plain JSON (or as metadata).
_REPLACED: dict[tuple[type, str], dict[str, Any]] = {
    (api.Workspace, "metadata"): {"type": "object"},
    (api.InferenceSpec, "template"): _SCHEMALESS,
    (api.DataSource, "volume_source"): _SCHEMALESS,
    (api.DataDestination, "volume_source"): _SCHEMALESS,
    (api.WorkspaceStatus, "performance"): {
        "type": "object",
        "properties": {"metrics": {"type": "object", **_SCHEMALESS}},
    },
}

#: class -> wire names required although the model has a default for them.
_REQUIRED: dict[type, tuple[str, ...]] = {
    api.ResourceSpec: ("labelSelector",),
    api.TuningSpec: ("input", "output"),
    api.Condition: ("lastTransitionTime", "message", "reason"),
}

#: Fields v1alpha1 does not have.
_V1BETA1_ONLY: frozenset[tuple[type, str]] = frozenset(
    {
        (api.ResourceSpec, "partition"),
        (api.PresetOptions, "model_access_secret"),
        (api.WorkspaceStatus, "target_node_count"),
        (api.WorkspaceStatus, "state"),
        (api.WorkspaceStatus, "performance"),
        (api.WorkspaceStatus, "phase"),
    }
)

#: Per-version additions: v1alpha1's CRD defaults the instance type.
_VERSION_EXTRA: dict[Version, dict[tuple[type, str], dict[str, Any]]] = {
    "v1alpha1": {
        (api.ResourceSpec, "instance_type"): {"default": api.V1ALPHA1_DEFAULT_INSTANCE_TYPE}
    },
    "v1beta1": {},
}

_DESCRIPTIONS: dict[tuple[type, str], str] = {
    (api.Workspace, "resource"): "The GPU nodes the workload runs on.",
    (api.Workspace, "inference"): "Serve a model (a preset or a pod template).",
    (api.Workspace, "tuning"): "Fine-tune a preset model (LoRA or QLoRA).",
    (
        api.Workspace,
        "status",
    ): "What the controller observed; written through the status subresource.",
    (
        api.ResourceSpec,
        "count",
    ): "Number of GPU nodes (deprecated in v1beta1: computed from the model).",
    (api.ResourceSpec, "instance_type"): "GPU instance type (empty with bring-your-own nodes).",
    (api.ResourceSpec, "label_selector"): "Labels of the nodes the workload may run on.",
    (api.ResourceSpec, "preferred_nodes"): "Deprecated and ignored.",
    (api.ResourceSpec, "partition"): "Run on a GPU partition (MIG slice or accelerator share).",
    (api.PresetSpec, "name"): "The model preset, or a Hugging Face org/name id.",
    (api.PresetSpec, "access_mode"): "Deprecated: whether the preset image is public or private.",
    (
        api.PresetOptions,
        "model_access_secret",
    ): "Secret with the HF_TOKEN key used to download the model.",
    (api.InferenceSpec, "template"): "A pod template used instead of a preset.",
    (api.InferenceSpec, "config"): "ConfigMap (key inference_config.yaml) with runtime parameters.",
    (api.InferenceSpec, "adapters"): "LoRA adapters loaded on top of the base model.",
    (api.AdapterSpec, "strength"): "Weight of the adapter, a number in [0, 1] written as a string.",
    (api.TuningSpec, "method"): "Tuning method: lora or qlora.",
    (api.TuningSpec, "config"): "ConfigMap (key training_config.yaml) with tuning parameters.",
    (api.TuningSpec, "input"): "Where the training data comes from.",
    (api.TuningSpec, "output"): "Where the tuned adapter goes.",
    (api.WorkspaceStatus, "target_node_count"): "Number of nodes the workspace needs.",
    (api.WorkspaceStatus, "state"): "Pending, Ready, NotReady, Running, Succeeded or Failed.",
    (api.WorkspaceStatus, "phase"): (
        "kaito-py: while the workspace is not ready, the phase it is in and since when."
    ),
    (api.WorkspacePhase, "name"): (
        "ProvisioningNodes, InitializingNodes, PullingImage, LoadingWeights or WarmingUp."
    ),
    (api.WorkspacePhase, "since"): "When the workspace entered this phase.",
    (api.WorkspacePhase, "message"): "What the workspace waits for (a node count, a pod).",
}

#: kaito-py's printer columns, after upstream's in v1beta1: the phase of a workspace that is
#: not ready (`kaito_core.workspace_kind.PHASE_COLUMNS`).
EXTRA_PRINTER_COLUMNS: list[dict[str, Any]] = [c.to_crd() for c in PHASE_COLUMNS]

#: Printer columns: upstream's, exactly (v1alpha1 lacks TargetNodeCount and State), then in
#: v1beta1 `EXTRA_PRINTER_COLUMNS`: the Workspace's `kaito_core.kinds.KindSpec` holds them.
PRINTER_COLUMNS: dict[Version, list[dict[str, Any]]] = {
    version: [c.to_crd() for c in WORKSPACE.columns(version)] for version in ("v1beta1", "v1alpha1")
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _unwrap_optional(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"cannot map the union {tp!r} to an OpenAPI type")
        return args[0]
    return tp


@attrs.frozen(kw_only=True)
class SchemaTables:
    """What another kind's model adds to (or, for `v1beta1_only`, replaces in) the Workspace
    tables above, for `SchemaWalker`: the kinds share classes (`InferenceSpec`, `Condition`,
    `LabelSelector`, ...) and so their table entries."""

    extra: Mapping[tuple[type, str], Mapping[str, Any]] = attrs.field(factory=dict)
    replaced: Mapping[tuple[type, str], Mapping[str, Any]] = attrs.field(factory=dict)
    required: Mapping[type, tuple[str, ...]] = attrs.field(factory=dict)
    descriptions: Mapping[tuple[type, str], str] = attrs.field(factory=dict)
    #: The fields v1alpha1 lacks; None keeps the Workspace's.
    v1beta1_only: frozenset[tuple[type, str]] | None = None


class _Walker:
    def __init__(self, version: Version, tables: SchemaTables | None = None) -> None:
        tables = tables or SchemaTables()
        self.version = version
        self.extra: dict[tuple[type, str], dict[str, Any]] = {
            **_EXTRA,
            **{k: dict(v) for k, v in tables.extra.items()},
        }
        for key, more in _VERSION_EXTRA[version].items():
            self.extra[key] = {**self.extra.get(key, {}), **more}
        self.replaced = {**_REPLACED, **{k: dict(v) for k, v in tables.replaced.items()}}
        self.required = {**_REQUIRED, **tables.required}
        self.descriptions = {**_DESCRIPTIONS, **tables.descriptions}
        self.v1beta1_only = _V1BETA1_ONLY if tables.v1beta1_only is None else tables.v1beta1_only

    def object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = list(self.required.get(cls, ()))
        for field in attrs.fields(cls):
            key = (cls, field.name)
            if self.version == "v1alpha1" and key in self.v1beta1_only:
                continue
            if field.name == "extra" and cls is api.ObjectMeta:
                continue
            wire = _camel(field.name)
            replaced = self.replaced.get(key)
            schema = dict(replaced) if replaced is not None else self.of_type(hints[field.name])
            schema.update(self.extra.get(key, {}))
            if key in self.descriptions:
                schema["description"] = self.descriptions[key]
            properties[wire] = schema
            if field.default is attrs.NOTHING and wire not in required:
                required.append(wire)
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = sorted(required)
        return out

    def of_type(self, tp: Any) -> dict[str, Any]:
        tp = _unwrap_optional(tp)
        if tp is str:
            return {"type": "string"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.of_type(args[0])}
        if origin in (Mapping, dict) and args and args[0] is str and args[1] is not Any:
            return {"type": "object", "additionalProperties": self.of_type(args[1])}
        if isinstance(tp, type) and attrs.has(tp):
            return self.object(tp)
        raise TypeError(f"no OpenAPI mapping for {tp!r}: add it to the CRD tables")


def _canonical(node: Any) -> Any:
    """Sort the keys of every schema node (not of literal values such as enums and defaults)."""
    if isinstance(node, dict):
        return {
            key: node[key] if key in ("default", "enum", "required") else _canonical(node[key])
            for key in sorted(node)
        }
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node


#: Walks an attrs class to its OpenAPI schema: `SchemaWalker(version, tables).object(cls)`.
SchemaWalker = _Walker
#: Sorts the keys of every schema node, so the output is byte-stable.
canonical = _canonical


def workspace_schema(version: Version = "v1beta1") -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one Workspace version, from the attrs model."""
    schema = _Walker(version).object(api.Workspace)
    schema["description"] = "Workspace is the Schema for the workspaces API"
    schema.pop("required", None)  # apiVersion and kind have defaults in the model, not on the wire
    return dict(_canonical(schema))


def workspace_crd(*, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``workspaces.kaito.sh`` CustomResourceDefinition (apiextensions.k8s.io/v1)."""
    return custom_resource_definition(WORKSPACE, labels=labels, schema=workspace_schema)
