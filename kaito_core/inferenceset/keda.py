"""Autoscaling an InferenceSet with KEDA: the ``scaledobject.kaito.sh/*`` annotations and the
``ScaledObject`` upstream's keda-kaito-scaler provisions from them.

Pure: no I/O, no clock, no logging.

The annotations are those KAITO v0.12's documentation and examples use, read as
keda-kaito-scaler v0.5.1 reads them (``pkg/controllers/autoprovision``; v0.6 replaced them with
one ``scaledobject.kaito.sh/metrics`` list):

- ``auto-provision: "true"`` turns it on;
- ``threshold``: the per-replica average of the metric above which KEDA scales up (an integer);
- ``metricName``: the vLLM metric scraped from each replica, default ``vllm:num_requests_waiting``;
- ``max-replicas`` (an integer above 1), or, when ``spec.nodeCountLimit`` is set, the limit
  divided by the GPU nodes one replica needs (that takes precedence, as upstream); ours: never
  more than `MAX_REPLICAS`, the bound of ``spec.replicas``;
- ``min-replicas``: default 1 (values of 1 or less mean 1).

Upstream's scaler silently provisions nothing when the threshold or max-replicas is not an
integer, or when neither max-replicas nor a node limit is set. Here `autoscaling_problems`
reports the malformed values (the webhook rejects them) and `autoscaling` says why nothing is
provisioned, which the planner shows as a condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core import conditions as kc
from kaito_core.api.inferenceset import InferenceSet
from kaito_core.api.types import Condition
from kaito_core.errors import FieldError
from kaito_core.inferenceset.children import owner_reference, up_to_date
from kaito_core.inferenceset.facts import CONDITION_SCALED_OBJECT, KIND, MAX_REPLICAS
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import ObjectKey

__all__ = [
    "ANNOTATION_AUTO_PROVISION",
    "ANNOTATION_MANAGED_BY",
    "ANNOTATION_MAX_REPLICAS",
    "ANNOTATION_METRIC_NAME",
    "ANNOTATION_MIN_REPLICAS",
    "ANNOTATION_THRESHOLD",
    "DEFAULT_METRIC_NAME",
    "SCALED_OBJECT_API_VERSION",
    "SCALER_NAME",
    "Autoscaling",
    "KedaScaler",
    "autoscaling",
    "autoscaling_problems",
    "is_managed",
    "plan_scaled_object",
    "scaled_object",
    "wants_autoscaling",
]

ANNOTATION_AUTO_PROVISION = "scaledobject.kaito.sh/auto-provision"
ANNOTATION_MIN_REPLICAS = "scaledobject.kaito.sh/min-replicas"
ANNOTATION_MAX_REPLICAS = "scaledobject.kaito.sh/max-replicas"
ANNOTATION_THRESHOLD = "scaledobject.kaito.sh/threshold"
ANNOTATION_METRIC_NAME = "scaledobject.kaito.sh/metricName"
#: On the ScaledObject: which component manages it.
ANNOTATION_MANAGED_BY = "scaledobject.kaito.sh/managed-by"
DEFAULT_METRIC_NAME = "vllm:num_requests_waiting"
SCALER_NAME = "keda-kaito-scaler"
SCALED_OBJECT_API_VERSION = "keda.sh/v1alpha1"

_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_POLLING_INTERVAL = 15


@attrs.frozen(kw_only=True)
class KedaScaler:
    """Where keda-kaito-scaler's gRPC service runs (its chart's defaults)."""

    namespace: str = "kaito-workspace"
    service_name: str = "keda-kaito-scaler-svc"
    grpc_port: int = 10450

    @property
    def address(self) -> str:
        return f"{self.service_name}.{self.namespace}.svc.cluster.local:{self.grpc_port}"


@attrs.frozen(kw_only=True)
class Autoscaling:
    """What the annotations ask for, resolved; `problem` says why no ScaledObject is made."""

    min_replicas: int = 1
    max_replicas: int = 1
    threshold: str = ""
    metric_name: str = DEFAULT_METRIC_NAME
    #: ``(reason, message)`` when nothing can be provisioned; None when it can.
    problem: tuple[str, str] | None = None


def _atoi(text: str | None) -> int | None:
    """Go's ``strconv.Atoi`` on 64-bit: None when it fails."""
    if text is None or not _GO_INT.match(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def _path(key: str) -> str:
    return f'metadata.annotations["{key}"]'


def wants_autoscaling(iset: InferenceSet) -> bool:
    """``scaledobject.kaito.sh/auto-provision`` is exactly ``"true"``."""
    return iset.annotations.get(ANNOTATION_AUTO_PROVISION) == "true"


def autoscaling_problems(iset: InferenceSet) -> list[FieldError]:
    """The malformed autoscaling annotations of an InferenceSet that asks for autoscaling.

    Pure: no I/O, no clock, no logging.
    """
    if not wants_autoscaling(iset):
        return []
    annotations = iset.annotations
    errors: list[FieldError] = []
    threshold = _atoi(annotations.get(ANNOTATION_THRESHOLD))
    if threshold is None or threshold < 0:
        errors.append(
            FieldError(
                path=_path(ANNOTATION_THRESHOLD),
                message="must be a non-negative integer: the average of the metric per replica "
                "above which KEDA adds a replica",
            )
        )
    raw_max = annotations.get(ANNOTATION_MAX_REPLICAS)
    maximum = _atoi(raw_max)
    if raw_max is not None and (maximum is None or not 1 < maximum <= MAX_REPLICAS):
        errors.append(
            FieldError(
                path=_path(ANNOTATION_MAX_REPLICAS),
                message=f"must be an integer above 1 and at most {MAX_REPLICAS} (spec.replicas' "
                "bound)",
            )
        )
    raw_min = annotations.get(ANNOTATION_MIN_REPLICAS)
    minimum = _atoi(raw_min)
    if raw_min is not None and (minimum is None or minimum < 1):
        errors.append(
            FieldError(
                path=_path(ANNOTATION_MIN_REPLICAS),
                message="must be an integer of at least 1 (the scaler never scales to zero)",
            )
        )
    elif minimum is not None and minimum > MAX_REPLICAS:
        errors.append(
            FieldError(
                path=_path(ANNOTATION_MIN_REPLICAS),
                message=f"must be at most {MAX_REPLICAS} (spec.replicas' bound)",
            )
        )
    elif minimum is not None and maximum is not None and maximum > 1 and maximum < minimum:
        errors.append(
            FieldError(
                path=_path(ANNOTATION_MAX_REPLICAS),
                message=f"max-replicas ({maximum}) is less than min-replicas ({minimum})",
            )
        )
    metric = annotations.get(ANNOTATION_METRIC_NAME)
    if metric and not _METRIC_NAME.match(metric):
        errors.append(
            FieldError(
                path=_path(ANNOTATION_METRIC_NAME),
                message=f"{metric!r} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
            )
        )
    return errors


def autoscaling(iset: InferenceSet, *, nodes_per_replica: int | None) -> Autoscaling | None:
    """The ScaledObject parameters the annotations resolve to; None when autoscaling is off.

    `nodes_per_replica` is the GPU node count of one replica (None when not known yet); it is
    needed only with ``spec.nodeCountLimit``. Pure: no I/O, no clock, no logging.
    """
    if not wants_autoscaling(iset):
        return None
    problems = autoscaling_problems(iset)
    if problems:
        text = "; ".join(str(p) for p in problems)
        return Autoscaling(problem=("InvalidAutoscaling", text))
    annotations = iset.annotations
    limit = iset.spec.node_count_limit or 0
    raw_max = annotations.get(ANNOTATION_MAX_REPLICAS)
    if limit > 0:
        if not nodes_per_replica:
            return Autoscaling(
                problem=(
                    "WaitingForReplicaSize",
                    "max replicas come from spec.nodeCountLimit, and the GPU nodes one replica "
                    "needs are not known yet",
                )
            )
        maximum = min(max(1, limit // nodes_per_replica), MAX_REPLICAS)
    elif raw_max is not None:
        maximum = min(_atoi(raw_max) or 1, MAX_REPLICAS)
    else:
        return Autoscaling(
            problem=(
                "AutoscalingNotConfigured",
                f"{ANNOTATION_AUTO_PROVISION} is true but neither {ANNOTATION_MAX_REPLICAS} nor "
                "spec.nodeCountLimit is set, so there is no maximum to scale to",
            )
        )
    minimum = _atoi(annotations.get(ANNOTATION_MIN_REPLICAS))
    minimum = min(minimum, MAX_REPLICAS) if minimum is not None and minimum > 1 else 1
    if maximum < minimum:
        return Autoscaling(
            problem=(
                "InvalidReplicaRange",
                f"max replicas ({maximum}) is less than min-replicas ({minimum})",
            )
        )
    return Autoscaling(
        min_replicas=minimum,
        max_replicas=maximum,
        threshold=annotations.get(ANNOTATION_THRESHOLD, ""),
        metric_name=annotations.get(ANNOTATION_METRIC_NAME) or DEFAULT_METRIC_NAME,
    )


def _rules(window: int, period: int, tolerance: str) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": window,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": period}],
        "tolerance": tolerance,
    }


