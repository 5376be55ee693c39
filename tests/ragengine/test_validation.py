"""`validate_ragengine`: every admission rule, with the path and message it reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_core.api import RAGEngine
from kaito_core.errors import FieldError
from kaito_core.validation import ValidationContext, validate_ragengine
from tests.ragengine.support import policy_config_map, rag_manifest

ALPHA = "kaito.sh/v1alpha1"
CM = "spec.guardrails.configMapRef.name"


def _validate(manifest: dict[str, Any], **context: Any) -> list[FieldError]:
    return validate_ragengine(
        RAGEngine.from_manifest(manifest), context=ValidationContext(**context)
    )


def _paths(errors: list[FieldError]) -> list[str]:
    return sorted(e.path for e in errors)


VALID = {
    "gpu-local-embedding": rag_manifest(),
    "retrieve-only-cpu": rag_manifest(compute=None, inference_service=None),
    "context-window-without-url": rag_manifest(inference_service={"contextWindowSize": 1}),
    "remote-embedding": rag_manifest(
        embedding={"remote": {"url": "https://api.example.com/embed", "accessSecret": "tok"}}
    ),
    "azure-cpu-d-series": rag_manifest(
        compute={"instanceType": "Standard_D8s_v3", "labelSelector": {"matchLabels": {"a": "b"}}}
    ),
    "azure-unlisted-n-series": rag_manifest(
        compute={"instanceType": "Standard_NV6ads_A10_v5x", "labelSelector": {"matchLabels": {}}}
    ),
    "pvc-and-qdrant": rag_manifest(
        storage={
            "persistentVolume": {"persistentVolumeClaim": "pvc", "mountPath": "/mnt/vector-db"},
            "vectorDB": {
                "engine": "Qdrant",
                "url": "http://qdrant.rag.svc:6333",
                "accessSecret": "q",
            },
        }
    ),
    "in-cluster-ip": rag_manifest(
        inference_service={"url": "http://10.0.0.12/v1/completions", "contextWindowSize": 1}
    ),
    "guardrails-default-policy": rag_manifest(guardrails={"enabled": True}),
    "guardrails-off-with-missing-ref": rag_manifest(
        guardrails={"enabled": False, "configMapRef": {"name": "nowhere"}}
    ),
    "v1alpha1-upstream-shape": rag_manifest(
        api_version=ALPHA,
        compute={"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
        storage={"persistentVolumeClaim": "pvc", "mountPath": "/mnt/vector-db"},
    ),
    "v1alpha1-defaulted-sku": rag_manifest(
        api_version=ALPHA, compute={"labelSelector": {"matchLabels": {"a": "b"}}}
    ),
}


@pytest.mark.parametrize("manifest", VALID.values(), ids=VALID.keys())
def test_a_valid_ragengine_has_no_problems(manifest: dict[str, Any]) -> None:
    """Nothing to report for these."""
    assert _validate(manifest, config_maps={}) == []


PLACEHOLDER = "looks like a placeholder from an example"

#: id -> (manifest, context, path, a piece of the message)
RULES: dict[str, tuple[dict[str, Any], dict[str, Any], str, str]] = {
    # metadata
    "M1-name-required": (
        rag_manifest(name=""),
        {},
        "metadata.name",
        "name or generateName is required",
    ),
    "M1-name-is-a-dns1035-label": (
        rag_manifest(name="1rag"),
        {},
        "metadata.name",
        "must be a DNS-1035 label",
    ),
    "M2-namespace": (rag_manifest(namespace="Team_A"), {}, "metadata.namespace", "RFC 1123"),
    # embedding
    "E1-embedding-required": (
        rag_manifest(embedding=None),
        {},
        "spec.embedding",
        "Embedding must be specified",
    ),
    "E2-neither": (rag_manifest(embedding={}), {}, "spec.embedding", "not neither"),
    "E3-both": (
        rag_manifest(embedding={"local": {"modelID": "a/b"}, "remote": {"url": "https://e/x"}}),
        {},
        "spec.embedding",
        "but not both",
    ),
    "L1-local-neither": (
        rag_manifest(embedding={"local": {}}),
        {},
        "spec.embedding.local",
        "Either image or modelID must be specified, not neither",
    ),
    "L2-local-both": (
        rag_manifest(embedding={"local": {"modelID": "a/b", "image": "r.io/a/b:1"}}),
        {},
        "spec.embedding.local",
        "Either image or modelID must be specified, but not both",
    ),
    "L3-image-format": (
        rag_manifest(embedding={"local": {"image": "no-tag"}}),
        {},
        "spec.embedding.local.image",
        "Invalid image format, require full input image URL",
    ),
    "L3-image-lowercase": (
        rag_manifest(embedding={"local": {"image": "r.io/Team/Model:1"}}),
        {},
        "spec.embedding.local.image",
        "repository name must be lowercase",
    ),
    "L4-image-unsupported": (
        rag_manifest(embedding={"local": {"image": "r.io/team/model:1"}}),
        {},
        "spec.embedding.local.image",
        "is not supported",
    ),
    "L4-image-pull-secret-unsupported": (
        rag_manifest(embedding={"local": {"modelID": "a/b", "imagePullSecret": "s"}}),
        {},
        "spec.embedding.local.imagePullSecret",
        "is not supported",
    ),
    "L5-model-id-syntax": (
        rag_manifest(embedding={"local": {"modelID": "a/b/c"}}),
        {},
        "spec.embedding.local.modelID",
        "a Hugging Face model id is [organisation/]name",
    ),
    "L5-model-id-placeholder": (
        rag_manifest(embedding={"local": {"modelID": "<your-model>"}}),
        {},
        "spec.embedding.local.modelID",
        PLACEHOLDER,
    ),
    "L6-model-access-secret-name": (
        rag_manifest(embedding={"local": {"modelID": "a/b", "modelAccessSecret": "HF_TOKEN"}}),
        {},
        "spec.embedding.local.modelAccessSecret",
        "RFC 1123 subdomain",
    ),
    "RE1-remote-url": (
        rag_manifest(embedding={"remote": {"url": "invalid-url"}}),
        {},
        "spec.embedding.remote.url",
        "is not an absolute URL",
    ),
    "RE2-remote-secret-placeholder": (
        rag_manifest(embedding={"remote": {"url": "https://e/x", "accessSecret": "<secret>"}}),
        {},
        "spec.embedding.remote.accessSecret",
        PLACEHOLDER,
    ),
    # inference service
    "IS1-url-placeholder": (
        rag_manifest(
            inference_service={"url": "<inference-url>/v1/chat/completions", "contextWindowSize": 1}
        ),
        {},
        "spec.inferenceService.url",
        PLACEHOLDER,
    ),
    "IS1-url-credentials": (
        rag_manifest(
            inference_service={"url": "http://u:p@phi/v1/completions", "contextWindowSize": 1}
        ),
        {},
        "spec.inferenceService.url",
        "must not contain credentials",
    ),
    "IS1-url-metadata-endpoint": (
        rag_manifest(
            inference_service={
                "url": "http://169.254.169.254/v1/completions",
                "contextWindowSize": 1,
            }
        ),
        {},
        "spec.inferenceService.url",
        "link-local",
    ),
    "IS1-v1alpha1-empty-url": (
        rag_manifest(api_version=ALPHA, inference_service={"url": "", "contextWindowSize": 1}),
        {},
        "spec.inferenceService.url",
        "required",
    ),
    "IS2-context-window-positive": (
        rag_manifest(inference_service={"contextWindowSize": 0}),
        {},
        "spec.inferenceService.contextWindowSize",
        "ContextWindowSize must be a positive integer",
    ),
    "IS2-context-window-int64": (
        rag_manifest(inference_service={"contextWindowSize": 2**63}),
        {},
        "spec.inferenceService.contextWindowSize",
        "64-bit",
    ),
    "IS3-access-secret-name": (
        rag_manifest(
            inference_service={
                "url": "http://a/v1/completions",
                "accessSecret": "a b",
                "contextWindowSize": 1,
            }
        ),
        {},
        "spec.inferenceService.accessSecret",
        "RFC 1123 subdomain",
    ),
    # compute
    "C1-selector-required": (
        rag_manifest(compute={"instanceType": "Standard_NC6s_v3"}),
        {},
        "spec.compute.labelSelector",
        "required field is missing",
    ),
    "C1-selector-syntax": (
        rag_manifest(
            compute={
                "instanceType": "Standard_NC6s_v3",
                "labelSelector": {"matchLabels": {"a b": "c"}},
            }
        ),
        {},
        'spec.compute.labelSelector.matchLabels["a b"]',
        "must consist of alphanumeric",
    ),
    "C2-count": (
        rag_manifest(compute={"count": 0, "instanceType": "Standard_NC6s_v3", "labelSelector": {}}),
        {},
        "spec.compute.count",
        "must be greater than or equal to 1",
    ),
    "C3-partition": (
        rag_manifest(
            compute={
                "instanceType": "Standard_NC6s_v3",
                "labelSelector": {},
                "partition": {"mode": "mig"},
            }
        ),
        {},
        "spec.compute.partition",
        "is not supported for a RAGEngine",
    ),
    "C4-instance-type-required-with-nap": (
        rag_manifest(compute={"labelSelector": {"matchLabels": {"a": "b"}}}),
        {},
        "spec.compute.instanceType",
        "instanceType is required when node auto-provisioning is enabled",
    ),
    "C5-unknown-sku": (
        rag_manifest(compute={"instanceType": "Standard_E8s_v5", "labelSelector": {}}),
        {},
        "spec.compute.instanceType",
        "Unsupported instance type Standard_E8s_v5. Supported SKUs:",
    ),
    "C5-n-d-allowance-is-azure-only": (
        rag_manifest(compute={"instanceType": "Standard_D8s_v3", "labelSelector": {}}),
        {"cloud_provider": "aws"},
        "spec.compute.instanceType",
        "Unsupported instance type Standard_D8s_v3",
    ),
    "C5-cloud-without-sku-table": (
        rag_manifest(),
        {"cloud_provider": "gcp"},
        "spec.compute.instanceType",
        "Failed to get SKU handler: Unsupported cloud provider gcp",
    ),
    # storage
    "ST1-pvc-required": (
        rag_manifest(storage={"persistentVolume": {"persistentVolumeClaim": ""}}),
        {},
        "spec.storage.persistentVolume.persistentVolumeClaim",
        "required",
    ),
    "ST1-pvc-name": (
        rag_manifest(storage={"persistentVolume": {"persistentVolumeClaim": "PVC"}}),
        {},
        "spec.storage.persistentVolume.persistentVolumeClaim",
        "RFC 1123 subdomain",
    ),
    "ST2-mount-path-absolute": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "data"}}
        ),
        {},
        "spec.storage.persistentVolume.mountPath",
        "must be an absolute path",
    ),
    "ST2-mount-path-dotdot": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "/a/../b"}}
        ),
        {},
        "spec.storage.persistentVolume.mountPath",
        "must not contain '..'",
    ),
    "ST2-mount-path-shm": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "/dev/shm/x"}}
        ),
        {},
        "spec.storage.persistentVolume.mountPath",
        "overlaps /dev/shm",
    ),
    "ST2-mount-path-above-guardrails": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "/etc"}}
        ),
        {},
        "spec.storage.persistentVolume.mountPath",
        "overlaps /etc/ragengine/guardrails",
    ),
    "ST2-v1alpha1-flat-path": (
        rag_manifest(api_version=ALPHA, storage={"persistentVolumeClaim": "p", "mountPath": "rel"}),
        {},
        "spec.storage.mountPath",
        "must be an absolute path",
    ),
    "ST3-vector-db-engine": (
        rag_manifest(storage={"vectorDB": {"engine": "faiss", "url": "http://q:6333"}}),
        {},
        "spec.storage.vectorDB.engine",
        "the RAG service supports qdrant",
    ),
    "ST4-vector-db-url": (
        rag_manifest(storage={"vectorDB": {"engine": "qdrant", "url": "http://localhost:6333"}}),
        {},
        "spec.storage.vectorDB.url",
        "own pod",
    ),
    "ST5-vector-db-secret": (
        rag_manifest(
            storage={"vectorDB": {"engine": "qdrant", "url": "http://q", "accessSecret": "_"}}
        ),
        {},
        "spec.storage.vectorDB.accessSecret",
        "RFC 1123 subdomain",
    ),
    # guardrails
    "G1-config-map-missing": (
        rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "policy"}}),
        {"config_maps": {}},
        CM,
        'guardrails.configMapRef.name references ConfigMap "policy", but it was not found in '
        'namespace "default"',
    ),
    "G2-config-map-without-key": (
        rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "policy"}}),
        {"config_maps": {("default", "policy"): policy_config_map("policy", key="other.yaml")}},
        CM,
        'ConfigMap "policy" has no key guardrails.yaml',
    ),
    "G3-config-map-name": (
        rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "Policy"}}),
        {},
        CM,
        "RFC 1123 subdomain",
    ),
}


@pytest.mark.parametrize(
    ("manifest", "context", "path", "message"), RULES.values(), ids=RULES.keys()
)
def test_each_rule_reports_its_path_and_message(
    manifest: dict[str, Any], context: dict[str, Any], path: str, message: str
) -> None:
    """The rule fires, on the field it is about, with a message a user can act on."""
    errors = _validate(manifest, **context)
    matching = [e for e in errors if e.path == path]
    assert matching, f"no problem at {path}: {errors}"
    assert any(message in e.message for e in matching), matching


def test_the_guardrails_config_map_is_found_in_the_ragengines_namespace() -> None:
    """A policy ConfigMap with guardrails.yaml in the RAGEngine's namespace is fine."""
    manifest = rag_manifest(
        namespace="team", guardrails={"enabled": True, "configMapRef": {"name": "policy"}}
    )
    found = {("team", "policy"): policy_config_map("policy", "team")}
    assert _validate(manifest, config_maps=found) == []
    assert _paths(
        _validate(manifest, config_maps={("default", "policy"): found[("team", "policy")]})
    ) == [CM]


