"""Which phase a Workspace that is not ready is in, read from node, pod and container state.

Pure: no I/O, no clock, no logging.

`observed_phase` is what ``status.phase`` says (a kaito-py extension; `compute_status` adds
the time it was entered). The phases, in the order a Workspace goes through them:

=================== ============================================================================
ProvisioningNodes   ResourceReady is not True and fewer Nodes than needed exist yet (NodeClaims
                    launching; with bring-your-own nodes: not enough matching nodes)
InitializingNodes   ResourceReady is not True, the Nodes exist but are not all Ready with GPU
                    capacity (kubelet, drivers, device plugin)
PullingImage        nodes are ready; a pod is not created, not scheduled, runs or waits in an
                    init container, or its container waits (ContainerCreating, PodInitializing,
                    ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...)
LoadingWeights      a container runs but has not passed its startup probe (or has none and is
                    not ready), or is restarting (CrashLoopBackOff, terminated)
WarmingUp           every container runs and has passed its startup probe, and a pod or the
                    rollout of the StatefulSet is not ready yet
=================== ============================================================================

Across pods the least advanced one counts: a Workspace is ready only when all are. The message
names the pod (or node count) behind. A tuning Workspace has a phase until its Job's pod runs.
What is wrong, if anything, stays on the conditions (an ``ErrImagePull`` pod is in
PullingImage here and ``ImagePullError`` on InferenceReady).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.types import Workspace, WorkspacePhase
from kaito_core.conditions import STATE_FAILED, STATE_READY, STATE_SUCCEEDED, truncate_message
from kaito_core.observed import Observed
from kaito_core.render.meta import sanitized_match_labels

__all__ = [
    "INITIALIZING_NODES",
    "LOADING_WEIGHTS",
    "PHASES",
    "PROVISIONING_NODES",
    "PULLING_IMAGE",
    "WARMING_UP",
    "observed_phase",
    "pod_phase",
    "status_phase",
]

PROVISIONING_NODES = "ProvisioningNodes"
INITIALIZING_NODES = "InitializingNodes"
PULLING_IMAGE = "PullingImage"
LOADING_WEIGHTS = "LoadingWeights"
WARMING_UP = "WarmingUp"
#: Every phase, in the order a Workspace goes through them.
PHASES = (PROVISIONING_NODES, INITIALIZING_NODES, PULLING_IMAGE, LOADING_WEIGHTS, WARMING_UP)
_RANK = {name: index for index, name in enumerate(PHASES)}
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
_REVISION = "controller-revision-hash"
#: Waiting reasons of a container that ran before and is being started again.
_RESTARTING = frozenset({"CrashLoopBackOff"})


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status: Mapping[str, Any] = obj.get("status") or {}
    return status


def _true(obj: Mapping[str, Any], type_: str) -> bool | None:
    """The condition's status as a bool, None when it is absent."""
    for item in _status(obj).get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == type_:
            return item.get("status") == "True"
    return None


def _gpu_ready(node: Mapping[str, Any], provisioned: bool) -> bool:
    if _meta(node).get("deletionTimestamp") or not _true(node, "Ready"):
        return False
    if not provisioned:
        return True
    capacity = _status(node).get("capacity") or {}
    for resource in _GPU_RESOURCES:
        try:
            if float(str(capacity.get(resource, 0)).strip()) > 0:
                return True
        except ValueError:
            continue
    return False


def _node_phase(
    workspace: Workspace, observed: Observed, target: int, provisioned: bool
) -> tuple[str, str]:
    selector = sanitized_match_labels(workspace)
    nodes = sorted(
        (
            n
            for n in observed.nodes
            if not _meta(n).get("deletionTimestamp")
            and all((_meta(n).get("labels") or {}).get(k) == v for k, v in selector.items())
        ),
        key=_name,
    )
    ready = [n for n in nodes if _gpu_ready(n, provisioned)]
    if len(nodes) < target:
        return PROVISIONING_NODES, f"{len(nodes)} of {target} nodes registered"
    behind = next((n for n in nodes if not _gpu_ready(n, provisioned)), None)
    message = f"{min(len(ready), target)} of {target} nodes ready"
    if behind is not None:
        why = "has no GPU capacity yet" if _true(behind, "Ready") else "is not Ready"
        message += f"; node {_name(behind)} {why}"
    return INITIALIZING_NODES, message