def scaled_object(
    iset: InferenceSet, config: Autoscaling, *, scaler: KedaScaler | None = None
) -> dict[str, Any]:
    """The ScaledObject keda-kaito-scaler makes for `iset` (named after it, owned by it): an
    external trigger on the scaler with the metric and threshold, an HPA that adds or removes
    one replica at a time (up after 60 s above the threshold, at most every 5 minutes; down
    after 5 minutes below, at most every 10), KEDA polling every 15 s.

    `config` must have no `problem`. Pure: no I/O, no clock, no logging.
    """
    scaler = scaler or KedaScaler()
    return {
        "apiVersion": SCALED_OBJECT_API_VERSION,
        "kind": "ScaledObject",
        "metadata": {
            "name": iset.name,
            "namespace": iset.namespace,
            "annotations": {ANNOTATION_MANAGED_BY: SCALER_NAME},
            "ownerReferences": [owner_reference(iset)],
        },
        "spec": {
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleUp": _rules(60, 300, "100m"),
                        "scaleDown": _rules(300, 600, "500m"),
                    }
                }
            },
            "scaleTargetRef": {"apiVersion": "kaito.sh/v1beta1", "kind": KIND, "name": iset.name},
            "pollingInterval": _POLLING_INTERVAL,
            "minReplicaCount": config.min_replicas,
            "maxReplicaCount": config.max_replicas,
            "triggers": [
                {
                    "type": "external",
                    "name": SCALER_NAME,
                    "metadata": {
                        "inferenceSetName": iset.name,
                        "inferenceSetNamespace": iset.namespace,
                        "metricName": config.metric_name,
                        "scalerAddress": scaler.address,
                        "threshold": config.threshold,
                    },
                    "authenticationRef": {
                        "name": "keda-kaito-scaler-creds",
                        "kind": "ClusterTriggerAuthentication",
                    },
                    "metricType": "AverageValue",
                }
            ],
        },
    }


