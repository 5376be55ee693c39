"""The InferenceSet API model: parsing, round trips, CRD defaults and parse errors with paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_core.api import (
    V1ALPHA1,
    V1BETA1,
    InferenceSet,
    ManifestError,
    RollingUpdate,
    UpdateStrategy,
    inferenceset_from_manifest,
    inferenceset_to_manifest,
)
from tests.inferenceset.support import manifest

FULL: dict[str, Any] = {
    "apiVersion": V1BETA1,
    "kind": "InferenceSet",
    "metadata": {
        "name": "phi",
        "namespace": "ai",
        "labels": {"team": "a"},
        "annotations": {"scaledobject.kaito.sh/auto-provision": "true"},
        "uid": "1234",
        "generation": 3,
        "finalizers": ["inferenceset.finalizer.kaito.sh"],
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "y", "uid": "z"}],
    },
    "spec": {
        "template": {
            "metadata": {"labels": {"tier": "gold"}, "annotations": {"note": "x"}},
            "resource": {
                "instanceType": "Standard_NC24ads_A100_v4",
                "partition": {"mode": "mig", "profile": "1g.10gb"},
            },
            "inference": {
                "preset": {
                    "name": "phi-4-mini-instruct",
                    "accessMode": "public",
                    "presetOptions": {"modelAccessSecret": "hf"},
                },
                "config": "my-config",
                "adapters": [{"source": {"name": "a", "image": "r/a:1"}, "strength": "0.5"}],
            },
        },
        "replicas": 3,
        "nodeCountLimit": 6,
        "labelSelector": {
            "matchLabels": {"apps": "phi"},
            "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}],
        },
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "partition": 1},
        },
        "autoUpgrade": {
            "enabled": True,
            "strategy": "Surge",
            "maintenanceWindow": {"schedule": "0 2 * * 6", "duration": "2h"},
        },
    },
    "status": {
        "replicas": 3,
        "readyReplicas": 2,
        "selector": "inferenceset.kaito.sh/created-by=phi",
        "conditions": [
            {
                "type": "InferenceSetReady",
                "status": "False",
                "reason": "inferencesetNotReady",
                "message": "inferenceset is not ready, 2/3 replicas are ready",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 3,
            }
        ],
        "performance": {
            "metrics": {
                "aggregatedPeakTokensPerMinute": {
                    "description": "stress/high-concurrency",
                    "value": "12.00",
                    "unit": "tokens/min",
                }
            }
        },
        "autoUpgrade": {
            "numDriftedWorkspaces": 0,
            "lastSuccessfulUpgradeTime": "2026-01-01T00:00:00Z",
        },
    },
}


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(FULL, id="every field"),
        pytest.param(manifest(), id="minimal"),
        pytest.param(manifest(api=V1ALPHA1, replicas=None), id="v1alpha1 without replicas"),
        pytest.param(
            manifest(updateStrategy={"type": "OnDelete"}, nodeCountLimit=0), id="on delete"
        ),
    ],
)
def test_round_trip(doc: dict[str, Any]) -> None:
    """A manifest read and written back is the same document."""
    obj = InferenceSet.from_manifest(doc)
    assert obj.to_manifest() == doc
    assert inferenceset_to_manifest(inferenceset_from_manifest(doc)) == doc


@pytest.mark.upstream
def test_upstream_examples_round_trip(reference: Path) -> None:
    """Every InferenceSet among upstream's examples loads and writes back unchanged."""
    seen = 0
    for path in sorted(reference.glob("examples/**/kaito_inferenceset_*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "InferenceSet":
                assert InferenceSet.from_manifest(doc).to_manifest() == doc, path.name
                seen += 1
    assert seen == 5


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = manifest()
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            _with("spec.replicas", "2"),
            ['spec.replicas: expected an integer, found the string "2"'],
            id="replicas string",
        ),
        pytest.param(
            _with("spec.replicas", True),
            ["spec.replicas: expected an integer, found the boolean true"],
            id="replicas boolean",
        ),
        pytest.param(
            _with("spec.colour", "blue"), ["spec.colour: unknown field"], id="unknown spec field"
        ),
        pytest.param(
            {**manifest(), "template": {}},
            ["template: unknown field (InferenceSet fields go under spec)"],
            id="template outside spec",
        ),
        pytest.param(
            {k: v for k, v in manifest().items() if k != "spec"},
            ["spec: required field is missing"],
            id="no spec",
        ),
        pytest.param(
            {**manifest(), "spec": {"template": manifest()["spec"]["template"]}},
            ["spec.labelSelector: required field is missing"],
            id="no label selector",
        ),
        pytest.param(
            _with("spec.template", {"resource": {}}),
            ["spec.template.inference: required field is missing"],
            id="no template inference",
        ),
        pytest.param(
            _with("spec.template.inference.preset.nmae", "x"),
            ["spec.template.inference.preset.nmae: unknown field; did you mean name?"],
            id="typo in the preset",
        ),
        pytest.param(
            _with("spec.updateStrategy", {"rollingUpdate": {"maxUnavailable": True}}),
            [
                "spec.updateStrategy.rollingUpdate.maxUnavailable: expected an integer or a "
                "string, found the boolean true"
            ],
            id="max unavailable boolean",
        ),
        pytest.param(
            _with("spec.updateStrategy", {"rollingUpdate": {"maxSurge": 1}}),
            ["spec.updateStrategy.rollingUpdate.maxSurge: unknown field"],
            id="max surge is not a StatefulSet field",
        ),
        pytest.param(
            _with("spec.autoUpgrade", {"enabled": "true"}),
            ['spec.autoUpgrade.enabled: expected a boolean, found the string "true"'],
            id="enabled string",
        ),
        pytest.param(
            _with("spec.autoUpgrade", {"maintenanceWindow": {"duration": "1h"}}),
            ["spec.autoUpgrade.maintenanceWindow.schedule: required field is missing"],
            id="window without schedule",
        ),
        pytest.param(
            _with("spec.template.metadata", {"labels": {"a": 1}}),
            [
                "spec.template.metadata.labels: expected a map of strings, found the integer 1 as "
                'the value of "a"'
            ],
            id="template label not a string",
        ),
        pytest.param(
            _with("status.replicas", "3"),
            ['status.replicas: expected an integer, found the string "3"'],
            id="status replicas string",
        ),
        pytest.param(
            {**manifest(), "apiVersion": "kaito.sh/v2"},
            [
                "apiVersion: unsupported apiVersion 'kaito.sh/v2'; expected kaito.sh/v1beta1 or "
                "kaito.sh/v1alpha1"
            ],
            id="unknown version",
        ),
        pytest.param(
            {**manifest(), "kind": "Workspace"},
            ["kind: expected InferenceSet, got 'Workspace'"],
            id="wrong kind",
        ),
    ],
)
def test_parse_errors_name_the_field(doc: dict[str, Any], expected: list[str]) -> None:
    """Wrong types, unknown and missing fields are reported with their wire path."""
    with pytest.raises(ManifestError) as caught:
        InferenceSet.from_manifest(doc)
    assert [str(e) for e in caught.value.errors] == expected


