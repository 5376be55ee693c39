"""One cattrs converter between Workspace manifests (camelCase JSON) and the attrs model.

Pure: no I/O, no clock, no logging.

Parsing is strict where the API server is strict: a string field given a number, a list given a
map, or a field the schema does not know are problems, reported with the field path as the user
wrote it (``spec.resource.labelSelector.matchLabels``), never silently coerced or dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from kaito_core.api.shapes import (
    WrongType,
    described,
    is_object_sequence,
    object_hook,
    sequence_hook_factory,
)
from kaito_core.api.types import (
    V1ALPHA1,
    V1BETA1,
    AdapterSpec,
    Condition,
    DataDestination,
    DataSource,
    InferenceSpec,
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    PartitionSpec,
    PresetOptions,
    PresetSpec,
    ResourceSpec,
    TuningSpec,
    Workspace,
    WorkspacePhase,
    WorkspaceStatus,
)
from kaito_core.errors import FieldError
from kaito_presets.suggestions import closest

__all__ = [
    "ManifestError",
    "converter",
    "field_problems",
    "from_manifest",
    "model_structure_hook",
    "register_model_classes",
    "structure_meta",
    "to_manifest",
    "type_name",
    "unknown_fields",
    "unstructure_meta",
]

T = TypeVar("T")

_SPEC_FIELDS = ("resource", "inference", "tuning")
_META_FIELDS = {
    "name": "name",
    "namespace": "namespace",
    "labels": "labels",
    "annotations": "annotations",
    "uid": "uid",
    "resourceVersion": "resource_version",
    "generation": "generation",
    "creationTimestamp": "creation_timestamp",
    "deletionTimestamp": "deletion_timestamp",
    "finalizers": "finalizers",
}


class ManifestError(ValueError):
    """A manifest that does not fit the Workspace schema; `errors` names each problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _type_name(value: object) -> str:
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        list: "list",
        dict: "map",
        type(None): "null",
    }.get(type(value), type(value).__name__)


_WrongType = WrongType


def _expect(value: object, kinds: type | tuple[type, ...], want: str) -> None:
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise WrongType(f"expected {want}, found {described(value)}")
    if not isinstance(value, kinds):
        raise WrongType(f"expected {want}, found {described(value)}")


def _structure_str(value: object, _: type) -> str:
    _expect(value, str, "a string")
    assert isinstance(value, str)
    return value


def _structure_int(value: object, _: type) -> int:
    _expect(value, int, "an integer")
    assert isinstance(value, int)
    return value


def _structure_json(value: object, _: type) -> dict[str, Any]:
    _expect(value, dict, "an object")
    assert isinstance(value, dict)
    return dict(value)


def _structure_bool(value: object, _: type) -> bool:
    _expect(value, bool, "a boolean")
    assert isinstance(value, bool)
    return value


def _structure_int_or_str(value: object, _: type) -> int | str | None:
    """An ``intstr.IntOrString`` (``maxUnavailable: 1`` or ``"25%"``)."""
    if value is None:
        return None
    _expect(value, (int, str), "an integer or a string")
    assert isinstance(value, (int, str))
    return value


def _structure_str_map(value: object, _: type) -> dict[str, str]:
    _expect(value, dict, "a map of strings")
    assert isinstance(value, dict)
    for key, item in value.items():
        if not isinstance(key, str):
            raise WrongType(f"expected a map of strings, found a key that is {described(key)}")
        if not isinstance(item, str):
            raise WrongType(
                f"expected a map of strings, found {described(item)} as the value of "
                f"{json.dumps(key, ensure_ascii=False)}"
            )
    return dict(value)


def _structure_str_tuple(value: object, _: type) -> tuple[str, ...]:
    _expect(value, list, "a list of strings")
    assert isinstance(value, list)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise WrongType(f"expected a list of strings, found {described(item)} at [{index}]")
    return tuple(value)


def _structure_meta(value: object, _: type) -> ObjectMeta:
    if value is None:
        return ObjectMeta()
    _expect(value, dict, "an object with 'name'")
    assert isinstance(value, dict)
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    problems: list[Exception] = []
    for key, item in value.items():
        attr = _META_FIELDS.get(key)
        if attr is None:
            extra[key] = item
            continue
        try:
            if attr in ("labels", "annotations"):
                known[attr] = None if item is None else _structure_str_map(item, dict)
            elif attr == "finalizers":
                known[attr] = None if item is None else _structure_str_tuple(item, tuple)
            elif attr == "generation":
                known[attr] = None if item is None else _structure_int(item, int)
            else:
                known[attr] = None if item is None else _structure_str(item, str)
        except WrongType as exc:
            exc.__notes__ = [AttributeValidationNote(f"Structuring {attr}", attr, str)]
            problems.append(exc)
    if problems:
        raise ClassValidationError("While structuring ObjectMeta", problems, ObjectMeta)
    return ObjectMeta(**known, extra=extra or None)


