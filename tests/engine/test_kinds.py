"""The engine reconciles any registered kind: a test-only Widget and a Crate of Widgets.

Nothing in the engine knows these kinds; they reach it through ``registry=``. If one of these
tests needs a change in shared code to pass, the shared code has learned a kind it must not.
"""

from __future__ import annotations

import io
import json
from typing import Any

import structlog

from kaito_backends.engine import Controller, EngineMetrics, ListObserver, Reconciler
from kaito_backends.engine.logs import configure_logging
from kaito_backends.objects import Key, ObjectRef
from kaito_core.plan import PlanSettings
from tests.engine.conftest import cluster_with, workspace
from tests.widget import API_VERSION, CRATE, FORBIDDEN, crate, widget, widget_registry

WIDGETS = widget_registry()


def _config_map(cluster: Any, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = cluster.store.find("v1", "ConfigMap", "default", name)
    return found


async def test_a_widget_comes_up_beside_a_workspace() -> None:
    """One controller runs both kinds to Succeeded: the Widget's ConfigMap, owned, with its
    message; the Widget's status written; its finalizer added."""
    cluster = cluster_with(widget("w", "hello"), workspace("phi"))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=WIDGETS
    ) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    assert settled.state(Key("Widget", "default", "w")) == "Succeeded"
    assert settled.state(Key("Workspace", "default", "phi")) == "Succeeded"
    cm = _config_map(cluster, "w-widget")
    assert cm is not None
    assert cm["data"] == {"message": "hello"}
    stored = cluster.store.find(API_VERSION, "Widget", "default", "w")
    assert stored["metadata"]["finalizers"] == ["widget.finalizer.test.kaito.sh"]
    assert stored["status"]["state"] == "Ready"
    assert cm["metadata"]["ownerReferences"][0]["uid"] == stored["metadata"]["uid"]


async def test_the_default_registry_does_not_reconcile_widgets() -> None:
    """Without the registration a Widget is just an object: nobody touches it."""
    cluster = cluster_with(widget("w"))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(600)
    assert settled.results == {}
    assert _config_map(cluster, "w-widget") is None


async def test_a_changed_child_wakes_its_widget() -> None:
    """Someone edits the owned ConfigMap: the owner reference maps it back and the Widget
    puts its message back."""
    cluster = cluster_with(widget("w", "hello"))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=WIDGETS
    ) as ctl:
        await ctl.run_until_settled(600)
        cm = _config_map(cluster, "w-widget")
        assert cm is not None
        cluster.store.update({**cm, "data": {"message": "tampered"}})
        settled = await ctl.run_until_settled(600)
    assert settled.succeeded
    assert _config_map(cluster, "w-widget")["data"] == {"message": "hello"}  # type: ignore[index]


async def test_a_deleted_widget_goes_with_its_children() -> None:
    """No machines to release: the finalizer goes at once, garbage collection takes the rest."""
    cluster = cluster_with(widget("w"))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=WIDGETS
    ) as ctl:
        await ctl.run_until_settled(600)
        await cluster.client().delete(ObjectRef(API_VERSION, "Widget", "w", "default"))
        await ctl.run_until_settled(600)
    assert cluster.store.find(API_VERSION, "Widget", "default", "w") is None
    assert _config_map(cluster, "w-widget") is None
    assert ("release", "NodeClaim") not in cluster.counters


async def test_a_widget_spec_error_is_terminal_and_reported() -> None:
    """The planner refuses the spec: Failed with its reason, a False condition and an Event."""
    cluster = cluster_with(widget("w", FORBIDDEN))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=WIDGETS
    ) as ctl:
        settled = await ctl.run_until_settled(600)
    result = settled.results[Key("Widget", "default", "w")]
    assert (result.state, result.reason, result.spec_error) == ("Failed", "Refused", True)
    stored = cluster.store.find(API_VERSION, "Widget", "default", "w")
    assert stored["status"]["conditions"][0]["reason"] == "Refused"
    events = [o for o in cluster.snapshot() if o["kind"] == "Event"]
    assert [(e["involvedObject"]["kind"], e["reason"]) for e in events] == [("Widget", "Refused")]


async def test_an_unreadable_widget_fails_without_a_crash() -> None:
    """A stored Widget its parser refuses is Failed (InvalidSpec), never a traceback."""
    cluster = cluster_with({**widget("w"), "spec": {"message": 7}})
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=WIDGETS
    ) as ctl:
        settled = await ctl.run_until_settled(600)
    result = settled.results[Key("Widget", "default", "w")]
    assert (result.state, result.reason) == ("Failed", "InvalidSpec")
    assert "spec.message" in result.message
    assert ctl.errors == 0


async def test_a_crate_of_widgets_settles_in_one_loop() -> None:
    """A kind built from a registered kind: the Crate makes Widgets, their status changes wake
    the Crate (owner references), and it succeeds once every Widget has."""
    registry = WIDGETS.with_kind(CRATE)
    cluster = cluster_with(crate("c", count=3))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=registry
    ) as ctl:
        settled = await ctl.run_until_settled(600)
    assert settled.succeeded
    assert sorted(str(k.qualified) for k in settled.results) == [
        "Crate/default/c",
        "Widget/default/c-0",
        "Widget/default/c-1",
        "Widget/default/c-2",
    ]
    assert _config_map(cluster, "c-2-widget") is not None


async def test_widget_logs_and_metrics_are_bound_to_the_kind() -> None:
    """Log lines name the kind (``widget=default/w``, ``widget.reconciled``); the state gauge
    is ``kaito_widgets{state}``."""
    buffer = io.StringIO()
    configure_logging(format="json", level="debug", stream=buffer)
    metrics = EngineMetrics()
    try:
        cluster = cluster_with(widget("w"))
        async with Controller(
            cluster.client(),
            cluster.provisioner(),
            clock=cluster.clock,
            registry=WIDGETS,
            metrics=metrics,
        ) as ctl:
            await ctl.run_until_settled(600)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    reconciled = [line for line in lines if line["event"] == "widget.reconciled"]
    assert reconciled
    assert all(line["widget"] == "default/w" for line in reconciled)
    assert metrics.value("kaito_widgets", {"state": "Succeeded"}) == 1
    assert metrics.value("kaito_workspaces", {"state": "Succeeded"}) == 0


async def test_a_list_observer_reconciles_a_widget() -> None:
    """Without informers (list calls) a Widget converges the same way."""
    cluster = cluster_with(widget("w", "hi"))
    client = cluster.client()
    reconciler = Reconciler(
        client,
        cluster.provisioner(),
        observer=ListObserver(client, cluster.provisioner(), registry=WIDGETS),
        catalog=cluster.catalog,
        settings=PlanSettings(provisioner="fake"),
        clock=cluster.clock,
        registry=WIDGETS,
    )
    key = Key("Widget", "default", "w")
    states = [(await reconciler.reconcile(key)).state for _ in range(3)]
    assert states[-1] == "Succeeded"
    assert _config_map(cluster, "w-widget")["data"] == {"message": "hi"}  # type: ignore[index]
