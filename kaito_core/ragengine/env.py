"""The RAG service's environment: how a RAGEngine's spec reaches the service.

Pure: no I/O, no clock, no logging.

Names are upstream's (``pkg/ragengine/manifests.RAGSetEnv``) where the service reads them:
``POD_NAME``, ``POD_UID``, ``VECTOR_DB_TYPE``, ``VECTOR_DB_URL``, ``VECTOR_DB_ACCESS_SECRET``,
``DEFAULT_VECTOR_DB_PERSIST_DIR``, ``LLM_CONTEXT_WINDOW``, ``LLM_INFERENCE_URL``,
``LLM_ACCESS_SECRET``, ``OUTPUT_GUARDRAILS_ENABLED``, ``OUTPUT_GUARDRAILS_POLICY_PATH``.

Upstream's controller and its own service disagree on the embedding: the controller sets
``EMBEDDING_TYPE`` and ``MODEL_ID``, the service reads ``EMBEDDING_SOURCE_TYPE``,
``LOCAL_EMBEDDING_MODEL_ID``, ``REMOTE_EMBEDDING_URL`` and ``REMOTE_EMBEDDING_ACCESS_SECRET``,
so upstream's service always runs its default local model, and a remote embedding is never
used. Both spellings are set here (the controller's for tools that look for them). Upstream
also passes ``modelAccessSecret`` as ``ACCESS_SECRET=<the Secret's name>``, which nothing reads;
here the Secret's ``HF_TOKEN`` key becomes ``HF_TOKEN``, which the Hugging Face client reads.

Secrets are always ``secretKeyRef``s, never values, each with the key named after the variable
(``LLM_ACCESS_SECRET``, ``VECTOR_DB_ACCESS_SECRET``, ``REMOTE_EMBEDDING_ACCESS_SECRET``) or
``HF_TOKEN``. Every value taken from the spec has ``$`` doubled, so Kubernetes never expands a
``$(NAME)`` in it.
"""

from __future__ import annotations

from typing import Any

from kaito_core.api.ragengine import DEFAULT_MOUNT_PATH, GUARDRAILS_POLICY_FILE, RAGEngine
from kaito_core.validation.ragengine_spec import GUARDRAILS_MOUNT_PATH

__all__ = [
    "DEFAULT_PERSIST_DIR",
    "GUARDRAILS_POLICY_PATH",
    "HF_TOKEN_KEY",
    "LLM_ACCESS_SECRET_KEY",
    "REMOTE_EMBEDDING_ACCESS_SECRET_KEY",
    "VECTOR_DB_ACCESS_SECRET_KEY",
    "escape",
    "persist_dir",
    "rag_env",
]

#: The persist directory of the in-memory store without a volume (relative to the service).
DEFAULT_PERSIST_DIR = "storage"
GUARDRAILS_POLICY_PATH = f"{GUARDRAILS_MOUNT_PATH}/{GUARDRAILS_POLICY_FILE}"
HF_TOKEN_KEY = "HF_TOKEN"
LLM_ACCESS_SECRET_KEY = "LLM_ACCESS_SECRET"
VECTOR_DB_ACCESS_SECRET_KEY = "VECTOR_DB_ACCESS_SECRET"
REMOTE_EMBEDDING_ACCESS_SECRET_KEY = "REMOTE_EMBEDDING_ACCESS_SECRET"


def escape(value: str) -> str:
    """`value` safe from Kubernetes' ``$(NAME)`` expansion (``$`` doubled; Kubernetes turns
    ``$$`` back into ``$``).

    Pure: no I/O, no clock, no logging.
    """
    return value.replace("$", "$$")


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": escape(value)}


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def persist_dir(rag: RAGEngine) -> str:
    """``<mountPath>/<name>`` with a persistent volume (one directory per RAGEngine on a shared
    volume), else ``storage``.

    Pure: no I/O, no clock, no logging.
    """
    storage = rag.spec.storage if rag.spec is not None else None
    volume = storage.persistent_volume if storage is not None else None
    if volume is None:
        return DEFAULT_PERSIST_DIR
    return f"{volume.mount_path or DEFAULT_MOUNT_PATH}/{rag.name}"


def rag_env(rag: RAGEngine) -> list[dict[str, Any]]:
    """The container's ``env``, in upstream's order (variables the service reads under
    upstream's names; see the module docstring for the embedding).

    Pure: no I/O, no clock, no logging.
    """
    spec = rag.spec
    if spec is None:
        raise ValueError("a RAGEngine without a spec has no environment")
    env = [_field("POD_NAME", "metadata.name"), _field("POD_UID", "metadata.uid")]
    embedding = spec.embedding
    source = ""
    if embedding is not None and embedding.local is not None:
        source = "local"
        local = embedding.local
        if local.model_id:
            env.append(_value("MODEL_ID", local.model_id))
            env.append(_value("LOCAL_EMBEDDING_MODEL_ID", local.model_id))
        if local.model_access_secret:
            env.append(_secret(HF_TOKEN_KEY, local.model_access_secret, HF_TOKEN_KEY))
    elif embedding is not None and embedding.remote is not None:
        source = "remote"
        remote = embedding.remote
        env.append(_value("REMOTE_EMBEDDING_URL", remote.url))
        if remote.access_secret:
            env.append(
                _secret(
                    "REMOTE_EMBEDDING_ACCESS_SECRET",
                    remote.access_secret,
                    REMOTE_EMBEDDING_ACCESS_SECRET_KEY,
                )
            )
    env.append(_value("EMBEDDING_TYPE", source))
    env.append(_value("EMBEDDING_SOURCE_TYPE", source))
    storage = spec.storage
    database = storage.vector_db if storage is not None else None
    env.append(
        _value("VECTOR_DB_TYPE", database.engine if database and database.engine else "faiss")
    )
    if database is not None:
        env.append(_value("VECTOR_DB_URL", database.url))
        if database.access_secret:
            env.append(
                _secret(
                    "VECTOR_DB_ACCESS_SECRET", database.access_secret, VECTOR_DB_ACCESS_SECRET_KEY
                )
            )
    env.append(_value("DEFAULT_VECTOR_DB_PERSIST_DIR", persist_dir(rag)))
    service = spec.inference_service
    if service is not None:
        env.append(_value("LLM_CONTEXT_WINDOW", str(service.context_window_size)))
        if service.url:
            env.append(_value("LLM_INFERENCE_URL", service.url))
            if service.access_secret:
                env.append(
                    _secret("LLM_ACCESS_SECRET", service.access_secret, LLM_ACCESS_SECRET_KEY)
                )
    guardrails = spec.guardrails
    if guardrails is not None:
        enabled = bool(guardrails.enabled)
        env.append(_value("OUTPUT_GUARDRAILS_ENABLED", "true" if enabled else "false"))
        if enabled:
            env.append(_value("OUTPUT_GUARDRAILS_POLICY_PATH", GUARDRAILS_POLICY_PATH))
    return env
