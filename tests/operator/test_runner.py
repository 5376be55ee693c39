"""The operator process on the fake cluster: election, probes, webhook, shutdown, exit codes."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kaito_backends.errors import NotFound
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_backends.operator.backends import Connection, ScopedClient, SetupError, build_provisioner
from kaito_backends.operator.runner import Operator, run_operator
from kaito_backends.operator.settings import BindAddress, OperatorSettings
from kaito_backends.operator.webhook import WEBHOOK_PATH

LOOPBACK = BindAddress(host="127.0.0.1", port=0)
FINALIZER = "workspace.finalizer.kaito.sh"


def settings(**changes: Any) -> OperatorSettings:
    """Fast settings for tests: loopback on free ports, sub-second leader election."""
    base: dict[str, Any] = {
        "backend": "byo",
        "metrics_bind": LOOPBACK,
        "health_bind": LOOPBACK,
        "webhook_bind": LOOPBACK,
        "lease_duration": 1.0,
        "renew_deadline": 0.6,
        "retry_period": 0.2,
        "shutdown_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    base.update(changes)
    return OperatorSettings(**base)


def workspace(name: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": namespace},
        "resource": {"labelSelector": {"matchLabels": {"apps": name}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }


class Running:
    """One operator task on the shared fake cluster."""

    def __init__(self, cluster: FakeCluster, config: OperatorSettings) -> None:
        self.stop = asyncio.Event()
        self.operator: Operator | None = None
        self.stderr = io.StringIO()
        connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
        self.task = asyncio.create_task(
            run_operator(
                config,
                connection=connection,
                stop=self.stop,
                on_started=self._started,
                stderr=self.stderr,
            )
        )

    def _started(self, operator: Operator) -> None:
        self.operator = operator

    @property
    def op(self) -> Operator:
        assert self.operator is not None
        return self.operator

    def url(self, server: str, path: str) -> str:
        host, port = self.op.addresses[server]
        return f"http://{host}:{port}{path}"

    async def finish(self) -> int:
        self.stop.set()
        return await asyncio.wait_for(self.task, timeout=10)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (real time) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def finalized(cluster: FakeCluster, name: str) -> bool:
    ws = cluster.store.find("kaito.sh/v1beta1", "Workspace", "default", name)
    return ws is not None and FINALIZER in (ws["metadata"].get("finalizers") or ())


async def test_only_the_leader_reconciles_and_a_stop_hands_over() -> None:
    """Two replicas: one leads and reconciles; stopping it exits 0 and the other takes over."""
    cluster = FakeCluster()
    await cluster.client().create(workspace("one"))
    a = Running(cluster, settings(leader_elect=True, identity="a"))
    b = Running(cluster, settings(leader_elect=True, identity="b"))
    await eventually(lambda: a.operator is not None and b.operator is not None)
    await eventually(lambda: a.op.elector is not None and b.op.elector is not None)
    await eventually(lambda: any(r.op.elector.is_leader for r in (a, b) if r.op.elector))
    leader, follower = (a, b) if a.op.elector and a.op.elector.is_leader else (b, a)
    await eventually(lambda: finalized(cluster, "one"))
    assert follower.op.elector is not None
    assert not follower.op.elector.is_leader
    async with aiohttp.ClientSession() as http:
        for replica in (leader, follower):  # every replica is ready and serves the webhook
            async with http.get(replica.url("health", "/readyz")) as response:
                assert response.status == 200
        async with http.get(follower.url("metrics", "/metrics")) as response:
            assert "kaito_leader_election_status" in await response.text()
    assert await leader.finish() == 0
    lease = await cluster.client().get(
        ObjectRef("coordination.k8s.io/v1", "Lease", "kaito-workspace-leader", "kaito-system")
    )
    assert lease["spec"]["holderIdentity"] in ("", follower.op.settings.identity)
    await eventually(lambda: follower.op.elector is not None and follower.op.elector.is_leader)
    await cluster.client().create(workspace("two"))
    await eventually(lambda: finalized(cluster, "two"))
    assert await follower.finish() == 0


async def test_probes_metrics_and_webhook_of_a_single_replica() -> None:
    """Without leader election: ready once the caches synced; metrics and webhook served."""
    cluster = FakeCluster()
    running = Running(cluster, settings(backend="karpenter", resync_period=42.0))
    await eventually(lambda: running.operator is not None)
    await eventually(lambda: running.op.health.ok("readyz"))
    assert running.op.controller.resync_period == 42.0
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "kaito.sh", "version": "v1beta1", "kind": "Workspace"},
            "operation": "CREATE",
            "namespace": "default",
            "object": workspace("w") | {"resource": {"labelSelector": {}}},
        },
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(running.url("health", "/healthz")) as response:
            assert response.status == 200
            assert await response.text() == "ok"
        async with http.get(running.url("health", "/readyz?verbose")) as response:
            assert "[+]informers ok" in await response.text()
        async with http.post(running.url("webhook", WEBHOOK_PATH), json=review) as response:
            answer = (await response.json())["response"]
        assert answer["allowed"] is False
        assert "spec.resource.instanceType: instanceType is required" in answer["status"]["message"]
        async with http.get(running.url("metrics", "/metrics")) as response:
            text = await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
    assert "kaito_webhook_requests_total" in text
    assert "kaito_reconcile_total" in text
    assert "process_" in text or "python_info" in text
    assert await running.finish() == 0
    assert running.op.health.ok("readyz") is False  # shutting down: not ready any more


async def test_lost_leadership_exits_1() -> None:
    """When renewals fail past the deadline, the process ends with exit code 1."""
    cluster = FakeCluster()
    running = Running(cluster, settings(leader_elect=True, identity="a"))
    await eventually(lambda: running.operator is not None and running.op.elector is not None)
    await eventually(lambda: bool(running.op.elector and running.op.elector.is_leader))
    cluster.inject("conflict", verb="update", kind="Lease", times=10_000)
    assert await asyncio.wait_for(running.task, timeout=5) == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("server_error", "cannot reach the cluster: an error on the server"),
        ("throttle", "cannot reach the cluster: the server has received too many requests"),
    ],
    ids=["500", "429"],
)
async def test_an_unreachable_cluster_exits_2_with_one_line(fault: Any, message: str) -> None:
    """The first list of Workspaces failing is exit 2 with one line on stderr."""
    cluster = FakeCluster()
    cluster.inject(fault, verb="list", kind="Workspace")
    err = io.StringIO()
    connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
    assert await run_operator(settings(), connection=connection, stderr=err) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"kaito operator: error: {message}")


class _NoCrd:
    """A client whose Workspace kind is not served."""

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        raise NotFound("the server could not find the requested resource (get workspaces.kaito.sh)")


async def test_a_missing_crd_exits_2() -> None:
    """No Workspace CRD: exit 2 telling how to install it."""
    err = io.StringIO()
    connection = Connection(client=_NoCrd(), provisioner=None)
    assert await run_operator(settings(), connection=connection, stderr=err) == 2
    assert "kaito manifests | kubectl apply -f -" in err.getvalue()


async def test_a_busy_port_exits_2() -> None:
    """A port that cannot be bound is exit 2."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = io.StringIO()
        cluster = FakeCluster()
        connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
        config = settings(health_bind=BindAddress(host="127.0.0.1", port=port))
        assert await run_operator(config, connection=connection, stderr=err) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err.getvalue()


