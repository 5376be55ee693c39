"""The RAGEngine API: parsing both versions, wire names, strictness, round trips, conversion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_core.api import (
    EmbeddingSpec,
    LocalEmbeddingSpec,
    ManifestError,
    PersistentVolumeConfig,
    RAGEngine,
    RAGEngineSpec,
    ResourceSpec,
    StorageSpec,
    VectorDBConfig,
)
from tests.ragengine.support import rag_manifest

ALPHA = "kaito.sh/v1alpha1"


def _errors(manifest: Any) -> list[str]:
    with pytest.raises(ManifestError) as info:
        RAGEngine.from_manifest(manifest)
    return [str(e) for e in info.value.errors]


def _full() -> dict[str, Any]:
    return rag_manifest(
        storage={
            "persistentVolume": {"persistentVolumeClaim": "pvc", "mountPath": "/mnt/v"},
            "vectorDB": {"engine": "qdrant", "url": "http://qdrant:6333", "accessSecret": "q"},
        },
        embedding={"local": {"modelID": "BAAI/bge-small-en-v1.5", "modelAccessSecret": "hf-token"}},
        guardrails={"enabled": True, "configMapRef": {"name": "policy"}},
        inference_service={
            "url": "http://a/v1/completions",
            "accessSecret": "s",
            "contextWindowSize": 1,
        },
    ) | {
        "status": {
            "workerNodes": ["n1"],
            "conditions": [
                {
                    "type": "ResourceReady",
                    "status": "True",
                    "reason": "ragengineResourceStatusSuccess",
                    "message": "ragengine resource is ready",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 3,
                }
            ],
        }
    }


ROUND_TRIPS = {
    "v1beta1-every-field": _full(),
    "v1beta1-retrieve-only": rag_manifest(compute=None, inference_service=None),
    "v1beta1-remote-embedding": rag_manifest(
        embedding={"remote": {"url": "https://e.example.com/embed", "accessSecret": "t"}}
    ),
    "v1alpha1-flat-storage": rag_manifest(
        api_version=ALPHA,
        storage={"persistentVolumeClaim": "pvc", "mountPath": "/mnt/v"},
        queryServiceName="q",
        indexServiceName="i",
    ),
    "v1alpha1-empty-storage": rag_manifest(api_version=ALPHA, storage={}),
    "no-spec": {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "metadata": {"name": "x"}},
}


@pytest.mark.parametrize("manifest", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_a_manifest_reads_and_writes_back_equal(manifest: dict[str, Any]) -> None:
    """from_manifest then to_manifest gives the same document, in either version."""
    assert RAGEngine.from_manifest(manifest).to_manifest() == manifest


def test_wire_names_are_upstreams() -> None:
    """modelID and vectorDB keep upstream's capitals; everything else is camelCase."""
    rag = RAGEngine.from_manifest(_full())
    assert rag.spec is not None
    assert rag.spec.embedding is not None
    assert rag.spec.embedding.local == LocalEmbeddingSpec(
        model_id="BAAI/bge-small-en-v1.5", model_access_secret="hf-token"
    )
    assert rag.spec.storage is not None
    assert rag.spec.storage.vector_db == VectorDBConfig(
        engine="qdrant", url="http://qdrant:6333", access_secret="q"
    )
    assert rag.status is not None
    assert rag.status.worker_nodes == ("n1",)
    assert rag.status.condition("ResourceReady") is not None
    assert rag.status.condition("ServiceReady") is None


