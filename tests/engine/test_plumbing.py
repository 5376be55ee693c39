"""The engine's cross-cutting parts: retrying, events, logs, metrics, informers."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
import structlog

from kaito_backends.clock import VirtualClock
from kaito_backends.engine.controller import Controller
from kaito_backends.engine.events import EventRecorder
from kaito_backends.engine.informers import Informer
from kaito_backends.engine.logs import REDACTED, configure_logging, engine_logger, redact
from kaito_backends.engine.metrics import EngineMetrics
from kaito_backends.engine.retry import RetryingClient, RetryingProvisioner, RetryPolicy, retrying
from kaito_backends.errors import BackendError, Conflict, NotFound, Transient, Unreachable
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_backends.protocols import ClusterClient, NodeProvisioner, ObjectList, WatchEvent
from tests.engine.conftest import cluster_with, key, workspace

# -- retrying ----------------------------------------------------------------------------------


class Flaky:
    """A client whose get fails ``failures`` times with ``error`` first."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    async def get(self, ref: ObjectRef) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"ok": True}


def test_retrying_keeps_the_protocol() -> None:
    """retrying(client) is a ClusterClient, retrying(provisioner) a NodeProvisioner."""
    cluster = FakeCluster()
    client, provisioner = retrying(cluster.client()), retrying(cluster.provisioner())
    assert isinstance(client, RetryingClient)
    assert isinstance(client, ClusterClient)
    assert isinstance(provisioner, RetryingProvisioner)
    assert isinstance(provisioner, NodeProvisioner)
    assert provisioner.name == "fake"
    assert retrying(client) is client, "wrapping twice is a no-op"
    with pytest.raises(TypeError):
        retrying(object())  # type: ignore[call-overload]


async def test_transient_is_retried_with_the_servers_delay() -> None:
    clock = VirtualClock()
    inner = Flaky(Transient("slow down", delay=3.0), failures=2)
    client = RetryingClient(inner, clock=clock)  # type: ignore[arg-type]
    assert await client.get(ObjectRef("v1", "Pod", "p", "ns")) == {"ok": True}
    assert inner.calls == 3
    assert clock.monotonic() == 6.0
    assert client.retries == 2


async def test_transient_without_delay_backs_off_exponentially_then_gives_up() -> None:
    clock = VirtualClock()
    inner = Flaky(Transient("boom"), failures=10)
    client = RetryingClient(inner, clock=clock, policy=RetryPolicy(attempts=4, initial=0.5))  # type: ignore[arg-type]
    with pytest.raises(Transient, match="boom"):
        await client.get(ObjectRef("v1", "Pod", "p", "ns"))
    assert inner.calls == 4
    assert clock.monotonic() == pytest.approx(0.5 + 1 + 2)


@pytest.mark.parametrize(
    "error", [Conflict("stale"), NotFound("gone")], ids=["conflict", "not-found"]
)
async def test_other_errors_are_not_retried(error: Exception) -> None:
    inner = Flaky(error, failures=1)
    client = RetryingClient(inner, clock=VirtualClock())  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        await client.get(ObjectRef("v1", "Pod", "p", "ns"))
    assert inner.calls == 1


# -- events ----------------------------------------------------------------------------------


