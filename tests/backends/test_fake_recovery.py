"""`fault_report`: what the fault plan injected into the fake cluster and what was recovered from,
fault by fault, as ``kaito up --faults`` prints it."""

from __future__ import annotations

import pytest

from kaito_backends.errors import Conflict, Gone, InsufficientCapacity, Transient
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.fake.recovery import fault_report
from kaito_backends.objects import WorkspaceKey
from tests.backends import manifests as m

KEY = WorkspaceKey(m.NS, "ws")


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": m.NS}}


def _tally(cluster: FakeCluster, fault: str) -> tuple[int, int]:
    (found,) = [t for t in fault_report(cluster).tallies if t.fault == fault]
    return found.injected, found.recovered


def test_nothing_injected_is_an_empty_report() -> None:
    report = fault_report(FakeCluster())
    assert (report.injected, report.recovered, report.unrecovered) == (0, 0, ())
    assert [t.fault for t in report.tallies] == [
        "conflict",
        "throttle",
        "server_error",
        "watch_drop",
        "watch_gone",
        "launch_failure",
    ]


@pytest.mark.parametrize(
    ("fault", "error"),
    [("conflict", Conflict), ("throttle", Transient), ("server_error", Transient)],
    ids=["conflict", "throttle", "server-error"],
)
async def test_an_api_fault_is_recovered_when_the_same_call_later_succeeds(
    fault: str, error: type[Exception]
) -> None:
    cluster = FakeCluster(faults=FaultPlan.once(fault, verb="apply", kind="ConfigMap"))  # type: ignore[arg-type]
    client = cluster.client()
    await client.create(_cm("a"))
    with pytest.raises(error):
        await client.apply(_cm("a"))
    await client.apply(_cm("b"))  # another object: not a retry of the failed call
    assert _tally(cluster, fault) == (1, 0)
    assert [f.name for f in fault_report(cluster).unrecovered] == ["a"]
    await client.apply(_cm("a"))
    assert _tally(cluster, fault) == (1, 1)
    assert fault_report(cluster).unrecovered == ()


@pytest.mark.parametrize("fault", ["watch_drop", "watch_gone"])
async def test_a_broken_watch_is_recovered_when_the_kind_is_watched_again(fault: str) -> None:
    cluster = FakeCluster(faults=FaultPlan.once(fault, kind="ConfigMap"))  # type: ignore[arg-type]
    client = cluster.client()
    watch = client.watch("v1", "ConfigMap", namespace=m.NS)
    await client.create(_cm("a"))
    with pytest.raises((StopAsyncIteration, Gone)):
        await watch.__anext__()
    assert _tally(cluster, fault) == (1, 0)
    again = client.watch("v1", "ConfigMap", namespace=m.NS)
    assert _tally(cluster, fault) == (1, 1)
    await again.aclose()  # type: ignore[attr-defined]


async def test_a_refused_launch_is_recovered_once_the_claim_launches() -> None:
    """Refused, deleted by the fake as Karpenter would, asked for again, launched."""
    cluster = FakeCluster(faults=FaultPlan.once("launch_failure"))
    nodes = cluster.provisioner()
    claim = m.node_claim("ws-0")
    with pytest.raises(InsufficientCapacity):
        await nodes.provision(KEY, [claim])
    timings = cluster.timings
    await cluster.advance(timings.launch + 1)
    assert _tally(cluster, "launch_failure") == (1, 0)
    await cluster.advance(timings.failed_claim_ttl + timings.terminate + 1)
    assert await nodes.observe(KEY) == ()
    await nodes.provision(KEY, [claim])
    await cluster.settle()
    assert _tally(cluster, "launch_failure") == (1, 1)
