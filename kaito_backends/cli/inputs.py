"""The manifest files the CLI is given: reading, the validation flags, and validation itself.

One implementation for ``kaito validate``, ``kaito plan`` and ``kaito up``. `read_inputs` reads
every file (``-`` is stdin), refusing directories and inputs over the size limit unread; a file
that cannot be read is one ``FILE: error: ...`` line (exit 2) and the other files are still read.
Documents of every registered kind (``args.registry``, default
`kaito_core.registry.default_registry`: Workspace) are parsed with their kind's ``parse``. The
ConfigMaps, Secrets and Nodes of all files are pooled, so ``kaito validate cm.yaml ws.yaml``
checks the Workspace against the ConfigMap. `check` then validates every document the way
KAITO's admission webhook would (its kind's ``validate``) and prints one
``FILE: Kind/NAME: FIELD.PATH: message`` line per problem; an unexpected exception is a
one-line internal error (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api import Document, ManifestLoadError, Workspace, load_documents
from kaito_core.api.documents import CONTEXT_KINDS, MAX_INPUT_BYTES
from kaito_core.api.duplicates import first_occurrences, object_identity
from kaito_core.kinds import KindSpec, Registry
from kaito_core.plan import PlanSettings
from kaito_core.registry import default_registry
from kaito_core.validation import PROVISIONERS, FeatureGates, ValidationContext

__all__ = [
    "STDIN",
    "Checked",
    "Inputs",
    "ObjectInput",
    "WorkspaceInput",
    "add_cluster_arguments",
    "add_validation_arguments",
    "check",
    "internal_error_line",
    "nothing_found",
    "one_line",
    "parse_feature_gates",
    "plan_settings",
    "problem_line",
    "read_inputs",
    "registry_of",
]

STDIN = "-"
_STDIN_LABEL = "<stdin>"
#: Upstream ``--feature-gates`` names of the gates validation cares about.
_GATES = {
    "vllm": "vllm",
    "enablemig": "enable_mig",
    "enableaccelerator": "enable_accelerator",
    "modelstreaming": "model_streaming",
}


# -- flags -----------------------------------------------------------------------------------------
def add_cluster_arguments(parser: Any) -> None:
    """``--cloud-provider``, ``--feature-gates`` and ``--node-class``: the cluster's set-up, as
    ``kaito validate``, ``kaito plan`` and ``kaito operator`` take it."""
    parser.add_argument(
        "--cloud-provider",
        default="azure",
        metavar="CLOUD",
        help="the cloud whose SKU table applies: azure, aws or arc (default: azure)",
    )
    add_feature_gates_argument(parser)
    parser.add_argument(
        "--node-class",
        action="append",
        default=[],
        dest="node_classes",
        metavar="NAME",
        help="a KAITO-managed Karpenter NodeClass (repeat for several)",
    )


def add_feature_gates_argument(parser: Any) -> None:
    parser.add_argument(
        "--feature-gates",
        default="",
        metavar="GATES",
        help="comma-separated gate=bool (vLLM, enableMIG, enableAccelerator, ModelStreaming), "
        "e.g. vLLM=false,enableMIG=true",
    )


def add_validation_arguments(parser: argparse.ArgumentParser, *, provisioning: bool) -> None:
    """The flags of `check`; with `provisioning` also ``--byo``, ``--provisioner`` and the
    cluster flags (`add_cluster_arguments`), else only ``--feature-gates``."""
    if provisioning:
        parser.add_argument(
            "--byo",
            action="store_true",
            help="bring-your-own nodes: node auto-provisioning off, instanceType must be empty",
        )
        parser.add_argument(
            "--provisioner",
            choices=PROVISIONERS,
            default="karpenter",
            help="the node provisioner KAITO runs with (default: karpenter); byo implies --byo: "
            "GPUs are read from the Node manifests given in the files",
        )
        add_cluster_arguments(parser)
    else:
        add_feature_gates_argument(parser)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="report documents of kinds this command does not handle",
    )


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


def registry_of(args: argparse.Namespace) -> Registry:
    """The kinds a command reads: ``args.registry`` (`kaito_backends.cli.main`'s), else the
    default registry."""
    registry = getattr(args, "registry", None)
    return registry if isinstance(registry, Registry) else default_registry()


def plan_settings(context: ValidationContext, *, provisioner: str | None = None) -> PlanSettings:
    """The `PlanSettings` of the cluster `context` describes: its cloud, the vLLM gate and its
    provisioner (``byo`` when node auto-provisioning is off; else `provisioner` when given, as
    ``kaito up``'s fake one stands in for whichever provisioner was validated for)."""
    return PlanSettings(
        provisioner=(provisioner or context.provisioner) if context.nap else "byo",
        cloud=context.cloud_provider,
        vllm_enabled=context.feature_gates.vllm,
    )


# -- reading ---------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class ObjectInput:
    """A parsed object of a registered kind, with the file it came from."""

    file: str
    document: Document

    @property
    def label(self) -> str:
        """``Kind/NAME``."""
        return self.document.label

    @property
    def spec(self) -> KindSpec[Any, Any]:
        assert self.document.spec is not None
        return self.document.spec

    @property
    def obj(self) -> Any:
        return self.document.obj

    @property
    def namespace(self) -> str:
        """The object's namespace, ``default`` when it names none."""
        return self.document.namespace

    @property
    def workspace(self) -> Workspace:
        assert self.document.workspace is not None
        return self.document.workspace


#: The former name of `ObjectInput`.
WorkspaceInput = ObjectInput


@attrs.frozen(kw_only=True)
class Inputs:
    """Every document read, with the file it came from (``<stdin>`` for ``-``)."""

    documents: tuple[tuple[str, Document], ...]
    #: One ``FILE: error: ...`` line per file that could not be read.
    errors: tuple[str, ...] = ()
    #: For each document, which of the files read it came from (0, 1, ...): a file named twice
    #: is two sources of the same name.
    sources: tuple[int, ...] = ()

    @property
    def objects(self) -> tuple[ObjectInput, ...]:
        """Every parsed object of a registered kind, in file order."""
        return tuple(
            ObjectInput(file=f, document=d)
            for f, d in self.documents
            if d.spec is not None and d.obj is not None
        )

    @property
    def workspaces(self) -> tuple[ObjectInput, ...]:
        return tuple(o for o in self.objects if o.document.workspace is not None)

    @property
    def config_maps(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._pooled("ConfigMap")

    @property
    def secrets(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._pooled("Secret")

    @property
    def nodes(self) -> tuple[dict[str, Any], ...]:
        return tuple(
            dict(d.manifest)
            for _, d in self.documents
            if d.kind == "Node" and d.api_version == "v1" and d.manifest
        )

    def _pooled(self, kind: str) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {
            (d.namespace, d.name): d.manifest
            for _, d in self.documents
            if d.kind == kind and d.api_version == "v1" and d.name and not d.errors
        }

    def config_maps_for(self, workspace: Workspace) -> dict[str, dict[str, Any]]:
        """The pooled ConfigMaps of the workspace's namespace, by name."""
        return self.config_maps_in(workspace.namespace)

    def config_maps_in(self, namespace: str) -> dict[str, dict[str, Any]]:
        """The pooled ConfigMaps of a namespace, by name."""
        return {
            name: dict(cm) for (where, name), cm in self.config_maps.items() if where == namespace
        }

    def context(self, args: argparse.Namespace, *, complete: bool) -> ValidationContext:
        """The `ValidationContext` of the flags in `args` and the pooled objects; raises
        ValueError for a bad flag. `complete`: the files are the whole cluster, so a ConfigMap
        they do not hold does not exist (else it is only checked once some are given)."""
        provisioner = str(getattr(args, "provisioner", "karpenter") or "karpenter")
        config_maps = self.config_maps
        return ValidationContext(
            node_auto_provisioning=not bool(getattr(args, "byo", False)) and provisioner != "byo",
            provisioner=provisioner,
            cloud_provider=str(getattr(args, "cloud_provider", "azure") or "azure"),
            feature_gates=parse_feature_gates(str(getattr(args, "feature_gates", "") or "")),
            node_classes=tuple(getattr(args, "node_classes", None) or ()),
            config_maps=config_maps if (config_maps or complete) else None,
            nodes=self.nodes,
        )


def _label(path: str) -> str:
    return _STDIN_LABEL if path == STDIN else path


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


def read_inputs(paths: Sequence[str], *, registry: Registry | None = None) -> Inputs:
    """Read and parse every file (``-`` = stdin) with the kinds of ``registry`` (default: the
    default registry); unreadable files become `Inputs.errors`."""
    documents: list[tuple[str, Document]] = []
    sources: list[int] = []
    errors: list[str] = []
    for source, path in enumerate(paths):
        name = _label(path)
        try:
            result = load_documents(_read(path), registry=registry)
        except ManifestLoadError as exc:
            errors.append(f"{name}: error: {one_line(str(exc))}")
        except OSError as exc:
            errors.append(f"{name}: error: cannot read: {exc.strerror or exc}")
        else:
            documents += [(name, d) for d in result.documents]
            sources += [source] * len(result.documents)
    return Inputs(documents=tuple(documents), errors=tuple(errors), sources=tuple(sources))


# -- validating ------------------------------------------------------------------------------------
def one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def problem_line(file: str, label: str, path: str, message: str) -> str:
    """``FILE: Kind/NAME: FIELD.PATH: message``, always one line."""
    return f"{file}: {label}: {path or '<document>'}: {one_line(message)}"


def internal_error_line(file: str, label: str, error: BaseException) -> str:
    """``FILE: Kind/NAME: internal error: TYPE: message``, in place of a traceback."""
    return f"{file}: {label}: internal error: {type(error).__name__}: {one_line(str(error))}"


def _defined_elsewhere(inputs: Inputs) -> dict[int, str]:
    """Position -> problem, for an object already defined in an earlier file, or in the same
    file named twice (a repeat within one read of a file is already a document error)."""
    documents = inputs.documents
    sources = inputs.sources or tuple(range(len(documents)))
    identities = [
        object_identity(api_version=d.api_version, kind=d.kind, namespace=d.namespace, name=d.name)
        for _, d in documents
    ]
    found: dict[int, str] = {}
    for index, first in enumerate(first_occurrences(identities)):
        if first is None or sources[first] == sources[index]:
            continue
        earlier_file, earlier = documents[first]
        found[index] = (
            f"{identities[index]} is defined twice: first in {earlier_file} (line {earlier.line})"
        )
    return found


def _problems(
    document: Document, context: ValidationContext, strict: bool, command: str
) -> list[tuple[str, str]]:
    """``(path, message)`` pairs for one document."""
    if document.errors:
        return [(e.path, e.message) for e in document.errors]
    if not document.kind:
        return [("kind", "required field is missing")]
    if not document.api_version:
        return [("apiVersion", "required field is missing")]
    spec = document.spec
    if spec is None:
        handled = document.kind in CONTEXT_KINDS and document.api_version == "v1"
        if strict and not handled:
            return [
                (
                    "kind",
                    f"{document.kind} ({document.api_version}) is not handled by kaito {command}",
                )
            ]
        return []
    problems = spec.validate(document.obj, old=None, catalog=None, context=context)
    return [(e.path, e.message) for e in problems]


@attrs.frozen(kw_only=True)
class Checked:
    """What `check` found: the inputs, their context (None for a bad flag) and the exit code so
    far (0 valid, 1 problems, 2 unreadable input, a bad flag or an internal error)."""

    inputs: Inputs
    context: ValidationContext | None
    status: int


def check(args: argparse.Namespace, *, command: str, complete: bool = False) -> Checked:
    """Read ``args.files`` and validate them, printing unreadable files and internal errors on
    stderr and problems on stdout. `command` names the subcommand in messages; `complete` as for
    `Inputs.context`."""
    inputs = read_inputs(list(getattr(args, "files", None) or []), registry=registry_of(args))
    for line in inputs.errors:
        print(line, file=sys.stderr)
    status = 2 if inputs.errors else 0
    try:
        context = inputs.context(args, complete=complete)
    except (ValueError, TypeError) as exc:
        print(f"kaito {command}: error: {exc}", file=sys.stderr)
        return Checked(inputs=inputs, context=None, status=2)
    strict = bool(getattr(args, "strict", False))
    problems = 0
    repeated = _defined_elsewhere(inputs)
    for index, (name, document) in enumerate(inputs.documents):
        if index in repeated:
            print(problem_line(name, document.label, "metadata.name", repeated[index]))
            problems += 1
            continue
        try:
            found = _problems(document, context, strict, command)
        except Exception as exc:  # never a traceback, whatever the input
            print(internal_error_line(name, document.label, exc), file=sys.stderr)
            status = 2
            continue
        for path, message in found:
            print(problem_line(name, document.label, path, message))
        problems += len(found)
    if problems and status == 0:
        status = 1
    if status == 0 and not inputs.objects:
        print(
            nothing_found(inputs, registry_of(args), getattr(args, "files", None) or []),
            file=sys.stderr,
        )
        status = 1
    return Checked(inputs=inputs, context=context, status=status)


def nothing_found(inputs: Inputs, registry: Registry, files: Sequence[str]) -> str:
    """The one answer of validate, plan and up to input without an object of a registered kind
    (an empty file, only ConfigMaps, a kind nobody handles): exit 1 with this line."""
    kinds = registry.names
    wanted = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    where = ", ".join(_label(f) for f in files) or "the input"
    others = sorted({d.kind for _, d in inputs.documents if d.kind})
    seen = f" (found only: {', '.join(others)})" if others else " (it holds no documents)"
    return f"error: no {wanted} found in {where}{seen}"
