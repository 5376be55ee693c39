"""Helpers of the RAGEngine tests (no tests here): manifest builders, the Workspace a RAGEngine
points at, an API-server-like store that also knows Deployments, and hypothesis strategies."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kaito_core.api import RAGEngine
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Outcome
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from tests.core.test_plan_support import CATALOG, NOW, ApiServer, _drop_empty, _pod_defaults

__all__ = [
    "CATALOG",
    "INFERENCE_URL",
    "NOW",
    "RagApiServer",
    "converge",
    "materialize",
    "policy_config_map",
    "rag_manifest",
    "rag_manifests",
    "settings_strategy",
    "workspace_references",
]

INFERENCE_URL = "http://phi-3.default.svc.cluster.local/v1/chat/completions"


def rag_manifest(
    name: str = "rag",
    *,
    namespace: str | None = "default",
    api_version: str = "kaito.sh/v1beta1",
    annotations: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A RAGEngine manifest: a GPU compute, a local embedding and an inference URL unless
    `spec` says otherwise (a value of ``None`` removes that field)."""
    body: dict[str, Any] = {
        "compute": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": name}},
        },
        "embedding": {"local": {"modelID": "BAAI/bge-small-en-v1.5"}},
        "inferenceService": {"url": INFERENCE_URL, "contextWindowSize": 4096},
    }
    for key, value in spec.items():
        wire = {"inference_service": "inferenceService"}.get(key, key)
        if value is None:
            body.pop(wire, None)
        else:
            body[wire] = value
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": "RAGEngine", "metadata": meta, "spec": body}


def materialize(
    manifest: Mapping[str, Any], *, uid: str = "rag-uid-1", generation: int = 1
) -> RAGEngine:
    """The RAGEngine as the API server stores it: a uid, a generation and a namespace."""
    rag = RAGEngine.from_manifest(manifest)
    meta = attrs.evolve(
        rag.metadata, uid=uid, generation=generation, namespace=rag.metadata.namespace or "default"
    )
    return attrs.evolve(rag, metadata=meta)


def policy_config_map(
    name: str, namespace: str = "default", *, key: str = "guardrails.yaml"
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: "action: block\nscanners:\n  - type: secrets\n"},
    }


def workspace_references(
    name: str = "phi-3",
    namespace: str = "default",
    *,
    preset: str = "phi-3-mini-4k-instruct",
    ready: bool = True,
    annotations: Mapping[str, str] | None = None,
    config: str | None = None,
    max_model_len: int | None = None,
    mode: str = "preset",
    ports: Iterable[tuple[str, int]] = (("http", 80), ("ray", 6379), ("dashboard", 8265)),
    owned: bool = True,
) -> tuple[Manifest, ...]:
    """A Workspace serving `preset` and its Service ``<name>``, as the shell would observe them
    (plus its inference ConfigMap when `config` is given)."""
    inference: dict[str, Any] = {"preset": {"name": preset}}
    if mode == "template":
        inference = {"template": {"spec": {"containers": [{"name": "s", "image": "x/y:1"}]}}}
    if config is not None:
        inference["config"] = config
    workspace: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations or {})},
        "resource": {"labelSelector": {"matchLabels": {"apps": name}}},
    }
    if mode == "tuning":
        workspace["tuning"] = {
            "preset": {"name": preset},
            "method": "lora",
            "input": {"urls": ["https://example.com/d.parquet"]},
            "output": {"image": "example.azurecr.io/out:1", "imagePushSecret": "push"},
        }
    else:
        workspace["inference"] = inference
    workspace["status"] = {
        "conditions": [
            {
                "type": "InferenceReady",
                "status": "True" if ready else "False",
                "reason": "WorkspaceInferenceStatusSuccess" if ready else "Pending",
                "message": "ok" if ready else "Inference workload is not ready",
                "lastTransitionTime": NOW,
            }
        ]
    }
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if owned:
        meta["ownerReferences"] = [
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "Workspace",
                "name": name,
                "uid": "ws-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports]},
    }
    found: list[Manifest] = [service, workspace]
    if config is not None:
        text = "vllm:\n" + (f"  max-model-len: {max_model_len}\n" if max_model_len else "  x: 1\n")
        found.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": config, "namespace": namespace},
                "data": {"inference_config.yaml": text},
            }
        )
    return tuple(found)


# --- the store ---------------------------------------------------------------------------------


def _deployment_defaults(obj: dict[str, Any]) -> None:
    spec = obj["spec"]
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    rolling = spec.setdefault("strategy", {}).setdefault("rollingUpdate", {})
    rolling.setdefault("maxSurge", "25%")
    rolling.setdefault("maxUnavailable", "25%")
    _pod_defaults(spec["template"])


