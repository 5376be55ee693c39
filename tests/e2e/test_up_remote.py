"""``kaito up --kubeconfig``: apply to a cluster where an operator runs, follow, report as the
embedded run does.

The cluster is the fake API server in this process (its clock at 600x, no engine of its own);
the operator is ``kaito operator --backend karpenter`` in a subprocess; ``kaito up`` runs in a
thread (it calls ``asyncio.run``), so its output is captured. A scripted API server answers as
kube-apiserver does when the operator's webhook refuses an object.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

pytest.importorskip("aiohttp")
pytest.importorskip("kubernetes_asyncio")

from kaito_backends.apiserver import FakeApiServer, PacedClock, write_kubeconfig
from kaito_backends.cli import main
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.kubernetes import from_kubeconfig
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.operator import start_operator
from tests.kubernetes.stub import Reply, Stub, status

PHI3 = str(EXAMPLES / "workspace-phi-3-mini.yaml")
#: An upstream example: a ConfigMap and a Workspace that names it.
UPSTREAM = ROOT / "tests" / "golden" / "inputs" / "kaito_workspace_custom_config.yaml"
HEADER = [
    "NAME",
    "INSTANCE",
    "RESOURCEREADY",
    "INFERENCEREADY",
    "JOBSTARTED",
    "WORKSPACESUCCEEDED",
    "AGE",
]


async def _cluster(tmp_path: Path, faults: FaultPlan | None = None) -> AsyncIterator[Path]:
    """The fake API server and an operator on it; yields the kubeconfig."""
    # virtual time starts now: the operator's wall clock and the server's timestamps agree
    cluster = FakeCluster(clock=PacedClock(datetime.now(UTC)), faults=faults)
    async with FakeApiServer(cluster, engine=False, speed=600) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        operator = await start_operator(kubeconfig)
        try:
            yield kubeconfig
        finally:
            operator.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(operator.wait(), 15)
            except TimeoutError:
                operator.kill()
                await operator.wait()


@pytest.fixture
async def kubeconfig(tmp_path: Path) -> AsyncIterator[Path]:
    async for path in _cluster(tmp_path):
        yield path


async def _up(*args: str) -> int:
    return await asyncio.to_thread(main, ["up", *args])


async def test_up_on_a_cluster_reaches_ready_with_the_embedded_output(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quick start through the operator: progress lines, the same table as the embedded
    run (one row, every condition True), the float16 note, exit 0."""
    assert await _up("--kubeconfig", str(kubeconfig), PHI3) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("node claim ws" in line and "requested (Standard_NC6s_v3)" in line for line in lines)
    assert any(line.endswith("workspace-phi-3-mini: Ready") for line in lines)
    header = next(line for line in lines if line.startswith("NAME"))
    assert header.split() == HEADER
    row = lines[lines.index(header) + 1].split()
    assert row[:-1] == ["workspace-phi-3-mini", "Standard_NC6s_v3", "True", "True", "True"]
    assert any(line.startswith("note: workspace-phi-3-mini: float16") for line in lines)


async def test_up_on_a_cluster_json_is_the_embedded_shape(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o json: the keys of the embedded run's JSON, the state Succeeded; progress on stderr."""
    assert await _up("--kubeconfig", str(kubeconfig), "-o", "json", PHI3) == 0
    remote = json.loads(capsys.readouterr().out)
    assert await _up("-o", "json", "--quiet", PHI3) == 0
    embedded = json.loads(capsys.readouterr().out)
    assert set(remote) == set(embedded)
    (item,) = remote["workspaces"]
    assert set(item) == set(embedded["workspaces"][0])
    assert (item["name"], item["state"], item["resourceReady"]) == (
        "workspace-phi-3-mini",
        "Succeeded",
        "True",
    )


async def test_up_on_a_cluster_reports_what_keeps_an_object_from_succeeding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every machine launch refused: after --timeout, exit 1 with the failing condition's
    reason and the provider's message, as the embedded run says it."""
    # 15 s of wall time: the operator must start and see a refused launch first (6 s was
    # sometimes too short on a loaded machine, and the reason was still Unschedulable)
    async for kubeconfig in _cluster(tmp_path, FaultPlan(1, launch_failure_rate=1.0)):
        code = await _up("--kubeconfig", str(kubeconfig), "--timeout", "0.25", "--quiet", PHI3)
    assert code == 1
    err = capsys.readouterr().err
    assert "error: workspace-phi-3-mini did not succeed within " in err
    assert "(--timeout 0.25 minutes): InsufficientCapacity:" in err


async def test_a_refusal_by_the_webhook_is_exit_1_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The API server relays the operator's webhook refusal (422): one error line naming the
    object and the server's message; nothing else is applied or followed."""
    stub = Stub()
    await stub.start()
    try:
        denial = (
            'admission webhook "validation.workspace.kaito.sh" denied the request: '
            "spec.resource.instanceType: Standard_NC6s_v3 is not offered in this region"
        )
        stub.on(
            "PATCH",
            "/apis/kaito.sh/v1alpha1/namespaces/default/workspaces/workspace-phi-3-mini",
            Reply(status(422, "Invalid", denial), 422),
        )
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", stub.url)
        assert await _up("--kubeconfig", str(kubeconfig), PHI3) == 1
    finally:
        await stub.stop()
    captured = capsys.readouterr()
    assert captured.err.strip() == f"error: Workspace/default/workspace-phi-3-mini: {denial}"
    assert "NAME" not in captured.out
    assert [r.method for r in stub.requests] == ["PATCH"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--faults", "3"], "--faults works on the embedded fake cluster"),
        (["--context", "nowhere"], "cannot load --kubeconfig"),
    ],
    ids=["faults", "unknown-context"],
)
async def test_what_cannot_work_on_a_cluster_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """--faults belongs to the embedded cluster; a kubeconfig that cannot be used is unreadable
    input: one line, exit 2, nothing sent."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    assert await _up("--kubeconfig", str(kubeconfig), *extra, PHI3) == 2
    assert message in capsys.readouterr().err


async def test_configmaps_already_on_the_cluster_are_not_missing_locally(
    kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Local validation does not take the files for the whole cluster: a Workspace naming a
    ConfigMap that only the cluster holds is applied and succeeds (the embedded run, whose
    files are the whole cluster, refuses it)."""
    config, ws = yaml.safe_load_all(UPSTREAM.read_text())
    path = tmp_path / "ws.yaml"
    path.write_text(yaml.safe_dump(ws))
    assert await _up("--quiet", str(path)) == 1, "embedded: the ConfigMap does not exist"
    client = await from_kubeconfig(str(kubeconfig))
    async with client:
        await client.create({**config, "metadata": {**config["metadata"], "namespace": "default"}})
    capsys.readouterr()
    assert await _up("--kubeconfig", str(kubeconfig), "--quiet", str(path)) == 0
    assert "workspace-deepseek-r1-distill-qwen-14b" in capsys.readouterr().out