async def test_unreadable_webhook_certificates_exit_2(tmp_path: Any) -> None:
    """TLS files that cannot be loaded are exit 2."""
    cert = tmp_path / "tls.crt"
    cert.write_text("not a certificate")
    err = io.StringIO()
    cluster = FakeCluster()
    connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
    config = settings(webhook_cert=str(cert), webhook_key=str(cert))
    assert await run_operator(config, connection=connection, stderr=err) == 2
    assert "cannot load the webhook certificate" in err.getvalue()


async def test_the_namespace_scope_narrows_lists_of_namespaced_kinds() -> None:
    """ScopedClient: Workspaces of other namespaces are invisible; Nodes are not scoped."""
    cluster = FakeCluster()
    await cluster.client().create(workspace("mine", "team-a"))
    await cluster.client().create(workspace("theirs", "team-b"))
    cluster.add_node("n1")
    scoped = ScopedClient(cluster.client(), "team-a")
    found = await scoped.list("kaito.sh/v1beta1", "Workspace")
    assert [w["metadata"]["name"] for w in found.items] == ["mine"]
    assert len((await scoped.list("v1", "Node")).items) == 1
    explicit = await scoped.list("kaito.sh/v1beta1", "Workspace", namespace="team-b")
    assert [w["metadata"]["name"] for w in explicit.items] == ["theirs"]


async def test_a_scoped_operator_reconciles_its_namespace_only() -> None:
    """--namespace-scope: the controller never touches other namespaces."""
    cluster = FakeCluster()
    await cluster.client().create(workspace("mine", "team-a"))
    await cluster.client().create(workspace("theirs", "default"))
    running = Running(cluster, settings(namespace_scope="team-a"))
    await eventually(lambda: running.operator is not None)

    def finalized_in(namespace: str, name: str) -> bool:
        ws = cluster.store.find("kaito.sh/v1beta1", "Workspace", namespace, name)
        return ws is not None and FINALIZER in (ws["metadata"].get("finalizers") or ())

    await eventually(lambda: finalized_in("team-a", "mine"))
    assert not finalized_in("default", "theirs")
    assert await running.finish() == 0


