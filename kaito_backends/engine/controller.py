"""The loop: informers feed one work queue; N async workers reconcile one key each.

One controller serves every kind of its `kaito_core.kinds.Registry` (default: Workspace). Keys
are `Key(kind, namespace, name)`; the workers, the queue, the rate limiters and the informers
are shared, so a kind built from another (an InferenceSet's Workspaces) settles in one loop.

- Informers (`kaito_backends.engine.informers`, built by the `CacheObserver`) watch every
  registered kind and everything those kinds own or read; each change maps to the keys it
  concerns (owner references and owner labels: `kaito_backends.kinds.owner_keys`; the kinds'
  `kaito_backends.kinds.Watch`es: the ConfigMaps and Secrets a Workspace names, bring-your-own
  Nodes by selector) and those keys are added to the `WorkQueue`. An object's own status
  writes do not enqueue it (controller-runtime's GenerationChangedPredicate, widened to
  metadata the engine reads); they do enqueue the objects that own it.
- ``workers`` tasks take keys (never the same key twice at once) and run `Reconciler.reconcile`.
  The result decides what happens next: ``requeue_after`` adds the key back later; success
  forgets its backoff; a `SpecError` waits for the spec to change (or a resync); `Conflict` and
  `Transient` (after `retrying` gave up) back off per key, at least the server's Retry-After;
  any other exception is logged and backs off too. One object's failure never stops a worker.
- `Controller.run` runs forever on a real clock (with a periodic resync).
  `Controller.run_until_settled` runs on a `VirtualClock`: it drains the queue until nothing is
  left to do, then advances virtual time to the next timer (fake-cluster progress, delayed
  keys), and repeats until every object is terminal (``Succeeded`` or ``Failed``; being
  deleted is not terminal) or the virtual timeout passes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kaito_backends.clock import Clock, SystemClock, VirtualClock
from kaito_backends.engine.events import EventRecorder, RecordedEvent
from kaito_backends.engine.informers import MISSING_KIND_RETRY, Informer, pause
from kaito_backends.engine.logs import engine_logger
from kaito_backends.engine.metrics import EngineMetrics
from kaito_backends.engine.observer import CacheObserver
from kaito_backends.engine.queue import WorkQueue
from kaito_backends.engine.reconciler import Planner, Reconciler
from kaito_backends.engine.results import TERMINAL_STATES, ReconcileResult, Settled
from kaito_backends.engine.retry import RetryPolicy, retrying
from kaito_backends.engine.routing import route
from kaito_backends.errors import BackendError, Conflict, Transient
from kaito_backends.kinds import KindHooks
from kaito_backends.objects import Key, Manifest
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from kaito_core.kinds import Registry
from kaito_core.registry import default_registry

__all__ = ["TERMINAL_STATES", "Controller", "Settled"]

_DEFAULT_RETRY = RetryPolicy()


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


class _RetryClock:
    """The clock retries wait on: they move virtual time only while this controller drives it
    (`run_until_settled`); otherwise they wait for whoever drives it (a paced fake API server)."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    def now(self) -> datetime:
        return self._controller.clock.now()

    def monotonic(self) -> float:
        return self._controller.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        controller = self._controller
        if controller._driving:
            await controller.clock.sleep(seconds)
        else:
            await pause(controller.clock, seconds)


