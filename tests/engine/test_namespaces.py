"""A namespace deleted with objects in it: the engine stops working there without noise
(issue #10, defect 2).

The fake cluster's namespace controller deletes the built-in kinds first and the custom
resources a second later, as a real one walks discovery: the engine sees its children go while
its Workspaces are not yet being deleted, and its re-applies are refused with 403
``NamespaceTerminating``. The first refusal tells it the namespace is going away.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from structlog.testing import capture_logs

from kaito_backends.engine.controller import Controller
from kaito_backends.engine.logs import configure_logging
from kaito_backends.errors import NamespaceTerminating
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Key, Manifest, ObjectRef
from tests.engine.conftest import objects_of, workspace

NOISE = ("reconcile.failed", "reconcile.retry", "reconcile.crashed", "event.dropped")


class _Refusals:
    """A `ClusterClient` wrapper counting the creates refused because a namespace terminates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refused: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _counted(self, verb: str, obj: Manifest, call: Any) -> Manifest:
        try:
            result: Manifest = await call
        except NamespaceTerminating:
            self.refused.append(f"{verb} {obj['kind']}/{obj['metadata']['name']}")
            raise
        return result

    async def apply(self, obj: Manifest, **options: Any) -> Manifest:
        return await self._counted("apply", obj, self.inner.apply(obj, **options))

    async def create(self, obj: Manifest) -> Manifest:
        return await self._counted("create", obj, self.inner.create(obj))


def _cluster(*manifests: Manifest) -> FakeCluster:
    cluster = FakeCluster()
    cluster.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    for manifest in manifests:
        cluster.store.create(copy.deepcopy(manifest))
    return cluster


async def test_a_terminating_namespace_is_left_alone_after_the_first_refusal() -> None:
    """One refused create at most, no failure, retry or dropped Event logged, one debug line;
    the namespace and everything in it go; the other namespace's Workspace is untouched."""
    cluster = _cluster(
        workspace("phi", namespace="team-a", count=2),
        workspace("tune", namespace="team-a", tuning=True),
        workspace("keep"),
    )
    client = _Refusals(cluster.client())
    configure_logging(format="json", level="debug", stream=io.StringIO())  # every level
    with capture_logs() as logs:
        async with Controller(client, cluster.provisioner(), clock=cluster.clock) as ctl:
            assert (await ctl.run_until_settled(3600)).succeeded
            await cluster.client().delete(ObjectRef("v1", "Namespace", "team-a"))
            cluster.clock.run_due()  # the namespace controller starts at once
            settled = await ctl.run_until_settled(3600)
    assert settled.settled
    assert cluster.store.find("v1", "Namespace", None, "team-a") is None
    assert cluster.store.in_namespace("team-a") == []
    assert objects_of(cluster, "keep")
    assert set(settled.results) == {Key("Workspace", "default", "keep")}
    assert len(client.refused) <= 1, client.refused
    events = [line["event"] for line in logs]
    assert [e for e in events if e in NOISE] == []
    assert events.count("namespace.terminating") == len(client.refused)
    assert events.count("workspace.finalizer_removed") == 2


async def test_the_race_is_real_without_the_engine_knowing() -> None:
    """The scenario does refuse re-applies: the engine's children go first, and it tries to
    put them back (so the test above is not vacuous)."""
    cluster = _cluster(workspace("phi", namespace="team-a"))
    client = _Refusals(cluster.client())
    async with Controller(client, cluster.provisioner(), clock=cluster.clock) as ctl:
        assert (await ctl.run_until_settled(3600)).succeeded
        await cluster.client().delete(ObjectRef("v1", "Namespace", "team-a"))
        cluster.clock.run_due()
        await ctl.run_until_settled(3600)
        terminating = ctl.reconciler.terminating
    assert client.refused, "no re-apply was refused: the namespace race did not happen"
    assert len(terminating) == 0, "forgotten once gone"


async def test_a_namespace_created_again_is_reconciled_as_new() -> None:
    """Objects remembered as going away are remembered by uid: a Workspace of the same name
    in the namespace created again is reconciled normally."""
    cluster = _cluster(workspace("phi", namespace="team-a"))
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        assert (await ctl.run_until_settled(3600)).succeeded
        await cluster.client().delete(ObjectRef("v1", "Namespace", "team-a"))
        cluster.clock.run_due()
        await ctl.run_until_settled(3600)
        assert cluster.store.find("v1", "Namespace", None, "team-a") is None
        await cluster.client().create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
        )
        await cluster.client().create(copy.deepcopy(workspace("phi", namespace="team-a")))
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    assert settled.results[Key("Workspace", "team-a", "phi")].state == "Succeeded"