async def test_the_aks_backend_without_its_extra_is_a_setup_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--backend aks with the Azure packages missing: one clear line."""
    import argparse

    monkeypatch.setitem(__import__("sys").modules, "azure.identity.aio", None)
    args = argparse.Namespace(
        aks_subscription="00000000-0000-0000-0000-000000000000",
        aks_resource_group="rg",
        aks_cluster="c",
        aks_location=None,
        aks_arm_endpoint=None,
        aks_polling_interval=10.0,
    )
    connection = Connection(client=FakeCluster().client(), provisioner=None)
    with pytest.raises(SetupError, match="needs the 'aks' extra"):
        await build_provisioner(settings(backend="aks", extra=args), connection.client, connection)
    empty = argparse.Namespace()
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    with pytest.raises(SetupError):
        await build_provisioner(settings(backend="aks", extra=empty), connection.client, connection)


async def test_end_to_end_over_http_with_the_kubernetes_backend(tmp_path: Any) -> None:
    """connect() from a kubeconfig: KubernetesClient + KarpenterProvisioner against the fake API
    server; the leader reconciles (finalizer, NodeClaim) and releases its Lease on stop."""
    from kaito_backends.apiserver import FakeApiServer, PacedClock
    from kaito_backends.apiserver.kubeconfig import write_kubeconfig

    cluster = FakeCluster(clock=PacedClock())
    server = FakeApiServer(cluster, engine=False, speed=0.0)
    await server.start()
    await server.pacer.stop()
    await server.handlers.ensure_namespace("kaito-system")  # kaito manifests makes it
    try:
        path = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        await cluster.client().create(
            workspace("phi")
            | {
                "resource": {
                    "instanceType": "Standard_NC24ads_A100_v4",
                    "labelSelector": {"matchLabels": {"apps": "phi"}},
                }
            }
        )
        stop = asyncio.Event()
        seen: list[Operator] = []
        err = io.StringIO()
        task = asyncio.create_task(
            run_operator(
                settings(
                    backend="karpenter", kubeconfig=str(path), leader_elect=True, identity="e2e"
                ),
                stop=stop,
                on_started=seen.append,
                stderr=err,
            )
        )
        await eventually(lambda: bool(seen) or task.done())
        assert not task.done(), err.getvalue()
        await eventually(lambda: finalized(cluster, "phi"))
        await eventually(
            lambda: bool(cluster.store.select("karpenter.sh/v1", "NodeClaim", None, None))
        )
        lease = cluster.store.find(
            "coordination.k8s.io/v1", "Lease", "kaito-system", "kaito-workspace-leader"
        )
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == "e2e"
        stop.set()
        assert await asyncio.wait_for(task, timeout=10) == 0
        lease = cluster.store.find(
            "coordination.k8s.io/v1", "Lease", "kaito-system", "kaito-workspace-leader"
        )
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == ""
    finally:
        await server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_stops_the_process_gracefully(tmp_path: Any) -> None:
    """``kaito operator`` as a process: ready on /readyz, SIGTERM -> Lease released, exit 0."""
    import os
    import signal
    import sys

    from kaito_backends.apiserver import FakeApiServer, PacedClock
    from kaito_backends.apiserver.kubeconfig import write_kubeconfig

    cluster = FakeCluster(clock=PacedClock())
    server = FakeApiServer(cluster, engine=False, speed=0.0)
    await server.start()
    await server.pacer.stop()
    await server.handlers.ensure_namespace("kaito-system")  # kaito manifests makes it
    health = _free_port()
    try:
        path = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        log = (tmp_path / "operator.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from kaito_backends.cli import main; raise SystemExit(main())",
            "operator",
            "--backend=byo",
            f"--kubeconfig={path}",
            "--leader-elect",
            "--leader-election-namespace=kaito-system",
            "--leader-election-identity=proc",
            f"--health-probe-bind-address=127.0.0.1:{health}",
            "--metrics-bind-address=0",
            "--webhook-port=0",
            "--log-format=json",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def ready() -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{health}/readyz") as response:
                            return response.status == 200
                    except aiohttp.ClientError:
                        return False

                deadline = asyncio.get_running_loop().time() + 15
                while not await ready():
                    assert process.returncode is None, (tmp_path / "operator.log").read_text()
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.05)

            def holder() -> str | None:
                lease = cluster.store.find(
                    "coordination.k8s.io/v1", "Lease", "kaito-system", "kaito-workspace-leader"
                )
                return None if lease is None else str(lease["spec"].get("holderIdentity"))

            await eventually(lambda: holder() == "proc", timeout=10)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=15) == 0
            assert holder() == ""
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            log.close()
    finally:
        await server.stop()
