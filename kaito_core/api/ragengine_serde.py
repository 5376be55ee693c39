"""RAGEngine manifests (camelCase JSON, v1beta1 and v1alpha1) to and from the attrs model.

Pure: no I/O, no clock, no logging.

The converter is a copy of the Workspace converter (`kaito_core.api.serde.converter`), so strings,
integers, string maps and lists, metadata, label selectors, `ResourceSpec` and conditions are read
exactly as strictly; it adds a strict boolean (``"yes"`` is not ``true``) and the RAGEngine
classes. Wire names are camelCase except upstream's ``modelID`` and ``vectorDB``.

A v1alpha1 manifest is read through `RAGEngineSpecV1Alpha1` (its own schema: a flat ``storage``,
the two service names, ``inferenceService.url`` required) and converted to the model as
upstream's ``ConvertTo`` does; `ragengine_to_manifest` writes a v1alpha1 object back in the
v1alpha1 shape, so both versions round-trip. v1beta1-only fields in a v1alpha1 manifest are
reported as ``unknown field: not part of kaito.sh/v1alpha1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_unstructure_fn, override

from kaito_core.api import serde
from kaito_core.api.ragengine import (
    KIND_RAGENGINE,
    ConfigMapReference,
    EmbeddingSpec,
    GuardrailsSpec,
    InferenceServiceSpec,
    LocalEmbeddingSpec,
    PersistentVolumeConfig,
    RAGEngine,
    RAGEngineSpec,
    RAGEngineSpecV1Alpha1,
    RAGEngineStatus,
    RemoteEmbeddingSpec,
    StorageSpec,
    StorageSpecV1Alpha1,
    VectorDBConfig,
)
from kaito_core.api.serde import ManifestError
from kaito_core.api.shapes import (
    WrongType,
    described,
    expected_object,
    is_object_sequence,
    sequence_hook_factory,
)
from kaito_core.api.types import V1ALPHA1, V1BETA1, ObjectMeta
from kaito_core.errors import FieldError

__all__ = [
    "SPEC_FIELDS",
    "converter",
    "ragengine_from_manifest",
    "ragengine_to_manifest",
    "wire_name",
]

#: Wire names that are not the plain camelCase of the attribute.
_RENAMES: dict[tuple[type, str], str] = {
    (LocalEmbeddingSpec, "model_id"): "modelID",
    (StorageSpec, "vector_db"): "vectorDB",
}
#: v1alpha1-only attributes of the model, never read from or written to a v1beta1 manifest.
_V1ALPHA1_ONLY = ("query_service_name", "index_service_name")
#: The wire names of the v1beta1 spec (a Workspace-style top-level one gets a hint).
SPEC_FIELDS = ("compute", "storage", "embedding", "inferenceService", "guardrails")
#: Paths that exist in v1beta1 only; in a v1alpha1 manifest they are unknown fields.
_V1BETA1_ONLY_PATHS = frozenset(
    {
        "spec.guardrails",
        "spec.compute.partition",
        "spec.storage.persistentVolume",
        "spec.storage.vectorDB",
    }
)
_MODEL_CLASSES: tuple[type, ...] = (
    ConfigMapReference,
    GuardrailsSpec,
    PersistentVolumeConfig,
    VectorDBConfig,
    StorageSpec,
    StorageSpecV1Alpha1,
    RemoteEmbeddingSpec,
    LocalEmbeddingSpec,
    EmbeddingSpec,
    InferenceServiceSpec,
    RAGEngineSpecV1Alpha1,
    RAGEngineStatus,
)


def wire_name(cls: type, attr: str) -> str:
    """The wire name of attribute `attr` of model class `cls` (``modelID``, ``vectorDB``, else
    camelCase).

    Pure: no I/O, no clock, no logging.
    """
    renamed = _RENAMES.get((cls, attr))
    if renamed is not None:
        return renamed
    head, *rest = attr.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _served_name(cls: type, attr: str) -> str:
    """`wire_name`, but ``""`` for the v1alpha1-only attributes of the v1beta1 spec (never a
    suggestion there)."""
    return "" if cls is RAGEngineSpec and attr in _V1ALPHA1_ONLY else wire_name(cls, attr)


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise WrongType(f"expected a boolean, found {described(value)}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = serde.converter.copy()
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_factory(is_object_sequence, sequence_hook_factory)
    for cls in (*_MODEL_CLASSES, RAGEngineSpec):
        renames: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if cls is RAGEngineSpec and field.name in _V1ALPHA1_ONLY:
                renames[field.name] = override(omit=True)
            else:
                renames[field.name] = override(rename=wire_name(cls, field.name))
        expected = expected_object(cls, wire=wire_name)
        conv.register_structure_hook(
            cls, serde.model_structure_hook(cls, conv, expected=expected, **renames)
        )
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **renames)
        )
    return conv


converter = _make_converter()


@attrs.frozen
class _Manifest:
    """The top-level fields of a RAGEngine manifest (for "did you mean" only)."""

    api_version: str
    kind: str
    metadata: Any
    spec: Any
    status: Any


# --- problems ----------------------------------------------------------------------------------


def _problems(exc: BaseException, path: str) -> list[FieldError]:
    """Flatten cattrs' exception tree into field errors with wire paths."""
    if isinstance(exc, ClassValidationError):
        found: list[FieldError] = []
        with_notes, without = exc.group_exceptions()
        missing = {
            wire_name(exc.cl, note.name) for sub, note in with_notes if type(sub) is KeyError
        }
        misspelt: set[str] = set()
        for sub in without:
            if isinstance(sub, ForbiddenExtraKeysError):
                problems, meant = serde.unknown_fields(
                    sub.cl, sub.extra_fields, path, missing=missing, wire=_served_name
                )
                found += problems
                misspelt |= meant
            else:
                found += _problems(sub, path)
        for sub, note in with_notes:
            if type(sub) is KeyError and wire_name(exc.cl, note.name) in misspelt:
                continue  # reported once, at the misspelling
            found += _problems(sub, f"{path}.{wire_name(exc.cl, note.name)}")
        return sorted(found, key=lambda e: e.path)
    if isinstance(exc, IterableValidationError):
        found = []
        with_index, without_index = exc.group_exceptions()
        for sub, inote in with_index:
            assert isinstance(inote, IterableValidationNote)
            found += _problems(sub, f"{path}[{inote.index}]")
        for sub in without_index:
            found += _problems(sub, path)
        return found
    if isinstance(exc, ForbiddenExtraKeysError):
        return serde.unknown_fields(exc.cl, exc.extra_fields, path, wire=_served_name)[0]
    if isinstance(exc, WrongType):
        return [FieldError(path=path, message=str(exc))]
    if isinstance(exc, KeyError):
        return [FieldError(path=path, message="required field is missing")]
    if isinstance(exc, (TypeError, ValueError, AttributeError)):
        return [FieldError(path=path, message=_plain(exc))]
    raise exc


