"""A spec update rolls out on the real cluster: the StatefulSet gets a new revision, the
controller manager replaces the Pod, kwok runs it, and the Workspace is Ready at the new
generation."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import eventually
from tests.realcluster.workspaces import claims_of, manifest, pods_of, wait_state

NAME = "rollout"


ADAPTER = {
    "source": {"name": "dolly", "image": "registry.example.com/adapters/dolly:0.0.1"},
    "strength": "1.0",
}


async def test_adding_an_adapter_rolls_the_pod_out_on_the_same_node(
    kubectl: Kubectl, namespace: str
) -> None:
    """New StatefulSet revision, a new Pod with the adapter's puller, same NodeClaim, Ready."""
    await kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(manifest(NAME, "phi-3-mini-128k-instruct")),
    )
    await wait_state(kubectl, namespace, NAME, "Ready")
    (before,) = await pods_of(kubectl, namespace, NAME)
    claims = [c["metadata"]["uid"] for c in await claims_of(kubectl, namespace, NAME)]

    await kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(manifest(NAME, "phi-3-mini-128k-instruct", adapters=(ADAPTER,))),
    )

    async def rolled_out() -> dict[str, Any] | None:
        sts = json.loads(await kubectl("get", "statefulset", NAME, "-n", namespace, "-o", "json"))
        status = sts.get("status") or {}
        pods = await pods_of(kubectl, namespace, NAME)
        fresh = [p for p in pods if p["metadata"]["uid"] != before["metadata"]["uid"]]
        done = (
            status.get("updateRevision")
            and status.get("currentRevision") == status.get("updateRevision")
            and status.get("readyReplicas") == 1
            and len(pods) == 1
            and fresh
        )
        return fresh[0] if done else None

    after = await eventually(rolled_out, timeout=180, what="the new revision rolled out")
    assert [c["name"] for c in after["spec"]["initContainers"]] == ["puller-dolly"]
    assert after["status"]["phase"] == "Running"
    workspace = await wait_state(kubectl, namespace, NAME, "Ready")
    generation = workspace["metadata"]["generation"]
    assert generation == 2
    for condition in workspace["status"]["conditions"]:
        assert condition["observedGeneration"] == generation, condition["type"]
    assert [c["metadata"]["uid"] for c in await claims_of(kubectl, namespace, NAME)] == claims
    await kubectl("delete", "workspace", NAME, "-n", namespace, "--wait=true")
