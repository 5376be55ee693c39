"""Every Workspace manifest in docs/examples/ on the real cluster: Ready (tuning: Succeeded),
NodeClaims fulfilled by Karpenter-kwok, Pods run by kwok; deleting it leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import eventually
from tests.realcluster.workspaces import (
    claims_of,
    documents,
    final_state,
    leftovers,
    pods_of,
    wait_state,
)

#: The Workspace examples (InferenceSets and RAGEngines have tier tests of their own).
EXAMPLE_FILES = sorted(EXAMPLES.glob("workspace-*.yaml"))
#: GPU nodes per example, when not one: llama-3.3-70b runs on three (pipeline parallel).
NODES = {"workspace-llama-3.3-70b": 3}


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
async def test_an_example_comes_up_on_karpenter_and_kwok_and_goes_away(
    kubectl: Kubectl, namespace: str, path: Path
) -> None:
    """Apply the example as a user would: its end state, real NodeClaims and Nodes, its Pods;
    then delete it: no workload, NodeClaim or Node of it remains."""
    (workspace,) = [d for d in documents(path) if d["kind"] == "Workspace"]
    name = workspace["metadata"]["name"]
    want = final_state(workspace)
    await kubectl("apply", "-n", namespace, "-f", str(path))
    done = await wait_state(kubectl, namespace, name, want, timeout=240)

    nodes_wanted = NODES.get(path.stem, 1)
    assert int(done["status"]["targetNodeCount"]) == nodes_wanted
    claims = await claims_of(kubectl, namespace, name)
    assert len(claims) == nodes_wanted
    for claim in claims:
        assert _condition(claim, "Ready") == "True", claim["metadata"]["name"]
        assert claim["spec"]["nodeClassRef"]["kind"] == "KWOKNodeClass"
        node = json.loads(await kubectl("get", "node", claim["status"]["nodeName"], "-o", "json"))
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert int(node["status"]["capacity"]["nvidia.com/gpu"]) >= 1
        assert _condition(node, "Ready") == "True"
    pods = await pods_of(kubectl, namespace, name)
    assert pods, "the workspace has no pods"
    phases = {p["status"].get("phase") for p in pods}
    assert phases == ({"Succeeded"} if want == "Succeeded" else {"Running"}), phases
    if want == "Ready":
        assert {p["spec"]["nodeName"] for p in pods} <= {c["status"]["nodeName"] for c in claims}

    await kubectl("delete", "-n", namespace, "-f", str(path), "--wait=true", "--timeout=120s")

    async def nothing_left() -> bool:
        return not await leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what=f"everything of {name} deleted")