def test_a_non_map_is_refused() -> None:
    """A list where a manifest should be is one clear problem."""
    with pytest.raises(ManifestError, match="expected an object, found an empty list"):
        InferenceSet.from_manifest([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("doc", "field", "expected"),
    [
        pytest.param(manifest(replicas=None), "replicas", 1, id="replicas 1"),
        pytest.param(manifest(replicas=0), "replicas", 0, id="replicas 0 kept"),
        pytest.param(
            manifest(),
            "update_strategy",
            UpdateStrategy(type="RollingUpdate", rolling_update=RollingUpdate(max_unavailable=1)),
            id="rolling update, maxUnavailable 1",
        ),
        pytest.param(
            manifest(updateStrategy={"type": "OnDelete"}),
            "update_strategy",
            UpdateStrategy(type="OnDelete"),
            id="a strategy as written",
        ),
    ],
)
def test_crd_defaults(doc: dict[str, Any], field: str, expected: Any) -> None:
    """`with_defaults` fills in what the API server's schema defaults would."""
    assert getattr(InferenceSet.from_manifest(doc).with_defaults().spec, field) == expected


def test_auto_upgrade_and_access_mode_defaults() -> None:
    """enabled false, strategy InPlace, window 4h, the preset's accessMode public."""
    obj = InferenceSet.from_manifest(
        manifest(autoUpgrade={"maintenanceWindow": {"schedule": "@daily"}})
    ).with_defaults()
    policy = obj.spec.auto_upgrade
    assert policy is not None
    assert policy.maintenance_window is not None
    assert (policy.enabled, policy.strategy, policy.maintenance_window.duration) == (
        False,
        "InPlace",
        "4h",
    )
    preset = obj.spec.template.inference.preset
    assert preset is not None
    assert preset.access_mode == "public"


def test_v1alpha1_is_read_as_v1beta1() -> None:
    """The CRD has no conversion webhook: only apiVersion changes."""
    old = InferenceSet.from_manifest(manifest(api=V1ALPHA1))
    assert old.is_v1alpha1
    new = old.as_v1beta1()
    assert not new.is_v1alpha1
    assert new.spec == old.spec
    assert new.to_manifest() == {**old.to_manifest(), "apiVersion": V1BETA1}


def test_accessors() -> None:
    """name, namespace (default), labels, annotations, template metadata."""
    obj = InferenceSet.from_manifest(
        manifest(namespace=None, template_metadata={"labels": {"a": "b"}})
    )
    assert (obj.name, obj.namespace, obj.replicas) == ("phi", "default", 2)
    assert obj.template_labels == {"a": "b"}
    assert obj.template_annotations == {}