async def test_repeated_events_are_counted_not_duplicated() -> None:
    """The same Event twice is one object with count 2; a new recorder continues the count."""
    cluster = cluster_with(workspace("phi"))
    client = cluster.client()
    ws = await client.get(ObjectRef("kaito.sh/v1beta1", "Workspace", "phi", "default"))
    recorder = EventRecorder(client, clock=cluster.clock)
    await recorder.record(ws, "Warning", "Oops", "it broke")
    cluster.clock.advance(60)
    await recorder.record(ws, "Warning", "Oops", "it broke")
    await recorder.record(ws, "Normal", "Fine", "all good")
    restarted = EventRecorder(client, clock=cluster.clock)
    third = await restarted.record(ws, "Warning", "Oops", "it broke")
    events = {e["reason"]: e for e in cluster.snapshot() if e["kind"] == "Event"}
    assert set(events) == {"Oops", "Fine"}
    oops = events["Oops"]
    assert oops["count"] == third.count == 3
    assert oops["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert oops["lastTimestamp"] == "2026-01-01T00:01:00Z"
    assert oops["involvedObject"]["name"] == "phi"
    assert oops["metadata"]["ownerReferences"][0]["uid"] == ws["metadata"]["uid"]


# -- logs ------------------------------------------------------------------------------------


def test_secrets_are_never_logged() -> None:
    """Env values, Secret data and credential-like keys are redacted at any depth."""
    event = {
        "event": "x",
        "workspace": "default/phi",
        "manifest": {
            "spec": {"containers": [{"env": [{"name": "HF_TOKEN", "value": "hf_secret"}]}]}
        },
        "secret": {"data": {"token": "c2VjcmV0"}},
        "hf_token": "hf_secret",
        "items": [{"stringData": {"password": "pw"}}],
    }
    out = json.dumps(redact(None, "info", dict(event)))
    assert "hf_secret" not in out
    assert "c2VjcmV0" not in out
    assert '"pw"' not in out
    assert out.count(REDACTED) >= 4
    assert "default/phi" in out


def test_json_logs_carry_workspace_and_reconcile_id(quiet_logs: io.StringIO) -> None:
    buffer = io.StringIO()
    configure_logging(format="json", level="info", stream=buffer)
    try:
        engine_logger().bind(workspace="default/phi", reconcile_id="00002a").info(
            "hello", env=["X=1"]
        )
    finally:
        structlog.reset_defaults()
    line = json.loads(buffer.getvalue())
    assert line["workspace"] == "default/phi"
    assert line["reconcile_id"] == "00002a"
    assert line["env"] == REDACTED
    assert line["level"] == "info"


async def test_every_reconcile_log_line_is_bound_to_its_workspace() -> None:
    """Engine logs (at debug) always say which Workspace and which reconcile."""
    buffer = io.StringIO()
    configure_logging(format="json", level="debug", stream=buffer)
    try:
        cluster = cluster_with(workspace("phi"))
        async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
            await ctl.run_until_settled(3600)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    reconciled = [line for line in lines if line["event"] == "workspace.reconciled"]
    assert reconciled
    assert all(line["workspace"] == "default/phi" and line["reconcile_id"] for line in reconciled)
    assert len({line["reconcile_id"] for line in reconciled}) == len(reconciled)


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_count_reconciles_writes_and_workspaces() -> None:
    cluster = cluster_with(workspace("a"), workspace("b", preset="no-such-model"))
    metrics = EngineMetrics()
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, metrics=metrics
    ) as ctl:
        await ctl.run_until_settled(3600)
    total = sum(
        metrics.value("kaito_reconcile_total", {"result": r})
        for r in ("success", "spec_error", "requeue_after")
    )
    assert total == ctl.reconciles
    assert metrics.value("kaito_reconcile_total", {"result": "spec_error"}) >= 1
    assert metrics.value("kaito_workspaces", {"state": "Succeeded"}) == 1
    assert metrics.value("kaito_workspaces", {"state": "Failed"}) == 1
    assert metrics.value("kaito_writes_total", {"verb": "apply"}) >= 3
    assert metrics.value("kaito_reconcile_time_seconds_count") == ctl.reconciles
    text = metrics.render().decode()
    assert "kaito_workqueue_depth" in text
    assert "kaito_reconcile_total" in text


def test_each_engine_has_its_own_registry() -> None:
    a, b = EngineMetrics(), EngineMetrics()
    a.reconciled("success", 0.001)
    assert a.value("kaito_reconcile_total", {"result": "success"}) == 1
    assert b.value("kaito_reconcile_total", {"result": "success"}) == 0


# -- informers -------------------------------------------------------------------------------


