"""The playground through kubectl: an invalid Workspace shows why in ``kubectl get`` and
``describe``, and NodeClaim rows fill TYPE, CAPACITY and ZONE (skipped without kubectl)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.objects import ObjectRef

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "workspace-phi-4-mini.yaml"
INVALID = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: invalid
resource:
  instanceTyep: Standard_NC24ads_A100_v4
  labelSelector:
    matchLabels: {apps: invalid}
inference:
  preset:
    name: phi-4-mini-instruct
"""


def _cells(header: str, row: str) -> dict[str, str]:
    """A kubectl table row by column, blank cells included (columns start where headers do)."""
    names = header.split()
    starts = [header.index(f" {n}") + 1 if i else 0 for i, n in enumerate(names)]
    ends = [*starts[1:], None]
    return {n: row[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}


async def _eventually(check: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_an_invalid_workspace_says_why(
    engine_server: FakeApiServer, engine_kubectl: Any, tmp_path: Path
) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID)
    await engine_kubectl("apply", "-f", str(path))
    client = engine_server.cluster.client()
    ref = ObjectRef("kaito.sh/v1beta1", "Workspace", "invalid", "default")

    async def judged() -> bool:
        return (await client.get(ref)).get("status", {}).get("state") == "Failed"

    await _eventually(judged)
    _, out, _ = await engine_kubectl("get", "workspace", "invalid")
    header, row = out.splitlines()
    cells = _cells(header, row)
    assert (cells["WORKSPACESUCCEEDED"], cells["STATE"]) == ("False", "Failed")
    _, out, _ = await engine_kubectl("describe", "workspace", "invalid")
    status = out.split("Events:")[0]
    assert "InvalidSpec" in status
    assert "unknown field; did you mean instanceType?" in status


async def test_node_claims_fill_type_capacity_and_zone(
    engine_server: FakeApiServer, engine_kubectl: Any
) -> None:
    await engine_kubectl("apply", "-f", str(EXAMPLE))

    async def launched() -> bool:
        _, out, _ = await engine_kubectl("get", "nodeclaims", check=False)
        return "on-demand" in out

    await _eventually(launched)
    _, out, _ = await engine_kubectl("get", "nodeclaims")
    header, row = out.splitlines()
    assert header.split()[:4] == ["NAME", "TYPE", "CAPACITY", "ZONE"]
    assert row.split()[1:4] == ["Standard_NC24ads_A100_v4", "on-demand", "fakeregion-1"]
