"""Reading multi-document YAML: objects of the registered kinds (Workspaces, ...), plus the
ConfigMaps and Secrets they refer to.

Pure: no I/O, no clock, no logging. The caller reads the file and passes its text.

A document that is not valid YAML stops the whole load (`ManifestLoadError`: the CLI exits 2); so
does YAML that must not be read (too large once its aliases are expanded, too deep, recursive, a
duplicate key: `kaito_core.api.yamlsafe`). A document of a registered kind
(`kaito_core.kinds.Registry`, default: Workspace) is parsed with its kind's ``parse``; one that
does not parse is kept with its problems, so one bad object never hides the others; an object
defined a second time in the same input (same kind, namespace and name) is one of those
problems. Documents of other kinds are kept as manifests, except one whose kind is a near miss
of a registered or a context kind (``kind: workspace``, ``Workspaces``, ``configmap``): it gets
an error naming the kind to use (`near_miss_kind`), instead of being skipped unread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kaito_core.api.duplicates import first_occurrences, object_identity
from kaito_core.api.serde import ManifestError
from kaito_core.api.types import Workspace
from kaito_core.api.yamlsafe import MAX_INPUT_BYTES, ManifestLoadError, load_yaml_documents
from kaito_core.errors import FieldError
from kaito_presets.suggestions import closest

if TYPE_CHECKING:  # kaito_core.kinds imports this package: no import at load time
    from kaito_core.kinds import KindSpec, Registry

__all__ = [
    "CONTEXT_KINDS",
    "MAX_INPUT_BYTES",
    "Document",
    "LoadResult",
    "ManifestLoadError",
    "load_documents",
    "near_miss_kind",
]

#: The ``v1`` kinds kept beside the registered ones, for the objects they refer to.
CONTEXT_KINDS = ("ConfigMap", "Secret", "Node")
#: How close a misspelt kind must be to a known one to be called a misspelling of it.
_KIND_CUTOFF = 0.8


@attrs.frozen(kw_only=True)
class Document:
    """One YAML document: where it was, what it is, and what was wrong with it."""

    index: int
    api_version: str
    kind: str
    name: str
    namespace: str
    manifest: Mapping[str, Any]
    #: the kind's registration, for a document of a registered kind
    spec: KindSpec[Any, Any] | None = None
    #: the parsed object (None when the kind is not registered or it did not parse)
    obj: Any = None
    errors: tuple[FieldError, ...] = ()
    #: The 1-based line the document starts on (0 when not read from text).
    line: int = 0

    @property
    def workspace(self) -> Workspace | None:
        """The parsed object when it is a Workspace."""
        return self.obj if isinstance(self.obj, Workspace) else None

    @property
    def label(self) -> str:
        """``Workspace/NAME`` as the CLI prints it (``Workspace/#3`` for a nameless document)."""
        return f"{self.kind or 'Object'}/{self.name or f'#{self.index + 1}'}"


@attrs.frozen(kw_only=True)
class LoadResult:
    documents: tuple[Document, ...]

    @property
    def workspaces(self) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if d.kind == "Workspace")

    @property
    def objects(self) -> tuple[Document, ...]:
        """The documents of registered kinds (parsed or not)."""
        return tuple(d for d in self.documents if d.spec is not None)

    @property
    def config_maps(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        """ConfigMaps by (namespace, name), for validation of inference and tuning configs."""
        return self._by_kind("ConfigMap")

    @property
    def secrets(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        """Secrets by (namespace, name); only their existence and keys are ever read."""
        return self._by_kind("Secret")

    def _by_kind(self, kind: str) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {
            (d.namespace, d.name): d.manifest
            for d in self.documents
            if d.kind == kind and d.api_version == "v1" and not d.errors
        }


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def load_documents(text: str | bytes, *, registry: Registry | None = None) -> LoadResult:
    """Parse every document; objects of the kinds of ``registry`` (default: the default
    registry's) are structured, everything else is kept as a manifest.

    Raises `ManifestLoadError` (one line) for input that is not YAML or must not be read.
    """
    if registry is None:
        from kaito_core.registry import default_registry

        registry = default_registry()
    documents = [
        attrs.evolve(_document(parsed.index, parsed.value, registry), line=parsed.line)
        for parsed in load_yaml_documents(text)
        if parsed.value is not None
    ]
    return LoadResult(documents=tuple(_refuse_duplicates(documents)))


def _refuse_duplicates(documents: list[Document]) -> list[Document]:
    """The second definition of an object gets an error naming the line of the first."""
    identities = [
        object_identity(api_version=d.api_version, kind=d.kind, namespace=d.namespace, name=d.name)
        for d in documents
    ]
    out = []
    for document, identity, first in zip(
        documents, identities, first_occurrences(identities), strict=True
    ):
        if first is not None:
            error = FieldError(
                path="metadata.name",
                message=f"{identity} is defined twice in this input: first at line "
                f"{documents[first].line}",
            )
            document = attrs.evolve(document, obj=None, errors=(*document.errors, error))
        out.append(document)
    return out


def near_miss_kind(kind: str, known: Sequence[str]) -> str | None:
    """The kind of `known` that `kind` misspells, None when it is one of them or none is close:
    the same but for case (``workspace``, ``WorkSpace``), a plural (``Workspaces``), or a
    near-identical spelling (``Wrokspace``). Such a document would otherwise be skipped as a
    kind nobody handles, and an input with nothing but it would pass as valid.

    Pure: no I/O, no clock, no logging.
    """
    if not kind or kind in known:
        return None
    lowered = kind.lower()
    for name in known:
        if lowered in (name.lower(), f"{name.lower()}s", f"{name.lower()}es"):
            return name
    found = closest(kind, known, cutoff=_KIND_CUTOFF)
    return found[0] if found else None


def _document(index: int, raw: object, registry: Registry) -> Document:
    if not isinstance(raw, dict):
        return Document(
            index=index,
            api_version="",
            kind="",
            name="",
            namespace="default",
            manifest={},
            errors=(FieldError(path="", message="a manifest must be a map of fields"),),
        )
    metadata = raw.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    kind = _str(raw.get("kind"))
    doc = Document(
        index=index,
        api_version=_str(raw.get("apiVersion")),
        kind=kind,
        name=_str(metadata.get("name")),
        namespace=_str(metadata.get("namespace")) or "default",
        manifest=raw,
    )
    spec = registry.get(kind)
    if spec is None:
        intended = near_miss_kind(kind, (*registry.names, *CONTEXT_KINDS))
        if intended is not None:
            error = FieldError(
                path="kind",
                message=f"unknown kind {json.dumps(kind)}: did you mean {intended}? "
                "(kinds are singular and case-sensitive)",
            )
            return attrs.evolve(doc, errors=(error,))
        return doc
    try:
        obj = spec.parse(raw)
    except ManifestError as exc:
        return attrs.evolve(doc, spec=spec, errors=tuple(exc.errors))
    return attrs.evolve(doc, spec=spec, obj=obj)
