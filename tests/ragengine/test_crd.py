"""The generated RAGEngine CRD is upstream's (``tests/data/crds/kaito.sh_ragengines.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings

from kaito_backends.operator.ragengine_crd import ragengine_crd, ragengine_schema
from kaito_core.api import RAGEngine
from kaito_core.ragengine import PRINTER_COLUMNS, SHORT_NAMES
from tests.operator.test_manifests import _strict, enums, tree
from tests.ragengine.support import rag_manifest, rag_manifests

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "crds" / "kaito.sh_ragengines.yaml"
INPUTS = Path(__file__).resolve().parent / "golden" / "inputs"
VERSIONS = ("v1alpha1", "v1beta1")


def upstream() -> dict[str, Any]:
    return dict(yaml.safe_load(UPSTREAM.read_text()))


def upstream_schema(version: str) -> dict[str, Any]:
    (entry,) = [v for v in upstream()["spec"]["versions"] if v["name"] == version]
    return dict(entry["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_upstream_property_exists_with_the_same_type_and_nothing_else(version: str) -> None:
    """Same property tree, types, defaults, enums, required lists, formats, list/map types."""
    ours = dict(tree(ragengine_schema(version)))  # type: ignore[arg-type]
    theirs = dict(tree(upstream_schema(version)))
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == []
    for path, node in theirs.items():
        mine = ours[path]
        assert mine.get("type") == node.get("type"), path
        assert mine.get("default") == node.get("default"), path
        assert enums(mine) == enums(node), path
        assert sorted(mine.get("required") or []) == sorted(node.get("required") or []), path
        assert mine.get("format") == node.get("format"), path
        for key in ("x-kubernetes-map-type", "x-kubernetes-list-type", "pattern", "maxLength"):
            assert mine.get(key) == node.get(key), (path, key)


def test_the_crd_metadata_matches_upstream() -> None:
    """Names (short name rag), scope, versions, storage, deprecation, subresources, columns."""
    ours, theirs = ragengine_crd(), upstream()
    assert ours["metadata"]["name"] == theirs["metadata"]["name"] == "ragengines.kaito.sh"
    assert ours["spec"]["names"] == theirs["spec"]["names"]
    assert ours["spec"]["scope"] == theirs["spec"]["scope"]
    keys = ("name", "served", "storage", "subresources", "additionalPrinterColumns", "deprecated")
    for mine, other in zip(ours["spec"]["versions"], theirs["spec"]["versions"], strict=True):
        for key in (*keys, "deprecationWarning"):
            assert mine.get(key) == other.get(key), (mine["name"], key)
    assert SHORT_NAMES == ("rag",)
    assert [c["name"] for c in PRINTER_COLUMNS] == [
        "Instance",
        "ResourceReady",
        "ServiceReady",
        "Age",
    ]


def test_the_crd_is_a_valid_kubernetes_object_and_stable() -> None:
    """Strict Kubernetes 1.33 validation; equal output on every call; labels are applied."""
    crd = ragengine_crd(labels={"app.kubernetes.io/name": "kaito"})
    kubernetes_validate.validate(crd, "1.33", strict=True)
    assert ragengine_crd() == ragengine_crd()
    assert crd["metadata"]["labels"] == {"app.kubernetes.io/name": "kaito"}


def _validator(version: str) -> jsonschema.protocols.Validator:
    schema = _strict(ragengine_schema(version))  # type: ignore[arg-type]
    return jsonschema.Draft7Validator(schema)


def test_the_golden_inputs_fit_our_schema() -> None:
    """Every RAGEngine input (upstream examples with placeholders replaced) fits, strictly."""
    count = 0
    for path in sorted(INPUTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "RAGEngine":
                version = doc["apiVersion"].split("/")[1]
                assert not list(_validator(version).iter_errors(doc)), path.name
                count += 1
    assert count == 4


@settings(max_examples=30, deadline=None)
@given(spec=rag_manifests())
def test_what_we_write_fits_our_schema(spec: tuple[dict[str, Any], Any]) -> None:
    """to_manifest of generated RAGEngines is accepted by the generated schema."""
    manifest = RAGEngine.from_manifest(spec[0]).to_manifest()
    assert not list(_validator("v1beta1").iter_errors(manifest))


REJECTED = {
    "string-context-window": rag_manifest(inference_service={"contextWindowSize": "4096"}),
    "unknown-field": rag_manifest(colour="blue"),
    "missing-embedding": rag_manifest(embedding=None),
    "missing-selector": rag_manifest(compute={"instanceType": "Standard_NC6s_v3"}),
    "guardrails-in-v1alpha1": rag_manifest(
        api_version="kaito.sh/v1alpha1", guardrails={"enabled": True}
    ),
    "v1alpha1-url-required": rag_manifest(
        api_version="kaito.sh/v1alpha1", inference_service={"contextWindowSize": 1}
    ),
}


@pytest.mark.parametrize("manifest", REJECTED.values(), ids=REJECTED.keys())
def test_our_schema_rejects_what_upstreams_rejects(manifest: dict[str, Any]) -> None:
    """Types, required fields and unknown fields bite, per version."""
    version = manifest["apiVersion"].split("/")[1]
    assert list(_validator(version).iter_errors(manifest))
    assert list(jsonschema.Draft7Validator(_strict(upstream_schema(version))).iter_errors(manifest))
