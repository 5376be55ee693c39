"""The engine through the kubernetes backend, against the fake API server: what it asks of the
server when objects go away (issue #10, defects 1, 2 and 6).

The controller runs in this process on the wall clock with the real kubernetes-asyncio client
and the Karpenter provisioner; the fake API server's simulated cluster runs at 600x and
records every request it answers, as a real server's audit log would.

- Deleting a Workspace: its Events go with it (one list by ``involvedObject.uid``, one delete
  each), exactly one finalizer write, no read of the Workspace once it is gone, and one log
  line per step.
- Deleting a namespace with Workspaces in it: nothing is re-applied into the terminating
  namespace after the first refusal, no failure or retry is logged, and everything goes.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from structlog.testing import capture_logs

from kaito_backends.apiserver import FakeApiServer, PacedClock, kubeconfig
from kaito_backends.engine.controller import Controller
from kaito_backends.fake import FakeCluster
from kaito_backends.karpenter import KarpenterProvisioner
from kaito_backends.kubernetes import KubernetesClient, from_kubeconfig
from kaito_backends.objects import Key, Manifest, ObjectRef
from tests.engine.conftest import workspace

WS_API = "kaito.sh/v1beta1"


@pytest.fixture
async def server() -> AsyncIterator[FakeApiServer]:
    """The fake API server, its cluster at 600x, recording requests; no engine of its own."""
    # virtual time starts now (and runs ahead): the deletion time box compares the server's
    # deletionTimestamp with the controller's wall clock
    cluster = FakeCluster(clock=PacedClock(datetime.now(UTC)))
    async with FakeApiServer(cluster, engine=False, speed=600, record_requests=True) as srv:
        yield srv


@pytest.fixture
async def kube(server: FakeApiServer) -> AsyncIterator[KubernetesClient]:
    client = await from_kubeconfig(config_dict=kubeconfig(server.url))
    try:
        yield client
    finally:
        await client.close()


def _controller(kube: KubernetesClient) -> Controller:
    return Controller(kube, KarpenterProvisioner(kube), resync_period=None)


async def _until(check: Callable[[], Any], what: str, within: float = 30.0) -> None:
    """Poll ``check`` (sync or async) every 20 ms until it is true."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.02)


def _state(ctl: Controller, key: Key) -> str | None:
    result = ctl.results.get(key)
    return result.state if result is not None else None


def _absent(server: FakeApiServer, ref: ObjectRef) -> bool:
    """Whether the object is gone, read from the store (so the test's own requests do not mix
    with the engine's)."""
    return server.cluster.store.find(ref.api_version, ref.kind, ref.namespace, ref.name) is None


async def _events_about(kube: KubernetesClient, namespace: str, name: str) -> list[Manifest]:
    listed = await kube.list("v1", "Event", namespace=namespace)
    return [e for e in listed.items if (e.get("involvedObject") or {}).get("name") == name]


def _events(logs: list[dict[str, Any]], *names: str) -> list[str]:
    return [line["event"] for line in logs if line["event"] in names]


NOISE = ("reconcile.failed", "reconcile.retry", "reconcile.crashed", "event.dropped")


async def test_deleting_a_workspace_is_one_finalizer_write_no_reads_and_no_events_left(
    server: FakeApiServer, kube: KubernetesClient
) -> None:
    """After the delete: one list of the Workspace's Events by uid and one DELETE each, one
    finalizer PUT, no GET of the Workspace (trusting the informer and the PUT's answer), one
    ``workspace.deleting`` and one ``workspace.finalizer_removed`` line, nothing noisier."""
    ref = ObjectRef(WS_API, "Workspace", "phi", "default")
    key = Key("Workspace", "default", "phi")
    with capture_logs() as logs:
        async with _controller(kube) as ctl:
            await kube.create(copy.deepcopy(workspace("phi")))
            await _until(lambda: _state(ctl, key) == "Succeeded", "phi succeeded")
            uid = (await kube.get(ref))["metadata"]["uid"]
            recorded = await _events_about(kube, "default", "phi")
            assert recorded, "the engine recorded Events on the Workspace"
            server.requests.clear()
            await kube.delete(ref)
            await _until(lambda: _absent(server, ref), "phi gone")
            await _until(lambda: key not in ctl.results and ctl.queue.idle(), "engine idle")
            await asyncio.sleep(0.5)  # 300 virtual seconds: late reads would show now
    path = "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/phi"
    on_phi = [(r.method, r.code) for r in server.requests if r.path == path]
    assert [m for m in on_phi if m[0] == "GET"] == []
    assert [m for m in on_phi if m[0] == "PUT"] == [("PUT", 200)]
    events = "/api/v1/namespaces/default/events"
    lists = [parse_qs(r.query) for r in server.requests if r.path == events and r.method == "GET"]
    assert [q["fieldSelector"] for q in lists] == [[f"involvedObject.uid={uid}"]]
    deletes = [r for r in server.requests if r.method == "DELETE" and r.path.startswith(events)]
    assert len(deletes) == len(recorded)
    assert await _events_about(kube, "default", "phi") == []
    assert _events(logs, "workspace.deleting", "workspace.finalizer_removed") == [
        "workspace.deleting",
        "workspace.finalizer_removed",
    ]
    assert _events(logs, *NOISE) == []


