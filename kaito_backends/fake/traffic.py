"""Simulated requests on a scalable target (an InferenceSet): arrivals, a queue per replica pod,
and the queue depth each pod reports as ``vllm:num_requests_waiting``.

`Traffic` runs on the fake cluster's clock, a step every `TICK` (5) virtual seconds, reading the
store (it writes nothing):

- **which pods**: the Ready pods (not being deleted) matching the target's selector, read
  through its scale subresource (an InferenceSet's ``status.selector``:
  ``inferenceset.kaito.sh/created-by=<name>``), in its namespace;
- **when**: the profile's time starts when the first such pod is Ready (before that nothing is
  served, so nothing is sent), and runs through its phases;
- **arrivals**: each step a Poisson number of requests with the profile's mean rate at that
  moment times the step, drawn from a stream seeded by the profile's ``seed``; split evenly
  over the Ready pods in name order, the remainder going round-robin (a Service spreads
  connections; it does not look at queues);
- **service**: a Ready pod completes ``serviceRate`` requests per second (the profile's; its
  unused capacity is not saved up beyond one request); what it cannot complete waits. Its
  waiting count is its ``vllm:num_requests_waiting``;
- **losses**: requests arriving while no pod is Ready, and those waiting on a pod that goes away
  (scaled down, deleted, no longer Ready), are dropped and counted.

Limits of the model (docs/inferenceset.md): one service rate for every replica, whatever the
model, GPU, prompt or batch; no running batch distinct from the queue (``num_requests_running``
is not modelled), no timeouts or retries, no cold caches; pods become Ready on the fake's
model-load timeline. It is a way to watch the autoscaler react, not a capacity planner.

After the profile ends arrivals stop; the simulation stops once every queue is empty.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.clock import TimerHandle
from kaito_backends.fake.load_profile import LoadProfile
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.scale import read_path, selector_labels
from kaito_core.kinds import ScaleSubresource

if TYPE_CHECKING:
    from kaito_backends.fake.cluster import FakeCluster

__all__ = ["METRIC_WAITING", "TICK", "Traffic", "TrafficEvent", "poisson"]

#: Virtual seconds between two steps of the simulation.
TICK = 5.0
#: The metric every simulated pod reports (vLLM's name).
METRIC_WAITING = "vllm:num_requests_waiting"


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count with this mean (Knuth's method below 30, else the normal
    approximation, rounded and never negative)."""
    if mean <= 0:
        return 0
    if mean < 30:
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


@attrs.frozen(kw_only=True)
class TrafficEvent:
    """Something worth a progress line: the load started, changed phase or ended."""

    at: float
    what: str
    message: str


def _ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


