"""The operator on a cluster, seen through kubectl: the end-to-end test of the real-cluster path.

`kaito fake-apiserver` (in this process, its clock paced at 600x) stands in for the cluster. Two
`kaito operator --backend karpenter --leader-elect` processes reconcile through the real
kubernetes-asyncio client; kubectl is the independent client that applies, watches and deletes.
The leader is killed with SIGKILL half-way; watch drops and 410s are injected throughout.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("kubernetes_asyncio")

from kaito_backends.apiserver import FakeApiServer, PacedClock
from kaito_backends.fake import FakeCluster, FaultPlan
from tests.conftest import ROOT
from tests.e2e.kubectl import KUBECTL, Kubectl
from tests.e2e.operator import start_operator

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

#: An upstream example (a ConfigMap and a Workspace that uses it), copied into the tree.
UPSTREAM_EXAMPLE = ROOT / "tests" / "golden" / "inputs" / "kaito_workspace_custom_config.yaml"
SECOND = ROOT / "docs" / "examples" / "workspace-phi-4-mini.yaml"
LEASE = "kaito-workspace-leader"


@pytest.fixture
async def server() -> AsyncIterator[FakeApiServer]:
    faults = FaultPlan(11, watch_drop_rate=0.02)
    cluster = FakeCluster(clock=PacedClock(), faults=faults, watch_history=200)
    async with FakeApiServer(cluster, port=0, speed=600, engine=False) as srv:
        yield srv


async def _operator(kubeconfig: Path, identity: str) -> asyncio.subprocess.Process:
    return await start_operator(
        kubeconfig,
        "--leader-elect",
        f"--leader-election-identity={identity}",
        "--leader-election-namespace=default",
        "--lease-duration=3",
        "--renew-deadline=2",
        "--retry-period=0.5",
        stderr=asyncio.subprocess.PIPE,
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


SUCCEEDED = '{.status.conditions[?(@.type=="WorkspaceSucceeded")].status}'


async def test_operators_reconcile_what_kubectl_applies(
    server: FakeApiServer, tmp_path: Path
) -> None:
    """Apply with kubectl, reach WorkspaceSucceeded, survive a killed leader, delete cleanly."""
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl = Kubectl(kubeconfig, tmp_path / "cache")
    operators = {name: await _operator(kubeconfig, name) for name in ("op-a", "op-b")}
    try:
        await kubectl("apply", "-f", str(UPSTREAM_EXAMPLE))
        name = "workspace-deepseek-r1-distill-qwen-14b"
        await kubectl.wait_for(("get", "workspace", name, "-o", f"jsonpath={SUCCEEDED}"), "True")
        table = await kubectl("get", "workspace", name)
        assert "WORKSPACESUCCEEDED" in table.splitlines()[0]
        assert "Standard_NC24ads_A100_v4" in table
        claims = await kubectl("get", "nodeclaims", "-o", "name")
        assert claims.count("nodeclaim") == 1

        watch = await asyncio.create_subprocess_exec(
            *kubectl.base,
            "get",
            "workspaces",
            "-w",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert watch.stdout is not None
        first = await asyncio.wait_for(watch.stdout.readline(), 15)
        second = await asyncio.wait_for(watch.stdout.readline(), 15)
        watch.kill()
        await watch.wait()
        assert b"NAME" in first
        assert name.encode() in second

        holder = await kubectl(
            "get", "lease", LEASE, "-n", "default", "-o", "jsonpath={.spec.holderIdentity}"
        )
        assert holder in operators
        operators[holder].kill()  # SIGKILL: no graceful release, the lease must expire
        await operators[holder].wait()
        survivor = next(n for n in operators if n != holder)
        await kubectl.wait_for(
            ("get", "lease", LEASE, "-n", "default", "-o", "jsonpath={.spec.holderIdentity}"),
            survivor,
        )
        server.cluster.inject("watch_gone", kind="Workspace")
        await kubectl("apply", "-f", str(SECOND))
        await kubectl.wait_for(
            ("get", "workspace", "workspace-phi-4-mini", "-o", f"jsonpath={SUCCEEDED}"), "True"
        )
        assert (await kubectl("get", "nodeclaims", "-o", "name")).count("nodeclaim") == 2

        await kubectl("delete", "-f", str(UPSTREAM_EXAMPLE), "-f", str(SECOND), "--wait=true")
        for kind in ("workspaces", "nodeclaims", "statefulsets", "pods", "controllerrevisions"):
            deadline = time.monotonic() + 60
            while (await kubectl("get", kind, "-A", "-o", "name")).strip():
                assert time.monotonic() < deadline, f"{kind} left behind"
                await asyncio.sleep(0.3)
        services = await kubectl("get", "services", "-n", "default", "-o", "name")
        assert "workspace-" not in services
    finally:
        for proc in operators.values():
            await _stop(proc)