def _unstructure_meta(meta: ObjectMeta) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr in _META_FIELDS.items():
        item = getattr(meta, attr)
        if item is None:
            continue
        out[key] = (
            list(item)
            if isinstance(item, tuple)
            else (dict(item) if isinstance(item, Mapping) else item)
        )
    if meta.extra:
        out.update(meta.extra)
    return out


_MODEL_CLASSES: tuple[type, ...] = (
    LabelSelectorRequirement,
    LabelSelector,
    PartitionSpec,
    ResourceSpec,
    PresetOptions,
    PresetSpec,
    DataSource,
    DataDestination,
    AdapterSpec,
    InferenceSpec,
    TuningSpec,
    Condition,
    WorkspacePhase,
    WorkspaceStatus,
)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_func(
        lambda t: t in (int | str, int | str | None), _structure_int_or_str
    )
    conv.register_structure_hook_func(
        lambda t: t in (dict[str, Any], Mapping[str, Any]), _structure_json
    )
    conv.register_structure_hook_factory(is_object_sequence, sequence_hook_factory)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, str], _structure_str_map)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_str_tuple)
    conv.register_structure_hook(ObjectMeta, _structure_meta)
    conv.register_unstructure_hook(ObjectMeta, _unstructure_meta)
    conv.register_unstructure_hook_func(lambda t: t == tuple[str, ...], list)
    conv.register_unstructure_hook_func(lambda t: t == Mapping[str, str], dict)
    conv.register_unstructure_hook_func(lambda t: t == dict[str, Any], dict)
    _register(conv, _MODEL_CLASSES)
    return conv


def _register(conv: cattrs.Converter, classes: tuple[type, ...]) -> None:
    for cls in classes:
        renames: dict[str, Any] = {
            a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)
        }
        conv.register_structure_hook(cls, model_structure_hook(cls, conv, **renames))
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **renames)
        )


def model_structure_hook(
    cls: type, conv: cattrs.Converter, *, expected: str | None = None, **renames: Any
) -> Any:
    """The strict structure hook of attrs class `cls` on `conv`: unknown keys reported, and
    anything but a map refused with what was expected and found (`kaito_core.api.shapes`)."""
    inner: Any = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **renames)
    return object_hook(cls, inner, expected=expected)


converter = _make_converter()


def _path_join(base: str, part: str) -> str:
    return f"{base}.{part}" if base else part


def _wire_path(base: str, attr: str) -> str:
    if not base and attr in _SPEC_FIELDS:
        return f"spec.{attr}"
    return _path_join(base, _camel(attr))


def _problems(exc: BaseException, path: str) -> list[FieldError]:
    """Flatten cattrs' exception tree into field errors with wire paths."""
    if isinstance(exc, ClassValidationError):
        found: list[FieldError] = []
        with_notes, without = exc.group_exceptions()
        missing = {_camel(note.name) for sub, note in with_notes if type(sub) is KeyError}
        misspelt: set[str] = set()
        for sub in without:
            if isinstance(sub, ForbiddenExtraKeysError):
                problems, meant = unknown_fields(sub.cl, sub.extra_fields, path, missing=missing)
                found += problems
                misspelt |= meant
            else:
                found += _problems(sub, path)
        for sub, note in with_notes:
            if type(sub) is KeyError and _camel(note.name) in misspelt:
                continue  # reported once, at the misspelling
            found += _problems(sub, _wire_path(path, note.name))
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
        return unknown_fields(exc.cl, exc.extra_fields, path)[0]
    if isinstance(exc, WrongType):
        return [FieldError(path=path, message=str(exc))]
    if isinstance(exc, KeyError):
        return [FieldError(path=path, message="required field is missing")]
    if isinstance(exc, (TypeError, ValueError, AttributeError)):
        return [FieldError(path=path, message=_plain(exc))]
    raise exc


