"""``kaito up FILE --load PROFILE``: replicas rise with the load and fall after it, in the
progress lines and the final tables; bad profiles are refused one line per problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "docs" / "examples" / "inferenceset-phi-4-mini.yaml")
SAMPLE = str(ROOT / "docs" / "examples" / "load" / "burst.yaml")
WORKSPACE = str(ROOT / "docs" / "examples" / "workspace-phi-4-mini.yaml")


def _profile(tmp_path: Path, body: Any, name: str = "profile.yaml") -> str:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return str(path)


def test_replicas_rise_with_the_load_and_fall_after_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The sample: the autoscaler adds replicas one at a time up to 4 under the burst and
    removes them to 1 after it; nothing is dropped; the set ends Ready with 1 replica."""
    assert main(["up", EXAMPLE, "--load", SAMPLE]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    rescales = [
        line.split("autoscaler: ")[1].split(" (")[0]
        for line in lines
        if "] " in line and "autoscaler: " in line
    ]
    assert rescales == [
        "2 -> 1 replicas",  # no load before the first replica is Ready: down to the minimum
        "1 -> 2 replicas",
        "2 -> 3 replicas",
        "3 -> 4 replicas",
        "4 -> 3 replicas",
        "3 -> 2 replicas",
        "2 -> 1 replicas",
    ]
    assert any("load phase 3/4: 3 req/s for 1800s" in line for line in lines)
    start = lines.index(next(line for line in lines if line.startswith("NAME ")))
    tables = "\n".join(lines[start:]).split("\n\n")
    assert tables[0].splitlines()[1].split()[:3] == ["InferenceSet/phi-4-mini", "1", "1"]
    report = tables[1].splitlines()
    assert report[0].startswith(f"load {SAMPLE} on phi-4-mini (seed 7, 1 req/s per replica)")
    assert report[1].split() == ["TIME", "REQ/S", "WAITING", "REPLICAS", "READY", "EVENT"]
    assert report[-1].startswith("requests: ")
    assert " 0 dropped; peak " in report[-1]
    assert report[-1].endswith("4 replicas; 7 rescale(s)")


def test_the_same_profile_gives_the_same_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Byte-identical output for the same inputs and seed; the JSON carries the figures."""
    outputs = []
    for _ in range(2):
        assert main(["up", "-o", "json", "--quiet", EXAMPLE, "--load", SAMPLE]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    load = json.loads(outputs[0])["load"]
    assert (load["target"], load["seed"], load["peakReplicas"], load["dropped"]) == (
        "phi-4-mini",
        7,
        4,
        0,
    )
    assert load["requests"] == load["served"] > 0
    assert load["problems"] == []
    assert [e["replicas"] for e in load["events"] if e["event"].startswith("autoscaler")] == [
        "1",
        "2",
        "3",
        "4",
        "3",
        "2",
        "1",
    ]


@pytest.mark.parametrize(
    ("rate", "settled"), [(0.5, 1), (6.0, 4)], ids=["below-one-replica", "beyond-four"]
)
def test_a_constant_load_settles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rate: float, settled: int
) -> None:
    """A constant load one replica can serve settles at the minimum; one beyond the maximum's
    capacity rises to the maximum and stays there while it lasts. (In between, a queue-depth
    metric reads 0 whenever capacity suffices, so replicas alternate between the two counts
    around the load: docs/inferenceset.md, the model's limits.)"""
    path = _profile(
        tmp_path,
        {"target": "phi-4-mini", "serviceRate": 1, "phases": [{"duration": "30m", "rate": rate}]},
    )
    argv = ["up", "-o", "json", "--quiet", "--timeout", "240", EXAMPLE, "--load", path]
    assert main(argv) == 0
    load = json.loads(capsys.readouterr().out)["load"]
    (ended,) = [e["time"] for e in load["events"] if e["event"].startswith("load ends")]
    during = [
        int(e["replicas"])
        for e in load["events"]
        if e["event"].startswith("autoscaler") and e["time"] <= ended
    ]
    assert during[0] == 1, "no load yet: down to the minimum first"
    assert during[1:] == sorted(during[1:]), "then only up while the load lasts"
    assert during[-1] == settled


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (
            {"phases": [{"duration": "1m", "rate": -2}], "serviceRate": "fast"},
            [
                "serviceRate: must be a number above 0 and at most 10000",
                "phases[0].rate: must be a number from 0 to 100000 (requests/s)",
            ],
        ),
        (
            {"target": "other", "phases": [{"duration": "1m", "rate": 1}]},
            ["target: no InferenceSet named 'other' in the input"],
        ),
    ],
    ids=["problems", "unknown-target"],
)
def test_a_bad_profile_is_refused_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: Any, lines: list[str]
) -> None:
    path = _profile(tmp_path, body)
    assert main(["up", EXAMPLE, "--load", path]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{path}: {line}" for line in lines]


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (None, 2, "No such file or directory"),
        ("phases: [\n", 2, "error:"),
        ("- just\n- a list\n", 1, "a load profile is a mapping"),
    ],
    ids=["missing", "not-yaml", "not-a-mapping"],
)
def test_an_unreadable_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str | None, code: int, fragment: str
) -> None:
    """Exit 2 when the file cannot be read as YAML, 1 when it is not a profile; one line."""
    path = str(tmp_path / "missing.yaml") if body is None else _profile(tmp_path, body)
    assert main(["up", EXAMPLE, "--load", path]) == code
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"{path}: ")
    assert fragment in err[0]


