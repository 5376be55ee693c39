"""Why an inference workload is not ready: one reason and message read from its pods.

Pure: no I/O, no clock, no logging.

`classify_pod_failure` looks only at what the pods report (container states, phase, conditions);
it reads no logs and no events. Checks run in upstream KAITO's priority order, most specific and
most actionable first; within one check pods are visited by name and, in each pod, init
containers before main containers, so the same pods always give the same answer:

1. ``SASTokenFetchFailed``: the model-streaming ``fetch-sas`` init container failed.
2. ``ContainerOOMKilled``: a container (now or last time) was killed for memory.
3. ``ImagePullError``: a container waits on an image it cannot pull.
4. ``ContainerStartError``: a container could not be created or started (config, hooks).
5. ``ContainerCrashLoopBackOff``: a container keeps crashing.
6. ``NodeDiskPressure`` / ``NodeMemoryPressure`` / ``PodEvicted``: a pod was evicted.
7. ``Unschedulable``: a pending pod fits on no node.

Messages are cut at `kaito_core.conditions.MAX_MESSAGE_LENGTH` bytes and then end in ``...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kaito_core.conditions import truncate_message
from kaito_core.observed import Manifest

__all__ = [
    "CONTAINER_START_ERROR_REASONS",
    "IMAGE_PULL_ERROR_REASONS",
    "REASON_CONTAINER_START_ERROR",
    "REASON_CRASH_LOOP_BACK_OFF",
    "REASON_IMAGE_PULL_ERROR",
    "REASON_NODE_DISK_PRESSURE",
    "REASON_NODE_MEMORY_PRESSURE",
    "REASON_OOM_KILLED",
    "REASON_POD_EVICTED",
    "REASON_SAS_TOKEN_FETCH_FAILED",
    "REASON_UNSCHEDULABLE",
    "SAS_FETCH_INIT_CONTAINER",
    "classify_pod_failure",
]

REASON_SAS_TOKEN_FETCH_FAILED = "SASTokenFetchFailed"
REASON_OOM_KILLED = "ContainerOOMKilled"
REASON_IMAGE_PULL_ERROR = "ImagePullError"
REASON_CONTAINER_START_ERROR = "ContainerStartError"
REASON_CRASH_LOOP_BACK_OFF = "ContainerCrashLoopBackOff"
REASON_NODE_DISK_PRESSURE = "NodeDiskPressure"
REASON_NODE_MEMORY_PRESSURE = "NodeMemoryPressure"
REASON_POD_EVICTED = "PodEvicted"
REASON_UNSCHEDULABLE = "Unschedulable"

#: The model-streaming init container that mints the SAS token for blob access.
SAS_FETCH_INIT_CONTAINER = "fetch-sas"
_SAS_MESSAGE = (
    "SAS token fetch failed: the streaming init container could not obtain a SAS token; "
    "check the fetch-sas init container logs"
)

#: Kubelet waiting reasons of an image that cannot be pulled (kubelet/images/types.go).
IMAGE_PULL_ERROR_REASONS = frozenset(
    {
        "ErrImageNeverPull",
        "ErrImagePull",
        "ImageInspectError",
        "ImagePullBackOff",
        "InvalidImageName",
        "RegistryUnavailable",
    }
)
#: Kubelet waiting reasons of a container that could not be created or started.
CONTAINER_START_ERROR_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "PostStartHookError",
        "PreCreateHookError",
        "PreStartHookError",
        "RunContainerError",
    }
)

_CRASH_LOOP = "CrashLoopBackOff"

#: A container check: (pod, container status) -> a message when the container shows the failure.
_ContainerCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _container_statuses(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    status = _status(pod)
    yield from status.get("initContainerStatuses") or ()
    yield from status.get("containerStatuses") or ()


def _state(cs: Mapping[str, Any], which: str, key: str) -> Mapping[str, Any] | None:
    """``cs[which][key]`` (e.g. ``state.waiting``), or None when absent."""
    value = (cs.get(which) or {}).get(key)
    return value if isinstance(value, Mapping) else None


def _exit_code(terminated: Mapping[str, Any]) -> int:
    code = terminated.get("exitCode")
    return code if isinstance(code, int) else 0


def _sas_fetch_failed(pod: Mapping[str, Any]) -> bool:
    for cs in _status(pod).get("initContainerStatuses") or ():
        if cs.get("name") != SAS_FETCH_INIT_CONTAINER:
            continue
        for which in ("state", "lastState"):
            terminated = _state(cs, which, "terminated")
            if terminated is not None and _exit_code(terminated) != 0:
                return True
        waiting = _state(cs, "state", "waiting")
        if waiting is not None and waiting.get("reason") == _CRASH_LOOP:
            return True
    return False


def _oom_killed(_pod: Mapping[str, Any], cs: Mapping[str, Any]) -> str | None:
    for which in ("state", "lastState"):
        terminated = _state(cs, which, "terminated")
        if terminated is not None and terminated.get("reason") == "OOMKilled":
            return (
                f'container "{cs.get("name", "")}" was OOMKilled (exit code '
                f"{_exit_code(terminated)}); reduce memory usage or use a larger instance type"
            )
    return None


def _waiting_in(reasons: frozenset[str], verb: str) -> _ContainerCheck:
    def check(_pod: Mapping[str, Any], cs: Mapping[str, Any]) -> str | None:
        waiting = _state(cs, "state", "waiting")
        if waiting is None or waiting.get("reason") not in reasons:
            return None
        reason, message = waiting.get("reason"), waiting.get("message") or ""
        return f'container "{cs.get("name", "")}" {verb} ({reason}): {message}'

    return check


def _crash_looping(_pod: Mapping[str, Any], cs: Mapping[str, Any]) -> str | None:
    waiting = _state(cs, "state", "waiting")
    if waiting is None or waiting.get("reason") != _CRASH_LOOP:
        return None
    message = f'container "{cs.get("name", "")}" is in CrashLoopBackOff'
    last = _state(cs, "lastState", "terminated")
    if last is not None:
        detail = last.get("message") or f"exit code {_exit_code(last)}"
        message = f"{message}; last termination: {detail}"
    return message


_CONTAINER_CHECKS: tuple[tuple[str, _ContainerCheck], ...] = (
    (REASON_OOM_KILLED, _oom_killed),
    (REASON_IMAGE_PULL_ERROR, _waiting_in(IMAGE_PULL_ERROR_REASONS, "image pull failed")),
    (REASON_CONTAINER_START_ERROR, _waiting_in(CONTAINER_START_ERROR_REASONS, "failed to start")),
    (REASON_CRASH_LOOP_BACK_OFF, _crash_looping),
)


def _eviction(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    status = _status(pod)
    if status.get("phase") != "Failed" or status.get("reason") != "Evicted":
        return None
    name, message = _name(pod), str(status.get("message") or "")
    lower = message.lower()
    if "ephemeral-storage" in lower or "disk" in lower:
        return (
            REASON_NODE_DISK_PRESSURE,
            f'pod "{name}" evicted due to node disk pressure: {message}',
        )
    if "memory" in lower:
        return (
            REASON_NODE_MEMORY_PRESSURE,
            f'pod "{name}" evicted due to node memory pressure: {message}',
        )
    return REASON_POD_EVICTED, f'pod "{name}" was evicted: {message}'


def _unschedulable(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    status = _status(pod)
    if status.get("phase") != "Pending":
        return None
    for cond in status.get("conditions") or ():
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            return (
                REASON_UNSCHEDULABLE,
                f'pod "{_name(pod)}" is unschedulable: {cond.get("message") or ""}',
            )
    return None


def classify_pod_failure(pods: Sequence[Manifest]) -> tuple[str, str] | None:
    """The most actionable ``(reason, message)`` the pods show, or None if none fails visibly.

    See the module docstring for the priority order. A pod that is merely starting (pulling
    its image, waiting for its readiness probe) shows no failure: the caller then reports
    upstream's generic ``WorkspaceInferenceStatusPending``.

    Pure: no I/O, no clock, no logging.
    """
    ordered = sorted(pods, key=_name)
    for pod in ordered:
        if _sas_fetch_failed(pod):
            return REASON_SAS_TOKEN_FETCH_FAILED, truncate_message(_SAS_MESSAGE)
    for reason, check in _CONTAINER_CHECKS:
        for pod in ordered:
            for cs in _container_statuses(pod):
                message = check(pod, cs)
                if message is not None:
                    return reason, truncate_message(message)
    for pod_check in (_eviction, _unschedulable):
        for pod in ordered:
            found = pod_check(pod)
            if found is not None:
                return found[0], truncate_message(found[1])
    return None