def _state(status: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    state = status.get("state") or {}
    for key in ("waiting", "running", "terminated"):
        if isinstance(state.get(key), Mapping):
            return key, state[key]
    return "", {}


def _container_phase(
    name: str, probed: bool | None, status: Mapping[str, Any] | None
) -> tuple[str, str] | None:
    """The phase one container holds its pod in, with a detail; None when it is ready.

    `probed`: the spec declares a startupProbe (None: no spec to tell, so ``started`` is
    taken at its word)."""
    if status is None:
        return PULLING_IMAGE, f"container {name} not created yet"
    kind, detail = _state(status)
    if kind == "waiting":
        reason = str(detail.get("reason") or "waiting")
        if reason in _RESTARTING:
            return LOADING_WEIGHTS, f"container {name} restarting ({reason})"
        return PULLING_IMAGE, f"container {name} {reason}"
    if kind == "terminated":
        return LOADING_WEIGHTS, f"container {name} restarting (terminated)"
    if kind != "running":
        return PULLING_IMAGE, f"container {name} not started yet"
    if status.get("ready") is True:
        return None
    if probed is not False and status.get("started") is True:
        return WARMING_UP, f"container {name} passed its startup probe, not ready yet"
    if probed is False:
        return LOADING_WEIGHTS, f"container {name} running, not ready yet"
    return LOADING_WEIGHTS, f"container {name} running, startup probe not passed yet"


def _init_phase(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    if _true(pod, "Initialized"):
        return None
    spec = pod.get("spec") or {}
    statuses = [
        s for s in _status(pod).get("initContainerStatuses") or () if isinstance(s, Mapping)
    ]
    by_name = {str(s.get("name")): s for s in statuses}
    names = [
        str(c.get("name") or "") for c in spec.get("initContainers") or () if isinstance(c, Mapping)
    ]
    for name in names or list(by_name):
        status = by_name.get(name)
        if status is None:
            return PULLING_IMAGE, f"init container {name} not started yet"
        kind, detail = _state(status)
        if kind == "terminated" and detail.get("exitCode") == 0:
            continue
        if kind == "waiting":
            return PULLING_IMAGE, f"init container {name} {detail.get('reason') or 'waiting'}"
        return PULLING_IMAGE, f"init container {name} {kind or 'pending'}"
    return None


def pod_phase(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """The phase one pod holds its Workspace in, with a detail; None when the pod is Ready.

    The pod's spec tells which containers declare a startup probe; without a spec (a status
    alone) ``started`` is taken at its word.

    Pure: no I/O, no clock, no logging.
    """
    if _meta(pod).get("deletionTimestamp"):
        return PULLING_IMAGE, "being replaced"
    if _true(pod, "Ready"):
        return None
    spec = pod.get("spec") or {}
    scheduled = _true(pod, "PodScheduled")
    if scheduled is False or (scheduled is None and not spec.get("nodeName")):
        return PULLING_IMAGE, "waiting to be scheduled"
    init = _init_phase(pod)
    if init is not None:
        return init
    statuses = {
        str(s.get("name")): s
        for s in _status(pod).get("containerStatuses") or ()
        if isinstance(s, Mapping)
    }
    declared = [c for c in spec.get("containers") or () if isinstance(c, Mapping)]
    containers: list[tuple[str, bool | None]] = [
        (str(c.get("name") or ""), bool(c.get("startupProbe"))) for c in declared
    ] or [(name, None) for name in statuses]
    if not containers:
        return PULLING_IMAGE, "containers not created yet"
    found: tuple[str, str] | None = None
    for name, probed in containers:
        phase = _container_phase(name, probed, statuses.get(name))
        if phase is not None and (found is None or _RANK[phase[0]] < _RANK[found[0]]):
            found = phase
    return found or (WARMING_UP, "containers ready, pod not Ready yet")


def _earliest(found: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    best: tuple[str, str] | None = None
    for item in found:
        if best is None or _RANK[item[0]] < _RANK[best[0]]:
            best = item
    return best


def _serving_pods(workspace: Workspace, observed: Observed) -> tuple[str, str]:
    """The phase of an inference Workspace whose nodes are ready but which is not."""
    name = workspace.name
    sts = observed.object("StatefulSet", name)
    replicas = 1
    revision = None
    if sts is not None:
        value = (sts.get("spec") or {}).get("replicas")
        replicas = value if isinstance(value, int) and value >= 0 else 1
        revision = _status(sts).get("updateRevision")
    pods = {_name(p): p for p in observed.pods}
    found: list[tuple[str, str]] = []
    for ordinal in range(replicas):
        pod_name = f"{name}-{ordinal}"
        pod = pods.get(pod_name)
        if pod is None:
            found.append((PULLING_IMAGE, f"pod {pod_name} not created yet"))
            continue
        label = (_meta(pod).get("labels") or {}).get(_REVISION)
        if revision and label and label != revision:
            found.append((PULLING_IMAGE, f"pod {pod_name} being replaced"))
            continue
        phase = pod_phase(pod)
        if phase is not None:
            found.append((phase[0], f"pod {pod_name}: {phase[1]}"))
    return _earliest(found) or (WARMING_UP, f"waiting for the StatefulSet {name} to roll out")


def _tuning_pod(workspace: Workspace, observed: Observed) -> tuple[str, str] | None:
    prefix = f"{workspace.name}-"
    pods = sorted(
        (
            p
            for p in observed.pods
            if _name(p).startswith(prefix) and not _meta(p).get("deletionTimestamp")
        ),
        key=_name,
    )
    if not pods:
        return PULLING_IMAGE, f"the pod of Job {workspace.name} is not created yet"
    waiting: list[tuple[str, str]] = []
    for pod in pods:
        phase = pod_phase(pod)
        if phase is None or phase[0] != PULLING_IMAGE:
            return None  # running: the state says Running from here on
        waiting.append((PULLING_IMAGE, f"pod {_name(pod)}: {phase[1]}"))
    return waiting[0]


def observed_phase(
    *,
    workspace: Workspace,
    observed: Observed,
    target_nodes: int,
    provisioned: bool,
    resource_ready: bool,
) -> tuple[str, str] | None:
    """(phase, message) of a Workspace that is not ready; the caller decides it is not (None
    for a Workspace that is neither inference nor tuning, and for a tuning Workspace whose
    Job's pod runs).

    Pure: no I/O, no clock, no logging.
    """
    if not resource_ready:
        return _node_phase(workspace, observed, max(1, target_nodes), provisioned)
    if workspace.inference is not None:
        return _serving_pods(workspace, observed)
    if workspace.tuning is not None:
        return _tuning_pod(workspace, observed)
    return None


#: States in which a Workspace has no phase: ready, or finished.
_SETTLED = frozenset({STATE_READY, STATE_SUCCEEDED, STATE_FAILED})


def status_phase(
    *,
    workspace: Workspace,
    observed: Observed,
    state: str,
    target_nodes: int,
    provisioned: bool,
    resource_ready: bool,
    now: str,
) -> WorkspacePhase | None:
    """``status.phase`` for a Workspace in `state` (none when Ready, Succeeded or Failed):
    `observed_phase`, entered `now` unless ``workspace.status`` was already in that phase (its
    ``since`` is kept, as a condition's ``lastTransitionTime``), the message cut like a
    condition's.

    Pure: no I/O, no clock, no logging.
    """
    if state in _SETTLED:
        return None
    found = observed_phase(
        workspace=workspace,
        observed=observed,
        target_nodes=target_nodes,
        provisioned=provisioned,
        resource_ready=resource_ready,
    )
    if found is None:
        return None
    name, message = found
    previous = workspace.status.phase if workspace.status is not None else None
    since = previous.since if previous is not None and previous.name == name else None
    return WorkspacePhase(name=name, since=since or now, message=truncate_message(message))
