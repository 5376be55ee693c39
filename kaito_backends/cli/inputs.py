"""Reading the Workspace files the CLI is given: one place for files, stdin, limits and errors.

`read_inputs` reads every file (or stdin), pools ConfigMaps and Secrets across files (so
``kaito validate cm.yaml ws.yaml`` works), and keeps each Workspace with the file it came from.
Unreadable input raises `InputError` with one line (exit 2 in every command).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kaito_core.api import Document, ManifestLoadError, Workspace, load_documents
from kaito_core.api.documents import MAX_INPUT_BYTES
from kaito_core.validation import ValidationContext, validate
from kaito_presets import default_catalog

__all__ = ["InputError", "Inputs", "WorkspaceInput", "read_inputs"]


class InputError(Exception):
    """A file that cannot be read as manifests at all; str() is one line, ``FILE: error: ...``."""


@attrs.frozen(kw_only=True)
class WorkspaceInput:
    file: str
    document: Document

    @property
    def label(self) -> str:
        return self.document.label

    @property
    def workspace(self) -> Workspace:
        assert self.document.workspace is not None
        return self.document.workspace


@attrs.frozen(kw_only=True)
class Inputs:
    documents: tuple[tuple[str, Document], ...]

    @property
    def workspaces(self) -> tuple[WorkspaceInput, ...]:
        return tuple(
            WorkspaceInput(file=f, document=d)
            for f, d in self.documents
            if d.kind == "Workspace" and d.workspace is not None
        )

    @property
    def config_maps(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._pooled("ConfigMap")

    @property
    def secrets(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._pooled("Secret")

    def _pooled(self, kind: str) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {
            (d.namespace, d.name): d.manifest
            for _, d in self.documents
            if d.kind == kind and d.api_version == "v1" and d.name
        }

    def config_maps_for(self, workspace: Workspace) -> dict[str, dict[str, Any]]:
        """The pooled ConfigMaps of the workspace's namespace, by name."""
        return {
            name: dict(cm)
            for (namespace, name), cm in self.config_maps.items()
            if namespace == workspace.namespace
        }

    def validate(self, *, provisioner: str = "karpenter") -> list[str]:
        """One ``FILE: Workspace/NAME: PATH: message`` line per problem, parse errors included."""
        context = ValidationContext(
            node_auto_provisioning=provisioner != "byo",
            provisioner=provisioner,
            config_maps=self.config_maps,
        )
        catalog = default_catalog()
        lines: list[str] = []
        for file, doc in self.documents:
            if doc.kind != "Workspace" and not doc.errors:
                continue
            errors = list(doc.errors)
            if doc.workspace is not None:
                errors += validate(doc.workspace, catalog=catalog, context=context)
            lines += [f"{file}: {doc.label}: {e}" for e in errors]
        return lines


def _read(path: Path | None) -> tuple[str, bytes]:
    name = "<stdin>" if path is None else str(path)
    try:
        if path is None:
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            if path.is_dir():
                raise InputError(f"{name}: error: is a directory")
            size = path.stat().st_size
            if size > MAX_INPUT_BYTES:
                raise InputError(
                    f"{name}: error: file is {size / 1024 / 1024:.1f} MiB; manifests larger than "
                    f"{MAX_INPUT_BYTES // 1024 // 1024} MiB are refused"
                )
            data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: error: cannot read: {exc.strerror or exc}") from None
    return name, data


def read_inputs(paths: Sequence[Path | None]) -> Inputs:
    """Read and parse every file (``None`` = stdin). Raises `InputError` for unreadable input."""
    documents: list[tuple[str, Document]] = []
    for path in paths:
        name, data = _read(path)
        try:
            result = load_documents(data)
        except ManifestLoadError as exc:
            raise InputError(f"{name}: error: {exc}") from None
        documents += [(name, d) for d in result.documents]
    return Inputs(documents=tuple(documents))
