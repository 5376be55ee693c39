"""InferenceSets in the engine, on the fake cluster, with the default registry: replicas come
up, scale through the scale subresource's path, names held by others are respected, orphans
are adopted, failures and deletion end as they should."""

from __future__ import annotations

import copy
from typing import Any

from kaito_backends.engine import Controller
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.objects import Key, ObjectRef
from kaito_backends.scale import set_replicas
from kaito_core.inferenceset.kind import SCALE
from tests.engine.conftest import cluster_with, workspace
from tests.inferenceset.support import manifest as iset_manifest

WS = "kaito.sh/v1beta1"
PHI = Key("InferenceSet", "default", "phi")
REF = ObjectRef(WS, "InferenceSet", "phi", "default")


def _set(replicas: int = 2, **spec: Any) -> dict[str, Any]:
    return iset_manifest("phi", replicas=replicas, uid=None, **spec)


def _stored(cluster: FakeCluster, kind: str, name: str, api: str = WS) -> Any:
    return cluster.store.find(api, kind, "default", name)


def _workspaces(cluster: FakeCluster) -> list[str]:
    return sorted(
        o["metadata"]["name"]
        for o in cluster.snapshot()
        if o["kind"] == "Workspace" and not o["metadata"].get("deletionTimestamp")
    )


def _controller(cluster: FakeCluster, **kwargs: Any) -> Controller:
    return Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock, **kwargs)


async def test_replicas_come_up_with_finalizer_events_and_metrics() -> None:
    """Two Workspaces, each owned by the set (controller, blockOwnerDeletion); the set is
    Ready 2/2 with upstream's finalizer, ReplicaCreated events, and counted as Succeeded."""
    cluster = cluster_with(_set(2))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert ctl.errors == 0
    assert settled.succeeded
    assert settled.state(PHI) == "Succeeded"
    stored = _stored(cluster, "InferenceSet", "phi")
    assert stored["metadata"]["finalizers"] == ["inferenceset.finalizer.kaito.sh"]
    assert (stored["status"]["replicas"], stored["status"]["readyReplicas"]) == (2, 2)
    assert stored["status"]["selector"] == "inferenceset.kaito.sh/created-by=phi"
    for name in ("phi-0", "phi-1"):
        (ref,) = _stored(cluster, "Workspace", name)["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": WS,
            "kind": "InferenceSet",
            "name": "phi",
            "uid": stored["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    reasons = [
        (e["reason"], e["message"])
        for e in cluster.snapshot()
        if e["kind"] == "Event" and e["involvedObject"]["kind"] == "InferenceSet"
    ]
    assert ("ReplicaCreated", "Creating Workspace default/phi-1 (replica 1)") in reasons
    assert ctl.metrics.value("kaito_inferencesets", {"state": "Succeeded"}) == 1.0
    assert ctl.metrics.value("kaito_workspaces", {"state": "Succeeded"}) == 2.0


async def test_scaling_through_the_scale_path() -> None:
    """``set_replicas`` (what ``kubectl scale`` and the fake autoscaler go through): 2 -> 3
    adds ``phi-2``; 3 -> 1 removes the highest slots; each time the set settles Ready."""
    cluster = cluster_with(_set(2))
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
        scale = await set_replicas(cluster.client(), REF, SCALE, 3)
        assert scale["spec"]["replicas"] == 3
        settled = await ctl.run_until_settled(3600)
        assert settled.state(PHI) == "Succeeded"
        assert _workspaces(cluster) == ["phi-0", "phi-1", "phi-2"]
        await set_replicas(cluster.client(), REF, SCALE, 1)
        settled = await ctl.run_until_settled(3600)
    assert ctl.errors == 0
    assert settled.state(PHI) == "Succeeded"
    assert _workspaces(cluster) == ["phi-0"]
    assert _stored(cluster, "InferenceSet", "phi")["status"]["replicas"] == 1


async def test_a_name_held_by_another_workspace_is_never_written_over() -> None:
    """A plain Workspace named ``phi-1`` keeps its spec; the set reports the conflict and fills
    the slot once that Workspace is deleted (a Workspace watch wakes the set)."""
    foreign = workspace("phi-1", preset="phi-3-mini-4k-instruct")
    cluster = cluster_with(foreign, _set(2))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
        held = _stored(cluster, "Workspace", "phi-1")
        assert held["inference"] == foreign["inference"]
        assert "ownerReferences" not in held["metadata"]
        status = _stored(cluster, "InferenceSet", "phi")["status"]
        conflict = next(c for c in status["conditions"] if c["type"] == "ReplicaNameConflict")
        assert conflict["reason"] == "NameTaken"
        assert settled.state(PHI) == "Pending"
        await cluster.client().delete(ObjectRef(WS, "Workspace", "phi-1", "default"))
        settled = await ctl.run_until_settled(3600)
    assert settled.state(PHI) == "Succeeded"
    replica = _stored(cluster, "Workspace", "phi-1")
    assert replica["metadata"]["ownerReferences"][0]["kind"] == "InferenceSet"


async def test_an_orphaned_replica_is_adopted() -> None:
    """A Workspace labelled as the set's replica with no owner (its set deleted with
    ``--cascade=orphan``) is found by its label and becomes the new set's: no second replica
    is made for its slot."""
    cluster = cluster_with(_set(1))
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
    orphan = copy.deepcopy(_stored(cluster, "Workspace", "phi-0"))
    del orphan["metadata"]["ownerReferences"]
    cluster.store.update(orphan)
    old = copy.deepcopy(_stored(cluster, "InferenceSet", "phi"))
    old["metadata"]["finalizers"] = []
    cluster.store.update(old)
    cluster.store.delete(WS, "InferenceSet", "default", "phi")
    cluster.run_until_idle()
    assert _stored(cluster, "InferenceSet", "phi") is None
    cluster.store.create(_set(1))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.state(PHI) == "Succeeded"
    assert _workspaces(cluster) == ["phi-0"]
    adopted = _stored(cluster, "Workspace", "phi-0")
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    new_uid = _stored(cluster, "InferenceSet", "phi")["metadata"]["uid"]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == new_uid


async def test_a_crash_looping_replica_fails_the_set_after_the_grace() -> None:
    """``ReplicasHealthy`` False names the replica; once the crash loop outlasts the failure
    grace, both the Workspace and the set are Failed, so ``run_until_settled`` ends."""
    cluster = FakeCluster(faults=FaultPlan.once("crashloop", name="phi-1-0"))
    cluster.store.create(_set(2))
    async with _controller(cluster, failure_grace=600.0) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.settled
    assert settled.state(Key("Workspace", "default", "phi-1")) == "Failed"
    result = settled.results[PHI]
    assert (result.state, result.reason) == ("Failed", "ContainerCrashLoopBackOff")
    assert result.message.startswith("Workspace default/phi-1: ")
    assert settled.elapsed < 3600


async def test_deleting_the_set_deletes_its_replicas() -> None:
    """The finalizer goes once the replicas are being deleted; they go by garbage collection
    and release their machines."""
    cluster = cluster_with(_set(2))
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
        await cluster.client().delete(REF)
        await ctl.run_until_settled(3600)
    assert ctl.errors == 0
    assert _stored(cluster, "InferenceSet", "phi") is None
    assert _workspaces(cluster) == []
    assert not [o for o in cluster.snapshot() if o["kind"] in ("NodeClaim", "Pod", "Node")]