BAD = {
    "not-a-map": ([], ["expected an object, found an empty list"]),
    "wrong-kind": (
        {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace"},
        ["kind: expected RAGEngine, got 'Workspace'"],
    ),
    "wrong-version": (
        {"apiVersion": "kaito.sh/v2", "kind": "RAGEngine"},
        [
            "apiVersion: unsupported apiVersion 'kaito.sh/v2'; expected kaito.sh/v1beta1 or "
            "kaito.sh/v1alpha1"
        ],
    ),
    "top-level-spec-field": (
        {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "embedding": {}},
        ["embedding: unknown field: a RAGEngine puts embedding under spec"],
    ),
    "unknown-top-level": (
        {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "colour": 1},
        ["colour: unknown field"],
    ),
    "unknown-nested": (
        rag_manifest(embedding={"local": {"modelId": "x"}}),
        ["spec.embedding.local.modelId: unknown field"],
    ),
    "string-for-int": (
        rag_manifest(inference_service={"contextWindowSize": "4096"}),
        ['spec.inferenceService.contextWindowSize: expected an integer, found the string "4096"'],
    ),
    "bool-for-int": (
        rag_manifest(inference_service={"contextWindowSize": True}),
        ["spec.inferenceService.contextWindowSize: expected an integer, found the boolean true"],
    ),
    "string-for-bool": (
        rag_manifest(guardrails={"enabled": "true"}),
        ['spec.guardrails.enabled: expected a boolean, found the string "true"'],
    ),
    "missing-context-window": (
        rag_manifest(inference_service={"url": "http://a/v1/completions"}),
        ["spec.inferenceService.contextWindowSize: required field is missing"],
    ),
    "missing-remote-url": (
        rag_manifest(embedding={"remote": {}}),
        ["spec.embedding.remote.url: required field is missing"],
    ),
    "missing-vector-db-engine": (
        rag_manifest(storage={"vectorDB": {"url": "http://q"}}),
        ["spec.storage.vectorDB.engine: required field is missing"],
    ),
    "missing-config-map-ref-name": (
        rag_manifest(guardrails={"configMapRef": {}}),
        ["spec.guardrails.configMapRef.name: required field is missing"],
    ),
    "selector-values": (
        rag_manifest(compute={"labelSelector": {"matchLabels": {"a": 1}}}),
        [
            "spec.compute.labelSelector.matchLabels: expected a map of strings, found the integer "
            '1 as the value of "a"'
        ],
    ),
    "v1alpha1-only-field-in-v1beta1": (
        rag_manifest(queryServiceName="q"),
        ["spec.queryServiceName: unknown field"],
    ),
    "v1beta1-only-fields-in-v1alpha1": (
        rag_manifest(
            api_version=ALPHA,
            guardrails={"enabled": True},
            storage={"vectorDB": {"engine": "qdrant", "url": "http://q"}},
        ),
        [
            "spec.guardrails: unknown field: not part of kaito.sh/v1alpha1",
            "spec.storage.vectorDB: unknown field: not part of kaito.sh/v1alpha1",
        ],
    ),
    "v1alpha1-partition": (
        rag_manifest(
            api_version=ALPHA,
            compute={"labelSelector": {}, "partition": {"mode": "mig", "profile": "1g.10gb"}},
        ),
        ["spec.compute.partition: unknown field: not part of kaito.sh/v1alpha1"],
    ),
    "v1alpha1-url-required": (
        rag_manifest(api_version=ALPHA, inference_service={"contextWindowSize": 1}),
        ["spec.inferenceService: required field 'url' is missing"],
    ),
}


@pytest.mark.parametrize(("manifest", "expected"), BAD.values(), ids=BAD.keys())
def test_a_bad_manifest_names_every_problem_with_its_path(
    manifest: Any, expected: list[str]
) -> None:
    """Problems are reported with their wire path, never dropped or coerced."""
    assert sorted(_errors(manifest)) == sorted(expected)


CONVERSIONS = {
    "pvc-and-path": (
        {"persistentVolumeClaim": "pvc", "mountPath": "/m"},
        StorageSpec(
            persistent_volume=PersistentVolumeConfig(persistent_volume_claim="pvc", mount_path="/m")
        ),
    ),
    "path-only": (
        {"mountPath": "/m"},
        StorageSpec(
            persistent_volume=PersistentVolumeConfig(persistent_volume_claim="", mount_path="/m")
        ),
    ),
    "empty": ({}, StorageSpec()),
}


@pytest.mark.parametrize(("flat", "nested"), CONVERSIONS.values(), ids=CONVERSIONS.keys())
def test_v1alpha1_storage_is_converted_as_upstream_does(flat: Any, nested: StorageSpec) -> None:
    """The flat v1alpha1 storage becomes storage.persistentVolume when either field is set."""
    rag = RAGEngine.from_manifest(rag_manifest(api_version=ALPHA, storage=flat))
    assert rag.is_v1alpha1
    assert rag.spec is not None
    assert rag.spec.storage == nested


def test_as_v1beta1_drops_the_v1alpha1_service_names() -> None:
    """Upstream's ConvertTo drops queryServiceName and indexServiceName."""
    rag = RAGEngine.from_manifest(
        rag_manifest(api_version=ALPHA, queryServiceName="q", indexServiceName="")
    ).as_v1beta1()
    manifest = rag.to_manifest()
    assert manifest["apiVersion"] == "kaito.sh/v1beta1"
    assert "queryServiceName" not in manifest["spec"]
    assert "indexServiceName" not in manifest["spec"]


def test_v1beta1_only_content_has_no_v1alpha1_form() -> None:
    """Writing guardrails or a vector database as v1alpha1 is refused, not silently dropped."""
    rag = RAGEngine(
        api_version=ALPHA,
        spec=RAGEngineSpec(storage=StorageSpec(vector_db=VectorDBConfig(engine="qdrant", url="u"))),
    )
    with pytest.raises(ValueError, match=r"no kaito\.sh/v1alpha1 form"):
        rag.to_manifest()


DEFAULTS = {
    "v1beta1-count": ("kaito.sh/v1beta1", {"labelSelector": {}}, ResourceSpec(count=1)),
    "v1alpha1-count-and-sku": (
        ALPHA,
        {"labelSelector": {}},
        ResourceSpec(count=1, instance_type="Standard_NC24ads_A100_v4"),
    ),
    "explicit-kept": (
        "kaito.sh/v1beta1",
        {"count": 2, "instanceType": "X", "labelSelector": {}},
        ResourceSpec(count=2, instance_type="X"),
    ),
}


@pytest.mark.parametrize(("version", "compute", "expected"), DEFAULTS.values(), ids=DEFAULTS.keys())
def test_with_defaults_fills_in_the_crd_defaults(
    version: str, compute: dict[str, Any], expected: ResourceSpec
) -> None:
    """compute.count is 1; v1alpha1 also defaults the instance type."""
    rag = RAGEngine.from_manifest(
        rag_manifest(api_version=version, compute=compute)
    ).with_defaults()
    assert rag.compute is not None
    assert (rag.compute.count, rag.compute.instance_type) == (
        expected.count,
        expected.instance_type,
    )


def test_a_ragengine_without_compute_is_left_alone_by_defaults() -> None:
    """No compute, nothing to default."""
    rag = RAGEngine(spec=RAGEngineSpec(embedding=EmbeddingSpec()))
    assert rag.with_defaults() == rag
    assert rag.namespace == "default"
    assert rag.instance_type == ""


@pytest.mark.upstream
def test_every_upstream_example_round_trips(reference: Path) -> None:
    """Upstream's RAG examples parse and write back equal."""
    found = 0
    for path in sorted((reference / "examples" / "RAG").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "RAGEngine":
                assert RAGEngine.from_manifest(doc).to_manifest() == doc, path.name
                found += 1
    assert found == 3
