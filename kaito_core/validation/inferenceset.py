"""`validate_inferenceset`: the admission rules for an InferenceSet, on create and on update.

Pure: no I/O, no clock, no logging.

Upstream's ``InferenceSet.Validate`` (``api/v1beta1/inferenceset_validation.go``), with real
wire paths:

- the name is a DNS-1123 label (and, ours, leaves room for the replicas' ``-<slot>`` suffix);
- ``spec.replicas`` is not negative (ours: at most 1,000, `MAX_REPLICAS`);
  ``spec.template.resource.instanceType`` is empty with
  bring-your-own nodes (and required with auto-provisioning: the replica's own rule says so);
- ``spec.autoUpgrade.maintenanceWindow``: a schedule is required and must be a standard cron
  expression; a duration must be positive;
- on update, ``spec.template.resource.partition`` cannot change;
- always, the replica Workspace the template makes (`child_workspace`) passes the Workspace
  create rules (`kaito_core.validation.validate`), its problems reported under
  ``spec.template`` (``spec.labelSelector`` for the node selector).

Ours, for what upstream decodes or ignores silently: the update strategy (the StatefulSet API's
rules), ``spec.nodeCountLimit`` 0 to 1,000,000, ``autoUpgrade.strategy`` ``InPlace``/``Surge``,
a Go duration that parses, template metadata holding only labels and annotations (and not the
two labels the controller sets), the ``scaledobject.kaito.sh/*`` annotations when autoscaling
is asked for, and v1alpha1 objects without ``partition`` (the v1alpha1 schema prunes it).
"""

from __future__ import annotations

from kaito_core.api.inferenceset import STRATEGY_IN_PLACE, STRATEGY_SURGE, InferenceSet
from kaito_core.errors import FieldError
from kaito_core.inferenceset.children import child_workspace, replica_name_problem
from kaito_core.inferenceset.facts import LABEL_CREATED_BY, LABEL_TEMPLATE_HASH
from kaito_core.inferenceset.keda import autoscaling_problems
from kaito_core.inferenceset.rollout import count_problems, update_strategy_problems
from kaito_core.inferenceset.schedule import cron_problem, parse_duration_seconds
from kaito_core.validation.context import ValidationContext
from kaito_core.validation.names import (
    dns1123_label,
    map_key_path,
    quote,
    validate_annotations,
    validate_labels,
)
from kaito_core.validation.workspace import validate
from kaito_presets import Catalog, default_catalog

__all__ = ["replica_path", "validate_inferenceset"]

S = "spec"
T = "spec.template"
W = "spec.autoUpgrade.maintenanceWindow"
#: ObjectMeta fields a template may hold but the replicas never get (wire names).
_UNUSED_META = {
    "name": "name",
    "namespace": "namespace",
    "uid": "uid",
    "resource_version": "resourceVersion",
    "generation": "generation",
    "creation_timestamp": "creationTimestamp",
    "deletion_timestamp": "deletionTimestamp",
    "finalizers": "finalizers",
}


def replica_path(path: str) -> str:
    """Where a problem of the replica Workspace sits in the InferenceSet that made it."""
    for prefix, target in (
        ("spec.resource.labelSelector", "spec.labelSelector"),
        ("spec.resource", f"{T}.resource"),
        ("spec.inference", f"{T}.inference"),
        ("metadata.labels", f"{T}.metadata.labels"),
        ("metadata.annotations", f"{T}.metadata.annotations"),
        ("metadata.", "metadata."),
    ):
        if path == prefix.rstrip(".") or path.startswith(prefix):
            return target + path[len(prefix) :]
    if path in ("", "spec"):
        return T
    return f"{T}.{path}"


def _metadata(iset: InferenceSet) -> list[FieldError]:
    meta = iset.metadata
    errors: list[FieldError] = []
    if not meta.name:
        if not (meta.extra or {}).get("generateName"):
            errors.append(FieldError(path="metadata.name", message="name is required"))
    elif problems := dns1123_label(meta.name):
        errors.append(
            FieldError(
                path="metadata.name",
                message=f"invalid value {quote(meta.name)}: " + "; ".join(problems),
            )
        )
    elif (problem := replica_name_problem(iset)) is not None:
        errors.append(problem)
    if meta.namespace and (problems := dns1123_label(meta.namespace)):
        errors.append(
            FieldError(
                path="metadata.namespace",
                message=f"invalid value {quote(meta.namespace)}: " + "; ".join(problems),
            )
        )
    errors += validate_labels(iset.labels, "metadata.labels")
    errors += validate_annotations(iset.annotations, "metadata.annotations")
    return errors


