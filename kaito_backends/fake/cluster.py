"""`FakeCluster`: the in-memory cluster, its simulated controllers, and the clock that drives them.

Writes (from clients or from the simulated controllers) queue reconciles; the queue drains in a
timer due *now*, so nothing happens until virtual time is run: ``cluster.run_until_idle()``,
``cluster.step()``, ``cluster.clock.advance(seconds)`` (sync), or ``await cluster.advance(s)`` /
``await cluster.settle()`` (async: they let other tasks, such as an engine or watch consumers,
run between timers).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kaito_backends.clock import VirtualClock
from kaito_backends.fake.byo import joined_node
from kaito_backends.fake.client import Call, FakeClient, Recorder
from kaito_backends.fake.collector import UniqueQueue
from kaito_backends.fake.conditions import Timings
from kaito_backends.fake.cpupool import DEFAULT_CPU_POOL, CpuPool, CpuPoolController
from kaito_backends.fake.deployments import DeploymentController
from kaito_backends.fake.faults import FaultKind, FaultPlan, Faults, OneShot
from kaito_backends.fake.namespaces import NamespaceController
from kaito_backends.fake.nodes import NodeController
from kaito_backends.fake.pods import PodController
from kaito_backends.fake.provisioner import FakeProvisioner
from kaito_backends.fake.scheduler import Scheduler
from kaito_backends.fake.sim import Sim
from kaito_backends.fake.store import Store, StoreKey
from kaito_backends.fake.watches import ChangeType
from kaito_backends.fake.workloads import JobController, StatefulSetController
from kaito_backends.objects import Manifest, group_of

if TYPE_CHECKING:
    from kaito_presets import Catalog

__all__ = ["FakeCluster"]

#: Reconciles one drain may run before the fake declares its controllers stuck.
_MAX_RECONCILES = 10_000_000


class FakeCluster:
    """An in-memory Kubernetes cluster with Karpenter-like GPU nodes. See the package docstring."""

    def __init__(
        self,
        *,
        clock: VirtualClock | None = None,
        catalog: Catalog | None = None,
        faults: FaultPlan | None = None,
        timings: Timings | None = None,
        watch_history: int = 1000,
        cpu_pool: CpuPool | None = DEFAULT_CPU_POOL,
    ) -> None:
        if catalog is None:
            from kaito_presets import default_catalog

            catalog = default_catalog()
        self.clock = clock or VirtualClock()
        self.catalog = catalog
        self.timings = timings or Timings()
        self.faults = Faults(
            faults, now=self.clock.monotonic, calls=lambda: len(self.recorder.calls)
        )
        self.store = Store(self.clock, history=watch_history, schedule=self._defer)
        self.recorder = Recorder(self.clock)
        self._queue: UniqueQueue[tuple[str, StoreKey]] = UniqueQueue()
        self._drain_scheduled = False
        self.sim = Sim(self.store, self.clock, self.faults, self.timings, catalog, self._enqueue)
        self.scheduler = Scheduler(self.store)
        self.nodes = NodeController(self.sim, self.scheduler)
        self.pods = PodController(self.sim, self.scheduler)
        self.statefulsets = StatefulSetController(self.sim)
        self.deployments = DeploymentController(self.sim)
        #: the default CPU node pool (`kaito_backends.fake.cpupool`); None: no CPU nodes
        self.cpu_pool = CpuPoolController(self.sim, cpu_pool) if cpu_pool is not None else None
        self.jobs = JobController(self.sim)
        self.namespaces = NamespaceController(
            self.store,
            lambda k: self._enqueue("namespace", k),
            later=self.clock.call_later,
            now=self.clock.monotonic,
        )
        self._reconcilers: dict[str, Callable[[StoreKey], None]] = {
            "nodeclaim": self.nodes.reconcile,
            "node": self.nodes.reconcile_node,
            "pod": self.pods.reconcile,
            "statefulset": self.statefulsets.reconcile,
            "deployment": self.deployments.reconcile,
            "job": self.jobs.reconcile,
            "namespace": self.namespaces.reconcile,
        }
        self.store.listeners.append(self._on_change)
        self._client = FakeClient(self.store, self.faults, self.recorder)
        self._provisioner = FakeProvisioner(self.store, self.faults, self.recorder, catalog)

    # -- the two seams ---------------------------------------------------------------------------
    def client(self) -> FakeClient:
        """The cluster's `ClusterClient` (one shared instance)."""
        return self._client

    def provisioner(self) -> FakeProvisioner:
        """The cluster's `NodeProvisioner`, named ``fake`` (one shared instance)."""
        return self._provisioner

    # -- records and faults ----------------------------------------------------------------------
    @property
    def counters(self) -> Counter[tuple[str, str]]:
        """Client and provisioner calls per (verb, kind)."""
        return self.recorder.counters

    @property
    def calls(self) -> list[Call]:
        """Every client and provisioner call, in order."""
        return self.recorder.calls

    @property
    def reads(self) -> int:
        """get + list + watch calls."""
        return sum(self.recorder.count(v) for v in ("get", "list", "watch", "observe"))

    @property
    def writes(self) -> int:
        """create + apply + update + apply_status + delete calls (and provisioner writes)."""
        verbs = ("create", "apply", "update", "apply_status", "delete", "provision", "release")
        return sum(self.recorder.count(v) for v in verbs)

    def reset_counters(self) -> None:
        self.recorder.reset()

    def inject(self, fault: FaultKind, **match: Any) -> None:
        """Queue a one-shot fault: ``cluster.inject("conflict", verb="apply", kind="StatefulSet")``.

        Keywords as `OneShot`: verb, kind, name, times, delay, recover_after.
        """
        self.faults.inject(OneShot(fault=fault, **match))

    # -- driving time ----------------------------------------------------------------------------
    def step(self) -> bool:
        """Jump to the next timer and run everything due then; False when nothing is pending."""
        return self.clock.advance_to_next() is not None

    def run_until_idle(self, max_seconds: float = 3600.0) -> bool:
        """Run timers until none is pending (True) or ``max_seconds`` passed (False)."""
        limit = self.clock.monotonic() + max_seconds
        while True:
            self.clock.run_due()
            deadline = self.clock.next_deadline()
            if deadline is None:
                return True
            if deadline > limit:
                self.clock.advance(limit - self.clock.monotonic())
                return False
            self.clock.advance(deadline - self.clock.monotonic())

    async def advance(self, seconds: float) -> None:
        """Move virtual time ``seconds`` forward, letting other tasks run between timers."""
        target = self.clock.monotonic() + seconds
        while True:
            await _let_others_run()
            self.clock.run_due()
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > target:
                break
            self.clock.advance(deadline - self.clock.monotonic())
        self.clock.advance(max(0.0, target - self.clock.monotonic()))
        await _let_others_run()

    async def settle(self, max_seconds: float = 3600.0) -> bool:
        """`run_until_idle`, letting other tasks run between timers."""
        limit = self.clock.monotonic() + max_seconds
        while True:
            await _let_others_run()
            self.clock.run_due()
            deadline = self.clock.next_deadline()
            if deadline is None:
                return True
            if deadline > limit:
                self.clock.advance(limit - self.clock.monotonic())
                return False
            self.clock.advance(deadline - self.clock.monotonic())

    # -- conveniences ----------------------------------------------------------------------------
    def add_node(
        self,
        name: str,
        *,
        instance_type: str = "",
        labels: Mapping[str, str] | None = None,
        taints: Sequence[Manifest] = (),
        gpus: int | None = None,
        ready: bool = True,
    ) -> Manifest:
        """Add a bring-your-own Node (Ready unless told otherwise) and return it as stored."""
        sku = self.catalog.find_sku(instance_type) if instance_type else None
        count = gpus if gpus is not None else (sku.gpu_count if sku else 0)
        all_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}
        if instance_type:
            all_labels["node.kubernetes.io/instance-type"] = instance_type
        capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": str(count)}
        now = self.sim.now()
        node: Manifest = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(sorted(all_labels.items()))},
            "spec": {"taints": [dict(t) for t in taints]} if taints else {},
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "addresses": [{"type": "InternalIP", "address": self.store.allocate_ip("10.240")}],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                ],
            },
        }
        return self.store.create(node, keep_status=True)

    def join_node(self, manifest: Mapping[str, Any]) -> Manifest:
        """Add a bring-your-own Node written by a user (labels, maybe a status), completed as its
        kubelet and device plugin would (`kaito_backends.fake.byo.joined_node`); returns it as
        stored. `AlreadyExists` when a Node of that name exists."""
        node = joined_node(manifest, catalog=self.catalog, now=self.sim.now())
        return self.store.create(node, keep_status=True)

    def snapshot(self) -> list[Manifest]:
        """Every stored object (copied), in a fixed order: compare two runs for determinism."""
        return self.store.snapshot()

    # -- plumbing --------------------------------------------------------------------------------
    def _defer(self, fn: Callable[[], object]) -> None:
        self.clock.call_later(0.0, fn)

    def _enqueue(self, controller: str, key: StoreKey) -> None:
        self._queue.push((controller, key))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.clock.call_later(0.0, self._drain)

    def _drain(self) -> None:
        runs = 0
        try:
            while self._queue:
                controller, key = self._queue.pop()
                self._reconcilers[controller](key)
                runs += 1
                if runs > _MAX_RECONCILES:
                    raise RuntimeError("the fake cluster's controllers do not settle")
        finally:
            self._drain_scheduled = False
            if self._queue:
                self._drain_scheduled = True
                self.clock.call_later(0.0, self._drain)

    def _on_change(self, change: ChangeType, obj: Manifest, old: Manifest | None) -> None:
        kind = obj["kind"]
        group = group_of(obj["apiVersion"])
        self.namespaces.on_change(change, obj)
        if group == "" and kind == "Pod":
            self.pods.on_pod(change, obj)
            if self.cpu_pool is not None and change != "DELETED":
                self.cpu_pool.on_pod(obj)
        elif group == "" and kind == "Node":
            self.nodes.on_node(change, obj)
        elif group == "karpenter.sh" and kind == "NodeClaim":
            self.nodes.on_claim(change, obj)
        elif change != "DELETED" and group == "apps" and kind == "StatefulSet":
            self._enqueue("statefulset", self.store.key_of(obj))
        elif change != "DELETED" and group == "apps" and kind == "Deployment":
            self._enqueue("deployment", self.store.key_of(obj))
        elif change != "DELETED" and group == "batch" and kind == "Job":
            self._enqueue("job", self.store.key_of(obj))


async def _let_others_run() -> None:
    for _ in range(8):
        await asyncio.sleep(0)
