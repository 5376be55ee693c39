"""A value of the wrong type, anywhere in a manifest of any kind, gets a message that says what
the field expected and what it found: never Python's own words.

The fields are found by walking each kind's attrs model (every attribute, every nested class,
the items of every list of objects), so a field added to a model is covered without a change
here; a kind added to the default registry must add its row to `KINDS`.
"""

from __future__ import annotations

import copy
import itertools
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.api import InferenceSet, ManifestError, RAGEngine, Workspace
from kaito_core.api import inferenceset as iset_model
from kaito_core.api import ragengine as rag_model
from kaito_core.api import types as ws_model
from kaito_core.api.ragengine_serde import wire_name
from kaito_core.errors import FieldError
from kaito_core.registry import default_registry
from kaito_core.validation import ValidationContext, validate, validate_ragengine
from kaito_core.validation.inferenceset import validate_inferenceset
from kaito_presets import default_catalog

CATALOG = default_catalog()
CONTEXT = ValidationContext()
#: Words that only Python (or a traceback) would use.
PYTHON_TEXT = (
    "object has no attribute",
    "not iterable",
    "NoneType",
    "Traceback",
    "KeyError",
    "not subscriptable",
    "unhashable",
    "positional argument",
    "object is not",
    "invalid literal",
    "<class",
    "'str'",
    "'int'",
    "'list'",
    "'dict'",
    "'float'",
    "'bool'",
)

Path = tuple[str | int, ...]


