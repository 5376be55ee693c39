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

import attrs

from kaito_backends.objects import WorkspaceKey
from kaito_core.api import WorkspaceStatus
from kaito_core.kinds import TERMINAL_STATES
from kaito_core.outcome import Outcome
from kaito_core.workspace_kind import (
    PERSISTENT_FAILURE_REASONS,
    TERMINAL_REASONS,
    parse_time,
    workspace_state,
)

__all__ = [
    "PERSISTENT_FAILURE_REASONS",
    "TERMINAL_REASONS",
    "TERMINAL_STATES",
    "ReconcileResult",
    "Settled",
    "parse_time",
    "workspace_state",
]


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
