"""``kaito validate FILE...``: check Workspace manifests the way KAITO's admission webhook would.

Every file is read first; the ConfigMaps, Secrets and Nodes found in any of them are pooled, so
``kaito validate cm.yaml ws.yaml`` checks the Workspace against the ConfigMap. Each problem is one
line on stdout, ``FILE: Workspace/NAME: FIELD.PATH: message``. Exit codes: 0 every Workspace is
valid, 1 at least one problem, 2 a file could not be read or is not YAML (one line on stderr,
``FILE: error: ...``).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.documents import (
    MAX_INPUT_BYTES,
    Document,
    LoadResult,
    ManifestLoadError,
    load_documents,
)
from kaito_core.validation import PROVISIONERS, FeatureGates, ValidationContext, validate

__all__ = ["parse_feature_gates", "register", "run"]

STDIN = "-"
_STDIN_LABEL = "<stdin>"
#: Kinds that are read as context for Workspaces, never reported as "not handled".
_CONTEXT_KINDS = ("ConfigMap", "Secret", "Node")
#: Upstream ``--feature-gates`` names of the gates validation cares about.
_GATES = {
    "vllm": "vllm",
    "enablemig": "enable_mig",
    "enableaccelerator": "enable_accelerator",
    "modelstreaming": "model_streaming",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validate`` to the ``kaito`` command."""
    parser = subparsers.add_parser(
        "validate",
        help="check Workspace manifests as KAITO's admission webhook would",
        description="Check Workspace manifests (with the ConfigMaps, Secrets and Nodes given "
        "in any of the files) as KAITO's admission webhook would. Prints one line per problem: "
        "FILE: Workspace/NAME: FIELD.PATH: message. Exit 0 valid, 1 problems, 2 unreadable input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest file; '-' reads stdin")
    parser.add_argument(
        "--byo",
        action="store_true",
        help="bring-your-own nodes: node auto-provisioning off, instanceType must be empty",
    )
    parser.add_argument(
        "--provisioner",
        choices=PROVISIONERS,
        default="karpenter",
        help="the node provisioner KAITO runs with (default: karpenter; byo implies --byo)",
    )
    parser.add_argument(
        "--cloud-provider",
        default="azure",
        help="the cloud whose SKU table applies: azure, aws or arc (default: azure)",
    )
    parser.add_argument(
        "--feature-gates",
        default="",
        metavar="GATES",
        help="comma-separated gate=bool, e.g. vLLM=false,enableMIG=true,enableAccelerator=true",
    )
    parser.add_argument(
        "--node-class",
        action="append",
        default=[],
        dest="node_classes",
        metavar="NAME",
        help="a KAITO-managed Karpenter NodeClass (repeat for several)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="report documents of kinds this command does not validate",
    )
    parser.set_defaults(func=run)


def parse_feature_gates(text: str) -> FeatureGates:
    """``vLLM=true,enableMIG=true`` as `FeatureGates`; raises ValueError naming a bad entry."""
    values: dict[str, bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        field = _GATES.get(key.strip().lower())
        value = raw.strip().lower()
        if not sep or field is None or value not in ("true", "false"):
            raise ValueError(
                f"invalid feature gate {item!r}; known gates: vLLM, enableMIG, "
                "enableAccelerator, ModelStreaming (each =true or =false)"
            )
        values[field] = value == "true"
    return FeatureGates(**values)


def _read(path: str) -> bytes:
    """The bytes of `path` (stdin for ``-``), refusing inputs over the size limit unread."""
    if path == STDIN:
        return sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path} is a directory")
    if info.st_size > MAX_INPUT_BYTES:
        raise ManifestLoadError(
            f"input is {info.st_size / 1024 / 1024:.1f} MiB; manifests larger than "
            f"{MAX_INPUT_BYTES // 1024 // 1024} MiB are refused"
        )
    with open(path, "rb") as handle:
        return handle.read(MAX_INPUT_BYTES + 1)


def _line(name: str, label: str, path: str, message: str) -> str:
    return f"{name}: {label}: {path or '<document>'}: {_one_line(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def _context(args: argparse.Namespace, loaded: Sequence[LoadResult]) -> ValidationContext:
    config_maps: dict[tuple[str, str], Mapping[str, Any]] = {}
    nodes: list[Mapping[str, Any]] = []
    for result in loaded:
        config_maps.update(result.config_maps)
        nodes += [
            d.manifest for d in result.documents if d.kind == "Node" and d.api_version == "v1"
        ]
    provisioner = str(getattr(args, "provisioner", "karpenter") or "karpenter")
    return ValidationContext(
        node_auto_provisioning=not bool(getattr(args, "byo", False)) and provisioner != "byo",
        provisioner=provisioner,
        cloud_provider=str(getattr(args, "cloud_provider", "azure") or "azure"),
        feature_gates=parse_feature_gates(str(getattr(args, "feature_gates", "") or "")),
        node_classes=tuple(getattr(args, "node_classes", None) or ()),
        config_maps=config_maps or None,
        nodes=tuple(nodes),
    )


def _problems(
    document: Document, context: ValidationContext, strict: bool
) -> list[tuple[str, str]]:
    """``(path, message)`` pairs for one document."""
    if document.errors:
        return [(e.path, e.message) for e in document.errors]
    if not document.kind:
        return [("kind", "required field is missing")]
    if not document.api_version:
        return [("apiVersion", "required field is missing")]
    if document.kind != "Workspace":
        handled = document.kind in _CONTEXT_KINDS and document.api_version == "v1"
        if strict and not handled:
            return [
                (
                    "kind",
                    f"{document.kind} ({document.api_version}) is not handled by kaito validate",
                )
            ]
        return []
    assert document.workspace is not None
    return [(e.path, e.message) for e in validate(document.workspace, context=context)]


def run(args: argparse.Namespace) -> int:
    """Validate every file named in `args`; print problems; return the exit code."""
    files: list[str] = list(getattr(args, "files", None) or [])
    status = 0
    loaded: list[tuple[str, LoadResult]] = []
    for path in files:
        name = _STDIN_LABEL if path == STDIN else path
        try:
            loaded.append((name, load_documents(_read(path))))
        except ManifestLoadError as exc:
            print(f"{name}: error: {_one_line(str(exc))}", file=sys.stderr)
            status = 2
        except OSError as exc:
            print(f"{name}: error: cannot read: {exc.strerror or exc}", file=sys.stderr)
            status = 2
    try:
        context = _context(args, [result for _, result in loaded])
    except (ValueError, TypeError) as exc:
        print(f"kaito validate: error: {exc}", file=sys.stderr)
        return 2
    strict = bool(getattr(args, "strict", False))
    workspaces = problems = 0
    for name, result in loaded:
        for document in result.documents:
            workspaces += document.kind == "Workspace"
            try:
                found = _problems(document, context, strict)
            except Exception as exc:  # never a traceback, whatever the input
                print(
                    f"{name}: {document.label}: internal error: {type(exc).__name__}: "
                    f"{_one_line(str(exc))}",
                    file=sys.stderr,
                )
                status = 2
                continue
            for path, message in found:
                print(_line(name, document.label, path, message))
            problems += len(found)
    if problems and status == 0:
        status = 1
    if status == 0:
        if workspaces:
            print(f"{workspaces} Workspace(s) valid", file=sys.stderr)
        else:
            print("nothing to validate: no Workspace documents found", file=sys.stderr)
    return status
