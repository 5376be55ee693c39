"""Reading a KEDA ``ScaledObject`` as the HPA KEDA makes from it: its target, its metric and an
`kaito_core.autoscaler.AutoscalerSpec`.

Pure: no I/O, no clock, no logging.

What is read (KEDA v2's fields, with KEDA's defaults):

- ``spec.scaleTargetRef``: ``name`` (required), ``kind`` (default ``Deployment``),
  ``apiVersion`` (default ``apps/v1``);
- ``spec.minReplicaCount`` (default 0; the HPA's minimum is at least 1: KEDA itself scales
  between 0 and 1) and ``spec.maxReplicaCount`` (default 100);
- the first trigger, which must be ``external`` with ``metricType: AverageValue`` (the
  default) and a numeric ``metadata.threshold``: the per-replica target; its
  ``metadata.metricName`` names the metric (what keda-kaito-scaler reads from each replica;
  default ``vllm:num_requests_waiting``);
- ``spec.advanced.horizontalPodAutoscalerConfig.behavior``: passed to the HPA as written, the
  API server filling what is missing with Kubernetes' defaults (`DEFAULT_SCALE_UP`,
  `DEFAULT_SCALE_DOWN`), ``tolerance`` a quantity (``100m`` is 0.1).

Anything else (another trigger type, a ``Value`` metric, a threshold that is not a number, a
malformed behavior) is a `FieldError` with its path: the fake's autoscaler does not act on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core.autoscaler import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    AutoscalerSpec,
    Behavior,
    ScalingPolicy,
    ScalingRules,
)
from kaito_core.errors import FieldError

__all__ = ["DEFAULT_METRIC", "ScaledTarget", "parse_quantity", "read_scaled_object"]

DEFAULT_METRIC = "vllm:num_requests_waiting"
_QUANTITY = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)m?$")
_MAX_REPLICAS = 2**31 - 1
_MAX_SECONDS = 3600


@attrs.frozen(kw_only=True)
class ScaledTarget:
    """A ScaledObject read: what it scales, on which metric, how."""

    name: str
    namespace: str
    target_api_version: str
    target_kind: str
    target_name: str
    metric_name: str
    spec: AutoscalerSpec


def parse_quantity(text: str) -> float | None:
    """A non-negative decimal Kubernetes quantity with an optional ``m`` (milli) suffix
    (``100m``, ``0.5``, ``2``); None when it is not one.

    Pure: no I/O, no clock, no logging.
    """
    if not isinstance(text, str) or len(text) > 32 or not _QUANTITY.match(text):
        return None
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


class _Reader:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path=path, message=message))

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, "expected an object")
            return {}
        return value

    def integer(self, value: Any, path: str, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "expected an integer")
            return default
        if not low <= value <= high:
            self.fail(path, f"invalid value {value}: must be from {low} to {high}")
            return default
        return value

    def rules(self, value: Any, path: str, default: ScalingRules) -> ScalingRules:
        raw = self.mapping(value, path)
        if not raw:
            return default
        window = self.integer(
            raw.get("stabilizationWindowSeconds"),
            f"{path}.stabilizationWindowSeconds",
            default.stabilization_window_seconds,
            0,
            _MAX_SECONDS,
        )
        select = raw.get("selectPolicy", default.select_policy)
        if select not in ("Max", "Min", "Disabled"):
            self.fail(f"{path}.selectPolicy", 'supported values: "Max", "Min", "Disabled"')
            select = default.select_policy
        policies = default.policies
        if raw.get("policies") is not None:
            policies = self.policies(raw.get("policies"), f"{path}.policies")
        tolerance = default.tolerance
        if raw.get("tolerance") is not None:
            parsed = parse_quantity(raw["tolerance"])
            if parsed is None:
                self.fail(f"{path}.tolerance", "expected a quantity such as 100m or 0.1")
            else:
                tolerance = parsed
        return ScalingRules(
            stabilization_window_seconds=window,
            policies=policies,
            select_policy=select,
            tolerance=tolerance,
        )

    def policies(self, value: Any, path: str) -> tuple[ScalingPolicy, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a non-empty list")
            return ()
        found = []
        for index, item in enumerate(value[:10]):
            here = f"{path}[{index}]"
            raw = self.mapping(item, here)
            kind = raw.get("type")
            if kind not in ("Pods", "Percent"):
                self.fail(f"{here}.type", 'supported values: "Pods", "Percent"')
                continue
            amount = self.integer(raw.get("value"), f"{here}.value", 0, 1, _MAX_REPLICAS)
            period = self.integer(raw.get("periodSeconds"), f"{here}.periodSeconds", 0, 1, 1800)
            if amount and period:
                found.append(ScalingPolicy(type=kind, value=amount, period_seconds=period))
        return tuple(found)


def _trigger(reader: _Reader, spec: Mapping[str, Any]) -> tuple[str, float]:
    triggers = spec.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        reader.fail("spec.triggers", "expected at least one trigger")
        return DEFAULT_METRIC, 0.0
    trigger = reader.mapping(triggers[0], "spec.triggers[0]")
    if trigger.get("type") != "external":
        reader.fail("spec.triggers[0].type", "only an external trigger is simulated")
    if trigger.get("metricType", "AverageValue") != "AverageValue":
        reader.fail("spec.triggers[0].metricType", "only AverageValue is simulated")
    metadata = reader.mapping(trigger.get("metadata"), "spec.triggers[0].metadata")
    raw = metadata.get("threshold")
    threshold = parse_quantity(raw) if isinstance(raw, str) else None
    if threshold is None or threshold <= 0:
        reader.fail("spec.triggers[0].metadata.threshold", "expected a positive number")
        threshold = 0.0
    metric = metadata.get("metricName") or DEFAULT_METRIC
    if not isinstance(metric, str):
        reader.fail("spec.triggers[0].metadata.metricName", "expected a string")
        metric = DEFAULT_METRIC
    return metric, threshold


def read_scaled_object(obj: Mapping[str, Any]) -> tuple[ScaledTarget | None, list[FieldError]]:
    """The ScaledObject as the HPA KEDA makes of it, or None and why (see the module
    docstring).

    Pure: no I/O, no clock, no logging.
    """
    reader = _Reader()
    meta = reader.mapping(obj.get("metadata"), "metadata")
    spec = reader.mapping(obj.get("spec"), "spec")
    target = reader.mapping(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    if not isinstance(target.get("name"), str) or not target.get("name"):
        reader.fail("spec.scaleTargetRef.name", "required")
    low = reader.integer(spec.get("minReplicaCount"), "spec.minReplicaCount", 0, 0, _MAX_REPLICAS)
    high = reader.integer(
        spec.get("maxReplicaCount"), "spec.maxReplicaCount", 100, 1, _MAX_REPLICAS
    )
    if max(low, 1) > high:
        reader.fail("spec.maxReplicaCount", f"{high} is less than minReplicaCount {low}")
    metric, threshold = _trigger(reader, spec)
    advanced = reader.mapping(spec.get("advanced"), "spec.advanced")
    config = reader.mapping(
        advanced.get("horizontalPodAutoscalerConfig"), "spec.advanced.horizontalPodAutoscalerConfig"
    )
    path = "spec.advanced.horizontalPodAutoscalerConfig.behavior"
    behavior = reader.mapping(config.get("behavior"), path)
    up = reader.rules(behavior.get("scaleUp"), f"{path}.scaleUp", DEFAULT_SCALE_UP)
    down = reader.rules(behavior.get("scaleDown"), f"{path}.scaleDown", DEFAULT_SCALE_DOWN)
    if reader.errors:
        return None, reader.errors
    return (
        ScaledTarget(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or "default"),
            target_api_version=str(target.get("apiVersion") or "apps/v1"),
            target_kind=str(target.get("kind") or "Deployment"),
            target_name=str(target["name"]),
            metric_name=metric,
            spec=AutoscalerSpec(
                min_replicas=max(low, 1),
                max_replicas=high,
                target_average_value=threshold,
                behavior=Behavior(scale_up=up, scale_down=down),
            ),
        ),
        [],
    )
