"""Autoscaling with KEDA: the annotations, the ScaledObject, and what the planner does with it.

The ScaledObject is checked against the parts of KEDA's CRD schema it uses
(``tests/data/keda/scaledobject-schema.yaml``, written from KEDA v2.19.0's CRD).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kaito_core import inferenceset as kis
from kaito_core.decision import PlanSettings
from kaito_core.inferenceset import InferenceSetOptions, KedaScaler, autoscaling, scaled_object
from kaito_core.inferenceset.keda import DEFAULT_METRIC_NAME
from tests.inferenceset.support import condition, iset, names, replica, run

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "keda" / "scaledobject-schema.yaml"
KEDA = InferenceSetOptions(keda=KedaScaler())
AUTO = {"scaledobject.kaito.sh/auto-provision": "true", "scaledobject.kaito.sh/threshold": "10"}
MAX3 = {**AUTO, "scaledobject.kaito.sh/max-replicas": "3"}


def _strict(schema: Any) -> Any:
    """Objects with properties admit no other key: nothing we emit is unknown to KEDA."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


VALIDATOR = jsonschema.Draft7Validator(_strict(yaml.safe_load(SCHEMA_FILE.read_text())))


@pytest.mark.parametrize(
    ("annotations", "spec", "size", "expected"),
    [
        pytest.param({}, {}, None, None, id="no annotation: off"),
        pytest.param(
            {**MAX3, "scaledobject.kaito.sh/auto-provision": "True"},
            {},
            None,
            None,
            id="only exactly true",
        ),
        pytest.param(MAX3, {}, None, (1, 3, "10", DEFAULT_METRIC_NAME), id="max-replicas"),
        pytest.param(
            {**MAX3, "scaledobject.kaito.sh/min-replicas": "2"},
            {},
            None,
            (2, 3, "10", DEFAULT_METRIC_NAME),
            id="min-replicas",
        ),
        pytest.param(
            {**MAX3, "scaledobject.kaito.sh/metricName": "vllm:gpu_cache_usage_perc"},
            {},
            None,
            (1, 3, "10", "vllm:gpu_cache_usage_perc"),
            id="metric name",
        ),
        pytest.param(
            MAX3,
            {"nodeCountLimit": 10},
            2,
            (1, 5, "10", DEFAULT_METRIC_NAME),
            id="the node limit takes precedence",
        ),
        pytest.param(
            AUTO, {"nodeCountLimit": 1}, 3, (1, 1, "10", DEFAULT_METRIC_NAME), id="at least 1"
        ),
        pytest.param(AUTO, {"nodeCountLimit": 4}, None, "WaitingForReplicaSize", id="size unknown"),
        pytest.param(AUTO, {}, None, "AutoscalingNotConfigured", id="no maximum"),
        pytest.param(
            {**AUTO, "scaledobject.kaito.sh/threshold": "-1"},
            {},
            None,
            "InvalidAutoscaling",
            id="negative threshold",
        ),
        pytest.param(
            {**AUTO, "scaledobject.kaito.sh/min-replicas": "4"},
            {"nodeCountLimit": 3},
            1,
            "InvalidReplicaRange",
            id="the node limit below min-replicas",
        ),
    ],
)
def test_autoscaling_annotations(
    annotations: dict[str, str], spec: dict[str, Any], size: int | None, expected: Any
) -> None:
    """The annotations resolve to (min, max, threshold, metric), nothing, or why not."""
    found = autoscaling(iset(annotations=annotations, **spec), nodes_per_replica=size)
    if expected is None:
        assert found is None
    elif isinstance(expected, str):
        assert found is not None
        assert found.problem is not None
        assert found.problem[0] == expected
    else:
        assert found is not None
        assert found.problem is None
        assert (found.min_replicas, found.max_replicas, found.threshold, found.metric_name) == (
            expected
        )


def test_the_scaled_object_is_keda_kaito_scalers() -> None:
    """Named after the set, owned by it, an external trigger on the scaler, one step at a time."""
    obj = iset(annotations=MAX3)
    config = autoscaling(obj, nodes_per_replica=None)
    assert config is not None
    so = scaled_object(obj, config)
    assert so["metadata"] == {
        "name": "phi",
        "namespace": "default",
        "annotations": {"scaledobject.kaito.sh/managed-by": "keda-kaito-scaler"},
        "ownerReferences": [
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "InferenceSet",
                "name": "phi",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    spec = so["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "InferenceSet",
        "name": "phi",
    }
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["pollingInterval"]) == (1, 3, 15)
    (trigger,) = spec["triggers"]
    assert trigger == {
        "type": "external",
        "name": "keda-kaito-scaler",
        "metadata": {
            "inferenceSetName": "phi",
            "inferenceSetNamespace": "default",
            "metricName": "vllm:num_requests_waiting",
            "scalerAddress": "keda-kaito-scaler-svc.kaito-workspace.svc.cluster.local:10450",
            "threshold": "10",
        },
        "authenticationRef": {
            "name": "keda-kaito-scaler-creds",
            "kind": "ClusterTriggerAuthentication",
        },
        "metricType": "AverageValue",
    }
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
        "tolerance": "100m",
    }
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleDown"]["policies"][0]["periodSeconds"] == 600


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param(MAX3, id="defaults"),
        pytest.param(
            {
                **MAX3,
                "scaledobject.kaito.sh/min-replicas": "2",
                "scaledobject.kaito.sh/metricName": "vllm:num_requests_running",
            },
            id="every annotation",
        ),
    ],
)
def test_the_scaled_object_fits_kedas_schema(annotations: dict[str, str]) -> None:
    """Only fields KEDA knows, of the types it wants."""
    obj = iset(annotations=annotations)
    config = autoscaling(obj, nodes_per_replica=None)
    assert config is not None
    errors = [e.message for e in VALIDATOR.iter_errors(scaled_object(obj, config))]
    assert errors == []