def _plain(exc: BaseException) -> str:
    """A missing required argument names the field; anything else no hook turned into a
    message is said in our words, never Python's (as `kaito_core.api.serde` does)."""
    text = str(exc) or type(exc).__name__
    if "argument" in text and "missing" in text:
        names = [part for part in text.split("'") if part.isidentifier()]
        # The missing attribute's wire name is its camelCase (no renamed attribute is required).
        if names:
            return f"required field {wire_name(object, names[-1])!r} is missing"
    return "invalid value: not of the type or shape this field takes"


def _structure(value: Any, cls: type, path: str) -> tuple[Any, list[FieldError]]:
    try:
        return converter.structure(value, cls), []
    except Exception as exc:  # cattrs raises an exception group; flattened to field errors
        return None, _problems(exc, path)


# --- versions ------------------------------------------------------------------------------------


def _from_v1alpha1(spec: RAGEngineSpecV1Alpha1) -> tuple[RAGEngineSpec, list[FieldError]]:
    """Upstream's ``ConvertTo`` of the spec, plus what the v1alpha1 schema requires."""
    errors: list[FieldError] = []
    if spec.compute is not None and spec.compute.partition is not None:
        errors.append(
            FieldError(
                path="spec.compute.partition", message=f"unknown field: not part of {V1ALPHA1}"
            )
        )
    if spec.inference_service is not None and spec.inference_service.url is None:
        errors.append(
            FieldError(path="spec.inferenceService", message="required field 'url' is missing")
        )
    storage: StorageSpec | None = None
    if spec.storage is not None:
        flat = spec.storage
        volume = None
        if flat.persistent_volume_claim or flat.mount_path:
            volume = PersistentVolumeConfig(
                persistent_volume_claim=flat.persistent_volume_claim or "",
                mount_path=flat.mount_path,
            )
        storage = StorageSpec(persistent_volume=volume)
    converted = RAGEngineSpec(
        compute=spec.compute,
        storage=storage,
        embedding=spec.embedding,
        inference_service=spec.inference_service,
        query_service_name=spec.query_service_name,
        index_service_name=spec.index_service_name,
    )
    return converted, errors


