"""Reading a KEDA ScaledObject as the HPA KEDA makes from it (`kaito_core.scaled_objects`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito_core.autoscaler import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, ScalingPolicy
from kaito_core.inferenceset import autoscaling, scaled_object
from kaito_core.scaled_objects import parse_quantity, read_scaled_object
from tests.inferenceset.support import iset

ANNOTATED = iset(
    "phi",
    annotations={
        "scaledobject.kaito.sh/auto-provision": "true",
        "scaledobject.kaito.sh/threshold": "10",
        "scaledobject.kaito.sh/max-replicas": "4",
    },
)


def rendered() -> dict[str, Any]:
    config = autoscaling(ANNOTATED, nodes_per_replica=1)
    assert config is not None
    return scaled_object(ANNOTATED, config)


def test_the_planners_scaled_object_reads_back() -> None:
    """What the InferenceSet planner renders is what the fake's autoscaler acts on: the set,
    1..4 replicas, 10 waiting requests per replica, keda-kaito-scaler's behavior."""
    target, errors = read_scaled_object(rendered())
    assert errors == []
    assert target is not None
    assert (target.target_api_version, target.target_kind, target.target_name) == (
        "kaito.sh/v1beta1",
        "InferenceSet",
        "phi",
    )
    assert target.metric_name == "vllm:num_requests_waiting"
    spec = target.spec
    assert (spec.min_replicas, spec.max_replicas, spec.target_average_value) == (1, 4, 10.0)
    up, down = spec.behavior.scale_up, spec.behavior.scale_down
    assert (up.stabilization_window_seconds, up.tolerance) == (60, 0.1)
    assert up.policies == (ScalingPolicy(type="Pods", value=1, period_seconds=300),)
    assert (down.stabilization_window_seconds, down.tolerance) == (300, 0.5)
    assert down.policies == (ScalingPolicy(type="Pods", value=1, period_seconds=600),)


def test_keda_and_kubernetes_defaults() -> None:
    """No behavior: Kubernetes' defaults; no counts: KEDA's (0 -> an HPA minimum of 1, 100)."""
    body = rendered()
    del body["spec"]["advanced"], body["spec"]["minReplicaCount"], body["spec"]["maxReplicaCount"]
    target, errors = read_scaled_object(body)
    assert errors == []
    assert target is not None
    assert (target.spec.min_replicas, target.spec.max_replicas) == (1, 100)
    assert target.spec.behavior.scale_up == DEFAULT_SCALE_UP
    assert target.spec.behavior.scale_down == DEFAULT_SCALE_DOWN


def _broken(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(rendered())
    node = body
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("spec.triggers.0.type", "prometheus", "spec.triggers[0].type"),
        ("spec.triggers.0.metricType", "Value", "spec.triggers[0].metricType"),
        ("spec.triggers.0.metadata.threshold", "ten", "spec.triggers[0].metadata.threshold"),
        ("spec.triggers.0.metadata.threshold", "0", "spec.triggers[0].metadata.threshold"),
        ("spec.triggers", [], "spec.triggers"),
        ("spec.scaleTargetRef.name", "", "spec.scaleTargetRef.name"),
        ("spec.maxReplicaCount", 0, "spec.maxReplicaCount"),
        ("spec.minReplicaCount", 9, "spec.maxReplicaCount"),
        (
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance",
            "lots",
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance",
        ),
        (
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.selectPolicy",
            "Most",
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.selectPolicy",
        ),
        (
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies",
            [{"type": "Pods", "value": 0, "periodSeconds": 60}],
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].value",
        ),
    ],
    ids=[
        "trigger-type",
        "metric-type",
        "threshold-text",
        "threshold-zero",
        "no-trigger",
        "no-target",
        "max-zero",
        "min-above-max",
        "tolerance",
        "select-policy",
        "policy-value",
    ],
)
def test_what_is_not_simulated_is_named(path: str, value: Any, error: str) -> None:
    target, errors = read_scaled_object(_broken(path, value))
    assert target is None
    assert [e.path for e in errors] == [error]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", 0.1),
        ("0.5", 0.5),
        ("2", 2.0),
        ("1500m", 1.5),
        (".5", 0.5),
        ("-1", None),
        ("1e3", None),
        ("", None),
        ("m", None),
    ],
)
def test_quantities(text: str, value: float | None) -> None:
    assert parse_quantity(text) == value
