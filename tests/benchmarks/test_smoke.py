"""The benchmark runs (smoke sizes): it converges, and a resync of converged Workspaces writes 0."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.run import converge, main


def test_converge_and_resync_smoke() -> None:
    """Every Workspace converges; the resync reconciles each once and writes nothing."""
    result = asyncio.run(converge(12, plan_samples=12))
    assert result["settled"]
    assert result["succeeded"] == 12
    assert result["resync_reconciles"] == 12
    assert result["resync_writes"] == 0
    assert result["writes_per_ws"] > 0
    assert result["plan_fresh_p50_us"] > 0


def test_the_smoke_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "converge 24" in out
    assert "resync 24" in out
    assert "writes=0" in out
    assert "plan() converged" in out


def test_the_fanout_smoke_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The watch fan-out mode starts a server process, opens watches, creates, and reports."""
    assert main(["--fanout", "--smoke"]) == 0
    out = capsys.readouterr().out
    assert "CREATES/S" in out
    assert "capacity" in out
