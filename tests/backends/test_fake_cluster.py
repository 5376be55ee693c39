"""FakeCluster as a whole: counters and recorded calls, driving time, working with tasks, scale."""

from __future__ import annotations

import asyncio
import time

import pytest

from kaito_backends.fake import FakeCluster, FaultPlan, Timings
from kaito_backends.objects import ObjectRef, WorkspaceKey
from kaito_backends.protocols import WatchEvent
from tests.backends import manifests as m

WS = {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": m.NS}


async def test_calls_are_counted_per_verb_and_kind() -> None:
    """counters[(verb, kind)], calls in order, reads/writes totals; reset_counters clears them."""
    cluster = m.cluster()
    client = cluster.client()
    await client.apply(m.statefulset("ws"))
    await client.get(ObjectRef("apps/v1", "StatefulSet", "ws", m.NS))
    await client.list("v1", "Pod", namespace=m.NS)
    await cluster.provisioner().observe(WorkspaceKey(m.NS, "ws"))
    cluster.run_until_idle(60)
    assert cluster.counters == {
        ("apply", "StatefulSet"): 1,
        ("get", "StatefulSet"): 1,
        ("list", "Pod"): 1,
        ("observe", "NodeClaim"): 1,
    }
    assert (cluster.reads, cluster.writes) == (3, 1)
    first = cluster.calls[0]
    assert (first.verb, first.kind, first.namespace, first.name, first.at) == (
        "apply",
        "StatefulSet",
        m.NS,
        "ws",
        0.0,
    )
    cluster.reset_counters()
    assert cluster.counters == {}
    assert cluster.calls == []


async def test_failed_calls_are_counted_too() -> None:
    """A call that a fault failed was still made."""
    cluster = m.cluster(faults=FaultPlan.once("server_error"))
    with pytest.raises(Exception, match="500"):
        await cluster.client().list("v1", "Pod")
    assert cluster.counters[("list", "Pod")] == 1


async def test_simulated_controllers_do_not_count_as_calls() -> None:
    """Only client and provisioner calls are recorded, not the fake's own writes."""
    cluster = m.cluster()
    cluster.add_node("n1", instance_type=m.A100, labels=WS)
    await cluster.client().apply(m.statefulset("ws"))
    cluster.run_until_idle()
    assert sum(cluster.counters.values()) == 1


async def test_step_and_run_until_idle() -> None:
    """step() jumps to the next timer; run_until_idle stops when idle or at the time limit."""
    cluster = m.cluster()
    assert cluster.step() is False
    await cluster.provisioner().provision(WorkspaceKey(m.NS, "ws"), [m.node_claim("wsnode")])
    assert cluster.step() is True
    assert cluster.run_until_idle() is True
    assert cluster.clock.monotonic() == 410.0  # the model: 284 s provisioning + 126 s init
    crashing = FakeCluster(catalog=cluster.catalog, faults=FaultPlan.once("crashloop"))
    crashing.add_node("n1", instance_type=m.A100, labels=WS)
    await crashing.client().apply(m.statefulset("ws"))
    assert crashing.run_until_idle(600) is False
    assert crashing.clock.monotonic() == 600.0


async def test_advance_lets_a_watching_task_keep_up() -> None:
    """await cluster.advance(s) yields between timers, so a consumer sees every pod change."""
    cluster = m.cluster(timings=Timings(image_pull=30, load=40, warm_up=0))
    client = cluster.client()
    cluster.add_node("n1", instance_type=m.A100, labels=WS)
    seen: list[tuple[float, str]] = []

    async def consume() -> None:
        async for event in client.watch("v1", "Pod", namespace=m.NS):
            seen.append((cluster.clock.monotonic(), _summary(event)))

    task = asyncio.create_task(consume())
    await client.apply(m.statefulset("ws"))
    await cluster.advance(100)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [s for _, s in seen][-1] == "Running/ready"
    assert [t for t, s in seen if s == "Running/ready"] == [70.0]
    assert await cluster.settle() is True


def _summary(event: WatchEvent) -> str:
    status = event.object.get("status") or {}
    ready = any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or ()
    )
    return f"{status.get('phase')}/{'ready' if ready else 'not-ready'}"


async def _workspaces(cluster: FakeCluster, count: int) -> None:
    client, provisioner = cluster.client(), cluster.provisioner()
    for i in range(count):
        name = f"ws{i}"
        ws = await client.create(
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "Workspace",
                "metadata": {"name": name, "namespace": m.NS},
            }
        )
        owner = [
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "Workspace",
                "name": name,
                "uid": ws["metadata"]["uid"],
                "controller": True,
            }
        ]
        await provisioner.provision(
            WorkspaceKey(m.NS, name), [m.node_claim(f"ws{i:09x}", workspace=name)]
        )
        sts = m.statefulset(name)
        sts["metadata"]["ownerReferences"] = owner
        await client.apply(sts)
        for svc in (name, f"{name}-headless"):
            await client.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": svc, "namespace": m.NS, "ownerReferences": owner},
                    "spec": {"ports": [{"port": 80}]},
                }
            )
        await client.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {"name": f"{name}-1", "namespace": m.NS, "ownerReferences": owner},
                "revision": 1,
                "data": {},
            }
        )


async def _scale(count: int, budget: float) -> None:
    cluster = m.cluster()
    started = time.perf_counter()
    await _workspaces(cluster, count)
    assert cluster.run_until_idle() is True
    ready = [p for p in cluster.store.select("v1", "Pod") if p["status"]["phase"] == "Running"]
    assert len(ready) == count
    listed = await cluster.client().list(
        "v1", "Pod", namespace=m.NS, labels={"kaito.sh/workspace": f"ws{count - 1}"}
    )
    assert len(listed.items) == 1
    assert time.perf_counter() - started < budget


async def test_a_thousand_workspaces_run_quickly() -> None:
    """1,000 workspaces (claim, node, StatefulSet, pod, 2 Services, revision) settle in seconds."""
    await _scale(1000, budget=30.0)


@pytest.mark.slow
async def test_ten_thousand_workspaces_fit() -> None:
    """10,000 workspaces fit in memory and settle (indexed, O(1) per operation)."""
    await _scale(10_000, budget=180.0)
