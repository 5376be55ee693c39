"""Builders of the cluster objects a Workspace's status is read from, for tests and examples.

Pure: no I/O, no clock, no logging.

Each builder returns a small manifest in wire shape (camelCase, as the API server returns it)
with only the fields the core reads, so a test states just what matters to it::

    from kaito_core import testing as kt

    observed = Observed(
        node_claims=(kt.node_claim("ws-0", workspace="phi", node_name="gpu-0"),),
        nodes=(kt.node("gpu-0", workspace="phi", instance_type="Standard_NC24ads_A100_v4"),),
        pods=(kt.pod("phi-0", workspace="phi", containers=(kt.crash_looping("phi"),)),),
        objects=(kt.statefulset("phi"),),
    )

Timestamps are fixed (`TIMESTAMP`), never read from a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kaito_core.api.types import (
    Condition,
    InferenceSpec,
    LabelSelector,
    ObjectMeta,
    PresetSpec,
    ResourceSpec,
    TuningSpec,
    Workspace,
    WorkspaceStatus,
)
from kaito_core.observed import Manifest

__all__ = [
    "DEFAULT_INSTANCE_TYPE",
    "TIMESTAMP",
    "container_status",
    "crash_looping",
    "job",
    "kube_condition",
    "node",
    "node_claim",
    "oom_killed",
    "pod",
    "statefulset",
    "waiting",
    "workspace",
]

#: The fixed time every builder stamps (deletionTimestamp, condition times).
TIMESTAMP = "2026-01-01T00:00:00Z"
DEFAULT_INSTANCE_TYPE = "Standard_NC24ads_A100_v4"

_LABEL_WORKSPACE = "kaito.sh/workspace"
_LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_LABEL_REVISION = "controller-revision-hash"


def kube_condition(type_: str, status: bool | str, reason: str = "", message: str = "") -> Manifest:
    """A status condition of a Pod, Node, NodeClaim or Job (``status`` as a bool or string)."""
    if isinstance(status, bool):
        status = "True" if status else "False"
    cond: Manifest = {"type": type_, "status": status}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _metadata(
    name: str,
    *,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    deleting: bool = False,
    generation: int | None = None,
) -> Manifest:
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(sorted(labels.items()))
    if generation is not None:
        meta["generation"] = generation
    if deleting:
        meta["deletionTimestamp"] = TIMESTAMP
    return meta


def _workspace_labels(workspace: str | None, namespace: str) -> dict[str, str]:
    if workspace is None:
        return {}
    return {_LABEL_WORKSPACE: workspace, _LABEL_WORKSPACE_NAMESPACE: namespace}


def node(
    name: str,
    *,
    ready: bool = True,
    instance_type: str | None = DEFAULT_INSTANCE_TYPE,
    workspace: str | None = None,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    gpus: int | None = 1,
    gpu_resource: str = "nvidia.com/gpu",
    pressure: Iterable[str] = (),
    deleting: bool = False,
) -> Manifest:
    """A Node. `workspace` adds the ``kaito.sh/workspace`` labels a provisioner stamps;
    `gpus` is the ``nvidia.com/gpu`` capacity (``None``: none advertised); `pressure` names
    conditions reported True (``DiskPressure``, ``MemoryPressure``, ``PIDPressure``)."""
    all_labels = {**_workspace_labels(workspace, namespace), **(labels or {})}
    if instance_type is not None:
        all_labels[_LABEL_INSTANCE_TYPE] = instance_type
    conditions = [kube_condition("Ready", ready, "KubeletReady" if ready else "KubeletNotReady")]
    conditions += [kube_condition(p, True) for p in sorted(pressure)]
    capacity: dict[str, str] = {"cpu": "24", "memory": "220Gi"}
    if gpus is not None:
        capacity[gpu_resource] = str(gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _metadata(name, labels=all_labels, deleting=deleting),
        "status": {"capacity": dict(sorted(capacity.items())), "conditions": conditions},
    }


def node_claim(
    name: str,
    *,
    workspace: str | None = None,
    namespace: str = "default",
    ready: bool | None = True,
    node_name: str | None = None,
    conditions: Sequence[Manifest] = (),
    deleting: bool = False,
    labels: Mapping[str, str] | None = None,
) -> Manifest:
    """A Karpenter NodeClaim. `ready` adds a ``Ready`` condition (``None``: none, so readiness
    falls back to ``status.nodeName``); `conditions` adds others (``Launched``, ...)."""
    all_conditions = [*conditions]
    if ready is not None:
        all_conditions.append(kube_condition("Ready", ready))
    status: Manifest = {}
    if node_name is not None:
        status["nodeName"] = node_name
    if all_conditions:
        status["conditions"] = all_conditions
    all_labels = {**_workspace_labels(workspace, namespace), **(labels or {})}
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": _metadata(name, labels=all_labels, deleting=deleting),
        "status": status,
    }


def waiting(name: str, reason: str, message: str = "", *, restarts: int = 0) -> Manifest:
    """A container status waiting for `reason` (``ImagePullBackOff``, ``CrashLoopBackOff``, ...)."""
    return container_status(name, ready=False, waiting=(reason, message), restarts=restarts)


def crash_looping(name: str, *, exit_code: int = 1, message: str = "") -> Manifest:
    """A container in ``CrashLoopBackOff`` whose last run exited with `exit_code`."""
    return container_status(
        name,
        ready=False,
        waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
        last_terminated=("Error", exit_code, message),
        restarts=5,
    )


def oom_killed(name: str, *, crash_loop: bool = True) -> Manifest:
    """A container last killed for memory (exit 137), by default now crash-looping."""
    return container_status(
        name,
        ready=False,
        waiting=("CrashLoopBackOff", "back-off") if crash_loop else None,
        last_terminated=("OOMKilled", 137, ""),
        restarts=3,
    )


def container_status(
    name: str,
    *,
    ready: bool = True,
    waiting: tuple[str, str] | None = None,
    terminated: tuple[str, int, str] | None = None,
    last_terminated: tuple[str, int, str] | None = None,
    restarts: int = 0,
) -> Manifest:
    """A container status: running unless `waiting` ``(reason, message)`` or `terminated`
    ``(reason, exitCode, message)``; `last_terminated` fills ``lastState``."""

    def term(value: tuple[str, int, str]) -> Manifest:
        out: Manifest = {"exitCode": value[1], "reason": value[0]}
        if value[2]:
            out["message"] = value[2]
        return out

    state: Manifest
    if waiting is not None:
        state = {
            "waiting": {"reason": waiting[0], **({"message": waiting[1]} if waiting[1] else {})}
        }
    elif terminated is not None:
        state = {"terminated": term(terminated)}
    else:
        state = {"running": {"startedAt": TIMESTAMP}}
    cs: Manifest = {"name": name, "ready": ready, "restartCount": restarts, "state": state}
    if last_terminated is not None:
        cs["lastState"] = {"terminated": term(last_terminated)}
    return cs


def pod(
    name: str,
    *,
    workspace: str | None = None,
    namespace: str = "default",
    phase: str = "Running",
    ready: bool | None = None,
    containers: Sequence[Manifest] | None = None,
    init_containers: Sequence[Manifest] = (),
    revision: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    unschedulable: str | None = None,
    deleting: bool = False,
) -> Manifest:
    """A Pod. `ready` defaults to "Running and every container ready" (one ready container
    ``main`` when `containers` is not given); `unschedulable` makes it Pending with that
    scheduler message; `reason`/`message` set ``status.reason``/``message`` (``Evicted`` with
    phase ``Failed``); `revision` is its ``controller-revision-hash`` label."""
    statuses = [container_status("main")] if containers is None else list(containers)
    if ready is None:
        running = phase == "Running" and unschedulable is None
        ready = running and bool(statuses) and all(bool(cs.get("ready")) for cs in statuses)
    labels = {_LABEL_WORKSPACE: workspace} if workspace is not None else {}
    if revision is not None:
        labels[_LABEL_REVISION] = revision
    conditions: list[Manifest] = []
    if unschedulable is not None:
        phase = "Pending"
        conditions.append(kube_condition("PodScheduled", False, "Unschedulable", unschedulable))
    else:
        conditions.append(kube_condition("PodScheduled", True))
    conditions.append(kube_condition("Ready", ready))
    status: Manifest = {"phase": phase, "conditions": conditions}
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    if init_containers:
        status["initContainerStatuses"] = list(init_containers)
    if statuses and unschedulable is None:
        status["containerStatuses"] = statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(name, namespace=namespace, labels=labels, deleting=deleting),
        "status": status,
    }


def statefulset(
    name: str,
    *,
    namespace: str = "default",
    replicas: int | None = 1,
    ready_replicas: int | None = None,
    generation: int = 1,
    observed_generation: int | None = None,
    update_revision: str | None = None,
    deleting: bool = False,
) -> Manifest:
    """A StatefulSet; `ready_replicas` defaults to `replicas` (all ready) and
    `observed_generation` to `generation` (no rollout pending). ``replicas=None`` omits
    ``spec.replicas`` (Kubernetes then means 1)."""
    spec: Manifest = {} if replicas is None else {"replicas": replicas}
    status: Manifest = {
        "observedGeneration": generation if observed_generation is None else observed_generation,
        "readyReplicas": (replicas or 1) if ready_replicas is None else ready_replicas,
        "replicas": replicas or 1,
    }
    if update_revision is not None:
        status["currentRevision"] = update_revision
        status["updateRevision"] = update_revision
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(name, namespace=namespace, deleting=deleting, generation=generation),
        "spec": spec,
        "status": status,
    }


def job(
    name: str,
    *,
    namespace: str = "default",
    active: int = 0,
    ready: int = 0,
    succeeded: int = 0,
    failed: int = 0,
) -> Manifest:
    """A batch Job with the given pod counts (zero counts are omitted, as the API server does)."""
    counts = {"active": active, "failed": failed, "ready": ready, "succeeded": succeeded}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(name, namespace=namespace),
        "spec": {"backoffLimit": 0},
        "status": {k: v for k, v in counts.items() if v},
    }


def workspace(
    name: str = "ws",
    *,
    namespace: str = "default",
    generation: int | None = 1,
    instance_type: str | None = DEFAULT_INSTANCE_TYPE,
    match_labels: Mapping[str, str] | None = None,
    preset: str = "phi-4-mini-instruct",
    tuning: bool = False,
    deleting: bool = False,
    state: str | None = None,
    conditions: Sequence[Condition] = (),
    api_version: str = "kaito.sh/v1beta1",
) -> Workspace:
    """A preset inference (or, with `tuning`, a tuning) Workspace; `state` and `conditions`
    form its previous status (none when both are empty)."""
    labels = {"apps": name} if match_labels is None else dict(match_labels)
    status = None
    if state is not None or conditions:
        status = WorkspaceStatus(conditions=tuple(conditions) or None, state=state)
    preset_spec = PresetSpec(name=preset)
    return Workspace(
        api_version=api_version,
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            generation=generation,
            deletion_timestamp=TIMESTAMP if deleting else None,
        ),
        resource=ResourceSpec(
            instance_type=instance_type, label_selector=LabelSelector(match_labels=labels)
        ),
        inference=None if tuning else InferenceSpec(preset=preset_spec),
        tuning=TuningSpec(preset=preset_spec, method="qlora") if tuning else None,
        status=status,
    )
