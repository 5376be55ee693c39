"""The predicted time to ready in ``kaito plan --summary`` (``--phases``,
``--readiness-figures``) and ``kaito up`` (predicted vs simulated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaito_backends.cli import main
from kaito_backends.cli.readiness import MAX_FIGURES_BYTES, duration
from tests.conftest import EXAMPLES

LLAMA = str(EXAMPLES / "workspace-llama-3.3-70b.yaml")
PHI3 = str(EXAMPLES / "workspace-phi-3-mini.yaml")
PHI4 = str(EXAMPLES / "workspace-phi-4-mini.yaml")
TUNING = str(EXAMPLES / "workspace-tuning-phi-3.yaml")
ADAPTERS = str(EXAMPLES / "workspace-adapters.yaml")

#: `kaito up` runs the fake cluster on the model's own figures; the engine reacts to every
#: watch event at once in virtual time, so the simulated time to ready is the predicted one
#: within this many seconds (for each Workspace, and for each phase).
TOLERANCE_SECONDS = 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (0.6, "1s"),
        (59, "59s"),
        (60, "1m"),
        (966, "16m6s"),
        (3723, "1h2m3s"),
        (7200, "2h"),
        (3605, "1h0m5s"),
    ],
)
def test_durations_are_whole_seconds(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_plan_phases_lists_every_part_with_numbered_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--summary --phases: the summary, then a row per part, then the sources."""
    assert main(["plan", "--summary", "--phases", PHI4]) == 0
    out = capsys.readouterr().out
    summary, phases = out.split("\n\n")
    assert summary.splitlines()[1].split()[-1] == "15m13s"
    lines = phases.splitlines()
    assert lines[0].split() == ["WORKSPACE", "PHASE", "PART", "TIME", "FROM", "SOURCE"]
    rows = [line for line in lines[1:] if not line.startswith("[")]
    assert [r.split()[0] for r in rows if r.startswith("default/")] == [
        "default/workspace-phi-4-mini"
    ]
    phase_names = [
        line.split()[0] for line in rows[1:] if line.split()[0] in ("PullingImage", "WarmingUp")
    ]
    assert phase_names == ["PullingImage", "WarmingUp"]
    assert any("node provisioning" in r and "4m44s" in r for r in rows)
    assert any("weights download" in r and "at 896.2 MB/s" in r for r in rows)
    assert rows[-1].split()[:2] == ["total", "15m13s"]
    notes = [line for line in lines if line.startswith("[")]
    assert notes[0].startswith("[1] kaito-project/kaito#2325")
    cited = {
        int(n) for r in rows if r.rstrip().endswith("]") for n in r.split("[")[-1][:-1].split(",")
    }
    assert cited == set(range(1, len(notes) + 1))


def test_plan_phases_needs_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--phases", PHI4]) == 2
    assert capsys.readouterr().err == "kaito plan: --phases needs --summary\n"


