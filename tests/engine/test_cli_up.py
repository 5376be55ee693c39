"""``kaito up``: validate, run on the embedded fake cluster in virtual time, print the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kaito_backends.cli import main
from kaito_backends.cli.up import human_duration
from tests.conftest import EXAMPLES
from tests.engine.conftest import MAXWELL, workspace

PHI3 = str(EXAMPLES / "workspace-phi-3-mini.yaml")
TUNING = str(EXAMPLES / "workspace-tuning-phi-3.yaml")


def _write(tmp_path: Path, *docs: dict[str, object]) -> str:
    path = tmp_path / "ws.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_up_runs_the_quick_start_to_success(capsys: pytest.CaptureFixture[str]) -> None:
    """Progress lines in virtual time, the upstream table, and the float16 note; exit 0."""
    assert main(["up", PHI3]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("node ws" in line and "Ready (Standard_NC6s_v3)" in line for line in lines)
    assert any("pulling image" in line for line in lines)
    assert any("loading model" in line for line in lines)
    assert "[00:15:12] workspace-phi-3-mini: Ready" in lines  # the time-to-ready model's
    header = next(line for line in lines if line.startswith("NAME"))
    assert header.split() == [
        "NAME",
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "JOBSTARTED",
        "WORKSPACESUCCEEDED",
        "AGE",
    ]
    row = lines[lines.index(header) + 1].split()
    assert row == ["workspace-phi-3-mini", "Standard_NC6s_v3", "True", "True", "True", "15m"]
    assert any(line.startswith("note: workspace-phi-3-mini: float16") for line in lines)


def test_up_is_unchanged_by_seeded_faults(capsys: pytest.CaptureFixture[str]) -> None:
    """--faults SEED: conflicts, throttling and dropped watches do not change the outcome."""
    assert main(["up", "--faults", "5", "--quiet", PHI3, TUNING]) == 0
    out = capsys.readouterr().out
    assert "[" not in out.split("NAME")[0], "--quiet prints no progress"
    first_table = out.split("\n\n")[0]
    rows = {
        line.split()[0]: line.split()
        for line in first_table.splitlines()[1:]
        if line and not line.startswith("note")
    }
    assert rows["workspace-phi-3-mini"][-2] == "True"
    assert rows["workspace-tuning-phi-3"][2:5] == ["True", "True", "True"]


def test_up_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """-o json: one JSON document on stdout; progress goes to stderr."""
    assert main(["up", "-o", "json", PHI3]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["settled"] is True
    (item,) = data["workspaces"]
    assert item["name"] == "workspace-phi-3-mini"
    assert item["state"] == "Succeeded"
    assert item["workspaceSucceeded"] == "True"
    assert "float16" in item["note"]
    assert "pulling image" in captured.err


def test_up_reports_a_timeout_with_the_pending_condition(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not done within --timeout virtual minutes: exit 1 with the reason."""
    assert main(["up", "--timeout", "1", "--quiet", PHI3]) == 1
    captured = capsys.readouterr()
    assert "error: workspace-phi-3-mini did not succeed within 60s" in captured.err
    assert "workspace-phi-3-mini" in captured.out, "the table is printed anyway"


def test_up_rejects_invalid_workspaces_like_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid input: FILE: Workspace/NAME: PATH: message lines, exit 1, nothing runs."""
    path = _write(tmp_path, workspace("bad", instance_type=MAXWELL, preset="no-such-model"))
    assert main(["up", path]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: Workspace/bad: ")
    assert "NAME" not in out


def test_up_refuses_a_workspace_given_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same Workspace in two documents: one problem line naming the first, exit 1."""
    path = _write(tmp_path, workspace("twice"), workspace("twice"))
    assert main(["up", path]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{path}: Workspace/twice: metadata.name: Workspace "default/twice" is defined twice in '
        "this input: first at line 1"
    ]


def test_up_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: error:" in capsys.readouterr().err


def test_up_with_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    """--log-format json keeps stdout clean (logs are warnings on stderr, JSON lines)."""
    assert main(["up", "--log-format", "json", "--quiet", "--faults", "9", PHI3]) == 0
    err = capsys.readouterr().err
    for line in err.splitlines():
        if line.startswith("{"):
            assert "event" in json.loads(line)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (390, "6m30s"),
        (900, "15m"),
        (7500, "125m"),
        (3 * 3600 + 300, "3h5m"),
        (20 * 3600, "20h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (400 * 86400, "400d"),
    ],
    ids=lambda v: str(v),
)
def test_age_is_printed_like_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
