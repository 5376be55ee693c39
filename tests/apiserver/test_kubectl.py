"""kubectl, as an independent client, against the fake API server (skipped without kubectl)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.objects import ObjectRef

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "workspace-phi-4-mini.yaml"
WORKSPACE_HEADER = [
    "NAME",
    "INSTANCE",
    "RESOURCEREADY",
    "INFERENCEREADY",
    "JOBSTARTED",
    "WORKSPACESUCCEEDED",
    "TARGETNODECOUNT",
    "STATE",
    "AGE",
    "PHASE",
    "SINCE",
]


async def _eventually(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_playground_end_to_end(engine_server: FakeApiServer, engine_kubectl: Any) -> None:
    kubectl = engine_kubectl
    _, out, _ = await kubectl("apply", "-f", str(EXAMPLE))
    assert out.strip() == "workspace.kaito.sh/workspace-phi-4-mini created"
    _, out, _ = await kubectl("apply", "-f", str(EXAMPLE))
    assert out.strip() == "workspace.kaito.sh/workspace-phi-4-mini unchanged"

    client = engine_server.cluster.client()
    ref = ObjectRef("kaito.sh/v1beta1", "Workspace", "workspace-phi-4-mini", "default")

    async def ready() -> bool:
        return (await client.get(ref)).get("status", {}).get("state") == "Ready"

    await _eventually(ready)

    _, out, _ = await kubectl("get", "workspace")
    header, row = out.splitlines()
    assert header.split() == WORKSPACE_HEADER
    assert row.split()[:8] == [
        "workspace-phi-4-mini",
        "Standard_NC24ads_A100_v4",
        "True",
        "True",
        "True",
        "1",
        "Ready",
        row.split()[7],
    ]
    _, out, _ = await kubectl("get", "wk", "-n", "default", "-o", "name")
    assert out.strip() == "workspace.kaito.sh/workspace-phi-4-mini"

    _, out, _ = await kubectl("get", "nodeclaims")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "TYPE", "CAPACITY", "ZONE", "NODE", "READY", "AGE"]
    assert len(rows) == 1
    assert "True" in rows[0].split()

    _, out, _ = await kubectl("get", "pods", "-o", "json")
    pods = json.loads(out)
    assert pods["kind"] == "List"
    assert [p["metadata"]["name"] for p in pods["items"]] == ["workspace-phi-4-mini-0"]
    _, out, _ = await kubectl("get", "pods")
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out.splitlines()[1].split()[1:3] == ["1/1", "Running"]

    _, out, _ = await kubectl("delete", "-f", str(EXAMPLE), "--timeout=20s", timeout=25)
    assert 'workspace.kaito.sh "workspace-phi-4-mini" deleted' in out
    code, out, err = await kubectl("get", "workspace", "workspace-phi-4-mini", check=False)
    assert code == 1
    assert 'workspaces.kaito.sh "workspace-phi-4-mini" not found' in err


async def test_get_workspace_shows_the_phase_and_since_when(
    server: FakeApiServer, kubectl: Any
) -> None:
    """A Workspace that is not ready: PHASE and SINCE follow upstream's columns."""
    await kubectl("apply", "-f", str(EXAMPLE))
    client = server.cluster.client()
    ref = ObjectRef("kaito.sh/v1beta1", "Workspace", "workspace-phi-4-mini", "default")
    ws = await client.get(ref)
    since = ws["metadata"]["creationTimestamp"]
    ws["status"] = {"state": "Pending", "phase": {"name": "PullingImage", "since": since}}
    await client.apply_status(ws)
    _, out, _ = await kubectl("get", "workspace")
    header, row = out.splitlines()
    assert header.split() == WORKSPACE_HEADER
    cells = row.split()
    assert cells[-4] == "Pending"
    assert cells[-2] == "PullingImage"
    assert cells[-1][-1] in "smhd", cells  # an age, as kubectl prints a date column
    _, out, _ = await kubectl(
        "get", "wk", "workspace-phi-4-mini", "-o", "jsonpath={.status.phase.name}"
    )
    assert out == "PullingImage"


async def test_get_watch_streams(server: FakeApiServer, kubectl: Any) -> None:
    client = server.cluster.client()
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "one", "namespace": "default"},
        }
    )
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv("get", "configmaps", "-w", "--output-watch-events"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(10):
            while len(lines) < 3:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    break
                lines.append(line)
                if len(lines) == 2:
                    await client.create(
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "metadata": {"name": "two", "namespace": "default"},
                        }
                    )
    finally:
        proc.kill()
        await proc.wait()
    assert lines[0].split() == ["EVENT", "NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["ADDED", "one"]
    assert lines[2].split()[:2] == ["ADDED", "two"]


async def test_kubectl_discovery_crds_and_errors(server: FakeApiServer, kubectl: Any) -> None:
    _, out, _ = await kubectl("api-resources")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["workspaces"][1] == "wk,wks"
    assert rows["nodeclaims"][-2:] == ["false", "NodeClaim"]
    assert rows["ragengines"][1] == "rag"
    _, out, _ = await kubectl("get", "crd")
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "inferencesets.kaito.sh",
        "nodeclaims.karpenter.sh",
        "nodepools.karpenter.sh",
        "ragengines.kaito.sh",
        "workspaces.kaito.sh",
    ]
    code, _, err = await kubectl("get", "workspace", "nope", check=False)
    assert code == 1
    assert 'Error from server (NotFound): workspaces.kaito.sh "nope" not found' in err
    # kubectl create configmap/secret/namespace send protobuf bodies.
    await kubectl("create", "namespace", "team-a")
    await kubectl("create", "configmap", "cfg", "-n", "team-a", "--from-literal=a=b")
    await kubectl("create", "secret", "generic", "token", "-n", "team-a", "--from-literal=t=s3cret")
    _, out, _ = await kubectl("get", "secret", "token", "-n", "team-a", "-o", "jsonpath={.data.t}")
    assert out == "czNjcmV0"
    code, _, err = await kubectl("create", "configmap", "cfg", "-n", "team-a", check=False)
    assert code == 1
    assert 'configmaps "cfg" already exists' in err
    await kubectl("label", "configmap", "cfg", "-n", "team-a", "tier=gold")
    _, out, _ = await kubectl("get", "cm", "-A", "-l", "tier in (gold,silver)", "-o", "name")
    assert out.split() == ["configmap/cfg"]
    await kubectl("apply", "--server-side", "-f", str(EXAMPLE), "-n", "team-a")
    _, out, _ = await kubectl("get", "workspaces.v1alpha1.kaito.sh", "-n", "team-a")
    assert out.splitlines()[0].split() == [
        "NAME",
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "JOBSTARTED",
        "WORKSPACESUCCEEDED",
        "AGE",
    ]
    await kubectl("delete", "namespace", "team-a")
    _, out, _ = await kubectl("get", "workspaces", "-A", "-o", "name")
    assert out.strip() == ""


async def test_cli_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "playground.kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kaito_backends.cli import main; raise SystemExit(main())",
        "fake-apiserver",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--no-engine",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert f"server: {url}" in kubeconfig.read_text()
        async with aiohttp.ClientSession() as session, session.get(f"{url}/version") as resp:
            assert (await resp.json())["major"] == "1"
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await proc.wait()
        assert code == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