def _template_metadata(iset: InferenceSet) -> list[FieldError]:
    meta = iset.spec.template.metadata
    if meta is None:
        return []
    present = [wire for attr, wire in _UNUSED_META.items() if getattr(meta, attr) is not None]
    errors = [
        FieldError(
            path=f"{T}.metadata.{key}",
            message="only labels and annotations of the template are copied to the replicas; "
            "remove this field",
        )
        for key in sorted([*present, *(meta.extra or {})])
    ]
    for key in (LABEL_CREATED_BY, LABEL_TEMPLATE_HASH):
        if key in (meta.labels or {}):
            errors.append(
                FieldError(
                    path=map_key_path(f"{T}.metadata.labels", key),
                    message="this label is set by the InferenceSet controller; remove it",
                )
            )
    errors += validate_labels(meta.labels or {}, f"{T}.metadata.labels")
    errors += validate_annotations(meta.annotations or {}, f"{T}.metadata.annotations")
    return errors


def _instance_type(iset: InferenceSet, context: ValidationContext) -> list[FieldError]:
    resource = iset.spec.template.resource
    instance_type = resource.instance_type if resource else None
    if not context.nap and instance_type:
        return [
            FieldError(
                path=f"{T}.resource.instanceType",
                message=f"invalid value {quote(instance_type)}: instanceType must be empty when "
                "nodeProvisioner is byo",
            )
        ]
    return []  # auto-provisioning without one: the replica's own rule reports it


def _auto_upgrade(iset: InferenceSet) -> list[FieldError]:
    policy = iset.spec.auto_upgrade
    if policy is None:
        return []
    errors: list[FieldError] = []
    if policy.strategy is not None and policy.strategy not in (STRATEGY_IN_PLACE, STRATEGY_SURGE):
        errors.append(
            FieldError(
                path=f"{S}.autoUpgrade.strategy",
                message=f"unsupported value {quote(policy.strategy)}: supported values: "
                f'"{STRATEGY_IN_PLACE}", "{STRATEGY_SURGE}"',
            )
        )
    window = policy.maintenance_window
    if window is None:
        return errors
    if not window.schedule:
        errors.append(FieldError(path=f"{W}.schedule", message="missing field(s): schedule"))
    elif (problem := cron_problem(window.schedule)) is not None:
        errors.append(
            FieldError(
                path=f"{W}.schedule",
                message=f"invalid value {quote(window.schedule)}: invalid cron expression: "
                f"{problem}",
            )
        )
    if window.duration is not None:
        seconds = parse_duration_seconds(window.duration)
        if seconds is None:
            errors.append(
                FieldError(
                    path=f"{W}.duration",
                    message=f"invalid value {quote(window.duration)}: not a duration (e.g. 4h, "
                    "90m, 1h30m)",
                )
            )
        elif seconds <= 0:
            errors.append(
                FieldError(
                    path=f"{W}.duration",
                    message=f"invalid value {quote(window.duration)}: must be a positive duration",
                )
            )
    return errors


def _replica(
    iset: InferenceSet, catalog: Catalog, context: ValidationContext, *, named: bool
) -> list[FieldError]:
    """The Workspace create rules on the replica the template makes, moved under the set."""
    child = child_workspace(
        iset, ordinal=max(iset.replicas - 1, 0), node_auto_provisioning=context.nap
    )
    errors: list[FieldError] = []
    for error in validate(child, catalog=catalog, context=context):
        path = replica_path(error.path)
        if path == "metadata.name":
            if not named:
                continue  # the set's own name rule already said it
            errors.append(FieldError(path=path, message=f"replica {child.name}: {error.message}"))
        else:
            errors.append(FieldError(path=path, message=error.message))
    return errors


def validate_inferenceset(
    iset: InferenceSet,
    *,
    old: InferenceSet | None = None,
    catalog: Catalog | None = None,
    context: ValidationContext | None = None,
) -> list[FieldError]:
    """Every problem the admission webhook would report for `iset` (creating it, or updating
    `old` to it), as field errors with wire paths; empty when the InferenceSet is valid.

    CRD defaults are applied first, as the API server does before admission. A v1alpha1 object is
    checked as the v1beta1 object it is stored as. Pure: no I/O, no clock, no logging.
    """
    catalog = catalog if catalog is not None else default_catalog()
    context = context if context is not None else ValidationContext()
    current = iset.with_defaults()
    errors = _metadata(current)
    named = not errors or all(e.path != "metadata.name" for e in errors)
    resource = current.spec.template.resource
    if current.is_v1alpha1 and resource is not None and resource.partition is not None:
        errors.append(
            FieldError(
                path=f"{T}.resource.partition",
                message=f"unknown field: not part of {current.api_version}; use kaito.sh/v1beta1",
            )
        )
    current = current.as_v1beta1()
    errors += count_problems(current)
    errors += update_strategy_problems(current.spec.update_strategy)
    errors += _auto_upgrade(current)
    errors += _template_metadata(current)
    errors += autoscaling_problems(current)
    errors += _instance_type(current, context)
    if old is not None:
        before = old.with_defaults().spec.template.resource
        if (before.partition if before else None) != (resource.partition if resource else None):
            errors.append(FieldError(path=f"{T}.resource.partition", message="field is immutable"))
    errors += _replica(current, catalog, context, named=named)
    return list(dict.fromkeys(errors))
