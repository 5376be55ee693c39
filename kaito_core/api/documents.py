"""Reading multi-document YAML: Workspaces, plus the ConfigMaps and Secrets they refer to.

Pure: no I/O, no clock, no logging. The caller reads the file and passes its text.

A document that is not valid YAML stops the whole load (`ManifestLoadError`: the CLI exits 2). A
document that is YAML but not a valid Workspace is kept with its problems, so one bad Workspace
never hides the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from kaito_core.api.serde import ManifestError, from_manifest
from kaito_core.api.types import Workspace
from kaito_core.errors import FieldError

__all__ = ["MAX_INPUT_BYTES", "Document", "LoadResult", "ManifestLoadError", "load_documents"]

#: The API server refuses request bodies over 3 MiB; we allow more for files of many documents,
#: but not without bound: a YAML parser on a huge input is a denial of service.
MAX_INPUT_BYTES = 10 * 1024 * 1024

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ManifestLoadError(ValueError):
    """The input cannot be read as YAML at all (or is too large to try)."""


@attrs.frozen(kw_only=True)
class Document:
    """One YAML document: where it was, what it is, and what was wrong with it."""

    index: int
    api_version: str
    kind: str
    name: str
    namespace: str
    manifest: Mapping[str, Any]
    workspace: Workspace | None = None
    errors: tuple[FieldError, ...] = ()

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
            if d.kind == kind and d.api_version == "v1"
        }


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def load_documents(text: str | bytes) -> LoadResult:
    """Parse every document; Workspaces are structured, everything else is kept as a manifest."""
    if len(text) > MAX_INPUT_BYTES:
        raise ManifestLoadError(
            f"input is {len(text) / 1024 / 1024:.1f} MiB; manifests larger than "
            f"{MAX_INPUT_BYTES // 1024 // 1024} MiB are refused"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestLoadError(f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise ManifestLoadError("binary data: the input contains NUL bytes")
    try:
        raw_documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ManifestLoadError(f"invalid YAML: {where}{exc.problem or exc}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ManifestLoadError(f"invalid YAML: {exc}") from None
    documents: list[Document] = []
    for index, raw in enumerate(raw_documents):
        if raw is None:
            continue
        documents.append(_document(index, raw))
    return LoadResult(documents=tuple(documents))


def _document(index: int, raw: object) -> Document:
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
    if kind != "Workspace":
        return doc
    try:
        workspace = from_manifest(raw)
    except ManifestError as exc:
        return attrs.evolve(doc, errors=tuple(exc.errors))
    return attrs.evolve(doc, workspace=workspace)