def test_a_figures_file_changes_the_prediction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A YAML override: a warm pool (nodes in 60 s) and a faster registry."""
    figures = tmp_path / "figures.yaml"
    figures.write_text(
        "nodes:\n"
        "- {cloud: azure, family: NCads_A100_v4, provisionSeconds: 0, initializeSeconds: 60,\n"
        "   source: warm pool}\n"
        "pull: {bytesPerSecond: 560000000}\n"
    )
    assert main(["plan", "--summary", "--phases", "--readiness-figures", str(figures), PHI4]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[-1] == "7m52s"  # 15m13s - 284 s - 66 s - 91 s
    assert "warm pool" in out
    assert str(figures) in out  # the pull rate changed without a source: the file is it


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            "nodes: [{cloud: azure, family: X, provisionSeconds: fast}]\npull: []\n",
            [
                "FILE: nodes[0].provisionSeconds: expected a number, got a string",
                "FILE: nodes[0].initializeSeconds: required field is missing",
                "FILE: pull: expected a map, got a list",
            ],
        ),
        ("- 1\n", ["FILE: <document>: expected a map, got a list"]),
    ],
    ids=["fields", "document"],
)
def test_a_bad_figures_file_is_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, lines: list[str]
) -> None:
    """Exit 1, a line per problem naming the file and the field path, nothing planned."""
    figures = tmp_path / "figures.yaml"
    figures.write_text(text)
    assert main(["plan", "--summary", "--readiness-figures", str(figures), PHI4]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [line.replace("FILE", str(figures)) for line in lines]
    assert captured.err == f"kaito plan: {figures} is not a valid figures file\n"


@pytest.mark.parametrize(
    "content",
    [
        None,
        "a: [\n",
        b"\xff\xfe",
        "x" * (MAX_FIGURES_BYTES + 1),
        "pull: {bytesPerSecond: 1}\npull: {bytesPerSecond: 2}\n",
        "pull: {bytesPerSecond: .inf}\n",
        "a: &a [*a]\n",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        ),
        "{}\n---\n{}\n",
    ],
    ids=[
        "missing",
        "not-yaml",
        "not-utf8",
        "too-big",
        "duplicate-key",
        "infinity",
        "recursive",
        "billion-laughs",
        "two-documents",
    ],
)
def test_an_unreadable_figures_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None
) -> None:
    """Read with the bounded YAML loader: one line, exit 2, nothing run."""
    figures = tmp_path / "figures.yaml"
    if isinstance(content, bytes):
        figures.write_bytes(content)
    elif content is not None:
        figures.write_text(content)
    assert main(["up", "--readiness-figures", str(figures), PHI4]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{figures}: error: cannot read the figures: ")
    assert err.count("\n") == 1


def test_up_prints_predicted_and_simulated_per_workspace_and_phase(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After the Workspaces' table: predicted, simulated and the difference (--phases: per
    phase), for each Workspace."""
    assert main(["up", "--quiet", "--phases", PHI4, TUNING]) == 0
    out = capsys.readouterr().out
    report = out.split("\n\n")[-1].splitlines()
    assert report[0].split() == ["WORKSPACE", "PHASE", "PREDICTED", "SIMULATED", "DIFFERENCE"]
    assert report[1].split()[:2] == ["workspace-phi-4-mini", "total"]
    assert [line.split()[0] for line in report[2:7]] == [
        "ProvisioningNodes",
        "InitializingNodes",
        "PullingImage",
        "LoadingWeights",
        "WarmingUp",
    ]
    assert report[7].split()[:2] == ["workspace-tuning-phi-3", "total"]
    assert report[11].split() == ["LoadingWeights", "0s", "0s", "+0s"]  # tuning: Job running


@pytest.mark.parametrize(
    "files",
    [[PHI3], [PHI4], [LLAMA], [TUNING], [ADAPTERS], [PHI4, LLAMA, TUNING]],
    ids=["phi-3-on-v100", "phi-4", "llama-three-nodes", "tuning", "adapters", "together"],
)
def test_the_simulated_time_to_ready_is_the_predicted_one(
    files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake takes its durations from the model: under ``kaito up`` every Workspace is ready
    within TOLERANCE_SECONDS of its prediction, in total and phase by phase."""
    assert main(["up", "--quiet", "-o", "json", *files]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["workspaces"]) == len(files)
    for item in data["workspaces"]:
        assert item["predictedSeconds"] > 0, item["name"]
        assert abs(item["simulatedSeconds"] - item["predictedSeconds"]) <= TOLERANCE_SECONDS
        for phase in item["phases"]:
            difference = phase["simulatedSeconds"] - phase["predictedSeconds"]
            assert abs(difference) <= TOLERANCE_SECONDS, (item["name"], phase)


def test_up_with_figures_moves_both_the_prediction_and_the_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--readiness-figures: the fake runs on the same figures the prediction uses."""
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps({"runtimes": [{"runtime": "vllm", "warmUpSeconds": 1000}]}))
    assert main(["up", "--quiet", "-o", "json", "--readiness-figures", str(figures), PHI4]) == 0
    (item,) = json.loads(capsys.readouterr().out)["workspaces"]
    assert item["predictedSeconds"] == pytest.approx(913.0 + 805, abs=1)
    assert abs(item["simulatedSeconds"] - item["predictedSeconds"]) <= TOLERANCE_SECONDS
