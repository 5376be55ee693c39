"""`validate_inferenceset`: every admission rule, one field error per problem, with its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_core.api import InferenceSet
from kaito_core.inferenceset.schedule import cron_problem, parse_duration_seconds
from kaito_core.validation import FeatureGates, ValidationContext
from kaito_core.validation.inferenceset import replica_path, validate_inferenceset
from tests.inferenceset.support import CATALOG, V1ALPHA1, manifest

BYO = ValidationContext(node_auto_provisioning=False)
BYO_MIG = ValidationContext(
    node_auto_provisioning=False, feature_gates=FeatureGates(enable_mig=True)
)
AUTO = {"scaledobject.kaito.sh/auto-provision": "true", "scaledobject.kaito.sh/threshold": "10"}


def problems(
    doc: dict[str, Any],
    *,
    old: dict[str, Any] | None = None,
    context: ValidationContext | None = None,
) -> list[str]:
    found = validate_inferenceset(
        InferenceSet.from_manifest(doc),
        old=InferenceSet.from_manifest(old) if old is not None else None,
        catalog=CATALOG,
        context=context,
    )
    return [f"{e.path}: {e.message}" for e in found]


def paths(doc: dict[str, Any], **kwargs: Any) -> list[str]:
    return [p.split(": ", 1)[0] for p in problems(doc, **kwargs)]


def _template(inference: dict[str, Any]) -> dict[str, Any]:
    doc = manifest()
    doc["spec"]["template"]["inference"] = inference
    return doc


def _partition(doc: dict[str, Any], **partition: Any) -> dict[str, Any]:
    doc["spec"]["template"].setdefault("resource", {})["partition"] = partition
    return doc


@pytest.mark.parametrize(
    ("doc", "context"),
    [
        pytest.param(manifest(), None, id="minimal"),
        pytest.param(manifest(replicas=0), None, id="scaled to zero"),
        pytest.param(manifest(instance=None), BYO, id="bring your own nodes"),
        pytest.param(
            manifest(
                nodeCountLimit=4,
                updateStrategy={
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "50%"},
                },
                autoUpgrade={
                    "enabled": True,
                    "strategy": "Surge",
                    "maintenanceWindow": {"schedule": "0 2 * * SAT", "duration": "1h30m"},
                },
                template_metadata={"labels": {"tier": "gold"}, "annotations": {"a": "b"}},
                annotations={**AUTO, "scaledobject.kaito.sh/max-replicas": "4"},
            ),
            None,
            id="every field",
        ),
        pytest.param(
            _partition(manifest(instance=None), mode="mig", profile="1g.10gb"), BYO_MIG, id="mig"
        ),
    ],
)
def test_valid(doc: dict[str, Any], context: ValidationContext | None) -> None:
    """Valid InferenceSets give no problem."""
    assert problems(doc, context=context) == []


CASES: list[Any] = [
    pytest.param(manifest("Phi"), None, ["metadata.name"], id="name not a DNS label"),
    pytest.param(
        manifest("a" * 62, replicas=10), None, ["metadata.name"], id="no room for the slot"
    ),
    pytest.param(manifest(namespace="A_B"), None, ["metadata.namespace"], id="bad namespace"),
    pytest.param(
        manifest(labels={"bad key!": "x"}), None, ['metadata.labels["bad key!"]'], id="bad label"
    ),
    pytest.param(manifest(replicas=-1), None, ["spec.replicas"], id="negative replicas"),
    pytest.param(
        manifest(nodeCountLimit=-2), None, ["spec.nodeCountLimit"], id="negative node limit"
    ),
    pytest.param(
        manifest(updateStrategy={"type": "Recreate"}),
        None,
        ["spec.updateStrategy.type"],
        id="update strategy type",
    ),
    pytest.param(
        manifest(updateStrategy={"rollingUpdate": {"maxUnavailable": 0}}),
        None,
        ["spec.updateStrategy.rollingUpdate.maxUnavailable"],
        id="maxUnavailable 0",
    ),
    pytest.param(
        manifest(autoUpgrade={"strategy": "BlueGreen"}),
        None,
        ["spec.autoUpgrade.strategy"],
        id="auto-upgrade strategy",
    ),
    pytest.param(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": ""}}),
        None,
        ["spec.autoUpgrade.maintenanceWindow.schedule"],
        id="empty schedule",
    ),
    pytest.param(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": "0 25 * * *"}}),
        None,
        ["spec.autoUpgrade.maintenanceWindow.schedule"],
        id="bad cron",
    ),
    pytest.param(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": "@daily", "duration": "4 hours"}}),
        None,
        ["spec.autoUpgrade.maintenanceWindow.duration"],
        id="duration not parsable",
    ),
    pytest.param(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": "@daily", "duration": "0s"}}),
        None,
        ["spec.autoUpgrade.maintenanceWindow.duration"],
        id="zero duration",
    ),
    pytest.param(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": "@daily", "duration": "-1h"}}),
        None,
        ["spec.autoUpgrade.maintenanceWindow.duration"],
        id="negative duration",
    ),
    pytest.param(
        manifest(template_metadata={"name": "x", "namespace": "y"}),
        None,
        ["spec.template.metadata.name", "spec.template.metadata.namespace"],
        id="template metadata beyond labels and annotations",
    ),
    pytest.param(
        manifest(template_metadata={"labels": {"inferenceset.kaito.sh/template-hash": "x"}}),
        None,
        ['spec.template.metadata.labels["inferenceset.kaito.sh/template-hash"]'],
        id="a label the controller sets",
    ),
    pytest.param(
        manifest(template_metadata={"labels": {"tier": "a b"}}),
        None,
        ['spec.template.metadata.labels["tier"]'],
        id="bad template label value",
    ),
    pytest.param(
        manifest(instance="Standard_NC24ads_A100_v4"),
        BYO,
        ["spec.template.resource.instanceType"],
        id="instance type with BYO nodes",
    ),
    pytest.param(
        manifest(instance=None),
        None,
        ["spec.template.resource.instanceType"],
        id="no instance type with auto-provisioning",
    ),
    pytest.param(
        manifest(instance="Standard_Nope"),
        None,
        ["spec.template.resource.instanceType"],
        id="unknown instance type",
    ),
    pytest.param(
        manifest(preset="no-such-model"),
        None,
        ["spec.template.inference.preset.name"],
        id="unknown preset",
    ),
    pytest.param(
        _template({"preset": {"name": "phi-4-mini-instruct"}, "template": {"spec": {}}}),
        None,
        ["spec.template.inference"],
        id="preset and template",
    ),
    pytest.param(_template({}), None, ["spec.template.inference"], id="neither"),
    pytest.param(
        manifest(labelSelector={"matchLabels": {"kaito.sh/workspace": "x"}}),
        None,
        ["spec.labelSelector.matchLabels"],
        id="only reserved selector labels",
    ),
    pytest.param(
        _partition(manifest(), mode="mig", profile="1g.10gb"),
        None,
        ["spec.template.resource.partition"],
        id="partition with auto-provisioning",
    ),
    pytest.param(
        manifest(template_metadata={"annotations": {"kaito.sh/node-image-family": "windows"}}),
        None,
        ['spec.template.metadata.annotations["kaito.sh/node-image-family"]'],
        id="a replica annotation the Workspace rejects",
    ),
    pytest.param(
        _partition(manifest(instance=None, api=V1ALPHA1), mode="mig", profile="1g.10gb"),
        BYO_MIG,
        ["spec.template.resource.partition"],
        id="partition in v1alpha1",
    ),
    pytest.param(
        manifest(annotations={"scaledobject.kaito.sh/auto-provision": "true"}),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/threshold"]'],
        id="autoscaling without a threshold",
    ),
    pytest.param(
        manifest(annotations={**AUTO, "scaledobject.kaito.sh/threshold": "ten"}),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/threshold"]'],
        id="threshold not a number",
    ),
    pytest.param(
        manifest(annotations={**AUTO, "scaledobject.kaito.sh/max-replicas": "1"}),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/max-replicas"]'],
        id="max replicas 1",
    ),
    pytest.param(
        manifest(annotations={**AUTO, "scaledobject.kaito.sh/min-replicas": "0"}),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/min-replicas"]'],
        id="min replicas 0",
    ),
    pytest.param(
        manifest(
            annotations={
                **AUTO,
                "scaledobject.kaito.sh/min-replicas": "5",
                "scaledobject.kaito.sh/max-replicas": "3",
            }
        ),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/max-replicas"]'],
        id="max below min",
    ),
    pytest.param(
        manifest(annotations={**AUTO, "scaledobject.kaito.sh/metricName": "vllm num waiting"}),
        None,
        ['metadata.annotations["scaledobject.kaito.sh/metricName"]'],
        id="metric name",
    ),
]


@pytest.mark.parametrize(("doc", "context", "expected"), CASES)
def test_each_rule(
    doc: dict[str, Any], context: ValidationContext | None, expected: list[str]
) -> None:
    """Each broken rule is one problem at its path."""
    assert paths(doc, context=context) == expected


def test_autoscaling_annotations_are_ignored_unless_asked_for() -> None:
    """Without auto-provision "true", the scaler's annotations are not this webhook's business."""
    doc = manifest(annotations={"scaledobject.kaito.sh/threshold": "ten"})
    assert problems(doc) == []


def test_messages_match_upstreams() -> None:
    """Upstream's wording where upstream has a rule."""
    assert problems(manifest(replicas=-1)) == [
        "spec.replicas: invalid value -1: must be non-negative"
    ]
    assert problems(manifest(instance="Standard_NC24ads_A100_v4"), context=BYO) == [
        'spec.template.resource.instanceType: invalid value "Standard_NC24ads_A100_v4": '
        "instanceType must be empty when nodeProvisioner is byo"
    ]
    window = {"maintenanceWindow": {"schedule": "@daily", "duration": "0s"}}
    assert problems(manifest(autoUpgrade=window)) == [
        'spec.autoUpgrade.maintenanceWindow.duration: invalid value "0s": must be a positive '
        "duration"
    ]
    bad = problems(manifest(autoUpgrade={"maintenanceWindow": {"schedule": "x"}}))
    assert bad[0].startswith(
        'spec.autoUpgrade.maintenanceWindow.schedule: invalid value "x": invalid cron expression:'
    )


