"""``kaito up --faults SEED`` ends with what was injected and what was recovered from, and shows
a capacity refusal's whole message."""

from __future__ import annotations

import json

import pytest

from kaito_backends.cli import main
from tests.conftest import EXAMPLES

PHI3 = str(EXAMPLES / "workspace-phi-3-mini.yaml")
TUNING = str(EXAMPLES / "workspace-tuning-phi-3.yaml")
ROWS = (
    "conflicts (409)",
    "throttled requests (429)",
    "server errors (500)",
    "dropped watches",
    "expired watches (410)",
    "refused machine launches",
)


def _summary(out: str) -> list[str]:
    lines = out.splitlines()
    return lines[lines.index("faults injected (--faults 5):") :]


def test_the_summary_counts_each_fault(capsys: pytest.CaptureFixture[str]) -> None:
    """A row per fault with counts that add up, then the verdict, after the result table."""
    assert main(["up", "--quiet", "--faults", "5", PHI3, TUNING]) == 0
    summary = _summary(capsys.readouterr().out)
    assert summary[1].split() == ["FAULT", "INJECTED", "RECOVERED"]
    rows = {line.rsplit(None, 2)[0]: line.rsplit(None, 2)[1:] for line in summary[2:8]}
    assert tuple(rows) == ROWS
    injected = sum(int(i) for i, _ in rows.values())
    recovered = sum(int(r) for _, r in rows.values())
    assert injected > 0
    assert int(rows["refused machine launches"][0]) > 0, "seed 5 refuses launches"
    missed = [line for line in summary if line.startswith("not recovered from: ")]
    assert len(missed) == injected - recovered
    assert all("Event" in line and "best effort" in line for line in missed)
    verdict = summary[-1]
    if missed:
        assert verdict == f"{len(missed)} of {injected} injected faults were not recovered from"
    else:
        assert verdict == f"all {injected} injected faults were recovered from"


def test_the_json_output_carries_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "-o", "json", "--faults", "5", PHI3, TUNING]) == 0
    faults = json.loads(capsys.readouterr().out)["faults"]
    assert faults["seed"] == 5
    assert set(faults["byFault"]) == {
        "conflict",
        "throttle",
        "server_error",
        "watch_drop",
        "watch_gone",
        "launch_failure",
    }
    assert faults["injected"] == sum(f["injected"] for f in faults["byFault"].values())
    assert faults["recovered"] == sum(f["recovered"] for f in faults["byFault"].values())
    assert len(faults["notRecovered"]) == faults["injected"] - faults["recovered"]


def test_no_summary_without_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--quiet", PHI3]) == 0
    assert "faults injected" not in capsys.readouterr().out


def test_a_quota_refusal_is_shown_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """The end of Azure's text says how much quota to ask for and where: never cut off."""
    assert main(["up", "--faults", "5", PHI3, TUNING]) == 0
    refusals = [
        line
        for line in capsys.readouterr().out.splitlines()
        if "not Launched: creating instance: insufficient capacity" in line
    ]
    assert refusals
    for line in refusals:
        assert "Submit a request for Quota increase at https://aka.ms/ProdportalCRP" in line
        assert "..." not in line
        assert "\u2026" not in line