class Traffic:
    """Requests on one target, on the cluster's clock (see the module docstring)."""

    def __init__(
        self,
        cluster: FakeCluster,
        profile: LoadProfile,
        *,
        target: ObjectRef,
        scale: ScaleSubresource,
    ) -> None:
        self.cluster = cluster
        self.profile = profile
        self.target = target
        self.scale = scale
        self._rng = random.Random(profile.seed)
        self._handle: TimerHandle | None = None
        self._next = 0
        self._phase: int | None = None
        #: waiting requests and unused service (fraction of a request) per Ready pod
        self.waiting: dict[str, int] = {}
        self._credit: dict[str, float] = {}
        #: virtual time (clock seconds) the profile started at, once a pod was Ready
        self.started_at: float | None = None
        self.finished = False
        self.arrived = self.served = self.dropped = 0
        self.peak_waiting = 0
        self.listeners: list[Callable[[TrafficEvent], None]] = []

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> Traffic:
        """Begin stepping on the cluster's clock."""
        if self._handle is None and not self.finished:
            self._handle = self.cluster.clock.call_later(TICK, self._tick)
        return self

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def elapsed(self) -> float:
        """Seconds into the profile (0 before it started)."""
        if self.started_at is None:
            return 0.0
        return self.cluster.clock.monotonic() - self.started_at

    @property
    def over(self) -> bool:
        """The profile ran to its end."""
        return self.started_at is not None and self.elapsed >= self.profile.duration

    def rate(self) -> float:
        """Requests per second now."""
        return self.profile.rate_at(self.elapsed) if self.started_at is not None else 0.0

    # -- what the pods report --------------------------------------------------------------------
    def value(self, namespace: str, pod: str, metric: str = METRIC_WAITING) -> float:
        """The metric a pod reports (0 for a pod without a queue or another metric)."""
        if namespace != (self.target.namespace or "default") or metric != METRIC_WAITING:
            return 0.0
        return float(self.waiting.get(pod, 0))

    def metrics_text(self, namespace: str, pod: str) -> str:
        """The pod's ``/metrics`` as vLLM exposes it (Prometheus text), this one gauge."""
        return (
            f"# HELP {METRIC_WAITING} Number of requests waiting to be processed.\n"
            f"# TYPE {METRIC_WAITING} gauge\n"
            f'{METRIC_WAITING}{{model_name="{self.target.name}"}} '
            f"{self.value(namespace, pod):.1f}\n"
        )

    def total_waiting(self) -> int:
        return sum(self.waiting.values())

    # -- one step --------------------------------------------------------------------------------
    def _pods(self) -> list[str]:
        store = self.cluster.store
        ref = self.target
        obj = store.find(ref.api_version, ref.kind, ref.namespace, ref.name)
        path = self.scale.label_selector_path
        labels = selector_labels(read_path(obj, path)) if obj is not None and path else None
        if not labels:
            return []
        pods: list[Manifest] = store.select("v1", "Pod", ref.namespace, labels)
        return sorted(str(p["metadata"]["name"]) for p in pods if _ready(p))

    def _say(self, what: str, message: str) -> None:
        event = TrafficEvent(at=self.cluster.clock.monotonic(), what=what, message=message)
        for listener in self.listeners:
            listener(event)

    def _tick(self) -> None:
        self._handle = None
        pods = self._pods()
        for gone in [p for p in self.waiting if p not in pods]:
            self.dropped += self.waiting.pop(gone)
            self._credit.pop(gone, None)
        if self.started_at is None:
            if not pods:
                self.start()
                return
            self.started_at = self.cluster.clock.monotonic() - TICK
            self._say("start", f"load starts ({len(self.profile.phases)} phase(s))")
        self._announce_phase()
        arrivals = poisson(self._rng, self.rate() * TICK)
        self.arrived += arrivals
        if not pods:
            self.dropped += arrivals
        else:
            self._spread(pods, arrivals)
            self._serve(pods)
        self.peak_waiting = max(self.peak_waiting, self.total_waiting())
        if self.over and not self.total_waiting():
            self.finished = True
            self._say(
                "end",
                f"load ends: {self.arrived} requests, {self.served} served, {self.dropped} dropped",
            )
            return
        self.start()

    def _announce_phase(self) -> None:
        index = self.profile.phase_at(self.elapsed)
        if index == self._phase or index is None:
            return
        self._phase = index
        phase = self.profile.phases[index]
        shape = (
            f"{phase.start:g} req/s"
            if phase.start == phase.end
            else f"{phase.start:g} -> {phase.end:g} req/s"
        )
        self._say(
            "phase",
            f"load phase {index + 1}/{len(self.profile.phases)}: {shape} for {phase.seconds:g}s",
        )

    def _spread(self, pods: list[str], arrivals: int) -> None:
        share, extra = divmod(arrivals, len(pods))
        start = self._next % len(pods)
        for offset, pod in enumerate(pods[start:] + pods[:start]):
            self.waiting[pod] = self.waiting.get(pod, 0) + share + (1 if offset < extra else 0)
        self._next = (start + extra) % len(pods)

    def _serve(self, pods: list[str]) -> None:
        capacity = self.profile.service_rate * TICK
        for pod in pods:
            credit = self._credit.get(pod, 0.0) + capacity
            waiting = self.waiting.get(pod, 0)
            done = min(waiting, math.floor(credit))
            self.waiting[pod] = waiting - done
            self.served += done
            credit -= done
            self._credit[pod] = min(credit, 1.0) if self.waiting[pod] == 0 else credit
