"""Simulated pod lifecycle: schedule, pull, start, load the model, become Ready (or fail).

After binding, a pod's containers wait in ContainerCreating for the model's PullingImage (see
`kaito_backends.fake.startup`; ``Timings.image_pull`` replaces it), then run. A serving pod's
containers run without passing their startup probe (``started: false`` where a startupProbe is
declared) for the model's LoadingWeights, then have passed it but are not Ready for its
WarmingUp, then are Ready. A Job's pod is Ready at once and Succeeds after ``job_duration``. A
pod that cannot be placed stays Pending with PodScheduled=False reason Unschedulable and the
scheduler's message, and is retried when a node it could use changes.

Faults (see `kaito_backends.fake.faults`) strike the first container: ErrImagePull then
ImagePullBackOff; OOMKilled when the model is loaded; a crash (exit 1) ``crash_after`` seconds after
each start. Restarts back off 10 s doubling to 300 s (CrashLoopBackOff); with restartPolicy Never
the pod fails instead. Status follows the Kubernetes shape (phase, conditions, containerStatuses
with state / lastState / restartCount, initContainerStatuses, podIP, hostIP, qosClass).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kaito_backends.fake.podstatus import PodState, render_status
from kaito_backends.fake.scheduler import Scheduler
from kaito_backends.fake.sim import Sim
from kaito_backends.fake.store import StoreKey
from kaito_backends.fake.watches import ChangeType
from kaito_backends.objects import Manifest

__all__ = ["PodController", "owner_key", "template_hash"]


def template_hash(value: Any) -> str:
    """A short stable hash of JSON-like data (pod templates)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def owner_key(obj: Manifest) -> tuple[str, StoreKey] | None:
    """(controller name, key) of the StatefulSet, Deployment or Job that controls ``obj``."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if not ref.get("controller"):
            continue
        if ref.get("kind") == "StatefulSet":
            return "statefulset", ("apps", "StatefulSet", obj["metadata"]["namespace"], ref["name"])
        if ref.get("kind") == "Deployment":
            return "deployment", ("apps", "Deployment", obj["metadata"]["namespace"], ref["name"])
        if ref.get("kind") == "Job":
            return "job", ("batch", "Job", obj["metadata"]["namespace"], ref["name"])
    return None


class PodController:
    """Schedules pods and moves each through its lifecycle on the virtual clock."""

    def __init__(self, sim: Sim, scheduler: Scheduler) -> None:
        self.sim = sim
        self.scheduler = scheduler
        self._states: dict[str, PodState] = {}

    # -- events ----------------------------------------------------------------------------------
    def on_pod(self, change: ChangeType, obj: Manifest) -> None:
        meta = obj["metadata"]
        owner = owner_key(obj)
        if owner is not None:
            self.sim.enqueue(*owner)
        if change == "DELETED":
            state = self._states.pop(meta["uid"], None)
            if state is not None and state.timer is not None:
                state.timer.cancel()
            node = self.scheduler.release((meta["namespace"], meta["name"]))
            if node is not None:
                self.sim.enqueue("node", ("", "Node", "", node))
            return
        if meta["uid"] not in self._states or not (obj.get("spec") or {}).get("nodeName"):
            self.sim.enqueue("pod", self.sim.store.key_of(obj))

    def reconcile(self, key: StoreKey) -> None:
        pod = self.sim.store.find_key(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        meta = pod["metadata"]
        state = self._states.get(meta["uid"])
        if state is None:
            state = self._states[meta["uid"]] = self._new_state(pod, key)
        if state.stage != "unscheduled":
            return
        node = (pod.get("spec") or {}).get("nodeName")
        message = ""
        if not node:
            node, message = self.scheduler.place(pod)
        if node is None:
            self.scheduler.wait(pod)
            state.message = message
            self._write(pod, state)
            return
        self.scheduler.bind(pod, node)
        node_obj = self.sim.store.find("v1", "Node", None, node)
        addresses = (node_obj or {}).get("status", {}).get("addresses") or ()
        state.node = node
        state.host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
        state.pod_ip = self.sim.store.allocate_ip("10.244")
        state.start_time = self.sim.now()
        state.stage = "creating"
        pod = {**pod, "spec": {**pod.get("spec", {}), "nodeName": node}}
        self._write(pod, state)
        self._after(state, self.sim.pod_times(pod, job=state.is_job).pull, self._pulled)

    def _new_state(self, pod: Manifest, key: StoreKey) -> PodState:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        owner = owner_key(pod)
        revision = (meta.get("labels") or {}).get("controller-revision-hash")
        if revision is None:
            masked = {
                k: v for k, v in spec.items() if k not in ("nodeName", "hostname", "subdomain")
            }
            revision = template_hash(masked)
        fault = self.sim.faults.pod_fault(
            meta["namespace"], meta["name"], owner[1][3] if owner else "", revision
        )
        return PodState(
            uid=meta["uid"],
            key=key,
            fault=fault,
            is_job=owner is not None and owner[0] == "job",
            restart_policy=str(spec.get("restartPolicy") or "Always"),
        )

    # -- the clock -------------------------------------------------------------------------------
    def _after(self, state: PodState, delay: float, step: Any) -> None:
        if state.timer is not None:
            state.timer.cancel()
        uid = state.uid
        state.timer = self.sim.clock.call_later(delay, lambda: self._fire(uid, step))

    def _fire(self, uid: str, step: Any) -> None:
        state = self._states.get(uid)
        if state is None:
            return
        state.timer = None
        pod = self.sim.store.find_key(state.key)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        step(pod, state)

    def _active(self, state: PodState, fault: str) -> bool:
        if state.fault is None or state.fault.fault != fault:
            return False
        limit = state.fault.recover_after
        done = state.pulls_failed if fault == "image_pull" else state.restarts
        return limit is None or done < limit

    def _pulled(self, pod: Manifest, state: PodState) -> None:
        if self._active(state, "image_pull"):
            state.pulls_failed += 1
            state.stage = "ErrImagePull"
            self._write(pod, state)
            self._after(state, 1.0, self._pull_backoff)
            return
        self._start(pod, state)

    def _pull_backoff(self, pod: Manifest, state: PodState) -> None:
        state.stage = "ImagePullBackOff"
        delay = self._next_backoff(state, state.pulls_failed)
        self._write(pod, state)
        self._after(state, delay, self._pulled)

    def _next_backoff(self, state: PodState, failures: int) -> float:
        timings = self.sim.timings
        state.backoff = min(timings.backoff * 2 ** max(0, failures - 1), timings.max_backoff)
        return state.backoff

    def _start(self, pod: Manifest, state: PodState) -> None:
        timings = self.sim.timings
        state.stage = "running" if not state.is_job else "ready"
        state.started_at = self.sim.now()
        self._write(pod, state)
        load = timings.job_duration if state.is_job else self.sim.pod_times(pod, job=False).load
        if self._active(state, "crashloop"):
            self._after(
                state, min(timings.crash_after, load), lambda p, s: self._crash(p, s, "Error", 1)
            )
        elif self._active(state, "oom"):
            self._after(state, load, lambda p, s: self._crash(p, s, "OOMKilled", 137))
        elif state.is_job:
            self._after(state, load, self._succeed)
        else:
            self._after(state, load, self._loaded)

    def _loaded(self, pod: Manifest, state: PodState) -> None:
        """The weights are in: the startup probe passes; Ready after the warm-up."""
        warm = self.sim.pod_times(pod, job=False).warm
        if warm <= 0:
            self._ready(pod, state)
            return
        state.stage = "warming"
        self._write(pod, state)
        self._after(state, warm, self._ready)

    def _ready(self, pod: Manifest, state: PodState) -> None:
        state.stage = "ready"
        self._write(pod, state)

    def _succeed(self, pod: Manifest, state: PodState) -> None:
        state.stage = "Succeeded"
        state.finished_at = self.sim.now()
        self._write(pod, state)
        self.scheduler.release((state.key[2], state.key[3]))
        self.sim.enqueue("node", ("", "Node", "", state.node))

    def _crash(self, pod: Manifest, state: PodState, reason: str, code: int) -> None:
        now = self.sim.now()
        state.last_terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": state.started_at,
            "finishedAt": now,
            "containerID": f"containerd://{template_hash([state.uid, state.restarts])}",
        }
        if state.restart_policy == "Never":
            state.stage = "Failed"
            state.finished_at = now
            self._write(pod, state)
            self.scheduler.release((state.key[2], state.key[3]))
            self.sim.enqueue("node", ("", "Node", "", state.node))
            return
        state.restarts += 1
        state.stage = "CrashLoopBackOff"
        delay = self._next_backoff(state, state.restarts)
        self._write(pod, state)
        self._after(state, delay, self._start)

    # -- status ----------------------------------------------------------------------------------
    def _write(self, pod: Manifest, state: PodState) -> None:
        self.sim.store.put({**pod, "status": render_status(pod, state, self.sim.now())})
