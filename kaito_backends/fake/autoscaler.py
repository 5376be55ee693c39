"""KEDA and the HPA controller, simulated in the fake cluster: ScaledObjects scale their targets
on the metric the simulated pods report.

`FakeAutoscaler` syncs every `kaito_core.autoscaler.SYNC_PERIOD` (15) seconds of the cluster's
clock, as kube-controller-manager's HPA controller does. Each sync, for every ScaledObject in
the store (``keda.sh/v1alpha1``; the InferenceSet planner renders them when a set has the
``scaledobject.kaito.sh/*`` annotations and ScaledObjects are provisioned):

1. read it as the HPA KEDA makes of it (`kaito_core.scaled_objects.read_scaled_object`: min and
   max replicas, the metric and its per-replica target, the behavior); one it cannot read is
   skipped, its problems kept in `problems`;
2. read the target's Scale through its kind's scale subresource (`kaito_backends.scale`);
3. sum the metric over the target's Ready pods (``status.selector``), as keda-kaito-scaler
   reports it, from ``metrics(namespace, pod, metric)`` (`kaito_backends.fake.traffic.Traffic`
   .value);
4. decide with `kaito_core.autoscaler.autoscale`, remembering recommendations and scale events
   per ScaledObject;
5. write a new count with `kaito_backends.scale.set_replicas` through the cluster's client: the
   path ``kubectl scale`` takes through the fake API server (faults apply; a failed write is
   counted in `errors` and retried at the next sync).

It runs as an asyncio task (`start`) that waits on clock timers, so it moves with whoever drives
the clock (``run_until_settled``, the paced fake API server) and never moves time itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from kaito_backends.clock import VirtualClock
from kaito_backends.errors import BackendError
from kaito_backends.objects import Manifest, ObjectRef, group_of
from kaito_backends.scale import scale_of, selector_labels, set_replicas
from kaito_core.autoscaler import SYNC_PERIOD, AutoscalerMemory, Decision, autoscale
from kaito_core.errors import FieldError
from kaito_core.kinds import ScaleSubresource
from kaito_core.scaled_objects import ScaledTarget, read_scaled_object

if TYPE_CHECKING:
    from kaito_backends.fake.cluster import FakeCluster

__all__ = ["SCALED_OBJECT", "FakeAutoscaler", "MetricSource", "Rescale"]

#: Where ScaledObjects are stored.
SCALED_OBJECT = ("keda.sh/v1alpha1", "ScaledObject")
#: (namespace, pod, metric name) -> the pod's current value of the metric.
MetricSource = Callable[[str, str, str], float]


@attrs.frozen(kw_only=True)
class Rescale:
    """One sync's decision for one target (kept when it changed the count, or could not)."""

    at: float
    target: ObjectRef
    before: int
    after: int
    average: float
    threshold: float
    metric: str
    reason: str
    recommended: int | None


def _ready(pod: Manifest) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


