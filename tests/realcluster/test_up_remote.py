"""``kaito up --kubeconfig`` on the real cluster: the quick start applied and followed to Ready
with the embedded run's output; a refusal by the operator's webhook, relayed by the real API
server, is exit 1 with its message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from kaito_backends.cli import main
from tests.conftest import EXAMPLES
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import RealCluster
from tools.cluster.operator import Operator

DENIED = 'admission webhook "validation.workspace.kaito.sh" denied the request'


def _in_namespace(path: Path, namespace: str, out: Path, **inference: str) -> Path:
    """The example's Workspace in ``namespace`` (and ``inference`` fields added), written to
    ``out``."""
    (workspace,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    workspace["metadata"]["namespace"] = namespace
    workspace.setdefault("inference", {}).update(inference)
    out.write_text(yaml.safe_dump(workspace))
    return out


async def _up(*args: str) -> int:
    return await asyncio.to_thread(main, ["up", *args])


async def test_up_follows_the_quick_start_to_ready(
    real_cluster: RealCluster,
    operator: Operator,
    kubectl: Kubectl,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Progress lines from the cluster's NodeClaims, Nodes and Pods, the table with every
    condition True, exit 0; the Workspace stays on the cluster."""
    path = _in_namespace(EXAMPLES / "workspace-phi-4-mini.yaml", namespace, tmp_path / "ws.yaml")
    code = await _up("--kubeconfig", str(real_cluster.kubeconfig), "--timeout", "5", str(path))
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert any("node claim" in line and "requested" in line for line in lines), out
    assert any(line.endswith("workspace-phi-4-mini: Ready") for line in lines), out
    header = next(line for line in lines if line.startswith("NAME"))
    row = lines[lines.index(header) + 1].split()
    assert row[:5] == ["workspace-phi-4-mini", "Standard_NC24ads_A100_v4", "True", "True", "True"]
    await kubectl("delete", "workspace", "workspace-phi-4-mini", "-n", namespace, "--wait=true")


async def test_a_refusal_by_the_webhook_is_exit_1_with_its_message(
    real_cluster: RealCluster,
    operator: Operator,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ConfigMap the files do not hold is not judged locally (it may be on the cluster); the
    webhook finds it missing and refuses: one error line with its message, exit 1."""
    path = _in_namespace(
        EXAMPLES / "workspace-phi-4-mini.yaml", namespace, tmp_path / "ws.yaml", config="nope"
    )
    assert await _up("--kubeconfig", str(real_cluster.kubeconfig), str(path)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: Workspace/{namespace}/workspace-phi-4-mini: {DENIED}"), err
    assert "ConfigMap 'nope' specified in 'config' not found" in err