async def test_deleting_a_namespace_with_workspaces_makes_no_noise(
    server: FakeApiServer, kube: KubernetesClient
) -> None:
    """Namespace deletion: at most one create is refused (the first, which tells the engine),
    no failure, retry or dropped Event is logged, and the namespace and its Workspaces go."""
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    names = ("phi", "tune")
    with capture_logs() as logs:
        async with _controller(kube) as ctl:
            for name in names:
                manifest = workspace(name, namespace="team-a", tuning=name == "tune")
                await kube.create(copy.deepcopy(manifest))
            for name in names:
                key = Key("Workspace", "team-a", name)
                await _until(lambda k=key: _state(ctl, k) == "Succeeded", f"{name} succeeded")
            server.requests.clear()
            await kube.delete(ObjectRef("v1", "Namespace", "team-a"))
            await _until(
                lambda: _absent(server, ObjectRef("v1", "Namespace", "team-a")), "team-a gone"
            )
            await _until(lambda: not ctl.results and ctl.queue.idle(), "engine idle")
    refused = [r for r in server.requests if r.code == 403]
    assert len(refused) <= 1, refused
    assert _events(logs, *NOISE) == []
    assert len(_events(logs, "namespace.terminating")) == len(refused)
    assert _events(logs, "workspace.finalizer_removed") == ["workspace.finalizer_removed"] * 2
    assert [line for line in logs if line["log_level"] in ("warning", "error")] == []


async def test_a_missing_nodeclaim_crd_is_a_condition_and_installing_it_recovers(
    server: FakeApiServer, kube: KubernetesClient
) -> None:
    """Without Karpenter's NodeClaim CRD (the server answers ``404 page not found``): the
    Workspace gets ResourceReady False, reason NodeClaimCRDMissing, with a message naming the
    CRD and how to install it, logged once (no reconcile.failed); once the CRD is installed
    the engine finds it on its own and the Workspace succeeds."""
    crd = ("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "nodeclaims.karpenter.sh")
    server.cluster.store.delete(*crd)
    ref = ObjectRef(WS_API, "Workspace", "phi", "default")
    key = Key("Workspace", "default", "phi")
    with capture_logs() as logs:
        ctl = Controller(
            kube, KarpenterProvisioner(kube), resync_period=None, missing_kind_retry=0.5
        )
        async with ctl:
            await kube.create(copy.deepcopy(workspace("phi")))

            async def refused() -> dict[str, Any] | None:
                status = (await kube.get(ref)).get("status") or {}
                found = [c for c in status.get("conditions") or () if c["type"] == "ResourceReady"]
                return found[0] if found and found[0]["status"] == "False" else None

            await _until(refused, "ResourceReady False")
            condition = await refused()
            assert condition is not None
            assert condition["reason"] == "NodeClaimCRDMissing"
            assert "nodeclaims.karpenter.sh is not installed" in condition["message"]
            assert "Install Karpenter" in condition["message"]
            await asyncio.sleep(1.5)  # three retries: still refused, logged once
            assert ctl.informer("NodeClaim").missing
            await server.seed()  # installs the CRD
            await _until(lambda: _state(ctl, key) == "Succeeded", "phi succeeded", within=30)
    assert _events(logs, "workspace.kind_not_served") == ["workspace.kind_not_served"]
    assert _events(logs, *NOISE) == []