class Controller:
    """The controller of every registered kind (see the module docstring). Use as
    ``async with``.

    ``registry`` (default `default_registry`) and ``hooks`` (default
    `kaito_backends.kinds.DEFAULT_HOOKS`) say which kinds it reconciles and how; ``planner``
    replaces the planner of the registry's first kind, ``planners`` those of any kind by name.
    ``validation`` (a `kaito_core.validation.ValidationContext`) makes the loop judge every spec
    as the admission webhook would, for clusters without it (`kaito_backends.engine.spec_check`).
    ``missing_kind_retry``: seconds between looks for a kind the server does not serve (every
    informer's, and the reconcile of an object whose provisioning found Karpenter's CRD
    missing).
    """

    def __init__(
        self,
        client: ClusterClient,
        provisioner: NodeProvisioner,
        *,
        clock: Clock | None = None,
        planner: Planner | None = None,
        catalog: Any = None,
        settings: Any = None,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
        planners: Mapping[str, Planner] | None = None,
        workers: int = 4,
        resync_period: float | None = 600.0,
        retry_policy: RetryPolicy | None = _DEFAULT_RETRY,
        metrics: EngineMetrics | None = None,
        record_events: bool = True,
        event_sinks: Sequence[Callable[[RecordedEvent], None]] = (),
        finalizer_timeout: float = 600.0,
        failure_grace: float = 600.0,
        field_manager: str = "kaito",
        missing_kind_retry: float = MISSING_KIND_RETRY,
        log: Any = None,
        validation: Any = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        if catalog is None or settings is None:
            from kaito_core.plan import PlanSettings
            from kaito_presets import default_catalog

            catalog = catalog if catalog is not None else default_catalog()
            settings = (
                settings if settings is not None else PlanSettings(provisioner=provisioner.name)
            )
        self.registry = registry if registry is not None else default_registry()
        self.log = log if log is not None else engine_logger()
        self.metrics = metrics or EngineMetrics()
        for spec in self.registry:
            self.metrics.gauge(spec.plural, spec.kind)  # every series exists from the start
        if retry_policy is not None:
            waits = _RetryClock(self)
            client = retrying(client, policy=retry_policy, clock=waits)
            provisioner = retrying(provisioner, policy=retry_policy, clock=waits)
        self.client = client
        self.provisioner = provisioner
        self.queue: WorkQueue[Key] = WorkQueue(clock=self.clock)
        self.observer = CacheObserver(
            client, provisioner, clock=self.clock, registry=self.registry, hooks=hooks
        )
        for informer in self.observer.informers():
            informer.missing_kind_retry = missing_kind_retry
        self.recorder = EventRecorder(
            client,
            clock=self.clock,
            sinks=tuple(event_sinks),
            write=record_events,
            on_error=lambda e: self.log.warning("event.dropped", error=str(e)),
        )
        self.reconciler = Reconciler(
            client,
            provisioner,
            observer=self.observer,
            planner=planner,
            planners=planners,
            catalog=catalog,
            settings=settings,
            clock=self.clock,
            registry=self.registry,
            recorder=self.recorder,
            cache=self._cached,
            field_manager=field_manager,
            finalizer_timeout=finalizer_timeout,
            failure_grace=failure_grace,
            missing_kind_retry=missing_kind_retry,
            on_write=self.metrics.wrote,
            validation=validation,
            namespace_members=self._members,
        )
        self.n_workers = max(1, workers)
        self.resync_period = resync_period
        self.results: dict[Key, ReconcileResult] = {}
        self._states: Counter[str] = Counter()
        self.reconciles = 0
        self.errors = 0
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._driving = False
        self._wire()

    # -- informer wiring -------------------------------------------------------------------------
    @property
    def informers(self) -> list[Informer]:
        """Every informer, the registered kinds' first (in registry order)."""
        return self.observer.informers()

    def informer(self, kind: str) -> Informer:
        """The informer of a kind (``Workspace``, ``Pod``, ``Node``, ``StatefulSet``, ...)."""
        found = self.observer.informer(kind)
        if found is None:
            raise KeyError(kind)
        return found

    def _wire(self) -> None:
        route(
            self.observer,
            self.queue,
            on_deleted=lambda key: (self.reconciler.forget(key), self._set_result(key, None)),
        )

    def _members(self, namespace: str) -> list[tuple[Key, str]]:
        """(key, uid) of every cached object of a registered kind in ``namespace``."""
        return [
            (Key(kind, namespace, name), str(_meta(obj).get("uid") or ""))
            for kind, informer in self.observer.kinds.items()
            for (ns, name), obj in informer.objects.items()
            if ns == namespace
        ]

    def _cached(self, key: Key) -> Manifest | None:
        informer = self.observer.kinds.get(key.kind)
        return informer.get(key.namespace, key.name) if informer is not None else None

    # -- results ---------------------------------------------------------------------------------
    def _set_result(self, key: Key, result: ReconcileResult | None) -> None:
        previous = self.results.get(key)
        old_state = previous.state if previous is not None else None
        if previous is not None:
            self._states[previous.state] -= 1
        if result is None or result.state == "Gone":
            self.results.pop(key, None)
            new_state = None
        else:
            self.results[key] = result.slim()
            self._states[result.state] += 1
            new_state = result.state
        spec = self.registry.get(key.kind)
        if spec is not None:
            self.metrics.moved(spec.plural, spec.kind, old_state, new_state)

    def states(self) -> dict[str, int]:
        """How many objects are in each state (by their last reconcile), all kinds together."""
        return {state: n for state, n in self._states.items() if n > 0}

    # -- one key ---------------------------------------------------------------------------------
    async def process(self, key: Key) -> ReconcileResult | None:
        """Reconcile ``key`` once and schedule what comes next (the queue's ``done`` excepted).

        Log lines are bound with the key under the kind's singular name
        (``workspace=default/phi``) and a ``reconcile_id``."""
        rid = f"{next(self._ids):06x}"
        spec = self.registry.get(key.kind)
        singular = spec.singular if spec is not None else key.kind.lower()
        log = self.log.bind(**{singular: str(key)}, reconcile_id=rid)
        started = time.perf_counter()
        self.reconciles += 1
        try:
            result = await self.reconciler.reconcile(key, log=log)
        except Exception as error:
            self.errors += 1
            self.metrics.error(error)
            self.metrics.reconciled("error", time.perf_counter() - started)
            at_least = 0.0
            if isinstance(error, Transient) and error.delay is not None:
                at_least = error.delay
            delay = self.queue.add_rate_limited(key, at_least=at_least)
            self.metrics.retried()
            previous = self.results.get(key)
            self._set_result(
                key,
                ReconcileResult(
                    key=key,
                    state="Retrying",
                    requeue_after=delay,
                    reason=type(error).__name__,
                    message=str(error),
                    status=previous.status if previous is not None else None,
                ),
            )
            if isinstance(error, Conflict | Transient):
                log.debug(
                    "reconcile.retry", error=type(error).__name__, message=str(error), after=delay
                )
            elif isinstance(error, BackendError):
                log.warning(
                    "reconcile.failed", error=type(error).__name__, message=str(error), after=delay
                )
            else:
                log.error(
                    "reconcile.crashed",
                    error=type(error).__name__,
                    message=str(error),
                    exc_info=True,
                )
            return None
        elapsed = time.perf_counter() - started
        self._set_result(key, result)
        if result.state == "Gone":
            self.queue.forget(key)
            self.metrics.reconciled("success", elapsed)
            return result
        if result.spec_error:
            self.queue.forget(key)
            self.metrics.reconciled("spec_error", elapsed)
            return result
        self.queue.forget(key)
        if result.requeue:
            self.queue.add_rate_limited(key)
            self.metrics.reconciled("requeue", elapsed)
        elif result.requeue_after is not None:
            self.queue.add_after(key, result.requeue_after)
            self.metrics.reconciled("requeue_after", elapsed)
        else:
            self.metrics.reconciled("success", elapsed)
        return result

    async def _worker(self) -> None:
        queue = self.queue
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                await self.process(key)
            finally:
                queue.done(key)
                self.metrics.queue(depth=len(queue), adds=queue.adds)
            if self._driving:
                # virtual time: what the cluster does "at once" in reaction to our writes (its
                # zero-delay timers) happens before we look again, as it would on a real one
                self.clock.run_due()  # type: ignore[attr-defined]
            await asyncio.sleep(0)  # let informers and other workers run between keys

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the informers, wait for their first list, then start the workers."""
        if self._tasks:
            return
        for informer in self.informers:
            self._tasks.append(
                asyncio.create_task(informer.run(), name=f"informer-{informer.kind}")
            )
        await self._wait_synced()
        for i in range(self.n_workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"worker-{i}"))
        counts = {spec.plural: len(self.observer.kinds[spec.kind]) for spec in self.registry}
        self.log.info("controller.started", workers=self.n_workers, **counts)

    async def _wait_synced(self) -> None:
        """Wait for every informer's first list. On a `VirtualClock` an informer backing off
        waits for a timer: time is moved on to it (nobody else drives the clock yet)."""
        informers = self.informers
        if not isinstance(self.clock, VirtualClock):
            await asyncio.gather(*(informer.synced.wait() for informer in informers))
            return
        clock = self.clock
        while not all(informer.synced.is_set() for informer in informers):
            for _ in range(4):
                await asyncio.sleep(0)
            if all(informer.synced.is_set() for informer in informers):
                break
            due = clock.next_deadline()
            if due is not None:
                clock.advance(max(0.0, due - clock.monotonic()))

    async def stop(self) -> None:
        """Stop workers and informers (a reconcile in flight is cancelled where it stands)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Controller:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _keys(self) -> list[Key]:
        """Every cached object of every registered kind (registry order, then by name)."""
        return [
            Key(kind, ns or "default", name)
            for kind, informer in self.observer.kinds.items()
            for ns, name in sorted(informer.objects)
        ]

    def resync(self) -> int:
        """Add every cached object to the queue (a periodic resync); returns how many."""
        keys = self._keys()
        self.queue.add_all(keys)
        return len(keys)

    async def run(self) -> None:
        """Run until cancelled: the operator's main loop on a real cluster."""
        await self.start()
        try:
            while True:
                await pause(self.clock, self.resync_period or 3600.0)
                if self.resync_period:
                    n = self.resync()
                    self.log.debug("controller.resync", objects=n)
        finally:
            await self.stop()

    # -- virtual time ----------------------------------------------------------------------------
    def _activity(self) -> tuple[int, ...]:
        return (self.reconciles, self.queue.adds, *(i.changes for i in self.informers))

    async def quiesce(self, *, rounds: int = 3) -> None:
        """Yield to the event loop until no worker or informer has anything left to do."""
        stable = 0
        last = self._activity()
        while stable < rounds:
            await asyncio.sleep(0)
            now = self._activity()
            if now == last and self.queue.idle():
                stable += 1
            else:
                stable = 0
                last = now

    def terminal(self) -> bool:
        """Every cached object's last result is terminal and nothing is queued for it."""
        queue = self.queue
        results = self.results
        for kind, informer in self.observer.kinds.items():
            for ns, name in informer.objects:
                key = Key(kind, ns or "default", name)
                result = results.get(key)
                if result is None or result.state not in TERMINAL_STATES:
                    return False
                if queue.is_dirty(key) or queue.is_processing(key):
                    return False
        return True

    async def run_until_settled(
        self, timeout_virtual_seconds: float = 3600.0, *, on_step: Callable[[], None] | None = None
    ) -> Settled:
        """Process, then jump virtual time to the next timer, until all objects are terminal.

        Requires a `VirtualClock`. Starts the controller if it is not running (it keeps running
        afterwards: call `stop` or use ``async with``). ``on_step`` runs after each quiet point.
        """
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("run_until_settled needs a VirtualClock; use run() on a real clock")
        await self.start()
        start = clock.monotonic()
        deadline = start + timeout_virtual_seconds
        reconciles = self.reconciles
        settled = False
        self._driving = True
        try:
            while True:
                await self.quiesce()
                if on_step is not None:
                    on_step()
                if self.terminal():
                    settled = True
                    break
                due = clock.next_deadline()
                if due is None:  # nothing will ever happen again: stuck, not settled
                    break
                if due > deadline:
                    clock.advance(max(0.0, deadline - clock.monotonic()))
                    await self.quiesce()
                    settled = self.terminal()
                    break
                clock.advance(max(0.0, due - clock.monotonic()))
        finally:
            self._driving = False
        return Settled(
            results=dict(self.results),
            settled=settled,
            elapsed=clock.monotonic() - start,
            reconciles=self.reconciles - reconciles,
        )
