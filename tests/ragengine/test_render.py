"""The RAG service's Deployment, environment, Service and guardrails ConfigMap."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_core.observed import Observed
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from kaito_core.ragengine.env import escape, rag_env
from tests.ragengine.support import CATALOG, NOW, materialize, policy_config_map, rag_manifest


def _plan(manifest: dict[str, Any], **observed: Any) -> dict[str, dict[str, Any]]:
    outcome = plan_ragengine(
        materialize(manifest),
        observed=Observed(**observed),
        catalog=CATALOG,
        now=NOW,
        # upstream's pod; the restricted profile's additions: tests/core/render/test_podsecurity.py
        settings=RAGEngineSettings(pod_security="baseline"),
    )
    assert outcome.error is None, outcome.error
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in outcome.desired}


def _container(manifest: dict[str, Any], **observed: Any) -> dict[str, Any]:
    deployment = _plan(manifest, **observed)["Deployment/rag"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in rag_env(materialize(manifest).with_defaults())
    }


def test_the_deployment_has_upstreams_shape() -> None:
    """One replica, no surge, the rag label, port 5000, /health probes, hooks, tolerations."""
    deployment = _plan(rag_manifest())["Deployment/rag"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    assert spec["selector"] == {"matchLabels": {"kaito.sh/ragengine": "rag"}}
    assert spec["template"]["metadata"]["labels"] == {"kaito.sh/ragengine": "rag"}
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 60
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    (container,) = pod["containers"]
    assert container["image"] == "mcr.microsoft.com/aks/kaito/kaito-rag-service:0.12.0"
    assert container["command"] == ["/bin/sh", "-c", "python3 main.py"]
    assert container["ports"] == [{"containerPort": 5000}]
    assert container["livenessProbe"]["initialDelaySeconds"] == 600
    assert container["readinessProbe"]["initialDelaySeconds"] == 30
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 5000}
    assert container["lifecycle"]["postStart"]["exec"]["command"][-1] == "poststart"
    meta = deployment["metadata"]
    assert meta["annotations"]["ragengine.kaito.io/revision"] == "1"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "RAGEngine",
            "name": "rag",
            "uid": "rag-uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


RESOURCES = {
    "local-on-a100": (
        rag_manifest(),
        {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
    ),
    "local-on-4-gpus": (
        rag_manifest(compute={"instanceType": "Standard_NC96ads_A100_v4", "labelSelector": {}}),
        {"limits": {"nvidia.com/gpu": "4"}, "requests": {"nvidia.com/gpu": "4"}},
    ),
    "local-on-cpu-sku": (
        rag_manifest(compute={"instanceType": "Standard_D8s_v3", "labelSelector": {}}),
        {"requests": {"cpu": "500m", "memory": "512Mi"}},
    ),
    "local-without-compute": (
        rag_manifest(compute=None),
        {"requests": {"cpu": "500m", "memory": "512Mi"}},
    ),
    "remote-on-gpu-sku": (
        rag_manifest(embedding={"remote": {"url": "https://e.example.com/embed"}}),
        {"requests": {"cpu": "500m", "memory": "512Mi"}},
    ),
}


@pytest.mark.parametrize(("manifest", "expected"), RESOURCES.values(), ids=RESOURCES.keys())
def test_a_local_embedding_on_a_gpu_sku_asks_for_every_gpu(
    manifest: dict[str, Any], expected: dict[str, Any]
) -> None:
    """GPUs only for a local model on a GPU SKU; otherwise CPU and memory, never nothing."""
    assert _container(manifest)["resources"] == expected


def test_affinity_follows_the_selector_without_reserved_keys() -> None:
    """matchLabels become node affinity; KAITO's own keys are dropped; none: no affinity."""
    labels = {"apps": "rag", "kaito.sh/workspace": "x", "tier": "gpu"}
    compute = {"instanceType": "Standard_NC24ads_A100_v4", "labelSelector": {"matchLabels": labels}}
    pod = _plan(rag_manifest(compute=compute))["Deployment/rag"]["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "apps", "operator": "In", "values": ["rag"]},
        {"key": "tier", "operator": "In", "values": ["gpu"]},
    ]
    only_reserved = {**compute, "labelSelector": {"matchLabels": {"kaito.sh/ragengine": "r"}}}
    pod = _plan(rag_manifest(compute=only_reserved))["Deployment/rag"]["spec"]["template"]["spec"]
    assert "affinity" not in pod


