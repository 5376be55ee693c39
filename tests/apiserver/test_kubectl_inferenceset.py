"""kubectl and an InferenceSet on the playground (skipped without kubectl): ``get is``,
``scale`` through the ``/scale`` subresource, and deletion that cascades."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.objects import ObjectRef

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "inferenceset-phi-4-mini.yaml"
REF = ObjectRef("kaito.sh/v1beta1", "InferenceSet", "phi-4-mini", "default")


async def _eventually(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def _ready(server: FakeApiServer, replicas: int) -> Any:
    """The set asks for ``replicas``, has that many, all ready, and no other Workspace exists."""
    client = server.cluster.client()

    async def check() -> bool:
        obj = await client.get(REF)
        status = obj.get("status") or {}
        workspaces = await client.list("kaito.sh/v1beta1", "Workspace", namespace="default")
        return (
            obj["spec"].get("replicas") == replicas
            and status.get("replicas") == replicas
            and status.get("readyReplicas") == replicas
            and len(workspaces.items) == replicas
        )

    return check


async def test_get_and_scale_an_inferenceset(
    engine_server: FakeApiServer, engine_kubectl: Any
) -> None:
    """2 replicas reach Ready; ``kubectl scale`` (a merge patch of the Scale) to 3, then to 1
    with ``--current-replicas`` (GET and PUT with the precondition), a wrong precondition is
    refused; deleting the set deletes its Workspaces."""
    kubectl = engine_kubectl
    _, out, _ = await kubectl("apply", "-f", str(EXAMPLE))
    assert out.strip() == "inferenceset.kaito.sh/phi-4-mini created"
    await _eventually(_ready(engine_server, 2))

    for name in ("is", "isets", "inferenceset", "inferencesets.kaito.sh"):
        _, out, _ = await kubectl("get", name)
        header, row = out.splitlines()
        assert header.split() == ["NAME", "REPLICAS", "READYREPLICAS", "AGE"]
        assert row.split()[:3] == ["phi-4-mini", "2", "2"]

    _, out, _ = await kubectl("scale", "is/phi-4-mini", "--replicas=3")
    assert out.strip() == "inferenceset.kaito.sh/phi-4-mini scaled"
    await _eventually(_ready(engine_server, 3))
    _, out, _ = await kubectl("get", "wk", "-o", "name")
    assert out.split() == [f"workspace.kaito.sh/phi-4-mini-{i}" for i in range(3)]
    _, out, _ = await kubectl("get", "is", "phi-4-mini", "--subresource=scale")
    assert out.splitlines()[1].split() == ["phi-4-mini", "3", "3"]
    _, out, _ = await kubectl("get", "is", "phi-4-mini", "--subresource=scale", "-o", "json")
    assert json.loads(out)["status"]["selector"] == "inferenceset.kaito.sh/created-by=phi-4-mini"

    code, _, err = await kubectl(
        "scale", "is/phi-4-mini", "--replicas=1", "--current-replicas=5", check=False
    )
    assert code == 1
    assert "Expected replicas to be 5, was 3" in err
    await kubectl("scale", "is/phi-4-mini", "--replicas=1", "--current-replicas=3")
    await _eventually(_ready(engine_server, 1))
    _, out, _ = await kubectl("get", "wk", "-o", "name")
    assert out.split() == ["workspace.kaito.sh/phi-4-mini-0"], "the highest slots go first"

    await kubectl("delete", "is", "phi-4-mini", "--wait=false")
    client = engine_server.cluster.client()

    async def gone() -> bool:
        workspaces = await client.list("kaito.sh/v1beta1", "Workspace", namespace="default")
        sets = await client.list("kaito.sh/v1beta1", "InferenceSet", namespace="default")
        return not workspaces.items and not sets.items

    await _eventually(gone)