def test_the_schema_check_bites() -> None:
    """A field KEDA does not have, or a wrong type, is caught."""
    obj = iset(annotations=MAX3)
    config = autoscaling(obj, nodes_per_replica=None)
    assert config is not None
    so = scaled_object(obj, config)
    so["spec"]["maxReplicaCount"] = "3"
    so["spec"]["triggers"][0]["metadata"]["threshold"] = 10
    so["spec"]["scaleTarget"] = {}
    assert len(list(VALIDATOR.iter_errors(so))) == 3


def test_the_planner_provisions_it_when_asked() -> None:
    """With options.keda the ScaledObject is desired and applied until it is there."""
    obj = iset(replicas=1, annotations=MAX3)
    first = run(obj, options=KEDA)
    assert names(first.apply) == ["phi-0", "phi"]
    so = first.apply[-1]
    assert condition(first, kis.CONDITION_SCALED_OBJECT).status == "True"
    settled = run(obj, replica(obj, 0), {**so, "status": {"conditions": []}}, options=KEDA)
    assert settled.apply == ()
    assert run(obj).apply == first.apply[:1]  # without options.keda: replicas only


def test_a_managed_scaled_object_goes_when_autoscaling_is_turned_off() -> None:
    """auto-provision removed: the managed ScaledObject is deleted; someone else's is not."""
    auto = iset(replicas=1, annotations=MAX3)
    config = autoscaling(auto, nodes_per_replica=None)
    assert config is not None
    so = scaled_object(auto, config)
    off = iset(replicas=1)
    outcome = run(off, replica(off, 0), so, options=KEDA)
    assert [str(k) for k in outcome.delete] == ["ScaledObject/default/phi"]
    assert outcome.status.condition(kis.CONDITION_SCALED_OBJECT) is None
    theirs = {**so, "metadata": {"name": "phi", "namespace": "default"}}
    assert run(off, replica(off, 0), theirs, options=KEDA).delete == ()


def test_someone_elses_scaled_object_is_a_conflict() -> None:
    """A ScaledObject of the set's name without the managed-by annotation is left alone."""
    obj = iset(replicas=1, annotations=MAX3)
    theirs = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "phi"}}
    outcome = run(obj, replica(obj, 0), theirs, options=KEDA)
    assert outcome.apply == ()
    found = condition(outcome, kis.CONDITION_SCALED_OBJECT)
    assert (found.status, found.reason) == ("False", "ScaledObjectConflict")
    assert [e.reason for e in outcome.events] == ["ScaledObjectConflict"]


def test_a_configuration_problem_is_a_condition() -> None:
    """No maximum anywhere: no ScaledObject, and the condition says what is missing."""
    outcome = run(iset(replicas=1, annotations=AUTO), options=KEDA)
    assert names(outcome.apply) == ["phi-0"]
    found = condition(outcome, kis.CONDITION_SCALED_OBJECT)
    assert (found.status, found.reason) == ("False", "AutoscalingNotConfigured")
    assert "scaledobject.kaito.sh/max-replicas" in (found.message or "")


def test_the_scaler_address_is_configurable() -> None:
    """Where keda-kaito-scaler runs is the operator's setting."""
    obj = iset(annotations=MAX3)
    config = autoscaling(obj, nodes_per_replica=None)
    assert config is not None
    scaler = KedaScaler(namespace="keda", service_name="scaler", grpc_port=1)
    so = scaled_object(obj, config, scaler=scaler)
    assert (
        so["spec"]["triggers"][0]["metadata"]["scalerAddress"] == "scaler.keda.svc.cluster.local:1"
    )


def test_with_byo_nodes_the_maximum_comes_from_the_replicas_size() -> None:
    """BYO and a node limit: the replicas' reported node count sizes the maximum (upstream's)."""
    obj = iset(replicas=1, instance=None, nodeCountLimit=6, annotations=AUTO)
    byo = PlanSettings(provisioner="byo")
    waiting = run(obj, settings=byo, options=KEDA)
    assert condition(waiting, kis.CONDITION_SCALED_OBJECT).reason == "WaitingForReplicaSize"
    sized = run(obj, replica(obj, 0, target_node_count=2), settings=byo, options=KEDA)
    (so,) = [o for o in sized.apply if o["kind"] == "ScaledObject"]
    assert so["spec"]["maxReplicaCount"] == 3
