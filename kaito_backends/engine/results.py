"""What reconciles end with: one step's `ReconcileResult`, a run's `Settled`, and the states.

A Workspace's state is read from its status alone (`workspace_state`):

- ``Succeeded``: WorkspaceSucceeded is True;
- ``Failed``: a condition is False with a terminal reason (`TERMINAL_REASONS`: the provider's
  refusal, a failed tuning Job), or with a pod failure (`PERSISTENT_FAILURE_REASONS`: crash
  loops, image pulls, OOM kills, ...) that has lasted ``failure_grace`` seconds; a spec error;
- ``Pending`` otherwise. The controller adds ``Deleting``, ``Retrying`` (the last reconcile
  raised) and ``Gone``.

`TERMINAL_STATES` are the ones `Controller.run_until_settled` stops at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

from kaito_backends.objects import WorkspaceKey
from kaito_core.api import WorkspaceStatus
from kaito_core.outcome import Outcome

__all__ = [
    "PERSISTENT_FAILURE_REASONS",
    "TERMINAL_REASONS",
    "TERMINAL_STATES",
    "ReconcileResult",
    "Settled",
    "parse_time",
    "workspace_state",
]

TERMINAL_STATES = frozenset({"Succeeded", "Failed"})

#: Reasons that end a Workspace's hopes at once (the user or the provider must act).
TERMINAL_REASONS = frozenset({"WorkspaceTuningJobStatusFailed", "workspaceFailed"})
#: Reasons a Workspace can recover from (a pod restarts, a refused machine is asked for again);
#: terminal once they persist for ``failure_grace`` seconds.
PERSISTENT_FAILURE_REASONS = frozenset(
    {
        "InsufficientCapacity",
        "QuotaExceeded",
        "ContainerOOMKilled",
        "ImagePullError",
        "ContainerStartError",
        "ContainerCrashLoopBackOff",
        "Unschedulable",
        "PodEvicted",
        "NodeDiskPressure",
        "NodeMemoryPressure",
        "SASTokenFetchFailed",
    }
)
_NODE_CONDITIONS = frozenset({"ResourceReady", "NodeClaimReady", "NodesReady"})
#: Conditions whose False/True says whether the Workspace is done.
_SUCCEEDED = "WorkspaceSucceeded"


@attrs.frozen(kw_only=True)
class ReconcileResult:
    """What one reconcile did and when to come back.

    ``state``: ``Succeeded``, ``Failed`` (terminal: ``reason``/``message`` say why), ``Pending``
    (still converging), ``Deleting``, or ``Gone`` (no such Workspace any more).
    """

    key: WorkspaceKey
    state: str
    requeue: bool = False
    requeue_after: float | None = None
    reason: str = ""
    message: str = ""
    writes: int = 0
    spec_error: bool = False
    #: the status the reconcile computed (None when it did not plan)
    status: WorkspaceStatus | None = None
    #: the planner's full answer; dropped from results the controller keeps (`slim`)
    outcome: Outcome[WorkspaceStatus] | None = None

    def slim(self) -> ReconcileResult:
        """The result without the outcome's manifests (what is kept per Workspace)."""
        return self if self.outcome is None else attrs.evolve(self, outcome=None)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def workspace_state(
    status: WorkspaceStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """(state, reason, message) of a Workspace from its status alone.

    ``Succeeded`` when WorkspaceSucceeded is True; ``Failed`` when a condition is False with a
    terminal reason, or with a pod failure reason that has lasted ``failure_grace`` seconds;
    else ``Pending``.
    """
    if status is None or not status.conditions:
        return "Pending", "", ""
    succeeded = status.condition(_SUCCEEDED)
    if succeeded is not None and succeeded.status == "True":
        return "Succeeded", succeeded.reason or "", succeeded.message or ""
    if status.state == "Failed":
        failed = succeeded or status.conditions[0]
        return "Failed", failed.reason or "", failed.message or ""
    # Machines first: pods cannot schedule *because* nodes are missing, so the node reason is
    # the one that explains a failure.
    for condition in sorted(status.conditions, key=lambda c: c.type not in _NODE_CONDITIONS):
        if condition.status != "False" or not condition.reason:
            continue
        if condition.reason in TERMINAL_REASONS:
            return "Failed", condition.reason, condition.message or ""
        if condition.reason in PERSISTENT_FAILURE_REASONS:
            since = parse_time(condition.last_transition_time)
            if since is not None and (now - since).total_seconds() >= failure_grace:
                return "Failed", condition.reason, condition.message or ""
    return "Pending", "", ""


@attrs.frozen(kw_only=True)
class Settled:
    """How `Controller.run_until_settled` ended."""

    #: every Workspace's last result, by key
    results: Mapping[WorkspaceKey, ReconcileResult]
    #: True when every Workspace reached a terminal state before the timeout
    settled: bool
    #: virtual seconds it took
    elapsed: float
    reconciles: int

    def state(self, key: WorkspaceKey) -> str:
        result = self.results.get(key)
        return result.state if result is not None else "Unknown"

    @property
    def succeeded(self) -> bool:
        """Every Workspace succeeded."""
        return self.settled and all(r.state == "Succeeded" for r in self.results.values())
