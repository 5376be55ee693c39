"""The engine: what makes Workspaces (and every other registered kind) run. A thin loop around
the pure core.

    from kaito_backends.engine import Controller
    from kaito_backends.fake import FakeCluster

    cluster = FakeCluster()
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)   # virtual seconds

- `Controller`: informers -> `WorkQueue` -> N async workers running `Reconciler` steps;
  ``run()`` forever on a real cluster, ``run_until_settled()`` on a `VirtualClock`.
- `Reconciler`: one level-triggered step (finalizer, observe, ``plan``, provision, apply,
  delete, status, events; time-boxed deletion). The planner is injectable.
- `WorkQueue` and its rate limiters: client-go's work queue semantics.
- `retrying`: retries `Transient` backend errors, keeping the backend's protocol.
- `CacheObserver` / `ListObserver`: the `Observed` snapshot of one object.
- `ReconcileResult`, `Settled`, `workspace_state`: what reconciles and runs end with.

Every part serves the kinds of a `kaito_core.kinds.Registry` (``registry=``; default: Workspace),
keyed by `kaito_backends.objects.Key` (kind, namespace, name).
- `EventRecorder`, `EngineMetrics`, `configure_logging`: Events, Prometheus metrics, logs.

See ``docs/engine.md`` (how it works) and ``docs/embedding.md`` (using the pieces yourself).
"""

from kaito_backends.engine.controller import Controller
from kaito_backends.engine.events import EventRecorder, RecordedEvent
from kaito_backends.engine.informers import Informer
from kaito_backends.engine.logs import configure_logging, engine_logger, library_logger, redact
from kaito_backends.engine.metrics import EngineMetrics
from kaito_backends.engine.observer import (
    CacheObserver,
    ListObserver,
    Observer,
    workspace_keys_of,
)
from kaito_backends.engine.queue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WorkQueue,
    default_rate_limiter,
)
from kaito_backends.engine.reconciler import (
    FINALIZER,
    Planner,
    Reconciler,
    ReconcileResult,
    workspace_state,
)
from kaito_backends.engine.results import TERMINAL_STATES, Settled
from kaito_backends.engine.retry import (
    RetryingClient,
    RetryingProvisioner,
    RetryPolicy,
    retrying,
)

__all__ = [
    "FINALIZER",
    "TERMINAL_STATES",
    "BucketRateLimiter",
    "CacheObserver",
    "Controller",
    "EngineMetrics",
    "EventRecorder",
    "Informer",
    "ItemExponentialFailureRateLimiter",
    "ListObserver",
    "MaxOfRateLimiter",
    "Observer",
    "Planner",
    "RateLimiter",
    "ReconcileResult",
    "Reconciler",
    "RecordedEvent",
    "RetryPolicy",
    "RetryingClient",
    "RetryingProvisioner",
    "Settled",
    "WorkQueue",
    "configure_logging",
    "default_rate_limiter",
    "engine_logger",
    "library_logger",
    "redact",
    "retrying",
    "workspace_keys_of",
    "workspace_state",
]
