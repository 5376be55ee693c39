"""plan() microbenchmark: ``python -m benchmarks.plan_micro [N] [--profile]``.

Converges N Workspaces (default 1,000) on the fake cluster, then times `kaito_core.plan.plan`
on every one of them, on an empty cluster (the first reconcile) and on the converged observed
state, several rounds each. ``--profile`` prints a cProfile of the timed calls instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from typing import Any


async def _collect(n: int) -> tuple[list[Any], list[Any], Any]:
    import structlog

    from benchmarks.run import _workspace
    from kaito_backends.engine.controller import Controller
    from kaito_backends.engine.logs import configure_logging
    from kaito_backends.fake import FakeCluster
    from kaito_backends.objects import WorkspaceKey
    from kaito_core.api import Workspace

    previous = structlog.get_config()
    configure_logging(format="json", level="error")
    try:
        cluster = FakeCluster()
        for i in range(n):
            cluster.store.create(_workspace(i))
        controller = Controller(
            cluster.client(), cluster.provisioner(), clock=cluster.clock, workers=4
        )
        pairs = []
        async with controller:
            await controller.run_until_settled(6 * 3600)
            for i in range(n):
                ws = _workspace(i)
                k = WorkspaceKey(ws["metadata"]["namespace"], ws["metadata"]["name"])
                manifest = controller.informer("Workspace").get(k.namespace, k.name)
                assert manifest is not None
                observed = await controller.observer.observe(k, manifest)
                pairs.append((Workspace.from_manifest(manifest), observed))
        fresh = [Workspace.from_manifest(_workspace(i)) for i in range(n)]
        return fresh, pairs, cluster.catalog
    finally:
        structlog.configure(**previous)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    gc.set_threshold(100_000, 50, 100)

    from kaito_core.observed import Observed
    from kaito_core.plan import PlanSettings, plan

    fresh, pairs, catalog = asyncio.run(_collect(args.n))
    settings = PlanSettings(provisioner="fake")
    empty = Observed()
    cases = {
        "empty": [(ws, empty, "2026-01-01T00:00:00Z") for ws in fresh],
        "converged": [(ws, obs, "2026-01-01T01:00:00Z") for ws, obs in pairs],
    }
    for label, calls in cases.items():
        profiler = cProfile.Profile() if args.profile else None
        times = []
        for _ in range(args.rounds):
            for ws, observed, now in calls:
                if profiler:
                    profiler.enable()
                t0 = time.perf_counter_ns()
                plan(ws, observed=observed, catalog=catalog, now=now, settings=settings)
                times.append((time.perf_counter_ns() - t0) / 1000.0)
                if profiler:
                    profiler.disable()
        times.sort()
        print(
            f"plan() {label:<10} p50 {statistics.median(times):7.0f} µs   "
            f"p99 {times[int(0.99 * (len(times) - 1))]:7.0f} µs   "
            f"mean {statistics.mean(times):7.0f} µs"
        )
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(35)
            stats.sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