async def test_an_informer_relists_after_gone_and_delivers_what_it_missed() -> None:
    """A watch broken by 410 Gone: relist, and the cache ends up exactly like the store."""
    cluster = FakeCluster(watch_history=5)
    client = cluster.client()
    informer = Informer(client, "v1", "ConfigMap", clock=cluster.clock)
    seen: list[str] = []
    informer.add_handler(
        lambda change, obj, old: seen.append(f"{change} {obj['metadata']['name']}")
    )
    await informer._list()
    for i in range(3):
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm{i}", "namespace": "d"},
            }
        )
    cluster.inject("watch_gone")
    import asyncio

    task = asyncio.create_task(informer.run())
    for _ in range(50):
        await asyncio.sleep(0)
    await client.delete(ObjectRef("v1", "ConfigMap", "cm0", "d"))
    for _ in range(50):
        await asyncio.sleep(0)
    task.cancel()
    assert sorted(informer.objects) == [("d", "cm1"), ("d", "cm2")]
    assert informer.relists >= 2
    assert "DELETED cm0" in seen


async def test_an_informer_of_a_kind_the_server_lacks_is_empty_not_stuck() -> None:
    """A missing CRD (NotFound on list) reads as empty and is synced."""

    class NoCrd:
        async def list(self, *a: Any, **k: Any) -> Any:
            raise NotFound(
                "the server could not find the requested resource (nodeclaims.karpenter.sh)"
            )

    informer = Informer(NoCrd(), "karpenter.sh/v1", "NodeClaim", clock=VirtualClock())  # type: ignore[arg-type]
    import asyncio

    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.synced.wait(), 1)
    task.cancel()
    assert informer.missing
    assert len(informer) == 0


class Scripted:
    """A client whose list calls and watches play scripted replies (errors are raised)."""

    def __init__(self, lists: list[Any], watches: list[list[WatchEvent] | None]) -> None:
        self.lists, self.watches = lists, watches
        self.watched_from: list[str | None] = []

    async def list(self, *a: Any, **k: Any) -> ObjectList:
        reply = self.lists.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ObjectList(items=(), resource_version=str(reply))

    async def watch(self, *a: Any, resource_version: str | None = None, **k: Any) -> Any:
        self.watched_from.append(resource_version)
        events = self.watches.pop(0) if self.watches else None
        if events is None:  # hang until cancelled
            await asyncio.Event().wait()
        for event in events or ():
            yield event


def _cm(name: str, version: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "d", "resourceVersion": version}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


async def _run_until(informer: Informer, client: Scripted, watches: int) -> None:
    task = asyncio.create_task(informer.run())
    async with asyncio.timeout(5):
        while len(client.watched_from) < watches:
            await asyncio.sleep(0)
    task.cancel()


async def test_an_informer_moves_its_version_on_bookmarks_and_does_not_deliver_them() -> None:
    """BOOKMARK: the next watch resumes from its version; no change, no relist."""
    bookmark = WatchEvent("BOOKMARK", {"kind": "ConfigMap", "metadata": {"resourceVersion": "30"}})
    client = Scripted(["10"], [[WatchEvent("ADDED", _cm("a", "11")), bookmark], None])
    informer = Informer(client, "v1", "ConfigMap", clock=VirtualClock())  # type: ignore[arg-type]
    seen: list[str] = []
    informer.add_handler(lambda change, obj, old: seen.append(change))
    await _run_until(informer, client, 2)
    assert seen == ["ADDED"]
    assert client.watched_from == ["10", "30"]
    assert (informer.bookmarks, informer.relists, informer.rewatches) == (1, 1, 1)


