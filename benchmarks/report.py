"""The tables `benchmarks.realcluster` prints from its `benchmarks.workload.Stage` list.

`summary` has one row per stage: Workspaces, seconds until Ready, the controller's requests and
writes per Workspace added while converging (Lease requests aside), its requests and writes over
the steady-state window, Lease requests, resident memory and the load average. `requests` has
one row per verb and resource: converging (total and per Workspace added) and in the
steady-state window, for each stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.audit import BOOKKEEPING, requests, writes
from benchmarks.workload import Stage

__all__ = ["requests_table", "summary_table"]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _per(count: int, added: int) -> str:
    return f"{count / added:.2f}" if added else "-"


def summary_table(stages: Sequence[Stage]) -> str:
    """One row per stage (see the module docstring)."""
    from kaito_backends.cli.output import table

    rows: list[list[object]] = []
    for stage in stages:
        load = f"{stage['load'][0]:.1f}"
        if stage["stage"] == "start":
            rows.append(
                [
                    "start (idle)",
                    0,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    _mib(stage["rss_kib"]),
                    _mib(stage["peak_kib"]),
                    load,
                ]
            )
            continue
        added, converge, steady = stage["added"], stage["converge"], stage["steady"]
        window = steady["requests"]
        rows.append(
            [
                f"converge {stage['stage']}",
                stage["size"],
                f"{stage['ready_s']:.0f}",
                _per(requests(converge), added),
                _per(writes(converge), added),
                f"{steady['window_s']:.0f} s",
                requests(window),
                writes(window),
                requests(converge, bookkeeping=True) + requests(window, bookkeeping=True),
                _mib(steady["rss_kib"]),
                _mib(steady["peak_kib"]),
                f"{load} / {steady['load'][0]:.1f}",
            ]
        )
    head = [
        "stage",
        "workspaces",
        "ready s",
        "requests/ws",
        "writes/ws",
        "steady window",
        "steady requests",
        "steady writes",
        "lease requests",
        "rss mib",
        "peak rss mib",
        "load 1m",
    ]
    return table(head, rows)


def requests_table(stages: Sequence[Stage]) -> str:
    """Requests by verb and resource, per stage (see the module docstring)."""
    from kaito_backends.cli.output import table

    measured = [s for s in stages if s["stage"] != "start"]
    keys: set[str] = set()
    for stage in measured:
        keys |= set(stage["converge"]) | set(stage["steady"]["requests"])
    rows: list[list[object]] = []
    for key in sorted(
        keys, key=lambda k: (k.split(" ", 1)[1] in BOOKKEEPING, k.split(" ", 1)[1], k)
    ):
        verb, resource = key.split(" ", 1)
        row: list[Any] = [verb, resource]
        for stage in measured:
            n = stage["converge"].get(key, 0)
            row += [n, _per(n, stage["added"]), stage["steady"]["requests"].get(key, 0)]
        rows.append(row)
    head = ["verb", "resource"]
    for stage in measured:
        head += [
            f"converge {stage['stage']}",
            "per ws",
            f"steady {stage['steady']['window_s']:.0f} s at {stage['size']}",
        ]
    return table(head, rows)
