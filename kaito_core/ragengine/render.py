"""The namespaced objects of a RAGEngine: the RAG service Deployment, its Service, and the
guardrails policy ConfigMap.

Pure: no I/O, no clock, no logging.

Upstream's shapes (``pkg/ragengine/manifests``, ``pkg/ragengine/controllers/preset_rag.go``):

- **Deployment** ``<rag>``: one replica (rolling update with ``maxSurge: 0``), pods labelled
  ``kaito.sh/ragengine=<rag>``, the RAG service image running ``python3 main.py`` on port 5000,
  ``/health`` probes (liveness after 10 minutes, readiness after 30 s), lifecycle hooks that
  restore and persist the index, the ``sku=gpu`` and ``nvidia.com/gpu`` tolerations, node
  affinity to the compute label selector (KAITO's reserved keys removed), ``/dev/shm`` in
  memory, the vector store volume (the PVC, else an emptyDir) when ``storage`` is set, and the
  guardrails policy at ``/etc/ragengine/guardrails/guardrails.yaml`` when guardrails are on.
  With a local embedding on a GPU instance type the container asks for every GPU of the node;
  otherwise for 500m CPU and 512Mi memory.
- **Service** ``<rag>``: port 80 (``http``) to 5000, ClusterIP, or LoadBalancer when the
  annotation ``kaito.sh/enablelb`` is ``"True"``.
- **Guardrails ConfigMap** ``<rag>-guardrails-policy`` (guardrails on, no ``configMapRef``).

Where we differ: every child carries ``kaito.sh/ragengine`` and a controller owner reference;
the pod runs as a non-root user with no capabilities, the RuntimeDefault seccomp profile and its
caches (``HOME``, ``HF_HOME``: the embedding model's download) and ``/tmp`` on emptyDirs, so it
passes the "restricted" Pod Security Standard (`kaito_core.render.podsecurity`);
the Service and Deployment are desired state, not create-once; the default guardrails policy is
a copy owned by the RAGEngine (upstream copies the chart's template into the namespace once,
unowned and shared, so it outlives every RAGEngine and never follows the template); a CPU-only
instance type still gets CPU and memory requests (upstream leaves the pod BestEffort).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_core.api.ragengine import (
    DEFAULT_MOUNT_PATH,
    GUARDRAILS_POLICY_FILE,
    KIND_RAGENGINE,
    RAGEngine,
)
from kaito_core.api.types import V1BETA1
from kaito_core.observed import Manifest
from kaito_core.ragengine.env import rag_env
from kaito_core.ragengine.kind import LABEL_RAGENGINE
from kaito_core.render.meta import RESERVED_LABEL_KEYS
from kaito_core.render.podsecurity import PROFILE_RESTRICTED, secure_pod
from kaito_core.render.revision import stamp_template_hash
from kaito_core.render.services import ANNOTATION_ENABLE_LB
from kaito_core.validation.ragengine_spec import GUARDRAILS_MOUNT_PATH

__all__ = [
    "ANNOTATION_REVISION",
    "PORT_RAG_SERVICE",
    "PROBE_PATH",
    "guardrails_config_map",
    "guardrails_config_map_name",
    "owner_reference",
    "rag_child_metadata",
    "rag_deployment",
    "rag_service",
    "sanitized_selector",
]

#: Upstream's ``RAGEngineRevisionAnnotation`` on the Deployment.
ANNOTATION_REVISION = "ragengine.kaito.io/revision"
PORT_RAG_SERVICE = 5000
PROBE_PATH = "/health"
_STORAGE_VOLUME = "vector-db-storage"
_GUARDRAILS_VOLUME = "guardrails-policy"
_SHM_VOLUME = "dshm"
_DEFAULT_REQUESTS = {"cpu": "500m", "memory": "512Mi"}
_HOOKS = "/app/ragengine/lifecycle/hooks.py"


def owner_reference(rag: RAGEngine) -> dict[str, Any]:
    """A controller owner reference to the RAGEngine (always the v1beta1 storage version)."""
    return {
        "apiVersion": V1BETA1,
        "kind": KIND_RAGENGINE,
        "name": rag.name,
        "uid": rag.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def rag_child_metadata(
    rag: RAGEngine,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Metadata of a namespaced child: name, namespace, ``kaito.sh/ragengine`` (plus `labels`),
    `annotations`, and the controller owner reference.

    Pure: no I/O, no clock, no logging.
    """
    meta: dict[str, Any] = {"name": name, "namespace": rag.namespace}
    meta["labels"] = dict(sorted({LABEL_RAGENGINE: rag.name, **(labels or {})}.items()))
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    meta["ownerReferences"] = [owner_reference(rag)]
    return meta


def sanitized_selector(rag: RAGEngine) -> dict[str, str]:
    """The compute matchLabels without KAITO's reserved keys, sorted by key."""
    labels = rag.match_labels
    return {k: labels[k] for k in sorted(labels) if k not in RESERVED_LABEL_KEYS}


# --- Service -------------------------------------------------------------------------------------


