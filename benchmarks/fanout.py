"""Watch fan-out of the fake API server: creates per second with W watches open.

``python -m benchmarks.run --fanout`` (see `benchmarks.run`) runs, for each watch count W
(``--watches 0,200``): a fresh ``FakeApiServer`` (no engine) in a child process on loopback;
W watch streams on the ConfigMaps of one namespace (each reads raw chunks and counts event
lines, no JSON decoding, so the client costs little); then N ConfigMap creates (``--creates``)
from C concurrent connections (``--concurrency``). It reports creates per second, the create
latency (p50, p99), and how long after the last create the slowest watch had seen every event
(``drain``). Every watch must see all N events, or the run fails.

The server runs in its own process, as ``kaito fake-apiserver`` does, so the load generator does
not compete with it for the event loop (it does for the machine's cores). Because wall-clock
rates on a shared machine vary by 2-3x from run to run, the run also reads the server process's
CPU time (user + system, ``/proc/<pid>/stat``) from the first create until every watch has every
event: ``cpu µs/create`` and its inverse, ``capacity`` (creates per CPU-second), measure what the
server spends regardless of what else runs. The target is checked on capacity.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["TARGET_RATIO", "fanout", "serve", "table", "verdict"]

#: With 200 watches the server must keep at least this share of its no-watch create rate.
TARGET_RATIO = 0.5
_NAMESPACE = "bench"


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _serve() -> None:
    from kaito_backends.apiserver import FakeApiServer

    async with FakeApiServer(port=0, engine=False, speed=1.0) as server:
        print(server.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def serve() -> None:
    """The child process: serve until standard input closes."""
    asyncio.run(_serve())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _watch(session: Any, url: str, version: str, want: int, seen: list[float]) -> int:
    lines = 0
    path = f"{url}/api/v1/namespaces/{_NAMESPACE}/configmaps"
    params = {"watch": "true", "resourceVersion": version}
    async with session.get(path, params=params) as resp:
        assert resp.status == 200, resp.status
        async for chunk in resp.content.iter_any():
            lines += chunk.count(b"\n")
            if lines >= want:
                seen.append(time.perf_counter())
                return lines
    return lines


async def _create(session: Any, url: str, names: list[str], latencies: list[float]) -> None:
    path = f"{url}/api/v1/namespaces/{_NAMESPACE}/configmaps"
    for name in names:
        body = json.dumps({"metadata": {"name": name}, "data": {"key": "value " * 20}})
        started = time.perf_counter()
        async with session.post(
            path, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            await resp.read()
            assert resp.status == 201, resp.status
        latencies.append(time.perf_counter() - started)


async def _measure(
    url: str, watches: int, creates: int, concurrency: int, pid: int
) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=watches + concurrency + 4)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.post(
            f"{url}/api/v1/namespaces",
            json={"metadata": {"name": _NAMESPACE}},
        ) as resp:
            assert resp.status in (201, 409), resp.status
        async with session.get(f"{url}/api/v1/namespaces/{_NAMESPACE}/configmaps") as resp:
            version = (await resp.json())["metadata"]["resourceVersion"]
        seen: list[float] = []
        readers = [
            asyncio.create_task(_watch(session, url, version, creates, seen))
            for _ in range(watches)
        ]
        await asyncio.sleep(0.5 + watches / 200)  # let every watch open
        names = [f"cm-{i:06d}" for i in range(creates)]
        latencies: list[float] = []
        cpu_before = _cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(
            *(_create(session, url, names[i::concurrency], latencies) for i in range(concurrency))
        )
        wall = time.perf_counter() - started
        counts = await asyncio.wait_for(asyncio.gather(*readers), timeout=300)
        cpu = max(_cpu_seconds(pid) - cpu_before, 1e-9)
        drained = (max(seen) - started - wall) if seen else 0.0
    if any(count < creates for count in counts):
        raise RuntimeError(f"a watch missed events: {sorted(set(counts))}")
    return {
        "watches": watches,
        "creates": creates,
        "concurrency": concurrency,
        "wall_s": wall,
        "creates_per_s": creates / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "drain_s": max(0.0, drained),
        "cpu_us_per_create": cpu * 1e6 / creates,
        "capacity": creates / cpu,
    }


def fanout(watches: int, *, creates: int = 5000, concurrency: int = 16) -> dict[str, Any]:
    """One run with ``watches`` watches open, against a fresh server process."""
    child = subprocess.Popen(
        [sys.executable, "-c", "from benchmarks.fanout import serve; serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the fake API server did not start")
        return asyncio.run(_measure(url, watches, creates, concurrency, child.pid))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def table(results: list[dict[str, Any]]) -> str:
    """The results as the table `benchmarks.run` prints."""
    from kaito_backends.cli.output import table as render

    rows: list[list[object]] = [
        [
            f"{r['watches']}",
            f"{r['creates']:,}",
            f"{r['concurrency']}",
            f"{r['wall_s']:.2f}",
            f"{r['creates_per_s']:,.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r['drain_s']:.2f}",
            f"{r['cpu_us_per_create']:.0f}",
            f"{r['capacity']:,.0f}",
        ]
        for r in results
    ]
    head = [
        "watches",
        "creates",
        "clients",
        "wall s",
        "creates/s",
        "p50 ms",
        "p99 ms",
        "drain s",
        "cpu us/create",
        "capacity",
    ]
    return render(head, rows)


def verdict(results: list[dict[str, Any]]) -> list[str]:
    """Whether the most-watched runs kept `TARGET_RATIO` of the no-watch capacity (creates per
    CPU-second of the server; runs with the same watch count are averaged)."""
    by_watches: dict[int, list[float]] = {}
    rates: dict[int, list[float]] = {}
    for r in results:
        by_watches.setdefault(r["watches"], []).append(r["capacity"])
        rates.setdefault(r["watches"], []).append(r["creates_per_s"])
    most = max(by_watches)
    if 0 not in by_watches or most == 0:
        return []
    base, loaded = statistics.mean(by_watches[0]), statistics.mean(by_watches[most])
    ratio = loaded / base
    wall = statistics.mean(rates[most]) / statistics.mean(rates[0])
    ok = ratio >= TARGET_RATIO
    return [
        f"{most} watches keep >= half the no-watch capacity: {'met' if ok else 'NOT met'} "
        f"({ratio:.2f}x: {loaded:,.0f} vs {base:,.0f} creates per server CPU-second; "
        f"wall-clock rate {wall:.2f}x)"
    ]
