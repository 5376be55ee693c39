"""Reading multi-document YAML: objects of the registered kinds (Workspaces, ...), plus the
ConfigMaps and Secrets they refer to.

Pure: no I/O, no clock, no logging. The caller reads the file and passes its text.

A document that is not valid YAML stops the whole load (`ManifestLoadError`: the CLI exits 2); so
does YAML that must not be read (too large once its aliases are expanded, too deep, recursive, a
duplicate key: `kaito_core.api.yamlsafe`). A document of a registered kind
(`kaito_core.kinds.Registry`, default: Workspace) is parsed with its kind's ``parse``; one that
does not parse is kept with its problems, so one bad object never hides the others; an object
defined a second time in the same input (same kind, namespace and name) is one of those
problems. Documents of other kinds are kept as manifests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_core.api.duplicates import first_occurrences, object_identity
from kaito_core.api.serde import ManifestError
from kaito_core.api.types import Workspace
from kaito_core.api.yamlsafe import MAX_INPUT_BYTES, ManifestLoadError, load_yaml_documents
from kaito_core.errors import FieldError

if TYPE_CHECKING:  # kaito_core.kinds imports this package: no import at load time
    from kaito_core.kinds import KindSpec, Registry

__all__ = ["MAX_INPUT_BYTES", "Document", "LoadResult", "ManifestLoadError", "load_documents"]


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
        return doc
    try:
        obj = spec.parse(raw)
    except ManifestError as exc:
        return attrs.evolve(doc, spec=spec, errors=tuple(exc.errors))
    return attrs.evolve(doc, spec=spec, obj=obj)