def is_managed(obj: Mapping[str, Any]) -> bool:
    """A ScaledObject keda-kaito-scaler (or this planner) manages."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(ANNOTATION_MANAGED_BY) == SCALER_NAME)


def plan_scaled_object(
    iset: InferenceSet,
    *,
    scaler: KedaScaler,
    observed: Observed,
    nodes_per_replica: int | None,
) -> tuple[Manifest | None, bool, ObjectKey | None, Condition | None]:
    """What to do about `iset`'s ScaledObject: (the one that must exist, whether it must be
    applied, a managed one to delete now that autoscaling is off, the
    ``ScaledObjectProvisioned`` condition). A ScaledObject of the same name that
    keda-kaito-scaler does not manage is left alone, and the condition says so.

    Pure: no I/O, no clock, no logging.
    """
    existing = observed.object("ScaledObject", iset.name)
    config = autoscaling(iset, nodes_per_replica=nodes_per_replica)
    if config is None:
        if existing is not None and is_managed(existing):
            key = ObjectKey(
                api_version=SCALED_OBJECT_API_VERSION,
                kind="ScaledObject",
                namespace=iset.namespace,
                name=iset.name,
            )
            return None, False, key, None
        return None, False, None, None
    kind = CONDITION_SCALED_OBJECT
    if config.problem is not None:
        reason, message = config.problem
        return None, False, None, kc.condition(kind, False, reason, kc.truncate_message(message))
    if existing is not None and not is_managed(existing):
        return (
            None,
            False,
            None,
            kc.condition(
                kind,
                False,
                "ScaledObjectConflict",
                f"ScaledObject {iset.namespace}/{iset.name} exists and is not managed by "
                f"{SCALER_NAME}; it is left alone",
            ),
        )
    desired = scaled_object(iset, config, scaler=scaler)
    message = (
        f"ScaledObject {iset.namespace}/{iset.name} scales between {config.min_replicas} and "
        f"{config.max_replicas} replicas on {config.metric_name} (threshold {config.threshold} "
        "per replica)"
    )
    apply = existing is None or not up_to_date(existing, desired)
    return desired, apply, None, kc.condition(kind, True, "ScaledObjectRendered", message)
