"""The RAGEngine spec rules: embedding, inference service, compute, storage, guardrails.

Pure: no I/O, no clock, no logging.

Upstream's ``RAGEngine.validateCreate`` and ``validateGuardrails``
(``api/v1beta1/ragengine_validation.go``), with real wire paths instead of upstream's
(``spec.remote url``, ``spec.embedding.Image``), and the fixes listed in ``docs/ragengine.md``:
URLs are checked as endpoints the cluster calls (`kaito_core.validation.endpoints`), placeholders
are named as such, names are checked before a pod would fail on them, fields the RAG service
ignores are refused instead of silently dropped, and an external vector database must be one the
service can run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from kaito_core.api.ragengine import (
    GUARDRAILS_POLICY_FILE,
    EmbeddingSpec,
    InferenceServiceSpec,
    LocalEmbeddingSpec,
    RAGEngine,
    StorageSpec,
)
from kaito_core.errors import FieldError
from kaito_core.validation.context import ValidationContext
from kaito_core.validation.datasources import image_reference_problem, validate_secret_name
from kaito_core.validation.endpoints import (
    EXAMPLE_EMBEDDING_URL,
    EXAMPLE_INFERENCE_URL,
    EXAMPLE_VECTOR_DB_URL,
    endpoint_problem,
    is_placeholder,
)
from kaito_core.validation.names import quote
from kaito_core.validation.resource import (
    unsupported_sku_message,
    validate_count,
    validate_selector,
)
from kaito_presets import Catalog

__all__ = [
    "GUARDRAILS_MOUNT_PATH",
    "RESERVED_MOUNT_PATHS",
    "VECTOR_DB_ENGINES",
    "model_id_problem",
    "rebase",
    "validate_compute",
    "validate_embedding",
    "validate_guardrails",
    "validate_inference_service",
    "validate_storage",
]

S = "spec"
#: Where the guardrails policy ConfigMap is mounted in the RAG service's container.
GUARDRAILS_MOUNT_PATH = "/etc/ragengine/guardrails"
#: Mount paths the RAG service's container already uses.
RESERVED_MOUNT_PATHS = ("/dev/shm", GUARDRAILS_MOUNT_PATH)
#: External vector databases the RAG service can run (it refuses to start with any other).
VECTOR_DB_ENGINES = ("qdrant",)
_INT64_MAX = 2**63 - 1
#: Upstream's check that an image is "a full input image URL": ``registry/name:tag``.
_FULL_IMAGE = re.compile(r"^(.+/[^:/]+):([^:/]+)$")
_HF_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_HF_PART_MAX = 96
#: Azure SKU families upstream lets through without a SKU table entry (CPU D-series, unlisted
#: N-series); the RAG controller runs on them without GPU resources.
_AZURE_FREE_PREFIXES = ("standard_n", "standard_d")


def rebase(errors: Sequence[FieldError], old: str, new: str) -> list[FieldError]:
    """`errors` with the path prefix `old` replaced by `new` (the Workspace resource rules,
    written for ``spec.resource``, applied to ``spec.compute``).

    Pure: no I/O, no clock, no logging.
    """
    out = []
    for error in errors:
        if error.path == old or error.path.startswith(old + "."):
            error = attrs.evolve(error, path=new + error.path[len(old) :])
        out.append(error)
    return out


def _name(value: str | None, path: str, what: str) -> list[FieldError]:
    """A Secret, ConfigMap or PVC name: not a placeholder, a DNS subdomain."""
    if value is None:
        return []
    if is_placeholder(value):
        return [
            FieldError(
                path=path,
                message=f"{quote(value)} looks like a placeholder from an example; replace it "
                f"with the name of your {what}",
            )
        ]
    return validate_secret_name(value, path)


def _endpoint(url: str, path: str, example: str) -> list[FieldError]:
    problem = endpoint_problem(url, example=example)
    return [] if problem is None else [FieldError(path=path, message=problem)]


# --- embedding -----------------------------------------------------------------------------------


def model_id_problem(model_id: str) -> str | None:
    """Why `model_id` is not a Hugging Face repository id (``[org/]name``), or None.

    Pure: no I/O, no clock, no logging.
    """
    if is_placeholder(model_id):
        return (
            f"{quote(model_id)} looks like a placeholder from an example; replace it with a "
            "Hugging Face model id such as BAAI/bge-small-en-v1.5"
        )
    parts = model_id.split("/")
    ok = 1 <= len(parts) <= 2 and all(
        _HF_PART.fullmatch(p) and len(p) <= _HF_PART_MAX and "--" not in p and ".." not in p
        for p in parts
    )
    if ok:
        return None
    return (
        f"invalid value {quote(model_id)}: a Hugging Face model id is [organisation/]name, such "
        "as BAAI/bge-small-en-v1.5: letters, digits, '-', '_' and '.', each part at most "
        f"{_HF_PART_MAX} characters"
    )


def _local(local: LocalEmbeddingSpec) -> list[FieldError]:
    base = f"{S}.embedding.local"
    errors: list[FieldError] = []
    if not local.image and not local.model_id:
        errors.append(
            FieldError(path=base, message="Either image or modelID must be specified, not neither")
        )
    if local.image and local.model_id:
        errors.append(
            FieldError(path=base, message="Either image or modelID must be specified, but not both")
        )
    if local.image:
        path = f"{base}.image"
        if not _FULL_IMAGE.match(local.image):
            errors.append(
                FieldError(path=path, message="Invalid image format, require full input image URL")
            )
        elif (problem := image_reference_problem(local.image)) is not None:
            errors.append(FieldError(path=path, message=problem))
        errors.append(
            FieldError(
                path=path,
                message="is not supported: the RAG service always downloads the embedding model "
                "named by modelID from Hugging Face (upstream ignores image and silently serves "
                "its default model); set modelID instead",
            )
        )
    if local.image_pull_secret is not None:
        errors.append(
            FieldError(
                path=f"{base}.imagePullSecret",
                message="is not supported: it would only pull an embedding image, and image is "
                "not supported",
            )
        )
    if local.model_id and (problem := model_id_problem(local.model_id)) is not None:
        errors.append(FieldError(path=f"{base}.modelID", message=problem))
    errors += _name(local.model_access_secret, f"{base}.modelAccessSecret", "Secret (key HF_TOKEN)")
    return errors


def validate_embedding(embedding: EmbeddingSpec | None) -> list[FieldError]:
    """E1-E3, L1-L5, RE1: exactly one of remote and local, and each one sound.

    Pure: no I/O, no clock, no logging.
    """
    if embedding is None:
        return [FieldError(path=f"{S}.embedding", message="Embedding must be specified")]
    errors: list[FieldError] = []
    if embedding.local is None and embedding.remote is None:
        errors.append(
            FieldError(
                path=f"{S}.embedding",
                message="Either remote embedding or local embedding must be specified, not neither",
            )
        )
    if embedding.local is not None and embedding.remote is not None:
        errors.append(
            FieldError(
                path=f"{S}.embedding",
                message="Either remote embedding or local embedding must be specified, but not "
                "both",
            )
        )
    if embedding.local is not None:
        errors += _local(embedding.local)
    if embedding.remote is not None:
        base = f"{S}.embedding.remote"
        errors += _endpoint(embedding.remote.url, f"{base}.url", EXAMPLE_EMBEDDING_URL)
        errors += _name(
            embedding.remote.access_secret,
            f"{base}.accessSecret",
            "Secret (key REMOTE_EMBEDDING_ACCESS_SECRET)",
        )
    return errors


# --- inference service ---------------------------------------------------------------------------


def validate_inference_service(
    service: InferenceServiceSpec | None, *, url_required: bool
) -> list[FieldError]:
    """IS1-IS3: the URL (when given; v1alpha1 requires one), a positive context window, the
    access Secret's name.

    Pure: no I/O, no clock, no logging.
    """
    if service is None:
        return []
    base = f"{S}.inferenceService"
    errors: list[FieldError] = []
    if service.url or (url_required and service.url is not None):
        errors += _endpoint(service.url or "", f"{base}.url", EXAMPLE_INFERENCE_URL)
    size = service.context_window_size
    if size <= 0:
        errors.append(
            FieldError(
                path=f"{base}.contextWindowSize",
                message="ContextWindowSize must be a positive integer",
            )
        )
    elif size > _INT64_MAX:
        errors.append(
            FieldError(path=f"{base}.contextWindowSize", message="must fit a 64-bit integer")
        )
    errors += _name(service.access_secret, f"{base}.accessSecret", "Secret (key LLM_ACCESS_SECRET)")
    return errors


# --- compute -------------------------------------------------------------------------------------


def _instance_type(instance_type: str, catalog: Catalog, cloud: str) -> list[FieldError]:
    path = f"{S}.compute.instanceType"
    if not catalog.skus(cloud=cloud):
        return [
            FieldError(
                path=path, message=f"Failed to get SKU handler: Unsupported cloud provider {cloud}"
            )
        ]
    if catalog.find_sku(instance_type, cloud=cloud) is not None:
        return []
    if cloud == "azure" and instance_type.lower().startswith(_AZURE_FREE_PREFIXES):
        return []
    return [FieldError(path=path, message=unsupported_sku_message(catalog, instance_type, cloud))]


def validate_compute(
    rag: RAGEngine, *, catalog: Catalog, context: ValidationContext
) -> list[FieldError]:
    """C1-C5: a label selector, a count of at least 1, no partition, and an instance type the
    SKU table (or, on Azure, the N/D-series families) knows; with node auto-provisioning off an
    empty instance type means "run on the nodes the selector matches".

    Pure: no I/O, no clock, no logging.
    """
    compute = rag.compute
    if compute is None:
        return []
    base = f"{S}.compute"
    errors = rebase(validate_count(compute), "spec.resource", base)
    errors += rebase(validate_selector(compute, reserved_check=False), "spec.resource", base)
    if compute.partition is not None:
        errors.append(
            FieldError(
                path=f"{base}.partition",
                message="is not supported for a RAGEngine: the RAG service runs on one whole "
                "node (upstream ignores it)",
            )
        )
    instance_type = compute.instance_type or ""
    if not instance_type:
        if context.nap and not rag.is_v1alpha1:
            errors.append(
                FieldError(
                    path=f"{base}.instanceType",
                    message="instanceType is required when node auto-provisioning is enabled "
                    "(leave compute out to run the RAG service on nodes that already exist)",
                )
            )
        return errors
    return errors + _instance_type(instance_type, catalog, context.cloud_provider)


# --- storage -------------------------------------------------------------------------------------


def _mount_path(path: str, where: str) -> list[FieldError]:
    if not path.startswith("/"):
        return [FieldError(path=where, message=f"{quote(path)} must be an absolute path")]
    parts = path.split("/")
    if ".." in parts:
        return [FieldError(path=where, message=f"{quote(path)} must not contain '..'")]
    normal = "/" + "/".join(p for p in parts if p and p != ".")
    inside = normal if normal.endswith("/") else normal + "/"
    for reserved in RESERVED_MOUNT_PATHS:
        if normal == reserved or normal.startswith(reserved + "/") or reserved.startswith(inside):
            return [
                FieldError(
                    path=where,
                    message=f"{quote(path)} overlaps {reserved}, which the RAG service already "
                    "mounts; choose another path, such as /mnt/vector-db",
                )
            ]
    return []


def validate_storage(storage: StorageSpec | None, *, v1alpha1: bool) -> list[FieldError]:
    """ST1-ST5: the PVC's name and mount path; an external vector database the service runs,
    at a URL it may call.

    Pure: no I/O, no clock, no logging.
    """
    if storage is None:
        return []
    errors: list[FieldError] = []
    volume = storage.persistent_volume
    if volume is not None:
        base = f"{S}.storage" if v1alpha1 else f"{S}.storage.persistentVolume"
        claim = volume.persistent_volume_claim
        if not claim and not v1alpha1:
            errors.append(
                FieldError(
                    path=f"{base}.persistentVolumeClaim",
                    message="required: the name of a PersistentVolumeClaim in the RAGEngine's "
                    "namespace",
                )
            )
        elif claim:
            errors += _name(claim, f"{base}.persistentVolumeClaim", "PersistentVolumeClaim")
        if volume.mount_path is not None:
            errors += _mount_path(volume.mount_path, f"{base}.mountPath")
    database = storage.vector_db
    if database is not None:
        base = f"{S}.storage.vectorDB"
        if database.engine.lower() not in VECTOR_DB_ENGINES:
            errors.append(
                FieldError(
                    path=f"{base}.engine",
                    message=f"unsupported vector database engine {quote(database.engine)}: the "
                    f"RAG service supports {', '.join(VECTOR_DB_ENGINES)} (leave vectorDB out "
                    "for the in-process FAISS store)",
                )
            )
        errors += _endpoint(database.url, f"{base}.url", EXAMPLE_VECTOR_DB_URL)
        errors += _name(
            database.access_secret, f"{base}.accessSecret", "Secret (key VECTOR_DB_ACCESS_SECRET)"
        )
    return errors


# --- guardrails ----------------------------------------------------------------------------------


def validate_guardrails(rag: RAGEngine, *, context: ValidationContext) -> list[FieldError]:
    """G1-G3: the policy ConfigMap's name; with guardrails enabled it must exist and hold
    ``guardrails.yaml`` (checked when the ConfigMaps are known). Without ``configMapRef`` the
    default policy is used, which is always available (it is built in).

    Pure: no I/O, no clock, no logging.
    """
    guardrails = rag.spec.guardrails if rag.spec is not None else None
    if guardrails is None or guardrails.config_map_ref is None:
        return []
    path = f"{S}.guardrails.configMapRef.name"
    name = guardrails.config_map_ref.name
    if not name:
        return []
    errors = _name(name, path, "guardrails policy ConfigMap")
    if errors or not guardrails.enabled or context.config_maps is None:
        return errors
    found = context.config_maps.get((rag.namespace, name))
    if found is None:
        return [
            FieldError(
                path=path,
                message=f"guardrails.configMapRef.name references ConfigMap {quote(name)}, but it "
                f"was not found in namespace {quote(rag.namespace)}",
            )
        ]
    data = found.get("data")
    if not isinstance(data, dict) or not isinstance(data.get(GUARDRAILS_POLICY_FILE), str):
        return [
            FieldError(
                path=path,
                message=f"ConfigMap {quote(name)} has no key {GUARDRAILS_POLICY_FILE} (the policy "
                "document the RAG service reads)",
            )
        ]
    return []
