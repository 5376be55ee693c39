"""Prometheus metrics of the engine, in a registry of its own.

Each `EngineMetrics` owns a `prometheus_client.CollectorRegistry`, so two engines in one process
(tests, embedding) never collide and nothing lands in the global default registry unless the
caller serves ``metrics.registry`` there. Names follow controller-runtime's where one exists:

======================================  =========  =============================================
``kaito_reconcile_total{result}``        counter    reconciles by result: ``success``, ``requeue``,
                                                    ``requeue_after``, ``error``, ``spec_error``
``kaito_reconcile_errors_total{kind}``   counter    errors by class (``Transient``, ``Conflict``...)
``kaito_reconcile_time_seconds``         histogram  wall time of one reconcile
``kaito_workqueue_depth``                gauge      keys ready in the work queue
``kaito_workqueue_adds_total``           counter    keys added (after dedup)
``kaito_workqueue_retries_total``        counter    rate-limited re-adds
``kaito_<plural>{state}``                gauge      objects of each registered kind by state:
                                                    ``kaito_workspaces{state}`` (``Succeeded``,
                                                    ``Failed``, ``Pending``, ``Deleting``, ...)
``kaito_writes_total{verb}``             counter    writes the engine issued (create, apply, ...)
======================================  =========  =============================================

``render()`` gives the text exposition format (what a ``/metrics`` endpoint serves).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

__all__ = ["RESULTS", "EngineMetrics"]

RESULTS = ("success", "requeue", "requeue_after", "error", "spec_error")

#: Reconcile latency buckets: a reconcile is sub-millisecond on the fake, ~100 ms on a cluster.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EngineMetrics:
    """The engine's counters, gauges and histograms (see the module docstring)."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "kaito"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        ns = namespace
        self.reconciles = PromCounter(
            "reconcile", "Reconciles, by result.", ["result"], namespace=ns, registry=self.registry
        )
        self.errors = PromCounter(
            "reconcile_errors",
            "Reconcile errors, by error class.",
            ["kind"],
            namespace=ns,
            registry=self.registry,
        )
        self.latency = Histogram(
            "reconcile_time_seconds",
            "Wall time of one reconcile.",
            namespace=ns,
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.queue_depth = Gauge(
            "workqueue_depth", "Keys ready in the work queue.", namespace=ns, registry=self.registry
        )
        self.queue_adds = PromCounter(
            "workqueue_adds", "Keys added to the work queue.", namespace=ns, registry=self.registry
        )
        self.queue_retries = PromCounter(
            "workqueue_retries", "Rate-limited re-adds.", namespace=ns, registry=self.registry
        )
        self.writes = PromCounter(
            "writes",
            "Writes the engine issued, by verb.",
            ["verb"],
            namespace=ns,
            registry=self.registry,
        )
        # pre-create the labelled children so every series exists from the start (and is cheap)
        self._results = {r: self.reconciles.labels(result=r) for r in RESULTS}
        self._writes: dict[str, PromCounter] = {}
        self._namespace = ns
        #: ``kaito_<plural>{state}`` gauges, by plural (made when a kind first moves)
        self.states: dict[str, Gauge] = {}
        self._queue_adds_seen = 0

    def reconciled(self, result: str, seconds: float) -> None:
        """One reconcile finished with ``result`` after ``seconds``."""
        child = self._results.get(result)
        if child is None:
            child = self._results[result] = self.reconciles.labels(result=result)
        child.inc()
        self.latency.observe(seconds)

    def error(self, error: BaseException) -> None:
        self.errors.labels(kind=type(error).__name__).inc()

    def wrote(self, verb: str, n: int = 1) -> None:
        child = self._writes.get(verb)
        if child is None:
            child = self._writes[verb] = self.writes.labels(verb=verb)
        child.inc(n)

    def queue(self, *, depth: int, adds: int) -> None:
        """Update the queue gauges; ``adds`` is the queue's running total."""
        self.queue_depth.set(depth)
        if adds > self._queue_adds_seen:
            self.queue_adds.inc(adds - self._queue_adds_seen)
            self._queue_adds_seen = adds

    def retried(self) -> None:
        self.queue_retries.inc()

    def gauge(self, plural: str, kind: str) -> Gauge:
        """The ``kaito_<plural>{state}`` gauge of a kind (``kaito_workspaces``)."""
        gauge = self.states.get(plural)
        if gauge is None:
            gauge = self.states[plural] = Gauge(
                plural,
                f"{kind}s, by state.",
                ["state"],
                namespace=self._namespace,
                registry=self.registry,
            )
        return gauge

    def moved(self, plural: str, kind: str, old: str | None, new: str | None) -> None:
        """One object of a kind changed state (None: it appeared / it is gone)."""
        if old == new:
            return
        gauge = self.gauge(plural, kind)
        if old is not None:
            gauge.labels(state=old).dec()
        if new is not None:
            gauge.labels(state=new).inc()

    def set_states(self, plural: str, kind: str, states: Mapping[str, int]) -> None:
        """Replace the per-state counts of a kind."""
        gauge = self.gauge(plural, kind)
        gauge.clear()
        for state, n in sorted(Counter(states).items()):
            gauge.labels(state=state).set(n)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """The current value of a sample (``kaito_reconcile_total``), 0.0 when absent."""
        found = self.registry.get_sample_value(name, dict(labels or {}))
        return float(found) if found is not None else 0.0

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        out: bytes = generate_latest(self.registry)
        return out
