"""The generated InferenceSet CRD: a valid object, the scale subresource, and upstream's schema
(``kaito-reference/crds/kaito.sh_inferencesets.yaml``, tests marked ``upstream``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from kaito_backends.cli.output import dump_yaml
from kaito_backends.operator.inferenceset_crd import (
    INFERENCESET_CRD_NAME,
    inferenceset_crd,
    inferenceset_schema,
)
from kaito_core import inferenceset as kis
from tests.inferenceset.support import manifest
from tests.operator.test_manifests import _strict, enums, tree

VERSIONS = ("v1alpha1", "v1beta1")


def upstream(reference: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((reference / "crds" / "kaito.sh_inferencesets.yaml").read_text()))


def test_the_crd_is_a_valid_kubernetes_object() -> None:
    """Strict OpenAPI validation of the CRD for Kubernetes 1.33."""
    kubernetes_validate.validate(inferenceset_crd(), "1.33", strict=True)


def test_names_subresources_and_columns() -> None:
    """Short names is/isets, status and scale subresources, Replicas/ReadyReplicas/Age."""
    crd = inferenceset_crd(labels={"app": "kaito"})
    assert crd["metadata"] == {"name": INFERENCESET_CRD_NAME, "labels": {"app": "kaito"}}
    names = crd["spec"]["names"]
    assert (names["plural"], names["shortNames"]) == ("inferencesets", ["is", "isets"])
    versions = crd["spec"]["versions"]
    assert [(v["name"], v["storage"]) for v in versions] == [
        ("v1alpha1", False),
        ("v1beta1", True),
    ]
    for version in versions:
        assert version["subresources"] == {
            "scale": {
                "labelSelectorPath": ".status.selector",
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
            },
            "status": {},
        }
        assert [c["name"] for c in version["additionalPrinterColumns"]] == [
            "Replicas",
            "ReadyReplicas",
            "Age",
        ]
    assert versions[1]["subresources"]["scale"] == kis.SCALE_SUBRESOURCE


def test_output_is_deterministic() -> None:
    """The same bytes every time."""
    assert dump_yaml([inferenceset_crd()]) == dump_yaml([inferenceset_crd()])


@pytest.mark.parametrize("version", VERSIONS)
def test_valid_manifests_fit_the_schema(version: str) -> None:
    """A full manifest fits, strictly (no property the schema lacks)."""
    validator = jsonschema.Draft7Validator(_strict(inferenceset_schema(version)))  # type: ignore[arg-type]
    doc = manifest(
        api=f"kaito.sh/{version}",
        nodeCountLimit=4,
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%"}},
        autoUpgrade={"enabled": True, "maintenanceWindow": {"schedule": "@daily"}},
        template_metadata={"labels": {"a": "b"}},
    )
    assert [e.message for e in validator.iter_errors(doc)] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("spec", "replicas"), -1, id="negative replicas"),
        pytest.param(("spec", "replicas"), "2", id="string replicas"),
        pytest.param(("spec", "autoUpgrade"), {"strategy": "BlueGreen"}, id="bad strategy"),
        pytest.param(("spec", "colour"), "blue", id="unknown field"),
        pytest.param(("spec", "labelSelector"), None, id="no label selector"),
    ],
)
def test_the_schema_rejects_what_upstreams_rejects(path: tuple[str, ...], value: Any) -> None:
    """Minimum, types, enums, unknown and required fields bite."""
    validator = jsonschema.Draft7Validator(_strict(inferenceset_schema("v1beta1")))  # type: ignore[arg-type]
    doc = manifest()
    node = doc
    for part in path[:-1]:
        node = node[part]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert list(validator.iter_errors(doc))


def test_partition_is_v1beta1_only() -> None:
    """v1alpha1's template resource has no partition; its inference keeps modelAccessSecret."""
    alpha = inferenceset_schema("v1alpha1")["properties"]["spec"]["properties"]["template"]
    assert "partition" not in alpha["properties"]["resource"]["properties"]
    options = alpha["properties"]["inference"]["properties"]["preset"]["properties"]
    assert "modelAccessSecret" in options["presetOptions"]["properties"]


@pytest.mark.upstream
@pytest.mark.parametrize("version", VERSIONS)
def test_every_upstream_property_is_ours(reference: Path, version: str) -> None:
    """Upstream's property tree is ours: same types, defaults, enums, required, formats, minimums,
    list and map types; no property upstream lacks."""
    (theirs_schema,) = [
        v["schema"]["openAPIV3Schema"]
        for v in upstream(reference)["spec"]["versions"]
        if v["name"] == version
    ]
    ours, theirs = dict(tree(inferenceset_schema(version))), dict(tree(theirs_schema))  # type: ignore[arg-type]
    schemaless = [p for p, n in ours.items() if n.get("x-kubernetes-preserve-unknown-fields")]
    for path, node in theirs.items():
        if path not in ours:
            assert any(path.startswith(s) for s in schemaless), f"{path} is missing"
            continue
        mine = ours[path]
        for key in (
            "type",
            "default",
            "format",
            "minimum",
            "x-kubernetes-map-type",
            "x-kubernetes-list-type",
            "x-kubernetes-preserve-unknown-fields",
        ):
            assert mine.get(key) == node.get(key), (path, key)
        assert enums(mine) == enums(node), path
        assert sorted(mine.get("required") or []) == sorted(node.get("required") or []), path
    assert sorted(set(ours) - set(theirs)) == []


@pytest.mark.upstream
def test_the_crd_metadata_matches_upstream(reference: Path) -> None:
    """Names, scope, versions, storage, subresources and printer columns are upstream's."""
    ours, theirs = inferenceset_crd(), upstream(reference)
    assert ours["metadata"]["name"] == theirs["metadata"]["name"]
    assert ours["spec"]["names"] == theirs["spec"]["names"]
    assert ours["spec"]["scope"] == theirs["spec"]["scope"]
    for mine, their in zip(ours["spec"]["versions"], theirs["spec"]["versions"], strict=True):
        for key in ("name", "served", "storage", "subresources", "additionalPrinterColumns"):
            assert mine[key] == their[key], (mine["name"], key)


@pytest.mark.upstream
def test_upstream_examples_fit_our_schema(reference: Path) -> None:
    """Every upstream InferenceSet example validates against the generated schema, strictly."""
    validators = {
        f"kaito.sh/{v}": jsonschema.Draft7Validator(_strict(inferenceset_schema(v)))  # type: ignore[arg-type]
        for v in VERSIONS
    }
    seen = 0
    for path in sorted(reference.glob("examples/**/kaito_inferenceset_*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "InferenceSet":
                errors = [e.message for e in validators[doc["apiVersion"]].iter_errors(doc)]
                assert errors == [], path.name
                seen += 1
    assert seen == 5
