"""The InferenceSet replica-planning benchmark runs (smoke sizes) and plans what it says."""

from __future__ import annotations

import pytest

from benchmarks.inferenceset_micro import measure
from benchmarks.run import main


def test_each_case_plans_its_work() -> None:
    """create applies N, steady nothing, rolling deletes 25% (at least 1), scale-down N."""
    results = {r["case"]: r for r in measure([8], rounds=2)}
    assert (results["create"]["apply"], results["create"]["delete"]) == (8, 0)
    assert (results["steady"]["apply"], results["steady"]["delete"]) == (0, 0)
    assert (results["rolling"]["apply"], results["rolling"]["delete"]) == (0, 2)
    assert (results["scale-down"]["apply"], results["scale-down"]["delete"]) == (0, 8)
    assert all(r["p50_us"] > 0 for r in results.values())


def test_the_run_mode_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """python -m benchmarks.run --inferenceset --smoke prints one row per case and size."""
    assert main(["--inferenceset", "--smoke"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["case", "replicas"]
    assert sum(1 for line in out.splitlines() if line.startswith("rolling")) == 2
