"""One object per identity: a second definition in the same input is an error naming the first."""

from __future__ import annotations

import pytest

from kaito_core.api import load_documents
from kaito_core.api.duplicates import ObjectIdentity, first_occurrences, object_identity

WS = """\
apiVersion: {api}
kind: Workspace
metadata:
  name: {name}
  namespace: {namespace}
resource:
  instanceType: Standard_NC24ads_A100_v4
  labelSelector: {{matchLabels: {{apps: x}}}}
inference:
  preset: {{name: phi-3-mini-4k-instruct}}
"""


def _ws(name: str = "phi", namespace: str = "default", api: str = "kaito.sh/v1beta1") -> str:
    return WS.format(name=name, namespace=namespace, api=api)


@pytest.mark.parametrize(
    ("text", "duplicated"),
    [
        pytest.param(_ws() + "---\n" + _ws(), True, id="same-workspace-twice"),
        pytest.param(
            _ws() + "---\n" + _ws(api="kaito.sh/v1alpha1"), True, id="two-versions-one-object"
        ),
        pytest.param(_ws() + "---\n" + _ws(name="other"), False, id="different-names"),
        pytest.param(_ws() + "---\n" + _ws(namespace="ml"), False, id="different-namespaces"),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            True,
            id="configmap-twice",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
            "apiVersion: v1\nkind: Secret\nmetadata: {name: c}\n",
            False,
            id="same-name-other-kind",
        ),
    ],
)
def test_second_definition_is_an_error(text: str, duplicated: bool) -> None:
    """The second document of one identity carries a metadata.name error naming line 1."""
    first, second = load_documents(text).documents
    assert first.errors == ()
    if not duplicated:
        assert second.errors == ()
        return
    (error,) = second.errors
    assert error.path == "metadata.name"
    assert "is defined twice in this input: first at line 1" in error.message
    assert second.workspace is None


def test_duplicate_workspaces_are_not_planned() -> None:
    """Only the first of two same-named Workspaces is a workspace to plan."""
    result = load_documents(_ws() + "---\n" + _ws())
    assert [d.workspace is not None for d in result.workspaces] == [True, False]


def test_duplicate_configmap_is_not_pooled() -> None:
    """The pooled ConfigMaps hold the first definition, not the last."""
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: first}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: second}\n"
    )
    assert load_documents(text).config_maps[("default", "c")]["data"] == {"k": "first"}


def test_documents_know_their_line() -> None:
    """Each document records the line it starts on."""
    result = load_documents(_ws() + "---\n" + _ws(name="b"))
    assert [d.line for d in result.documents] == [1, 12]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        pytest.param([], (), id="empty"),
        pytest.param(["a", "b", "a", None, None, "b", "a"], (None, None, 0, None, None, 1, 0)),
    ],
)
def test_first_occurrences(keys: list[str | None], expected: tuple[int | None, ...]) -> None:
    """Each repeat points at the first position of its key; None keys never repeat."""
    assert first_occurrences(keys) == expected


def test_object_identity_ignores_the_version() -> None:
    """Group, kind, namespace and name identify an object; nameless manifests have none."""
    alpha = object_identity(
        api_version="kaito.sh/v1alpha1", kind="Workspace", namespace="d", name="x"
    )
    beta = object_identity(
        api_version="kaito.sh/v1beta1", kind="Workspace", namespace="d", name="x"
    )
    assert (
        alpha == beta == ObjectIdentity(group="kaito.sh", kind="Workspace", namespace="d", name="x")
    )
    assert object_identity(api_version="v1", kind="ConfigMap", namespace="d", name="") is None
    assert str(beta) == 'Workspace "d/x"'
