"""InferenceSet replica-planning microbenchmark: ``python -m benchmarks.run --inferenceset``
(or ``python -m benchmarks.inferenceset_micro [--sizes 1,10,100,500] [--rounds N]``).

Times `kaito_core.inferenceset.plan_inferenceset`, pure, on four observed states of an
InferenceSet of N replicas (phi-4-mini on A100, RollingUpdate with ``maxUnavailable: 25%``):

- **create**: nothing observed (the first reconcile: N replicas to create);
- **steady**: N current, ready replicas (the resync: nothing to do);
- **rolling**: N ready replicas of an older template (a rolling update's first step);
- **scale-down**: 2N ready replicas (the surplus to delete).

Each case is planned `rounds` times; the table gives the p50, p99 and minimum latency per call,
and the minimum per replica (the planner is linear in the replicas it sees; on a shared machine
the minimum is the steadiest figure). No I/O, no event loop: only
the pure planner, with CPython's GC thresholds raised as in ``benchmarks.run``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence
from typing import Any

NOW = "2026-01-01T00:00:00Z"


def _set(replicas: int) -> Any:
    from kaito_core.api import InferenceSet

    return InferenceSet.from_manifest(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "InferenceSet",
            "metadata": {"name": "bench", "namespace": "default", "uid": "u-1"},
            "spec": {
                "replicas": replicas,
                "labelSelector": {"matchLabels": {"apps": "bench"}},
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%"},
                },
                "template": {
                    "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
                    "inference": {"preset": {"name": "phi-4-mini-instruct"}},
                },
            },
        }
    )


def _replicas(iset: Any, count: int, *, outdated: bool) -> tuple[dict[str, Any], ...]:
    from kaito_core.inferenceset.plan import replica_manifest

    defaulted = iset.with_defaults()
    out = []
    for slot in range(count):
        child = replica_manifest(defaulted, slot=slot)
        if outdated:
            child["metadata"]["labels"]["inferenceset.kaito.sh/template-hash"] = "0000000000"
        child["status"] = {
            "conditions": [
                {
                    "type": "WorkspaceSucceeded",
                    "status": "True",
                    "reason": "workspaceSucceeded",
                    "message": "workspace succeeds",
                    "lastTransitionTime": NOW,
                }
            ],
            "targetNodeCount": 1,
        }
        out.append(child)
    return tuple(out)


def cases(n: int) -> dict[str, tuple[Any, Any]]:
    """(InferenceSet, Observed) of each case for `n` replicas."""
    from kaito_core.observed import Observed

    iset = _set(n)
    return {
        "create": (iset, Observed()),
        "steady": (iset, Observed(objects=_replicas(iset, n, outdated=False))),
        "rolling": (iset, Observed(objects=_replicas(iset, n, outdated=True))),
        "scale-down": (iset, Observed(objects=_replicas(iset, 2 * n, outdated=False))),
    }


def measure(sizes: Sequence[int], rounds: int) -> list[dict[str, Any]]:
    """p50/p99 latency (µs) of `plan_inferenceset` per case and size."""
    from kaito_core.inferenceset import plan_inferenceset
    from kaito_presets import default_catalog

    catalog = default_catalog()
    results = []
    for n in sizes:
        for label, (iset, observed) in cases(n).items():
            plan_inferenceset(iset, observed=observed, catalog=catalog, now=NOW)  # warm up
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter_ns()
                outcome = plan_inferenceset(iset, observed=observed, catalog=catalog, now=NOW)
                times.append((time.perf_counter_ns() - t0) / 1000)
            times.sort()
            p50 = statistics.median(times)
            results.append(
                {
                    "case": label,
                    "replicas": n,
                    "p50_us": p50,
                    "p99_us": times[min(len(times) - 1, int(len(times) * 0.99))],
                    "min_us": times[0],
                    "min_us_per_replica": times[0] / max(n, 1),
                    "apply": len(outcome.apply),
                    "delete": len(outcome.delete),
                }
            )
    return results


def table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"{'case':<12}{'replicas':>9}{'p50 µs':>11}{'p99 µs':>11}{'min µs':>11}"
        f"{'min µs/replica':>16}{'apply':>7}{'delete':>8}"
    ]
    for r in results:
        lines.append(
            f"{r['case']:<12}{r['replicas']:>9}{r['p50_us']:>11.0f}{r['p99_us']:>11.0f}"
            f"{r['min_us']:>11.0f}{r['min_us_per_replica']:>16.1f}{r['apply']:>7}{r['delete']:>8}"
        )
    return "\n".join(lines)


def run(sizes: Sequence[int], rounds: int) -> str:
    """The table for `sizes`, GC thresholds raised while measuring."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        return table(measure(sizes, rounds))
    finally:
        gc.set_threshold(*thresholds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.inferenceset_micro", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="1,10,100,500", help="comma-separated replica counts")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(run(sizes, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
