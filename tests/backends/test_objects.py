"""Object refs, label matching, apply merging, copying, and the error tree."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_backends import errors
from kaito_backends.objects import (
    ObjectRef,
    WorkspaceKey,
    clone,
    deep_merge,
    group_of,
    matches_labels,
    ref_of,
    resource_of,
)


@pytest.mark.parametrize(
    ("manifest", "expected", "text"),
    [
        (
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "a", "namespace": "ns"},
            },
            ObjectRef("apps/v1", "StatefulSet", "a", "ns"),
            "StatefulSet/ns/a",
        ),
        (
            {
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodeClaim",
                "metadata": {"name": "ws1", "namespace": "x"},
            },
            ObjectRef("karpenter.sh/v1", "NodeClaim", "ws1"),
            "NodeClaim/ws1",
        ),
        (
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}},
            ObjectRef("v1", "Node", "n"),
            "Node/n",
        ),
    ],
    ids=["namespaced", "cluster-scoped-namespace-dropped", "cluster-scoped"],
)
def test_ref_of_a_manifest(manifest: dict[str, Any], expected: ObjectRef, text: str) -> None:
    """ObjectRef.of_ / ref_of take apiVersion, kind, name and (for namespaced kinds) namespace."""
    assert ObjectRef.of_(manifest) == expected == ref_of(manifest)
    assert str(expected) == text


def test_workspace_key_prints_as_namespace_slash_name() -> None:
    """WorkspaceKey("ns", "name") prints ns/name."""
    assert str(WorkspaceKey("default", "phi-4")) == "default/phi-4"


@pytest.mark.parametrize(
    ("labels", "selector", "expected"),
    [
        ({"a": "1", "b": "2"}, {"a": "1"}, True),
        ({"a": "1"}, {"a": "2"}, False),
        ({}, {"a": "1"}, False),
        ({"a": "1"}, {}, True),
    ],
    ids=["subset", "other-value", "absent", "empty-selector"],
)
def test_matches_labels(labels: dict[str, str], selector: dict[str, str], expected: bool) -> None:
    """Equality selectors: every key=value must be among the labels."""
    assert matches_labels({"metadata": {"labels": labels}}, selector) is expected


def test_deep_merge_merges_maps_replaces_lists_and_removes_nones() -> None:
    """Maps merge key by key, lists are replaced, None removes; inputs are untouched."""
    base = {"a": {"x": 1, "y": 2}, "l": [1, 2], "gone": 1}
    patch = {"a": {"y": 3, "z": 4}, "l": [9], "gone": None}
    merged = deep_merge(base, patch)
    assert merged == {"a": {"x": 1, "y": 3, "z": 4}, "l": [9]}
    assert base == {"a": {"x": 1, "y": 2}, "l": [1, 2], "gone": 1}
    merged["l"].append(10)
    assert patch["l"] == [9]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_clone_is_an_equal_independent_copy(value: Any) -> None:
    """clone(x) == x and shares no dict or list with x."""
    copied = clone(value)
    assert copied == value

    def containers(v: Any) -> list[int]:
        if isinstance(v, dict):
            return [id(v), *(i for x in v.values() for i in containers(x))]
        if isinstance(v, list):
            return [id(v), *(i for x in v for i in containers(x))]
        return []

    assert not set(containers(copied)) & set(containers(value))


@pytest.mark.parametrize(
    ("api_version", "kind", "resource"),
    [
        ("apps/v1", "StatefulSet", "statefulsets.apps"),
        ("v1", "Pod", "pods"),
        ("kaito.sh/v1beta1", "Workspace", "workspaces.kaito.sh"),
        ("karpenter.sh/v1", "NodeClass", "nodeclasses.karpenter.sh"),
        ("v1", "Policy", "policies"),
    ],
    ids=lambda v: str(v),
)
def test_resource_names_as_in_kubernetes_messages(
    api_version: str, kind: str, resource: str
) -> None:
    """plural.group, as in `statefulsets.apps "x" not found`."""
    assert resource_of(api_version, kind) == resource


def test_group_of() -> None:
    """The core group is empty."""
    assert group_of("v1") == ""
    assert group_of("kaito.sh/v1alpha1") == "kaito.sh"


@pytest.mark.parametrize(
    ("error", "parents"),
    [
        (errors.NotFound, (errors.BackendError,)),
        (errors.AlreadyExists, (errors.Conflict, errors.BackendError)),
        (errors.Gone, (errors.BackendError,)),
        (errors.Invalid, (errors.BackendError,)),
        (errors.InsufficientCapacity, (errors.BackendError,)),
        (errors.Transient, (errors.BackendError,)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_error_tree(error: type[errors.BackendError], parents: tuple[type[Exception], ...]) -> None:
    """Callers catch by class: the tree is as drawn in the errors module docstring."""
    assert issubclass(error, parents)
    assert error.__name__ in (errors.__doc__ or "")


def test_transient_carries_the_retry_after() -> None:
    """Transient(message, delay=) keeps the server's message and Retry-After."""
    err = errors.Transient("slow down", delay=2.5)
    assert (str(err), err.message, err.delay) == ("slow down", "slow down", 2.5)
    assert errors.Transient("boom").delay is None