ENVS: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    "local-model": (
        rag_manifest(embedding={"local": {"modelID": "BAAI/bge-m3", "modelAccessSecret": "hf"}}),
        {
            "MODEL_ID": "BAAI/bge-m3",
            "LOCAL_EMBEDDING_MODEL_ID": "BAAI/bge-m3",
            "EMBEDDING_TYPE": "local",
            "EMBEDDING_SOURCE_TYPE": "local",
            "HF_TOKEN": {"secretKeyRef": {"name": "hf", "key": "HF_TOKEN"}},
        },
        ("ACCESS_SECRET", "REMOTE_EMBEDDING_URL"),
    ),
    "remote-model": (
        rag_manifest(
            embedding={"remote": {"url": "https://e.example.com/embed", "accessSecret": "t"}}
        ),
        {
            "REMOTE_EMBEDDING_URL": "https://e.example.com/embed",
            "REMOTE_EMBEDDING_ACCESS_SECRET": {
                "secretKeyRef": {"name": "t", "key": "REMOTE_EMBEDDING_ACCESS_SECRET"}
            },
            "EMBEDDING_TYPE": "remote",
            "EMBEDDING_SOURCE_TYPE": "remote",
        },
        ("MODEL_ID", "LOCAL_EMBEDDING_MODEL_ID"),
    ),
    "default-faiss": (
        rag_manifest(),
        {"VECTOR_DB_TYPE": "faiss", "DEFAULT_VECTOR_DB_PERSIST_DIR": "storage"},
        ("VECTOR_DB_URL", "VECTOR_DB_ACCESS_SECRET"),
    ),
    "pvc-persist-dir": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "/mnt/v"}}
        ),
        {"DEFAULT_VECTOR_DB_PERSIST_DIR": "/mnt/v/rag"},
        (),
    ),
    "pvc-default-mount": (
        rag_manifest(storage={"persistentVolume": {"persistentVolumeClaim": "p"}}),
        {"DEFAULT_VECTOR_DB_PERSIST_DIR": "/mnt/data/rag"},
        (),
    ),
    "qdrant": (
        rag_manifest(
            storage={"vectorDB": {"engine": "qdrant", "url": "http://q:6333", "accessSecret": "qs"}}
        ),
        {
            "VECTOR_DB_TYPE": "qdrant",
            "VECTOR_DB_URL": "http://q:6333",
            "VECTOR_DB_ACCESS_SECRET": {
                "secretKeyRef": {"name": "qs", "key": "VECTOR_DB_ACCESS_SECRET"}
            },
            "DEFAULT_VECTOR_DB_PERSIST_DIR": "storage",
        },
        (),
    ),
    "inference-with-secret": (
        rag_manifest(
            inference_service={
                "url": "http://phi/v1/completions",
                "accessSecret": "k",
                "contextWindowSize": 512,
            }
        ),
        {
            "LLM_CONTEXT_WINDOW": "512",
            "LLM_INFERENCE_URL": "http://phi/v1/completions",
            "LLM_ACCESS_SECRET": {"secretKeyRef": {"name": "k", "key": "LLM_ACCESS_SECRET"}},
        },
        (),
    ),
    "retrieve-only-with-window": (
        rag_manifest(inference_service={"accessSecret": "k", "contextWindowSize": 512}),
        {"LLM_CONTEXT_WINDOW": "512"},
        ("LLM_INFERENCE_URL", "LLM_ACCESS_SECRET"),
    ),
    "no-inference-service": (
        rag_manifest(inference_service=None),
        {},
        ("LLM_CONTEXT_WINDOW", "LLM_INFERENCE_URL"),
    ),
    "guardrails-on": (
        rag_manifest(guardrails={"enabled": True}),
        {
            "OUTPUT_GUARDRAILS_ENABLED": "true",
            "OUTPUT_GUARDRAILS_POLICY_PATH": "/etc/ragengine/guardrails/guardrails.yaml",
        },
        (),
    ),
    "guardrails-off": (
        rag_manifest(guardrails={"enabled": False}),
        {"OUTPUT_GUARDRAILS_ENABLED": "false"},
        ("OUTPUT_GUARDRAILS_POLICY_PATH",),
    ),
    "no-guardrails": (rag_manifest(), {}, ("OUTPUT_GUARDRAILS_ENABLED",)),
}


