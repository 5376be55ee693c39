"""``kaito up --faults SEED``: the summary of what was injected and what was recovered from.

After the result table, ``kaito up --faults`` prints one row per fault it injects (conflicts,
throttled requests, server errors, dropped and expired watches, refused machine launches; pod
faults when any struck) with how many struck and how many the engine got past, then one line per
fault it did not get past (an Event it dropped: Events are best effort) and a closing verdict
(`kaito_backends.fake.recovery.fault_report`). ``-o json`` has the same under ``faults``.
"""

from __future__ import annotations

from typing import Any

from kaito_backends.cli.output import table
from kaito_backends.fake import FakeCluster
from kaito_backends.fake.faults import FiredFault
from kaito_backends.fake.recovery import FAULT_LABELS, fault_report

__all__ = ["fault_json", "fault_summary"]


def _where(fired: FiredFault) -> str:
    verb = f"{fired.verb} " if fired.verb else ""
    name = f" {fired.name}" if fired.name else ""
    text = f"{FAULT_LABELS[fired.fault]}: {verb}{fired.kind}{name}"
    if fired.kind == "Event":
        text += " (Events are best effort: the engine dropped this one)"
    return text


def fault_summary(cluster: FakeCluster, seed: int) -> str:
    """The table and closing lines ``kaito up --faults SEED`` prints."""
    report = fault_report(cluster)
    rows = [(t.label, t.injected, t.recovered) for t in report.tallies]
    lines = [f"faults injected (--faults {seed}):", table(("FAULT", "INJECTED", "RECOVERED"), rows)]
    lines += [f"not recovered from: {_where(fired)}" for fired in report.unrecovered]
    if report.unrecovered:
        lines.append(
            f"{len(report.unrecovered)} of {report.injected} injected faults were not "
            "recovered from"
        )
    else:
        lines.append(f"all {report.injected} injected faults were recovered from")
    return "\n".join(lines)


def fault_json(cluster: FakeCluster, seed: int) -> dict[str, Any]:
    """The same as JSON: the seed, totals, per fault ``injected`` and ``recovered``, and the
    faults not recovered from."""
    report = fault_report(cluster)
    return {
        "seed": seed,
        "injected": report.injected,
        "recovered": report.recovered,
        "byFault": {
            t.fault: {"injected": t.injected, "recovered": t.recovered} for t in report.tallies
        },
        "notRecovered": [_where(fired) for fired in report.unrecovered],
    }
