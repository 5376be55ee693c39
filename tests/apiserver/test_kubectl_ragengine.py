"""kubectl and RAGEngines on the playground (``kaito fake-apiserver``): the docs example (a
Workspace and the RAGEngine pointing at it) applied, printed with upstream's columns, its
Deployment run, and deleted with everything it made (skipped without kubectl)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.objects import ObjectRef

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "ragengine-phi-3.yaml"
RAG = ObjectRef("kaito.sh/v1beta1", "RAGEngine", "ragengine-phi-3", "default")


async def _eventually(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def _conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or ()}


async def test_kubectl_runs_a_ragengine_next_to_its_workspace(
    engine_server: FakeApiServer, engine_kubectl: Any
) -> None:
    kubectl = engine_kubectl
    _, out, _ = await kubectl("apply", "-f", str(EXAMPLE))
    assert out.split("\n")[:2] == [
        "workspace.kaito.sh/phi-3-mini created",
        "ragengine.kaito.sh/ragengine-phi-3 created",
    ]
    client = engine_server.cluster.client()

    async def wired() -> bool:
        conditions = _conditions(await client.get(RAG))
        return (
            conditions.get("RAGEngineSucceeded") == "True"
            and conditions.get("InferenceServiceReady") == "True"
        )

    await _eventually(wired)

    _, out, _ = await kubectl("get", "rag")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "INSTANCE", "RESOURCEREADY", "SERVICEREADY", "AGE"]
    assert row.split()[:4] == ["ragengine-phi-3", "Standard_NC6s_v3", "True", "True"]
    _, out, _ = await kubectl("get", "ragengines.v1alpha1.kaito.sh", "-o", "name")
    assert out.strip() == "ragengine.kaito.sh/ragengine-phi-3"
    _, out, _ = await kubectl(
        "get",
        "rag",
        "ragengine-phi-3",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="InferenceServiceReady")].reason}',
    )
    assert out == "WorkspaceServiceReady"

    _, out, _ = await kubectl("get", "deployments")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["ragengine-phi-3", "1/1", "1", "1"]
    _, out, _ = await kubectl("get", "pods", "-l", "kaito.sh/ragengine=ragengine-phi-3")
    (pod,) = out.splitlines()[1:]
    assert pod.split()[1:3] == ["1/1", "Running"]

    _, out, _ = await kubectl("delete", "-f", str(EXAMPLE), "--timeout=20s", timeout=25)
    assert 'ragengine.kaito.sh "ragengine-phi-3" deleted' in out

    async def cleaned() -> bool:
        listed = await client.list("apps/v1", "Deployment", namespace="default")
        claims = await client.list("karpenter.sh/v1", "NodeClaim")
        return not listed.items and not claims.items

    await _eventually(cleaned)
    code, _, err = await kubectl("get", "rag", "ragengine-phi-3", check=False)
    assert code == 1
    assert 'ragengines.kaito.sh "ragengine-phi-3" not found' in err