class FakeAutoscaler:
    """KEDA + HPA on the fake cluster (see the module docstring)."""

    def __init__(
        self,
        cluster: FakeCluster,
        *,
        scales: Mapping[tuple[str, str], ScaleSubresource],
        metrics: MetricSource,
        sync_period: float = SYNC_PERIOD,
    ) -> None:
        self.cluster = cluster
        #: the scale subresource of each scalable kind, by (API group, kind)
        self.scales = dict(scales)
        self.metrics = metrics
        self.sync_period = sync_period
        self.memory: dict[tuple[str, str], AutoscalerMemory] = {}
        self.last: dict[tuple[str, str], Decision] = {}
        self.targets: dict[tuple[str, str], ScaledTarget] = {}
        self.problems: dict[tuple[str, str], list[FieldError]] = {}
        self.rescales: list[Rescale] = []
        self.errors = 0
        self.syncs = 0
        self.listeners: list[Callable[[Rescale], None]] = []
        self._task: asyncio.Task[None] | None = None

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> FakeAutoscaler:
        """Sync every period from now on, in a task of the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="autoscaler")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _wait(self, seconds: float) -> None:
        clock = self.cluster.clock
        if not isinstance(clock, VirtualClock):  # pragma: no cover - the fake always has one
            await clock.sleep(seconds)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = clock.call_later(seconds, lambda: future.done() or future.set_result(None))
        try:
            await future
        finally:
            handle.cancel()

    async def _run(self) -> None:
        while True:
            await self._wait(self.sync_period)
            await self.sync()

    # -- one sync --------------------------------------------------------------------------------
    def idle(self) -> bool:
        """Every ScaledObject's last sync left its target where the metric wants it, within
        its range: nothing is held back by a stabilisation window or a rate policy."""
        for key, decision in self.last.items():
            spec = self.targets[key].spec
            if decision.recommended is None:
                return False
            wanted = min(max(decision.recommended, spec.min_replicas), spec.max_replicas)
            if wanted != decision.replicas:
                return False
        return True

    def _usage(self, namespace: str, selector: str | None, metric: str) -> float:
        labels = selector_labels(selector)
        if not labels:
            return 0.0
        pods = self.cluster.store.select("v1", "Pod", namespace, labels)
        return sum(
            self.metrics(namespace, str(p["metadata"]["name"]), metric) for p in pods if _ready(p)
        )

    async def sync(self) -> list[Rescale]:
        """One sync of every ScaledObject; the rescales it made."""
        self.syncs += 1
        made: list[Rescale] = []
        api_version, kind = SCALED_OBJECT
        for obj in self.cluster.store.select(api_version, kind):
            meta = obj.get("metadata") or {}
            key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
            target, problems = read_scaled_object(obj)
            if target is None:
                self.problems[key] = problems
                continue
            self.problems.pop(key, None)
            rescale = await self._sync_one(key, target)
            if rescale is not None:
                made.append(rescale)
        for gone in [k for k in self.memory if k not in self._keys()]:
            self.memory.pop(gone, None)
            self.last.pop(gone, None)
            self.targets.pop(gone, None)
        return made

    def _keys(self) -> set[tuple[str, str]]:
        api_version, kind = SCALED_OBJECT
        return {
            (str(o["metadata"].get("namespace") or "default"), str(o["metadata"]["name"]))
            for o in self.cluster.store.select(api_version, kind)
        }

    async def _sync_one(self, key: tuple[str, str], target: ScaledTarget) -> Rescale | None:
        scale_sub = self.scales.get((group_of(target.target_api_version), target.target_kind))
        if scale_sub is None:
            self.problems[key] = [
                FieldError(
                    path="spec.scaleTargetRef",
                    message=f"{target.target_kind} has no scale subresource here",
                )
            ]
            return None
        ref = ObjectRef(
            target.target_api_version, target.target_kind, target.target_name, target.namespace
        )
        found = self.cluster.store.find(ref.api_version, ref.kind, ref.namespace, ref.name)
        if found is None or (found.get("metadata") or {}).get("deletionTimestamp"):
            return None
        scale = scale_of(found, scale_sub)
        usage = self._usage(target.namespace, scale["status"].get("selector"), target.metric_name)
        now = self.cluster.clock.monotonic()
        decision = autoscale(
            target.spec,
            now=now,
            spec_replicas=scale["spec"]["replicas"],
            status_replicas=scale["status"]["replicas"],
            usage=usage,
            memory=self.memory.get(key),
        )
        self.targets[key] = target
        before = scale["spec"]["replicas"]
        if decision.replicas != before:
            try:
                await set_replicas(self.cluster.client(), ref, scale_sub, decision.replicas)
            except BackendError:
                self.errors += 1  # the next sync decides again from what is stored
                # nothing was scaled: the memory keeps no scale event, and the target still
                # has `before` replicas, so the autoscaler is not idle until a write lands
                self.last[key] = attrs.evolve(decision, replicas=before)
                return None
        self.memory[key] = decision.memory
        self.last[key] = decision
        if decision.replicas == before:
            return None
        rescale = Rescale(
            at=now,
            target=ref,
            before=before,
            after=decision.replicas,
            average=decision.average,
            threshold=target.spec.target_average_value,
            metric=target.metric_name,
            reason=decision.reason,
            recommended=decision.recommended,
        )
        self.rescales.append(rescale)
        for listener in self.listeners:
            listener(rescale)
        return rescale
