"""A simulated pod's state, and the Kubernetes-shaped ``status`` rendered from it.

Stages: ``unscheduled`` -> ``creating`` -> (``ErrImagePull`` <-> ``ImagePullBackOff``) ->
``running`` (startup probe not passed) -> ``warming`` (passed, not Ready) -> ``ready``;
``CrashLoopBackOff`` between restarts; ``Succeeded`` / ``Failed`` at the end of a Job's pod.
Faults affect the first container only; the others follow the pod (a container other than the
first is started once running unless it declares a startup probe, and Ready unless it declares
a readiness probe, as the kubelet has it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.clock import TimerHandle
from kaito_backends.fake.faults import PodFault
from kaito_backends.fake.store import StoreKey
from kaito_backends.objects import Manifest

__all__ = ["PodState", "qos_class", "render_status"]

_PULLING = frozenset({"creating", "ErrImagePull", "ImagePullBackOff"})
_TERMINAL = frozenset({"Succeeded", "Failed"})


@attrs.define
class PodState:
    """What the simulation knows of one pod (keyed by uid)."""

    uid: str
    key: StoreKey
    fault: PodFault | None
    is_job: bool
    restart_policy: str
    stage: str = "unscheduled"
    node: str = ""
    host_ip: str = ""
    pod_ip: str = ""
    start_time: str = ""
    started_at: str = ""
    finished_at: str = ""
    message: str = ""
    restarts: int = 0
    pulls_failed: int = 0
    backoff: float = 0.0
    last_terminated: Manifest | None = None
    timer: TimerHandle | None = None


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def qos_class(pod: Mapping[str, Any]) -> str:
    """Guaranteed / Burstable / BestEffort from cpu and memory requests and limits."""
    containers = (pod.get("spec") or {}).get("containers") or ()
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        for name in ("cpu", "memory"):
            if name in limits or name in requests:
                any_set = True
            if name not in limits or requests.get(name, limits.get(name)) != limits.get(name):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _set(
    conditions: Sequence[Mapping[str, Any]],
    kind: str,
    status: str,
    now: str,
    reason: str = "",
    message: str = "",
) -> Manifest:
    since = now
    for cond in conditions:
        if cond.get("type") == kind and cond.get("status") == status:
            since = cond.get("lastTransitionTime", now)
    out: Manifest = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def _image(container: Mapping[str, Any]) -> str:
    return str(container.get("image", ""))


def _container_status(
    pod: Manifest, state: PodState, index: int, container: Mapping[str, Any]
) -> Manifest:
    name = str(container.get("name", f"c{index}"))
    image = _image(container)
    stage = state.stage
    first = index == 0
    if stage in _PULLING and not (first and stage != "creating"):
        current: Manifest = {"waiting": {"reason": "ContainerCreating"}}
    elif stage == "ErrImagePull":
        current = {
            "waiting": {
                "reason": "ErrImagePull",
                "message": "rpc error: code = NotFound desc = failed to pull and unpack "
                f'image "{image}": '
                f'failed to resolve reference "{image}": {image}: not found',
            }
        }
    elif stage == "ImagePullBackOff":
        current = {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{image}"',
            }
        }
    elif stage == "CrashLoopBackOff" and first:
        meta = pod["metadata"]
        current = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {int(state.backoff)}s restarting failed container={name} "
                f"pod={meta['name']}_{meta['namespace']}({meta['uid']})",
            }
        }
    elif stage == "Failed" and first and state.last_terminated is not None:
        current = {"terminated": dict(state.last_terminated)}
    elif stage in _TERMINAL:
        current = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": state.started_at,
                "finishedAt": state.finished_at,
                "containerID": f"containerd://{_digest(state.uid, name)[:64]}",
            }
        }
    else:
        current = {"running": {"startedAt": state.started_at}}
    running = "running" in current
    # The first container follows the simulated lifecycle; the others are started once running
    # unless they declare a startup probe, and Ready unless they declare a readiness probe, as
    # the kubelet has it. `started`: the startup probe passed.
    ready = running and (
        stage == "ready"
        or (not first and (stage == "CrashLoopBackOff" or not container.get("readinessProbe")))
    )
    started = running and (
        stage in ("warming", "ready")
        or not container.get("startupProbe")
        or (not first and stage == "CrashLoopBackOff")
    )
    out: Manifest = {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{_digest(image)}"
        if "waiting" not in current
        else "",
        "ready": ready,
        "restartCount": state.restarts if first else 0,
        "started": started,
        "state": current,
        "lastState": {},
    }
    if "waiting" not in current:
        out["containerID"] = f"containerd://{_digest(state.uid, name, state.restarts)[:64]}"
    if first and state.last_terminated is not None and stage != "Failed":
        out["lastState"] = {"terminated": dict(state.last_terminated)}
    return out


def render_status(pod: Manifest, state: PodState, now: str) -> Manifest:
    """The pod's ``status`` for its current stage (transition times kept where unchanged)."""
    old = pod.get("status") or {}
    conds = old.get("conditions") or ()
    spec = pod.get("spec") or {}
    qos = qos_class(pod)
    if state.stage == "unscheduled":
        return {
            "phase": "Pending",
            "conditions": [
                _set(conds, "PodScheduled", "False", now, "Unschedulable", state.message)
            ],
            "qosClass": qos,
        }
    containers = list(spec.get("containers") or ())
    inits = list(spec.get("initContainers") or ())
    stage = state.stage
    statuses = [_container_status(pod, state, i, c) for i, c in enumerate(containers)]
    initialized = stage not in _PULLING or not inits
    terminal = stage in _TERMINAL
    unready = [s["name"] for s in statuses if not s["ready"]]
    if stage in _TERMINAL:
        phase = stage
    elif stage in _PULLING:
        phase = "Pending"
    else:
        phase = "Running"
    if terminal:
        ready = [
            _set(conds, "Ready", "False", now, "PodCompleted"),
            _set(conds, "ContainersReady", "False", now, "PodCompleted"),
        ]
    elif unready:
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = [
            _set(conds, "Ready", "False", now, "ContainersNotReady", message),
            _set(conds, "ContainersReady", "False", now, "ContainersNotReady", message),
        ]
    else:
        ready = [_set(conds, "Ready", "True", now), _set(conds, "ContainersReady", "True", now)]
    if initialized:
        init_cond = _set(conds, "Initialized", "True", now)
    else:
        names = " ".join(str(c.get("name", "")) for c in inits)
        init_cond = _set(
            conds,
            "Initialized",
            "False",
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{names}]",
        )
    status: Manifest = {
        "phase": phase,
        "conditions": [
            _set(conds, "PodReadyToStartContainers", "False" if terminal else "True", now),
            init_cond,
            *ready,
            _set(conds, "PodScheduled", "True", now),
        ],
        "hostIP": state.host_ip,
        "hostIPs": [{"ip": state.host_ip}] if state.host_ip else [],
        "podIP": state.pod_ip,
        "podIPs": [{"ip": state.pod_ip}],
        "startTime": state.start_time,
        "containerStatuses": statuses,
        "qosClass": qos,
    }
    if inits:
        status["initContainerStatuses"] = [
            {
                "name": str(c.get("name", f"init{i}")),
                "image": _image(c),
                "imageID": ""
                if not initialized
                else f"{_image(c).split(':')[0]}@sha256:{_digest(_image(c))}",
                "ready": initialized,
                "restartCount": 0,
                "started": False,
                "state": (
                    {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": state.start_time,
                            "finishedAt": state.started_at or state.start_time,
                        }
                    }
                    if initialized
                    else {"waiting": {"reason": "PodInitializing"}}
                ),
                "lastState": {},
            }
            for i, c in enumerate(inits)
        ]
    return status