def test_partition_is_immutable() -> None:
    """On update the template's partition cannot change; the instance type can."""
    old = _partition(manifest(instance=None), mode="mig", profile="1g.10gb")
    new = _partition(manifest(instance=None), mode="mig", profile="2g.20gb")
    assert paths(new, old=old, context=BYO_MIG) == ["spec.template.resource.partition"]
    assert paths(old, old=old, context=BYO_MIG) == []
    bigger = manifest(instance="Standard_NC96ads_A100_v4")
    assert paths(bigger, old=manifest()) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("spec.resource.instanceType", "spec.template.resource.instanceType", id="r"),
        pytest.param(
            "spec.resource.labelSelector.matchLabels", "spec.labelSelector.matchLabels", id="s"
        ),
        pytest.param("spec.inference.preset.name", "spec.template.inference.preset.name", id="i"),
        pytest.param('metadata.labels["a"]', 'spec.template.metadata.labels["a"]', id="labels"),
        pytest.param("metadata.name", "metadata.name", id="name"),
        pytest.param("spec", "spec.template", id="spec"),
    ],
)
def test_replica_paths_move_under_the_template(path: str, expected: str) -> None:
    """A replica's problem is reported where the InferenceSet says it."""
    assert replica_path(path) == expected


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        pytest.param("0 2 * * 6", True, id="weekly"),
        pytest.param("*/15 1-5 * jan-jun mon,wed", True, id="steps, ranges, names"),
        pytest.param("@hourly", True, id="descriptor"),
        pytest.param("@every 90m", True, id="every"),
        pytest.param("CRON_TZ=UTC 0 0 * * *", True, id="UTC"),
        pytest.param("? ? ? ? ?", True, id="question marks"),
        pytest.param("0 2 * *", False, id="four fields"),
        pytest.param("0 2 * * * *", False, id="six fields"),
        pytest.param("60 * * * *", False, id="minute 60"),
        pytest.param("0 0 0 * *", False, id="day 0"),
        pytest.param("0 0 * 13 *", False, id="month 13"),
        pytest.param("0 0 * * 7", False, id="weekday 7"),
        pytest.param("5-1 * * * *", False, id="backwards range"),
        pytest.param("*/0 * * * *", False, id="zero step"),
        pytest.param("@sometimes", False, id="unknown descriptor"),
        pytest.param("@every soon", False, id="every without a duration"),
        pytest.param("TZ=Europe/Paris 0 0 * * *", False, id="a time zone other than UTC"),
    ],
)
def test_cron(schedule: str, valid: bool) -> None:
    """robfig/cron's standard parser's language."""
    assert (cron_problem(schedule) is None) == valid


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("4h", 14400.0, id="hours"),
        pytest.param("1h30m", 5400.0, id="compound"),
        pytest.param("1.5s", 1.5, id="fraction"),
        pytest.param("-2m", -120.0, id="negative"),
        pytest.param("0", 0.0, id="bare zero"),
        pytest.param("300ms", 0.3, id="milliseconds"),
        pytest.param("4", None, id="no unit"),
        pytest.param("4d", None, id="days are not Go"),
        pytest.param("", None, id="empty"),
        pytest.param("h", None, id="no number"),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    """time.ParseDuration's language."""
    found = parse_duration_seconds(text)
    if seconds is None:
        assert found is None
    else:
        assert found == pytest.approx(seconds)


#: Each upstream example with the cluster it is written for.
EXAMPLE_CONTEXTS = {
    "kaito_inferenceset_mig_mixed_strategy.yaml": BYO_MIG,
    "kaito_inferenceset_mig_single_strategy.yaml": BYO_MIG,
}


@pytest.mark.upstream
def test_upstream_examples_validate(reference: Path) -> None:
    """Upstream's InferenceSet examples are valid for the clusters they are written for."""
    seen = 0
    for path in sorted(reference.glob("examples/**/kaito_inferenceset_*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "InferenceSet":
                assert problems(doc, context=EXAMPLE_CONTEXTS.get(path.name)) == [], path.name
                seen += 1
    assert seen == 5