async def test_an_informer_backs_off_on_errors_and_rewatches_at_once() -> None:
    """List errors back off from error_backoff, doubling; a watch that ends is re-opened from
    the last version at once, until three in a row ended empty-handed."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    errors = [Transient("etcd hiccup"), Transient("slow down")]
    client = Scripted([*errors, "10"], [[WatchEvent("MODIFIED", _cm("a", "11"))], [], [], [], None])
    informer = Informer(
        client,  # type: ignore[arg-type]
        "v1",
        "ConfigMap",
        clock=VirtualClock(),
        error_backoff=0.5,
        max_backoff=30.0,
        sleep=sleep,
    )
    await _run_until(informer, client, 5)
    assert client.watched_from == ["10", "11", "11", "11", "11"]
    assert sleeps == [0.5, 1.0, 0.5]
    assert informer.errors == 2
    assert "slow down" in str(informer.last_error)
    assert informer.synced.is_set()


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        pytest.param(
            [Unreachable("connection refused")] * 8,
            [1.0] * 8,
            id="a-server-that-is-away-is-polled-every-second-however-long",
        ),
        pytest.param(
            [Transient("storage initialising", delay=2.0)] * 3,
            [2.0] * 3,
            id="retry-after-is-followed",
        ),
        pytest.param(
            [Transient("busy", delay=0.0), Transient("busy", delay=900.0)],
            [0.5, 30.0],
            id="retry-after-is-bounded",
        ),
        pytest.param(
            [*[Transient("etcd hiccup")] * 7, Unreachable("refused"), Transient("rbac not synced")],
            [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 1.0, 0.5],
            id="backoff-counts-from-the-servers-return",
        ),
    ],
)
async def test_an_informer_waits_for_a_restarting_server_only_briefly(
    errors: list[BackendError], expected: list[float]
) -> None:
    """No answer: retry every reconnect_interval; an answer: Retry-After, else exponential."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = Scripted([*errors, "10"], [None])
    informer = Informer(
        client,  # type: ignore[arg-type]
        "v1",
        "ConfigMap",
        clock=VirtualClock(),
        error_backoff=0.5,
        max_backoff=30.0,
        reconnect_interval=1.0,
        sleep=sleep,
    )
    await _run_until(informer, client, 1)
    assert sleeps == expected
    assert informer.errors == len(errors)


async def test_controller_wiring_maps_children_to_their_workspace() -> None:
    """A change to a Pod of a Workspace reconciles that Workspace (and only it)."""
    cluster = cluster_with(workspace("a"), workspace("b"))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(3600)
        processed: list[str] = []
        original = ctl.process

        async def recording(k: Any) -> Any:
            processed.append(k.name)
            return await original(k)

        ctl.process = recording  # type: ignore[method-assign,assignment]
        pod = cluster.store.select("v1", "Pod", "default", {"kaito.sh/workspace": "a"})[0]
        await cluster.client().delete(ObjectRef("v1", "Pod", pod["metadata"]["name"], "default"))
        settled = await ctl.run_until_settled(3600)
    assert processed
    assert set(processed) == {"a"}
    assert settled.state(key("a")) == "Succeeded", "the StatefulSet's new pod became Ready again"


# -- memory ----------------------------------------------------------------------------------


def test_memory_reads_our_own_writes_until_the_cache_catches_up() -> None:
    """After our writes v1 -> v2 -> v3, a cache at v1 or v2 reads as v3; at v3 or later, as is."""
    from kaito_backends.engine.memory import ReconcileMemory

    def ws(rv: str) -> dict[str, Any]:
        return {
            "kind": "Workspace",
            "metadata": {"name": "phi", "namespace": "default", "resourceVersion": rv},
        }

    memory = ReconcileMemory()
    v1, v2, v3 = ws("1"), ws("2"), ws("3")
    memory.wrote(v1, v2)  # the finalizer update
    memory.wrote(v2, v3)  # the status write, in the same pass
    assert memory.read(key("phi"), ws("1")) is v3
    assert memory.read(key("phi"), ws("2")) is v3
    fresh = ws("3")
    assert memory.read(key("phi"), fresh) is fresh
    newer = ws("7")
    assert memory.read(key("phi"), newer) is newer, "someone else's write wins"
    assert memory.read(key("phi"), None) is None