def test_unknown_config_maps_skip_the_existence_check() -> None:
    """Without the cluster's ConfigMaps (config_maps=None) only the name is checked."""
    manifest = rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "policy"}})
    assert _validate(manifest) == []


def test_bring_your_own_nodes_allow_compute_without_instance_type() -> None:
    """With node auto-provisioning off, compute selects existing nodes by label only."""
    manifest = rag_manifest(compute={"labelSelector": {"matchLabels": {"a": "b"}}})
    assert _validate(manifest, node_auto_provisioning=False) == []


@pytest.mark.upstream
def test_upstream_examples_are_rejected_only_for_their_placeholders(reference: Path) -> None:
    """Each upstream RAG example validates, or is refused for its placeholder URL alone, with a
    message saying it is a placeholder."""
    outcome = {}
    for path in sorted((reference / "examples" / "RAG").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "RAGEngine":
                errors = validate_ragengine(RAGEngine.from_manifest(doc))
                outcome[path.name] = [(e.path, PLACEHOLDER in e.message) for e in errors]
    assert outcome == {
        "kaito_ragengine_cpu_retrieve_only.yaml": [],
        "kaito_ragengine_phi_3.yaml": [("spec.inferenceService.url", True)],
        "kaito_ragengine_phi_3_with_pvc.yaml": [("spec.inferenceService.url", True)],
    }