def test_a_load_needs_something_to_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only Workspaces in the input: nothing has a scale subresource."""
    path = _profile(tmp_path, {"phases": [{"duration": "1m", "rate": 1}]})
    assert main(["up", WORKSPACE, "--load", path]) == 1
    assert capsys.readouterr().err.strip() == (
        f"{path}: the input has no object with a scale subresource (an InferenceSet)"
    )


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ("5", "the load never started: phi-4-mini had no Ready replica"),
        ("20", "the load and the autoscaler did not settle within the timeout"),
    ],
    ids=["before-the-first-replica", "backlog"],
)
def test_a_load_that_does_not_settle_in_time_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], minutes: str, message: str
) -> None:
    """``--timeout`` counts from the start until the load starts, then from the profile's end:
    a replica that is not Ready in time, or a backlog beyond the maximum's capacity that
    outlasts it, is exit 1, saying which, with the tables as they stood."""
    path = _profile(
        tmp_path,
        {"target": "phi-4-mini", "serviceRate": 1, "phases": [{"duration": "30m", "rate": 6}]},
    )
    assert main(["up", "--quiet", "--timeout", minutes, EXAMPLE, "--load", path]) == 1
    captured = capsys.readouterr()
    assert "requests: " in captured.out
    assert captured.err.splitlines()[-1] == f"error: load: {message}"


def test_without_autoscaling_annotations_the_load_only_queues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An InferenceSet that asks for no ScaledObject keeps its replicas; the load is served."""
    body = yaml.safe_load(Path(EXAMPLE).read_text())
    del body["metadata"]["annotations"]
    plain = _profile(tmp_path, body, "set.yaml")
    path = _profile(tmp_path, {"phases": [{"duration": "10m", "rate": 1.5}]})
    assert main(["up", "-o", "json", "--quiet", plain, "--load", path]) == 0
    load = json.loads(capsys.readouterr().out)["load"]
    assert load["rescales"] == 0
    assert load["requests"] == load["served"] > 0


def test_api_faults_do_not_change_the_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    """``--faults``: conflicts, throttling and dropped watches hit the engine and the
    autoscaler's writes alike; every request is still served and the replicas rise and fall."""
    assert main(["up", "-o", "json", "--quiet", "--faults", "2", EXAMPLE, "--load", SAMPLE]) == 0
    load = json.loads(capsys.readouterr().out)["load"]
    assert (load["dropped"], load["peakReplicas"], load["problems"]) == (0, 4, [])
    assert load["requests"] == load["served"] > 0
    assert load["events"][-1]["replicas"] == "1"