def _camel(cls: type, name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _attrs_of(hint: Any) -> Iterator[tuple[type, bool]]:
    """The attrs classes a field type holds, and whether as list items."""
    for arg in (hint, *typing.get_args(hint)):
        if isinstance(arg, type) and attrs.has(arg):
            yield arg, False
        origin = typing.get_origin(arg)
        if origin in (tuple, list):
            item = typing.get_args(arg)[0]
            if isinstance(item, type) and attrs.has(item):
                yield item, True


def field_paths(
    cls: type, wire: Callable[[type, str], str], prefix: Path = (), depth: int = 0
) -> Iterator[Path]:
    """Every wire path of `cls`'s fields, nested classes and list items included."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if field.name == "extra" or depth > 8:
            continue
        path = (*prefix, wire(cls, field.name))
        yield path
        for inner, listed in _attrs_of(hints[field.name]):
            if inner is ws_model.ObjectMeta:
                continue
            yield from field_paths(inner, wire, (*path, 0) if listed else path, depth + 1)


METADATA_PATHS: tuple[Path, ...] = (
    ("metadata",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("metadata", "generation"),
    ("metadata", "finalizers"),
)


def _workspace_paths() -> tuple[Path, ...]:
    roots = {
        "resource": ws_model.ResourceSpec,
        "inference": ws_model.InferenceSpec,
        "tuning": ws_model.TuningSpec,
        "status": ws_model.WorkspaceStatus,
    }
    found: list[Path] = list(METADATA_PATHS)
    for key, cls in roots.items():
        found += [(key,), *field_paths(cls, _camel, (key,))]
    return tuple(found)


def _spec_paths(spec: type, status: type, wire: Callable[[type, str], str]) -> tuple[Path, ...]:
    found: list[Path] = [*METADATA_PATHS, ("spec",), ("status",)]
    found += field_paths(spec, wire, ("spec",))
    found += field_paths(status, wire, ("status",))
    return tuple(found)


WORKSPACE = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "ws", "namespace": "default"},
    "resource": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "ws"}},
    },
    "inference": {"preset": {"name": "phi-4-mini-instruct"}},
}
INFERENCESET = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "InferenceSet",
    "metadata": {"name": "set", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "labelSelector": {"matchLabels": {"apps": "set"}},
        "template": {
            "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        },
    },
}
RAGENGINE = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "RAGEngine",
    "metadata": {"name": "rag", "namespace": "default"},
    "spec": {
        "compute": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": "rag"}},
        },
        "embedding": {"local": {"modelID": "BAAI/bge-small-en-v1.5"}},
        "inferenceService": {"url": "http://phi.default.svc.cluster.local/v1/chat/completions"},
    },
}


def _check_workspace(manifest: Mapping[str, Any]) -> list[FieldError]:
    return validate(Workspace.from_manifest(manifest), catalog=CATALOG, context=CONTEXT)


def _check_inferenceset(manifest: Mapping[str, Any]) -> list[FieldError]:
    obj = InferenceSet.from_manifest(manifest)
    return validate_inferenceset(obj, catalog=CATALOG, context=CONTEXT)


def _check_ragengine(manifest: Mapping[str, Any]) -> list[FieldError]:
    obj = RAGEngine.from_manifest(manifest)
    return validate_ragengine(obj, catalog=CATALOG, context=CONTEXT)


#: kind -> (a valid manifest, every field path, parse and validate)
KINDS: dict[str, tuple[dict[str, Any], tuple[Path, ...], Callable[..., list[FieldError]]]] = {
    "Workspace": (WORKSPACE, _workspace_paths(), _check_workspace),
    "InferenceSet": (
        INFERENCESET,
        _spec_paths(iset_model.InferenceSetSpec, iset_model.InferenceSetStatus, _camel),
        _check_inferenceset,
    ),
    "RAGEngine": (
        RAGENGINE,
        _spec_paths(rag_model.RAGEngineSpec, rag_model.RAGEngineStatus, wire_name),
        _check_ragengine,
    ),
}


def test_every_registered_kind_is_covered() -> None:
    assert set(default_registry().names) <= set(KINDS)


def test_the_walk_reaches_nested_list_items() -> None:
    """The walk is not shallow: adapter sources and conditions are among the paths."""
    paths = KINDS["Workspace"][1]
    assert ("inference", "adapters", 0, "source", "name") in paths
    assert ("status", "conditions", 0, "type") in paths
    assert ("spec", "template", "inference", "preset", "name") in KINDS["InferenceSet"][1]


def _set(manifest: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """`manifest` with `value` at `path`, creating (or replacing) what lies on the way."""
    doc = copy.deepcopy(manifest)
    node: Any = doc
    for part, following in itertools.pairwise(path):
        fresh: Any = [] if isinstance(following, int) else {}
        if isinstance(part, int):
            while len(node) <= part:
                node.append(copy.deepcopy(fresh))
            if not isinstance(node[part], type(fresh)):
                node[part] = fresh
        elif not isinstance(node.get(part), type(fresh)):
            node[part] = fresh
        node = node[part]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return doc


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
WRONG_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _messages(check: Callable[..., list[FieldError]], manifest: dict[str, Any]) -> list[str]:
    try:
        return [str(e) for e in check(manifest)]
    except ManifestError as exc:
        return [str(e) for e in exc.errors]


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_wrong_types_are_described_not_pythonised(kind: str, data: st.DataObject) -> None:
    base, paths, check = KINDS[kind]
    manifest = base
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        path = data.draw(st.sampled_from(paths), label="path")
        manifest = _set(manifest, path, data.draw(WRONG_VALUES, label="value"))
    for message in _messages(check, manifest):
        leaked = [word for word in PYTHON_TEXT if word in message]
        assert not leaked, message


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [
        (
            "Workspace",
            ("inference", "preset"),
            "phi-4-mini-instruct",
            "spec.inference.preset: expected an object with 'name', found the string "
            '"phi-4-mini-instruct"',
        ),
        (
            "Workspace",
            ("inference",),
            [1, 2],
            "spec.inference: expected an object with fields such as 'adapters', 'config', "
            "'preset', found a list of 2 items",
        ),
        (
            "Workspace",
            ("resource",),
            5,
            "spec.resource: expected an object with fields such as 'count', 'instanceType', "
            "'labelSelector', found the integer 5",
        ),
        (
            "Workspace",
            ("inference", "adapters"),
            "x",
            "spec.inference.adapters: expected a list of objects with fields such as 'source', "
            "'strength', found the string \"x\"",
        ),
        (
            "Workspace",
            ("inference", "adapters"),
            {"source": {"name": "a"}},
            "spec.inference.adapters: expected a list of objects with fields such as 'source', "
            "'strength', found an object",
        ),
        (
            "Workspace",
            ("resource", "count"),
            True,
            "spec.resource.count: expected an integer, found the boolean true",
        ),
        (
            "Workspace",
            ("metadata", "labels"),
            {"a": 1},
            'metadata.labels: expected a map of strings, found the integer 1 as the value of "a"',
        ),
        (
            "Workspace",
            ("resource", "preferredNodes"),
            ["a", 2],
            "spec.resource.preferredNodes: expected a list of strings, found the integer 2 at [1]",
        ),
        (
            "InferenceSet",
            ("spec", "template", "inference", "preset"),
            "phi",
            "spec.template.inference.preset: expected an object with 'name', found the string "
            '"phi"',
        ),
        (
            "RAGEngine",
            ("spec", "compute"),
            "big",
            "spec.compute: expected an object with fields such as 'count', 'instanceType', "
            "'labelSelector', found the string \"big\"",
        ),
    ],
    ids=[
        "preset-string",
        "inference-list",
        "resource-int",
        "adapters-string",
        "adapters-map",
        "count-bool",
        "label-int",
        "preferred-nodes-item",
        "inferenceset-preset",
        "ragengine-compute",
    ],
)
def test_wrong_type_messages(kind: str, path: Path, value: Any, expected: str) -> None:
    base, _, check = KINDS[kind]
    assert expected in _messages(check, _set(base, path, value))