def _to_v1alpha1(spec: RAGEngineSpec) -> RAGEngineSpecV1Alpha1:
    """Upstream's ``ConvertFrom`` of the spec; v1beta1-only content has no v1alpha1 form."""
    storage = spec.storage
    partition = spec.compute.partition if spec.compute is not None else None
    if spec.guardrails is not None or partition is not None or (storage and storage.vector_db):
        raise ValueError(
            "guardrails, compute.partition and storage.vectorDB have no kaito.sh/v1alpha1 form"
        )
    flat: StorageSpecV1Alpha1 | None = None
    if storage is not None:
        volume = storage.persistent_volume
        flat = StorageSpecV1Alpha1(
            persistent_volume_claim=(volume.persistent_volume_claim or None) if volume else None,
            mount_path=volume.mount_path if volume else None,
        )
    return RAGEngineSpecV1Alpha1(
        compute=spec.compute,
        storage=flat,
        embedding=spec.embedding,
        inference_service=spec.inference_service,
        query_service_name=spec.query_service_name,
        index_service_name=spec.index_service_name,
    )


def _spec(value: Any, api_version: str) -> tuple[RAGEngineSpec | None, list[FieldError]]:
    if api_version == V1ALPHA1:
        alpha, errors = _structure(value, RAGEngineSpecV1Alpha1, "spec")
        errors = [
            FieldError(path=e.path, message=f"unknown field: not part of {V1ALPHA1}")
            if e.message.startswith("unknown field") and e.path in _V1BETA1_ONLY_PATHS
            else e
            for e in errors
        ]
        if alpha is None:
            return None, errors
        converted, more = _from_v1alpha1(alpha)
        return converted, errors + more
    spec, errors = _structure(value, RAGEngineSpec, "spec")
    return spec, errors


# --- manifests -----------------------------------------------------------------------------------


def ragengine_from_manifest(manifest: Mapping[str, Any]) -> RAGEngine:
    """Parse a RAGEngine manifest of either version; raises `ManifestError` listing every
    problem with its path.

    Pure: no I/O, no clock, no logging.
    """
    if not isinstance(manifest, Mapping):
        raise ManifestError(
            [FieldError(path="", message=f"expected an object, found {described(manifest)}")]
        )
    errors: list[FieldError] = []
    api_version = manifest.get("apiVersion")
    if api_version not in (V1BETA1, V1ALPHA1):
        errors.append(
            FieldError(
                path="apiVersion",
                message=f"unsupported apiVersion {api_version!r}; expected {V1BETA1} or {V1ALPHA1}",
            )
        )
    if manifest.get("kind") != KIND_RAGENGINE:
        errors.append(
            FieldError(
                path="kind", message=f"expected {KIND_RAGENGINE}, got {manifest.get('kind')!r}"
            )
        )
    version = str(api_version) if api_version in (V1BETA1, V1ALPHA1) else V1BETA1
    meta: ObjectMeta = ObjectMeta()
    spec: RAGEngineSpec | None = None
    status: RAGEngineStatus | None = None
    for key, value in manifest.items():
        if key in ("apiVersion", "kind") or value is None:
            continue
        if key == "metadata":
            parsed, problems = _structure(value, ObjectMeta, "metadata")
            meta = parsed if parsed is not None else meta
        elif key == "spec":
            spec, problems = _spec(value, version)
        elif key == "status":
            status, problems = _structure(value, RAGEngineStatus, "status")
        elif key in SPEC_FIELDS:
            problems = [
                FieldError(
                    path=str(key), message=f"unknown field: a RAGEngine puts {key} under spec"
                )
            ]
        else:
            problems = serde.unknown_fields(_Manifest, (str(key),), "")[0]
        errors += problems
    if errors:
        raise ManifestError(errors)
    return RAGEngine(api_version=version, metadata=meta, spec=spec, status=status)


def ragengine_to_manifest(rag: RAGEngine) -> dict[str, Any]:
    """The wire form of `rag` in its own apiVersion (camelCase keys, absent fields omitted).

    Pure: no I/O, no clock, no logging.
    """
    out: dict[str, Any] = {
        "apiVersion": rag.api_version,
        "kind": rag.kind,
        "metadata": converter.unstructure(rag.metadata, ObjectMeta),
    }
    if rag.spec is not None:
        if rag.is_v1alpha1:
            out["spec"] = converter.unstructure(_to_v1alpha1(rag.spec), RAGEngineSpecV1Alpha1)
        else:
            out["spec"] = converter.unstructure(rag.spec, RAGEngineSpec)
    if rag.status is not None:
        out["status"] = converter.unstructure(rag.status, RAGEngineStatus)
    return out
