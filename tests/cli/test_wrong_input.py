"""Wrong input is never a silent success: a misspelt kind, an input with nothing to act on and an
object defined twice get the same answer from ``kaito validate``, ``plan`` and ``up``."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from kaito_backends.cli import main
from kaito_core.api import load_documents
from kaito_core.api.documents import near_miss_kind
from kaito_core.registry import default_registry

COMMANDS = ("validate", "plan", "up")
_NAMES = default_registry().names
#: "Workspace", or "Workspace, InferenceSet or RAGEngine": the registered kinds
_KINDS = _NAMES[0] if len(_NAMES) == 1 else f"{', '.join(_NAMES[:-1])} or {_NAMES[-1]}"
WORKSPACE = """\
apiVersion: kaito.sh/v1beta1
kind: {kind}
metadata:
  name: {name}
resource:
  instanceType: Standard_NC24ads_A100_v4
  labelSelector:
    matchLabels: {{apps: phi}}
inference:
  preset:
    name: phi-4-mini-instruct
"""


@pytest.fixture(autouse=True)
def _reset_logging() -> object:
    """``kaito up`` configures structlog; leave it as found."""
    yield None
    structlog.reset_defaults()


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    extra = ["--quiet"] if argv[0] == "up" else []
    code = main([str(argv[0]), *extra, *map(str, argv[1:])])
    out, err = capsys.readouterr()
    return code, out, err


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("kind", "intended"),
    [
        ("workspace", "Workspace"),
        ("WorkSpace", "Workspace"),
        ("WORKSPACE", "Workspace"),
        ("Workspaces", "Workspace"),
        ("Wrokspace", "Workspace"),
        ("configmap", "ConfigMap"),
        ("Secrets", "Secret"),
        ("Workspace", None),
        ("Deployment", None),
        ("NodeClaim", None),
        ("NodePool", None),
        ("Namespace", None),
        ("", None),
    ],
    ids=lambda v: str(v),
)
def test_near_miss_kind(kind: str, intended: str | None) -> None:
    known = ("Workspace", "InferenceSet", "RAGEngine", "ConfigMap", "Secret", "Node")
    assert near_miss_kind(kind, known) == intended


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["workspace", "Workspaces", "WorkSpace"])
def test_a_misspelt_kind_is_an_error_naming_the_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, kind: str
) -> None:
    path = _write(tmp_path, "ws.yaml", WORKSPACE.format(kind=kind, name="phi"))
    code, out, _ = _run(capsys, command, path)
    assert code == 1
    assert out == (
        f'{path}: {kind}/phi: kind: unknown kind "{kind}": did you mean Workspace? '
        "(kinds are singular and case-sensitive)\n"
    )


def test_load_documents_reports_a_misspelt_kind() -> None:
    """The library's reader says it too, not only the CLI."""
    (document,) = load_documents(WORKSPACE.format(kind="workspace", name="phi")).documents
    assert [e.path for e in document.errors] == ["kind"]


@pytest.mark.parametrize(
    ("name", "text", "seen"),
    [
        ("empty.yaml", "", "(it holds no documents)"),
        ("separators.yaml", "---\n---\n", "(it holds no documents)"),
        ("comment.yaml", "# nothing here\n", "(it holds no documents)"),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "(found only: ConfigMap)",
        ),
        (
            "other.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
            "(found only: Deployment)",
        ),
    ],
    ids=["empty", "separators", "comment", "only-configmap", "other-kind"],
)
def test_nothing_to_act_on_is_the_same_answer_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, seen: str
) -> None:
    """Same message, same exit code (1) from validate, plan and up."""
    path = _write(tmp_path, name, text)
    answers = {command: _run(capsys, command, path) for command in COMMANDS}
    expected = (1, "", f"error: no {_KINDS} found in {path} {seen}\n")
    assert answers == dict.fromkeys(COMMANDS, expected)


@pytest.mark.parametrize("command", COMMANDS)
def test_two_files_defining_one_workspace_name_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    first = _write(tmp_path, "a.yaml", WORKSPACE.format(kind="Workspace", name="phi"))
    second = _write(
        tmp_path,
        "b.yaml",
        WORKSPACE.format(kind="Workspace", name="phi").replace(
            "name: phi\n", "name: phi\n  namespace: default\n", 1
        ),
    )
    code, out, _ = _run(capsys, command, first, second)
    assert code == 1
    assert out == (
        f'{second}: Workspace/phi: metadata.name: Workspace "default/phi" is defined twice: '
        f"first in {first} (line 1)\n"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_one_file_named_twice_is_a_definition_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``kaito validate a.yaml a.yaml`` passed, and ``up`` then failed naming no file."""
    path = _write(tmp_path, "a.yaml", WORKSPACE.format(kind="Workspace", name="phi"))
    code, out, err = _run(capsys, command, path, path)
    assert code == 1
    assert out == (
        f'{path}: Workspace/phi: metadata.name: Workspace "default/phi" is defined twice: '
        f"first in {path} (line 1)\n"
    )
    assert "more than once" not in err


def test_a_configmap_in_two_files_is_reported_with_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ConfigMaps a Workspace reads are pooled: two of one name must not overwrite."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
    first, second = _write(tmp_path, "a.yaml", cm), _write(tmp_path, "b.yaml", cm)
    ws = _write(tmp_path, "ws.yaml", WORKSPACE.format(kind="Workspace", name="phi"))
    code, out, _ = _run(capsys, "validate", ws, first, second)
    assert code == 1
    assert out == (
        f'{second}: ConfigMap/cfg: metadata.name: ConfigMap "default/cfg" is defined twice: '
        f"first in {first} (line 1)\n"
    )