def rag_service(rag: RAGEngine) -> Manifest:
    """The Service ``<rag>`` in front of the RAG service (port 80 to 5000).

    Pure: no I/O, no clock, no logging.
    """
    load_balancer = rag.annotations.get(ANNOTATION_ENABLE_LB) == "True"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": rag_child_metadata(rag, rag.name),
        "spec": {
            "type": "LoadBalancer" if load_balancer else "ClusterIP",
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": PORT_RAG_SERVICE}
            ],
            "selector": {LABEL_RAGENGINE: rag.name},
            "publishNotReadyAddresses": True,
        },
    }


# --- guardrails ----------------------------------------------------------------------------------


def guardrails_config_map_name(rag: RAGEngine) -> str:
    """``<rag>-guardrails-policy``: the RAGEngine's own copy of the default policy."""
    return f"{rag.name}-guardrails-policy"


def guardrails_config_map(rag: RAGEngine, policy: str) -> Manifest:
    """The ConfigMap holding `policy` (the default guardrails document) under
    ``guardrails.yaml``, owned by `rag`.

    Pure: no I/O, no clock, no logging.
    """
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": rag_child_metadata(rag, guardrails_config_map_name(rag)),
        "data": {GUARDRAILS_POLICY_FILE: policy},
    }


# --- Deployment ----------------------------------------------------------------------------------


def _affinity(rag: RAGEngine) -> dict[str, Any] | None:
    selector = sanitized_selector(rag)
    if not selector:
        return None
    expressions = [{"key": k, "operator": "In", "values": [v]} for k, v in selector.items()]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }


def _resources(gpus: int) -> dict[str, Any]:
    if gpus > 0:
        count = {"nvidia.com/gpu": str(gpus)}
        return {"limits": dict(count), "requests": dict(count)}
    return {"requests": dict(_DEFAULT_REQUESTS)}


def _probe(delay: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": PROBE_PATH, "port": PORT_RAG_SERVICE},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
    }


def _volumes(rag: RAGEngine, policy: str | None) -> tuple[list[Any], list[Any]]:
    volumes: list[dict[str, Any]] = [{"name": _SHM_VOLUME, "emptyDir": {"medium": "Memory"}}]
    mounts: list[dict[str, Any]] = [{"name": _SHM_VOLUME, "mountPath": "/dev/shm"}]
    storage = rag.spec.storage if rag.spec is not None else None
    if storage is not None:
        volume = storage.persistent_volume
        claim = volume.persistent_volume_claim if volume is not None else ""
        source: dict[str, Any] = (
            {"persistentVolumeClaim": {"claimName": claim}} if claim else {"emptyDir": {}}
        )
        volumes.append({"name": _STORAGE_VOLUME, **source})
        mount_path = (volume.mount_path if volume is not None else None) or DEFAULT_MOUNT_PATH
        mounts.append({"name": _STORAGE_VOLUME, "mountPath": mount_path})
    if policy is not None:
        item = {"key": GUARDRAILS_POLICY_FILE, "path": GUARDRAILS_POLICY_FILE}
        volumes.append({"name": _GUARDRAILS_VOLUME, "configMap": {"name": policy, "items": [item]}})
        mounts.append(
            {"name": _GUARDRAILS_VOLUME, "mountPath": GUARDRAILS_MOUNT_PATH, "readOnly": True}
        )
    return volumes, mounts


def rag_deployment(
    rag: RAGEngine,
    *,
    image: str,
    gpus: int,
    policy_config_map: str | None,
    revision: int,
    pod_security: str = PROFILE_RESTRICTED,
) -> Manifest:
    """The RAG service Deployment ``<rag>``, stamped with the hash of its rendered form.

    `gpus` is the number of GPUs to ask for (0: CPU and memory requests instead),
    `policy_config_map` the guardrails ConfigMap to mount (``None``: guardrails off), `revision`
    the RAGEngine's ControllerRevision number, `pod_security` how the pod is secured
    (`kaito_core.render.podsecurity`: non-root, caches on emptyDirs, by default).

    Pure: no I/O, no clock, no logging.
    """
    labels = {LABEL_RAGENGINE: rag.name}
    volumes, mounts = _volumes(rag, policy_config_map)
    container: dict[str, Any] = {
        "name": rag.name,
        "image": image,
        "command": ["/bin/sh", "-c", "python3 main.py"],
        "ports": [{"containerPort": PORT_RAG_SERVICE}],
        "env": rag_env(rag),
        "resources": _resources(gpus),
        "volumeMounts": mounts,
        "livenessProbe": _probe(600),
        "readinessProbe": _probe(30),
        "lifecycle": {
            "postStart": {"exec": {"command": ["python3", _HOOKS, "poststart"]}},
            "preStop": {
                "exec": {"command": ["/bin/sh", "-c", f"python3 {_HOOKS} prestop && sleep 5"]}
            },
        },
    }
    pod_spec: dict[str, Any] = {"terminationGracePeriodSeconds": 60}
    affinity = _affinity(rag)
    if affinity is not None:
        pod_spec["affinity"] = affinity
    pod_spec["containers"] = [container]
    pod_spec["tolerations"] = [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    pod_spec["volumes"] = volumes
    pod_spec = secure_pod(pod_spec, profile=pod_security)
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": rag_child_metadata(
            rag, rag.name, annotations={ANNOTATION_REVISION: str(revision)}
        ),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
        },
    }
    return stamp_template_hash(deployment)