@attrs.define
class RagApiServer(ApiServer):
    """`ApiServer` that also stores Deployments the way the API server does (defaults, a
    generation, and a status saying the replicas are ready when `workloads_ready`)."""

    def apply(self, desired: Manifest) -> Manifest:
        if desired.get("kind") != "Deployment":
            return super().apply(desired)
        key = ("Deployment", desired["metadata"]["namespace"], desired["metadata"]["name"])
        old = self.objects.get(key)
        obj = _drop_empty(copy.deepcopy(desired))
        _deployment_defaults(obj)
        meta = obj["metadata"]
        meta["uid"] = (old or {}).get("metadata", {}).get("uid") or "uid-deployment"
        meta["resourceVersion"] = self._next_rv()
        meta["creationTimestamp"] = NOW
        changed = old is None or old.get("spec") != obj.get("spec")
        meta["generation"] = (old or {}).get("metadata", {}).get("generation", 0) + (
            1 if changed else 0
        )
        ready = 1 if self.workloads_ready else 0
        obj["status"] = {
            "observedGeneration": meta["generation"],
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        self.objects[key] = obj
        self.writes.append(("apply", f"Deployment/{meta['name']}"))
        return obj


def converge(
    rag: RAGEngine,
    server: RagApiServer,
    *,
    settings: RAGEngineSettings | None = None,
    config_maps: Mapping[str, Manifest] | None = None,
    nodes: Iterable[Manifest] = (),
    references: tuple[Manifest, ...] | None = None,
    rounds: int = 6,
) -> Outcome[Any]:
    """Plan and apply until a plan asks for nothing more; the status is written back each step."""
    outcome: Outcome[Any] | None = None
    for _ in range(rounds):
        observed = server.observed(
            config_maps=dict(config_maps or {}), nodes=tuple(nodes), references=references
        )
        outcome = plan_ragengine(
            rag, observed=observed, catalog=CATALOG, now=NOW, settings=settings
        )
        rag = attrs.evolve(rag, status=outcome.status)
        server.provision(outcome.node_claims)
        if outcome.converged:
            return outcome
        server.apply_outcome(outcome)
    raise AssertionError(f"no convergence after {rounds} rounds: {outcome}")


def observed_of(server: RagApiServer, **extra: Any) -> Observed:
    return server.observed(**extra)


# --- hypothesis strategies ---------------------------------------------------------------------


def rag_manifests(name: str = "rag") -> Any:
    """(RAGEngine manifest, ConfigMaps by name) of one named RAGEngine, valid or not for the
    webhook but always plannable."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> tuple[dict[str, Any], dict[str, Manifest]]:
        spec: dict[str, Any] = {}
        compute = draw(
            st.sampled_from(
                [None, "Standard_NC24ads_A100_v4", "Standard_NC6s_v3", "Standard_D8s_v3"]
            )
        )
        if compute is not None:
            labels = {
                "apps": name,
                **draw(
                    st.dictionaries(
                        st.sampled_from(["tier", "team"]), st.sampled_from(["a", "b"]), max_size=1
                    )
                ),
            }
            spec["compute"] = {"instanceType": compute, "labelSelector": {"matchLabels": labels}}
        spec["embedding"] = draw(
            st.sampled_from(
                [
                    {"local": {"modelID": "BAAI/bge-small-en-v1.5"}},
                    {"local": {"modelID": "BAAI/bge-m3", "modelAccessSecret": "hf"}},
                    {"remote": {"url": "https://embed.example.com/embed", "accessSecret": "tok"}},
                ]
            )
        )
        storage = draw(
            st.sampled_from(
                [
                    None,
                    {"persistentVolume": {"persistentVolumeClaim": "pvc-a"}},
                    {"persistentVolume": {"persistentVolumeClaim": "pvc-b", "mountPath": "/mnt/v"}},
                    {
                        "vectorDB": {
                            "engine": "qdrant",
                            "url": "http://qdrant:6333",
                            "accessSecret": "q",
                        }
                    },
                ]
            )
        )
        if storage is not None:
            spec["storage"] = storage
        service = draw(
            st.sampled_from(
                [
                    None,
                    {"contextWindowSize": 2048},
                    {"url": INFERENCE_URL, "contextWindowSize": 4096},
                    {"url": INFERENCE_URL, "accessSecret": "llm", "contextWindowSize": 8192},
                ]
            )
        )
        if service is not None:
            spec["inferenceService"] = service
        config_maps: dict[str, Manifest] = {}
        guardrails = draw(st.sampled_from([None, "off", "default", "ref"]))
        if guardrails == "off":
            spec["guardrails"] = {"enabled": False}
        elif guardrails == "default":
            spec["guardrails"] = {"enabled": True}
        elif guardrails == "ref":
            spec["guardrails"] = {"enabled": True, "configMapRef": {"name": "policy"}}
            config_maps["policy"] = policy_config_map("policy")
        annotations = draw(
            st.fixed_dictionaries(
                {}, optional={"kaito.sh/enablelb": st.sampled_from(["True", "false"])}
            )
        )
        doc = {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "RAGEngine",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations},
            "spec": spec,
        }
        return doc, config_maps

    return build()


def settings_strategy() -> Any:
    from hypothesis import strategies as st

    return st.builds(
        RAGEngineSettings,
        provisioner=st.sampled_from(["karpenter", "karpenter", "byo"]),
        cloud=st.sampled_from(["azure", "aws"]),
        default_node_image_family=st.sampled_from([None, "azurelinux"]),
    )