def unknown_fields(
    cls: type,
    keys: Iterable[str],
    path: str,
    *,
    missing: Collection[str] = (),
    wire: Callable[[type, str], str] | None = None,
) -> tuple[list[FieldError], set[str]]:
    """One ``unknown field`` problem per key of `keys` that `cls` does not have, at the key as
    written, with ``did you mean instanceType?`` when a field of `cls` is close. A key that
    misspells a required field in `missing` says so, and that field is returned among the
    intended ones, so the caller reports it once, here, not again as missing.

    Pure: no I/O, no clock, no logging.
    """
    names = [wire(cls, a.name) if wire else _camel(a.name) for a in attrs.fields(cls)]
    problems: list[FieldError] = []
    intended: set[str] = set()
    for key in sorted(keys):
        meant = closest(key, names)
        message = "unknown field"
        if meant:
            message += f"; did you mean {meant[0]}?"
            if meant[0] in missing and meant[0] not in intended:
                message += f" (the required field {meant[0]} is missing)"
                intended.add(meant[0])
        problems.append(FieldError(path=_path_join(path, key), message=message))
    return problems, intended


def _plain(exc: BaseException) -> str:
    """A message for an exception no hook turned into one: a missing required argument names
    the field; anything else is said in our words, never Python's."""
    text = str(exc) or type(exc).__name__
    if "argument" in text and "missing" in text:
        found = re.search(r"'(\w+)'", text)
        if found:
            return f"required field {_camel(found.group(1))!r} is missing"
    return "invalid value: not of the type or shape this field takes"


@attrs.frozen
class _WorkspaceManifest:
    """The top-level fields of a Workspace manifest (for "did you mean" only)."""

    api_version: str
    kind: str
    metadata: Any
    resource: Any
    inference: Any
    tuning: Any
    status: Any


def from_manifest(manifest: Mapping[str, Any]) -> Workspace:
    """Parse a Workspace manifest; raises `ManifestError` listing every problem with its path."""
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
    if manifest.get("kind") != "Workspace":
        errors.append(
            FieldError(path="kind", message=f"expected Workspace, got {manifest.get('kind')!r}")
        )
    fields: dict[str, Any] = {}
    problems: list[FieldError] = []
    for key, value in manifest.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            target: type = ObjectMeta
        elif key in _SPEC_FIELDS or key == "status":
            target = {
                "resource": ResourceSpec,
                "inference": InferenceSpec,
                "tuning": TuningSpec,
                "status": WorkspaceStatus,
            }[key]
        elif key == "spec":
            problems.append(
                FieldError(
                    path="spec",
                    message="unknown field: Workspace has no spec wrapper; put resource, inference "
                    "and tuning at the top level",
                )
            )
            continue
        else:
            problems += unknown_fields(_WorkspaceManifest, (str(key),), "")[0]
            continue
        if value is None:
            continue
        try:
            fields[key] = converter.structure(value, target)
        except Exception as exc:
            base = f"spec.{key}" if key in _SPEC_FIELDS else key
            problems += _problems(exc, base)
    errors += problems
    if errors:
        raise ManifestError(errors)
    return Workspace(
        api_version=str(api_version),
        kind="Workspace",
        metadata=fields.get("metadata", ObjectMeta()),
        resource=fields.get("resource"),
        inference=fields.get("inference"),
        tuning=fields.get("tuning"),
        status=fields.get("status"),
    )


def to_manifest(workspace: Workspace) -> dict[str, Any]:
    """The wire form of a Workspace (camelCase keys, absent fields omitted)."""
    out: dict[str, Any] = {
        "apiVersion": workspace.api_version,
        "kind": workspace.kind,
        "metadata": _unstructure_meta(workspace.metadata),
    }
    for key in (*_SPEC_FIELDS, "status"):
        value = getattr(workspace, key)
        if value is not None:
            out[key] = converter.unstructure(value)
    return out


def structure(value: Any, cls: type[T]) -> T:
    """Structure one part of the model (used by tests and by the validator's helpers)."""
    return converter.structure(value, cls)


# --- for the other kinds' modules (InferenceSet, ...): the same strict machinery ---------------


def register_model_classes(*classes: type) -> None:
    """Teach `converter` more attrs classes: camelCase wire names, unknown keys reported, fields
    equal to their default (``None``) omitted on the way out, as for the Workspace model."""
    _register(converter, classes)


def field_problems(exc: BaseException, path: str) -> list[FieldError]:
    """cattrs' exception tree as field errors whose wire paths start at `path`."""
    return _problems(exc, path)


structure_meta = _structure_meta
unstructure_meta = _unstructure_meta
type_name = _type_name
