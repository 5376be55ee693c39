"""``status.phase`` on the real control plane: while a Workspace comes up, its phase follows
the NodeClaim, Node, Pod and container state the real API server holds, and ``kubectl get
workspace`` shows it in the PHASE and SINCE columns.

kwok makes Nodes Ready and Pods Running in one step, too quick to watch. So the test holds each
step: Karpenter is stopped while the NodeClaim waits, and the Workspace is named
`HAND_RUN_WORKSPACE`, whose Nodes and Pods kwok's stages leave alone: the test writes their
status as a kubelet and the NVIDIA device plugin would, one step at a time (Ready, GPU capacity,
ContainerCreating, running, startup probe passed, ready), and waits for the operator to report
the phase each step allows.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from typing import Any

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import RealCluster, eventually
from tests.realcluster.workspaces import claims_of, leftovers, manifest, wait_state, workspace_json
from tools.cluster.controlplane import HAND_RUN_WORKSPACE
from tools.cluster.operator import Operator

NAME = HAND_RUN_WORKSPACE
#: An age as kubectl prints a ``date`` column: 7s, 2m5s, 3h.
_AGE = re.compile(r"(\d+[smhdy])+")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _phase(
    kubectl: Kubectl, namespace: str, name: str, message: str | re.Pattern[str]
) -> dict[str, Any]:
    """Wait until ``status.phase`` is ``name`` with ``message`` (a pattern: matched in full)."""

    async def reached() -> dict[str, Any] | None:
        phase = ((await workspace_json(kubectl, namespace, NAME)).get("status") or {}).get(
            "phase"
        ) or {}
        if phase.get("name") != name:
            return None
        text = str(phase.get("message"))
        ok = message.fullmatch(text) if isinstance(message, re.Pattern) else text == message
        return dict(phase) if ok else None

    return await eventually(reached, timeout=150, interval=0.5, what=f"phase {name}: {message}")


def _cells(table: str) -> dict[str, str]:
    """The one row of a kubectl table by column (cells sit under their headers' starts)."""
    header, row = table.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    bounds = [*starts[1:], None]
    return {n: row[s:e].strip() for n, s, e in zip(names, starts, bounds, strict=True)}


async def _columns(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    return _cells(await kubectl("get", "workspace", NAME, "-n", namespace))


async def _patch_status(kubectl: Kubectl, *target: str, status: dict[str, Any]) -> None:
    patch = json.dumps({"status": status})
    await kubectl("patch", *target, "--subresource=status", "--type=merge", "-p", patch)


def _container(name: str, state: dict[str, Any], *, started: bool, ready: bool) -> dict[str, Any]:
    return {
        "name": name,
        "image": "kaito",
        "imageID": "",
        "restartCount": 0,
        "started": started,
        "ready": ready,
        "state": state,
    }


def _pod_conditions(*, ready: bool) -> list[dict[str, Any]]:
    now = _now()
    return [
        {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now}
        for kind, ok in (
            ("PodScheduled", True),
            ("Initialized", True),
            ("ContainersReady", ready),
            ("Ready", ready),
        )
    ]


async def test_the_phase_follows_nodes_pods_and_containers_and_shows_in_kubectl(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """ProvisioningNodes while the NodeClaim is not launched; InitializingNodes while its Node is
    not Ready, then has no GPU capacity; PullingImage while the container is created;
    LoadingWeights until the startup probe passes; WarmingUp until ready; no phase once Ready.
    ``since`` moves forward with each phase and holds while the phase does; kubectl shows both."""
    plane = real_cluster.plane
    await asyncio.to_thread(plane.stop, "karpenter")
    try:
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest(NAME)))
        provisioning = await _phase(
            kubectl, namespace, "ProvisioningNodes", "0 of 1 nodes registered"
        )
        (claim,) = await claims_of(kubectl, namespace, NAME)
        assert not (claim.get("status") or {}).get("nodeName"), "launched without Karpenter"
        cells = await _columns(kubectl, namespace)
        assert list(cells)[-2:] == ["PHASE", "SINCE"]
        assert cells["PHASE"] == "ProvisioningNodes"
        assert _AGE.fullmatch(cells["SINCE"]), cells
        assert cells["STATE"] == "Pending"
    finally:
        await asyncio.to_thread(plane.start, "karpenter")

    # Karpenter launches the NodeClaim: a Node that no kubelet has made Ready yet
    initializing = await _phase(
        kubectl,
        namespace,
        "InitializingNodes",
        re.compile(r"0 of 1 nodes ready; node \S+ is not Ready"),
    )
    assert _time(initializing["since"]) >= _time(provisioning["since"])
    selector = f"kaito.sh/workspace={NAME},kaito.sh/workspacenamespace={namespace}"
    (node,) = json.loads(await kubectl("get", "nodes", "-l", selector, "-o", "json"))["items"]
    node_name = node["metadata"]["name"]
    assert initializing["message"].endswith(f"node {node_name} is not Ready")
    allocatable = dict(node["status"]["allocatable"])
    assert int(allocatable["nvidia.com/gpu"]) == 1
    ready_condition = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "the test plays the kubelet",
        "lastHeartbeatTime": _now(),
        "lastTransitionTime": _now(),
    }

    # the kubelet reports Ready; the device plugin has not registered the GPU yet
    without_gpu = {k: v for k, v in allocatable.items() if k != "nvidia.com/gpu"}
    await _patch_status(
        kubectl,
        "node",
        node_name,
        status={"capacity": without_gpu, "conditions": [ready_condition], "phase": "Running"},
    )
    no_gpu = await _phase(
        kubectl,
        namespace,
        "InitializingNodes",
        f"0 of 1 nodes ready; node {node_name} has no GPU capacity yet",
    )
    assert no_gpu["since"] == initializing["since"]  # the same phase: since holds

    # the device plugin advertises the GPU: the nodes are ready, the pod's turn
    await _patch_status(kubectl, "node", node_name, status={"capacity": allocatable})
    pod_name = f"{NAME}-0"
    pulling = await _phase(kubectl, namespace, "PullingImage", re.compile(rf"pod {pod_name}: .+"))
    assert _time(pulling["since"]) >= _time(initializing["since"])
    (claim,) = await claims_of(kubectl, namespace, NAME)
    assert claim["status"]["nodeName"] == node_name
    pod = json.loads(await kubectl("get", "pod", pod_name, "-n", namespace, "-o", "json"))
    assert pod["spec"]["nodeName"] == node_name
    containers = [c["name"] for c in pod["spec"]["containers"]]
    assert all(c.get("startupProbe") for c in pod["spec"]["containers"])
    first = containers[0]
    target = ("pod", pod_name, "-n", namespace)

    def statuses(state: dict[str, Any], *, started: bool, ready: bool) -> list[dict[str, Any]]:
        return [_container(c, state, started=started, ready=ready) for c in containers]

    await _patch_status(
        kubectl,
        *target,
        status={
            "containerStatuses": statuses(
                {"waiting": {"reason": "ContainerCreating"}}, started=False, ready=False
            )
        },
    )
    creating = await _phase(
        kubectl, namespace, "PullingImage", f"pod {pod_name}: container {first} ContainerCreating"
    )
    assert creating["since"] == pulling["since"]
    assert (await _columns(kubectl, namespace))["PHASE"] == "PullingImage"

    running = {"running": {"startedAt": _now()}}
    await _patch_status(
        kubectl,
        *target,
        status={
            "phase": "Running",
            "conditions": _pod_conditions(ready=False),
            "containerStatuses": statuses(running, started=False, ready=False),
        },
    )
    loading = await _phase(
        kubectl,
        namespace,
        "LoadingWeights",
        f"pod {pod_name}: container {first} running, startup probe not passed yet",
    )
    assert _time(loading["since"]) >= _time(pulling["since"])

    await _patch_status(
        kubectl, *target, status={"containerStatuses": statuses(running, started=True, ready=False)}
    )
    warming = await _phase(
        kubectl,
        namespace,
        "WarmingUp",
        f"pod {pod_name}: container {first} passed its startup probe, not ready yet",
    )
    assert _time(warming["since"]) >= _time(loading["since"])
    assert (await _columns(kubectl, namespace))["PHASE"] == "WarmingUp"

    await _patch_status(
        kubectl,
        *target,
        status={
            "conditions": _pod_conditions(ready=True),
            "containerStatuses": statuses(running, started=True, ready=True),
        },
    )
    done = await wait_state(kubectl, namespace, NAME, "Ready", timeout=150)
    assert "phase" not in done["status"]
    cells = await _columns(kubectl, namespace)
    assert (cells["STATE"], cells["PHASE"], cells["SINCE"]) == ("Ready", "", "")

    await kubectl("delete", "workspace", NAME, "-n", namespace, "--wait=true", "--timeout=120s")

    async def nothing_left() -> bool:
        return not await leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what=f"everything of {NAME} deleted")
