"""The RAG example (a Workspace and the RAGEngine that calls it) on the real cluster: both come
up on Karpenter-kwok nodes, the RAG service runs as a real Deployment (kube-controller-manager's
deployment and replicaset controllers), the wiring check finds the Workspace's Service; deleting
them leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.conftest import EXAMPLES
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import eventually
from tests.realcluster.workspaces import claims_of, documents, leftovers, wait_state

EXAMPLE = EXAMPLES / "ragengine-phi-3.yaml"


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        str(c["type"]): (str(c["status"]), str(c.get("reason") or ""))
        for c in (obj.get("status") or {}).get("conditions") or ()
    }


def _in(namespace: str) -> str:
    """The example with its inference URL pointing into ``namespace``."""
    docs = documents(EXAMPLE)
    for doc in docs:
        if doc["kind"] == "RAGEngine":
            service = doc["spec"]["inferenceService"]
            service["url"] = service["url"].replace(".default.svc", f".{namespace}.svc")
    return yaml.safe_dump_all(docs)


async def _json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(await kubectl("get", *args, "-o", "json"))


async def _rag_leftovers(kubectl: Kubectl, namespace: str) -> list[str]:
    """`leftovers`, plus the NodeClaims, Nodes and ReplicaSets a RAGEngine leaves."""
    found = await leftovers(kubectl, namespace)
    selector = f"kaito.sh/ragenginenamespace={namespace}"
    for kind in ("nodeclaims", "nodes"):
        items = (await _json(kubectl, kind, "-l", selector))["items"]
        found += [f"{kind}/{o['metadata']['name']}" for o in items]
    replica_sets = (await _json(kubectl, "replicasets", "-n", namespace))["items"]
    found += [f"replicasets/{o['metadata']['name']}" for o in replica_sets]
    return found


async def test_the_rag_example_comes_up_and_goes_away(kubectl: Kubectl, namespace: str) -> None:
    """Workspace Ready; RAGEngine Succeeded on its own NodeClaim's node, its Deployment
    available, InferenceServiceReady True through the Workspace's Service; deleted: no
    workload, NodeClaim, Node or ReplicaSet of either remains."""
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=_in(namespace))
    await wait_state(kubectl, namespace, "phi-3-mini", "Ready", timeout=240)

    async def wired() -> dict[str, Any] | None:
        rag = await _json(kubectl, "ragengine", "ragengine-phi-3", "-n", namespace)
        conditions = _conditions(rag)
        ready = conditions.get("RAGEngineSucceeded", ("", ""))[0] == "True"
        reached = conditions.get("InferenceServiceReady", ("", ""))[0] == "True"
        return rag if ready and reached else None

    rag = await eventually(wired, timeout=240, what="RAGEngine succeeded and wired")
    conditions = _conditions(rag)
    assert conditions["InferenceServiceReady"] == ("True", "WorkspaceServiceReady")
    assert conditions["ContextWindowFits"] == ("True", "ContextWindowFits")
    assert rag["metadata"]["finalizers"] == ["ragengine.finalizer.kaito.sh"]

    selector = f"kaito.sh/ragengine=ragengine-phi-3,kaito.sh/ragenginenamespace={namespace}"
    (claim,) = (await _json(kubectl, "nodeclaims", "-l", selector))["items"]
    assert claim["spec"]["nodeClassRef"]["kind"] == "KWOKNodeClass"
    assert rag["status"]["workerNodes"] == [claim["status"]["nodeName"]]
    workspace_claims = await claims_of(kubectl, namespace, "phi-3-mini")
    assert claim["metadata"]["name"] not in {c["metadata"]["name"] for c in workspace_claims}

    deployment = await _json(kubectl, "deployment", "ragengine-phi-3", "-n", namespace)
    assert deployment["status"]["readyReplicas"] == 1
    assert _conditions(deployment)["Available"][0] == "True"
    (pod,) = (await _json(kubectl, "pods", "-n", namespace, "-l", "kaito.sh/ragengine"))["items"]
    assert pod["status"]["phase"] == "Running"
    assert pod["spec"]["nodeName"] == claim["status"]["nodeName"]
    (owner,) = pod["metadata"]["ownerReferences"]
    assert owner["kind"] == "ReplicaSet"  # the real controller's, which the fake leaves out

    await kubectl(
        "delete", "-n", namespace, "-f", "-", "--wait=true", "--timeout=120s", stdin=_in(namespace)
    )

    async def nothing_left() -> bool:
        return not await _rag_leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what="everything of the RAG example deleted")
