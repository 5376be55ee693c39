"""An InferenceSet's status and events, from its observed replicas alone.

Pure: no I/O, no clock, no logging.

- ``replicas``: replica Workspaces that exist and are not being deleted; ``readyReplicas``: those
  whose ``WorkspaceSucceeded`` is True; ``selector``: ``inferenceset.kaito.sh/created-by=<name>``
  (what the scale subresource hands an HPA).
- ``InferenceSetReady``: True (``inferencesetReady``, ``inferenceset is ready``) once at least
  ``spec.replicas`` replicas are ready, else False (``inferencesetNotReady``, ``inferenceset is
  not ready, X/Y replicas are ready``), or False with ``inferencesetFailed`` when the spec cannot
  be planned. ``InferenceSetDeleting`` while it is deleted.
- Ours: ``NodeCountLimitReached`` whenever ``spec.nodeCountLimit`` is set, ``ReplicaNameConflict``
  while another Workspace holds a replica's name, ``ScaledObjectProvisioned`` when the planner
  provisions KEDA ScaledObjects and the set asks for one, ``ReplicasHealthy`` (False) while a
  live replica's Workspace has a condition False with a failure reason (a terminal one, such as
  ``workspaceFailed``, or one it may recover from, such as ``ContainerCrashLoopBackOff``: the
  reasons of `kaito_core.workspace_kind`), carrying the first such replica's reason.
- ``performance.metrics.aggregatedPeakTokensPerMinute``: the sum of the ready replicas'
  ``peakTokensPerMinute`` (vLLM preset replicas with the benchmark on, as upstream); other
  metric keys are left as they were.
- ``autoUpgrade``: kept as the planner computed it (`kaito_core.inferenceset.plan`).

Conditions of other types (written by someone else) are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core import conditions as kc
from kaito_core.api.inferenceset import AutoUpgradeStatus, InferenceSet, InferenceSetStatus
from kaito_core.api.types import Condition
from kaito_core.inferenceset.children import Replica
from kaito_core.inferenceset.facts import (
    CONDITION_DELETING,
    CONDITION_NODE_COUNT_LIMIT,
    CONDITION_READY,
    CONDITION_REPLICA_CONFLICT,
    CONDITION_REPLICAS_HEALTHY,
    CONDITION_SCALED_OBJECT,
    LABEL_CREATED_BY,
    MESSAGE_DELETING,
    MESSAGE_READY,
    REASON_DELETING,
    REASON_FAILED,
    REASON_NOT_READY,
    REASON_READY,
    not_ready_message,
)
from kaito_core.outcome import Event
from kaito_core.workspace_kind import PERSISTENT_FAILURE_REASONS, TERMINAL_REASONS

__all__ = [
    "BENCHMARK_DESCRIPTION",
    "BENCHMARK_UNIT",
    "FAILURE_REASONS",
    "METRIC_AGGREGATED_PEAK_TPM",
    "METRIC_PEAK_TPM",
    "compute_status",
    "replicas_health",
    "status_events",
]

METRIC_PEAK_TPM = "peakTokensPerMinute"
METRIC_AGGREGATED_PEAK_TPM = "aggregatedPeakTokensPerMinute"
BENCHMARK_DESCRIPTION = "stress/high-concurrency"
BENCHMARK_UNIT = "tokens/min"

#: Condition types this module decides; any other type on the status is someone else's.
_OWNED = (
    CONDITION_READY,
    CONDITION_DELETING,
    CONDITION_NODE_COUNT_LIMIT,
    CONDITION_REPLICA_CONFLICT,
    CONDITION_SCALED_OBJECT,
    CONDITION_REPLICAS_HEALTHY,
)
#: A replica condition False with one of these reasons makes the set's ``ReplicasHealthy`` False.
FAILURE_REASONS = TERMINAL_REASONS | PERSISTENT_FAILURE_REASONS
#: Workspace conditions about machines: their reason explains a failure first (pods cannot
#: schedule *because* nodes are missing), as `kaito_core.workspace_kind.workspace_state` reads.
_NODE_CONDITIONS = frozenset({"ResourceReady", "NodeClaimReady", "NodesReady"})
#: (type, reason) pairs that are worth a Warning event when they appear.
_WARNINGS = frozenset(
    {
        (CONDITION_READY, REASON_FAILED),
        (CONDITION_NODE_COUNT_LIMIT, "ReplicasHeldBack"),
        (CONDITION_REPLICA_CONFLICT, "NameTaken"),
        (CONDITION_SCALED_OBJECT, "InvalidAutoscaling"),
        (CONDITION_SCALED_OBJECT, "AutoscalingNotConfigured"),
        (CONDITION_SCALED_OBJECT, "InvalidReplicaRange"),
        (CONDITION_SCALED_OBJECT, "ScaledObjectConflict"),
    }
)


def _peak_tpm(replica: Replica) -> tuple[float, Mapping[str, Any] | None] | None:
    metrics = ((replica.manifest.get("status") or {}).get("performance") or {}).get("metrics")
    metric = metrics.get(METRIC_PEAK_TPM) if isinstance(metrics, dict) else None
    if not isinstance(metric, dict) or not isinstance(metric.get("value"), str):
        return None
    try:
        value = float(metric["value"])
    except ValueError:
        return None
    if not value > 0 or value == float("inf"):
        return None
    config = metric.get("config")
    return value, config if isinstance(config, dict) else None


def _failure_of(replica: Replica) -> tuple[str, str, str | None] | None:
    """(reason, message, since) of a replica whose Workspace reports a failure, machines
    first; ``since`` is that condition's transition time (the Workspace's own failure grace
    counts from it)."""
    conditions = (replica.manifest.get("status") or {}).get("conditions") or ()
    found = [c for c in conditions if isinstance(c, dict)]
    for condition in sorted(found, key=lambda c: c.get("type") not in _NODE_CONDITIONS):
        reason = condition.get("reason")
        if condition.get("status") == "False" and reason in FAILURE_REASONS:
            since = condition.get("lastTransitionTime")
            return (
                str(reason),
                str(condition.get("message") or ""),
                since if isinstance(since, str) else None,
            )
    return None


def replicas_health(iset: InferenceSet, replicas: Sequence[Replica]) -> Condition | None:
    """``ReplicasHealthy`` False with the first failing live replica's reason (by slot), or
    None when no live replica reports a failure. When it appears its transition time is that of
    the replica's failing condition: a crash loop that comes and goes (the container restarts,
    then backs off again) counts from when the replica's condition turned False, as the
    Workspace's own state does.

    Pure: no I/O, no clock, no logging.
    """
    failing = [
        (r.name, failure)
        for r in sorted(replicas, key=lambda r: (r.ordinal is None, r.ordinal or 0, r.name))
        if not r.deleting and (failure := _failure_of(r)) is not None
    ]
    if not failing:
        return None
    name, (reason, message, since) = failing[0]
    text = f"Workspace {iset.namespace}/{name}: {message}" if message else f"Workspace {name}"
    if len(failing) > 1:
        text += f" (and {len(failing) - 1} more failing replica(s))"
    health = kc.condition(CONDITION_REPLICAS_HEALTHY, False, reason, kc.truncate_message(text))
    return attrs.evolve(health, last_transition_time=since) if since else health


def _performance(
    previous: Mapping[str, Any] | None, replicas: Sequence[Replica], *, benchmark: bool
) -> dict[str, Any] | None:
    metrics = dict((previous or {}).get("metrics") or {})
    metrics.pop(METRIC_AGGREGATED_PEAK_TPM, None)
    found = [m for m in (_peak_tpm(r) for r in replicas if r.ready) if m is not None]
    if benchmark and found:
        metric: dict[str, Any] = {
            "description": BENCHMARK_DESCRIPTION,
            "value": f"{sum(value for value, _ in found):.2f}",
            "unit": BENCHMARK_UNIT,
        }
        config = next((c for _, c in found if c), None)
        if config:
            metric["config"] = {str(k): str(v) for k, v in sorted(config.items())}
        metrics[METRIC_AGGREGATED_PEAK_TPM] = metric
    if not metrics:
        return None
    return {**(previous or {}), "metrics": dict(sorted(metrics.items()))}


def compute_status(
    iset: InferenceSet,
    *,
    replicas: Sequence[Replica],
    now: str,
    conditions: Sequence[Condition] = (),
    failure: str | None = None,
    deleting: bool = False,
    benchmark: bool = False,
    auto_upgrade: AutoUpgradeStatus | None = None,
) -> InferenceSetStatus:
    """The status of `iset` given its observed `replicas`.

    `conditions` are the planner's own conditions of the types this module does not decide
    (node limit, name conflicts, ScaledObject), each set when given and removed when not;
    `failure` is the message of a spec the planner cannot act on; `benchmark` whether the
    aggregated peak throughput is reported. Pure: no I/O, no clock, no logging.
    """
    previous = iset.status or InferenceSetStatus()
    generation = iset.metadata.generation
    live = [r for r in replicas if not r.deleting]
    ready = sum(1 for r in live if r.ready)
    desired = iset.replicas
    if failure is not None:
        wanted = kc.condition(CONDITION_READY, False, REASON_FAILED, kc.truncate_message(failure))
    elif ready >= desired:
        wanted = kc.condition(CONDITION_READY, True, REASON_READY, MESSAGE_READY)
    else:
        wanted = kc.condition(
            CONDITION_READY, False, REASON_NOT_READY, not_ready_message(ready, desired)
        )
    updates = [wanted, *conditions]
    health = None if deleting or failure is not None else replicas_health(iset, replicas)
    if health is not None:
        updates.append(health)
    if deleting:
        updates.append(kc.condition(CONDITION_DELETING, True, REASON_DELETING, MESSAGE_DELETING))
    result = tuple(previous.conditions or ())
    for update in updates:
        result = kc.set_condition(result, update, now=now, generation=generation)
    kept = {update.type for update in updates}
    result = tuple(c for c in result if c.type not in _OWNED or c.type in kept)
    return InferenceSetStatus(
        replicas=len(live),
        ready_replicas=ready,
        selector=f"{LABEL_CREATED_BY}={iset.name}",
        conditions=tuple(sorted(result, key=lambda c: c.type)),
        performance=_performance(previous.performance, replicas, benchmark=benchmark),
        auto_upgrade=auto_upgrade,
    )


def status_events(previous: Sequence[Condition], status: InferenceSetStatus) -> tuple[Event, ...]:
    """A Warning for each owned condition that newly took a reason worth one (a spec that cannot
    be planned, replicas held back by the node limit, a name conflict, an autoscaling problem).

    Pure: no I/O, no clock, no logging.
    """
    before = {(c.type, c.status, c.reason) for c in previous}
    events = []
    for condition in status.conditions or ():
        key = (condition.type, condition.reason or "")
        if key not in _WARNINGS or (condition.type, condition.status, condition.reason) in before:
            continue
        events.append(
            Event(type="Warning", reason=condition.reason or "", message=condition.message or "")
        )
    return tuple(events)