@pytest.mark.parametrize(("manifest", "present", "absent"), ENVS.values(), ids=ENVS.keys())
def test_the_environment_carries_the_spec_and_secrets_by_reference(
    manifest: dict[str, Any], present: dict[str, Any], absent: tuple[str, ...]
) -> None:
    """Each variable under the name the RAG service reads; Secrets as secretKeyRefs."""
    env = _env(manifest)
    for name, value in present.items():
        assert env.get(name) == value, name
    for name in absent:
        assert name not in env, name
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_UID"] == {"fieldRef": {"fieldPath": "metadata.uid"}}


def test_no_secret_value_or_secret_name_becomes_a_plain_value() -> None:
    """Upstream's ACCESS_SECRET=<secret name> is gone; secret-bearing names are references."""
    manifest = rag_manifest(
        embedding={"local": {"modelID": "a/b", "modelAccessSecret": "hf-secret"}},
        storage={"vectorDB": {"engine": "qdrant", "url": "http://q", "accessSecret": "q-secret"}},
        inference_service={
            "url": "http://p/v1/completions",
            "accessSecret": "l-secret",
            "contextWindowSize": 1,
        },
    )
    plain = [e["value"] for e in rag_env(materialize(manifest)) if "value" in e]
    assert not [v for v in plain if "secret" in v]


def test_dollar_signs_are_escaped_against_variable_expansion() -> None:
    """Kubernetes turns $$ back into $: a $(NAME) in the spec is never expanded."""
    assert escape("a$(B)c$") == "a$$(B)c$$"
    env = _env(
        rag_manifest(inference_service={"url": "http://p/$(HF_TOKEN)", "contextWindowSize": 1})
    )
    assert env["LLM_INFERENCE_URL"] == "http://p/$$(HF_TOKEN)"


VOLUMES = {
    "none": (rag_manifest(), ["dshm"], ["/dev/shm"]),
    "pvc": (
        rag_manifest(
            storage={"persistentVolume": {"persistentVolumeClaim": "p", "mountPath": "/mnt/v"}}
        ),
        ["dshm", "vector-db-storage"],
        ["/dev/shm", "/mnt/v"],
    ),
    "vector-db-only": (
        rag_manifest(storage={"vectorDB": {"engine": "qdrant", "url": "http://q"}}),
        ["dshm", "vector-db-storage"],
        ["/dev/shm", "/mnt/data"],
    ),
    "guardrails": (
        rag_manifest(guardrails={"enabled": True}),
        ["dshm", "guardrails-policy"],
        ["/dev/shm", "/etc/ragengine/guardrails"],
    ),
}


@pytest.mark.parametrize(("manifest", "volumes", "mounts"), VOLUMES.values(), ids=VOLUMES.keys())
def test_volumes_and_mounts(
    manifest: dict[str, Any], volumes: list[str], mounts: list[str]
) -> None:
    """Shared memory always; the vector store with storage; the policy with guardrails."""
    pod = _plan(manifest)["Deployment/rag"]["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == volumes
    assert [m["mountPath"] for m in pod["containers"][0]["volumeMounts"]] == mounts


def test_the_pvc_is_mounted_and_an_empty_store_is_an_empty_dir() -> None:
    """A named PVC is the volume; storage without one gets an emptyDir."""
    pvc = rag_manifest(storage={"persistentVolume": {"persistentVolumeClaim": "pvc-rag"}})
    volume = _plan(pvc)["Deployment/rag"]["spec"]["template"]["spec"]["volumes"][1]
    assert volume == {
        "name": "vector-db-storage",
        "persistentVolumeClaim": {"claimName": "pvc-rag"},
    }
    qdrant = rag_manifest(storage={"vectorDB": {"engine": "qdrant", "url": "http://q"}})
    volume = _plan(qdrant)["Deployment/rag"]["spec"]["template"]["spec"]["volumes"][1]
    assert volume == {"name": "vector-db-storage", "emptyDir": {}}


def test_the_default_policy_is_copied_into_a_configmap_of_the_ragengine() -> None:
    """Guardrails without configMapRef: <rag>-guardrails-policy, owned, mounted read-only."""
    objects = _plan(rag_manifest(guardrails={"enabled": True}))
    cm = objects["ConfigMap/rag-guardrails-policy"]
    assert "scanners:" in cm["data"]["guardrails.yaml"]
    assert cm["metadata"]["ownerReferences"][0]["kind"] == "RAGEngine"
    pod = objects["Deployment/rag"]["spec"]["template"]["spec"]
    assert pod["volumes"][-1]["configMap"]["name"] == "rag-guardrails-policy"
    assert pod["containers"][0]["volumeMounts"][-1]["readOnly"] is True


def test_the_release_namespace_template_wins_over_the_built_in_policy() -> None:
    """A ragengine-guardrails-policy-template in the release namespace is what is copied."""
    template = policy_config_map("ragengine-guardrails-policy-template", "kaito-system")
    objects = _plan(
        rag_manifest(guardrails={"enabled": True}),
        config_maps={"kaito-system/ragengine-guardrails-policy-template": template},
    )
    data = objects["ConfigMap/rag-guardrails-policy"]["data"]
    assert data == template["data"]


def test_a_users_policy_configmap_is_mounted_not_copied() -> None:
    """configMapRef names the ConfigMap to mount; nothing is rendered for it."""
    manifest = rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "mine"}})
    objects = _plan(manifest, config_maps={"mine": policy_config_map("mine")})
    assert "ConfigMap/rag-guardrails-policy" not in objects
    pod = objects["Deployment/rag"]["spec"]["template"]["spec"]
    assert pod["volumes"][-1]["configMap"] == {
        "name": "mine",
        "items": [{"key": "guardrails.yaml", "path": "guardrails.yaml"}],
    }


@pytest.mark.parametrize(("value", "kind"), [("True", "LoadBalancer"), ("true", "ClusterIP")])
def test_the_service_is_a_load_balancer_only_for_enablelb_true(value: str, kind: str) -> None:
    """Port 80 to 5000 over the rag pods; kaito.sh/enablelb must be exactly "True"."""
    service = _plan(rag_manifest(annotations={"kaito.sh/enablelb": value}))["Service/rag"]
    assert service["spec"]["type"] == kind
    assert service["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 5000}
    ]
    assert service["spec"]["selector"] == {"kaito.sh/ragengine": "rag"}


def test_the_controller_revision_records_the_spec() -> None:
    """<rag>-<hash5>, labelled with the rag's name, the hash annotated, the spec as data."""
    (revision,) = [
        o for k, o in _plan(rag_manifest()).items() if k.startswith("ControllerRevision/")
    ]
    digest = revision["metadata"]["annotations"]["ragengine.kaito.io/hash"]
    assert revision["metadata"]["name"] == f"rag-{digest[:5]}"
    assert revision["metadata"]["labels"]["ragengine.kaito.io/name"] == "rag"
    assert revision["data"]["embedding"] == {"local": {"modelID": "BAAI/bge-small-en-v1.5"}}
    assert revision["revision"] == 1
