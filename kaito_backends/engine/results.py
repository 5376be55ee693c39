"""What reconciles end with: one step's `ReconcileResult`, a run's `Settled`, and the states.

An object's state is read from its status alone, by its kind's ``state`` function
(`kaito_core.kinds.KindSpec.state`; a Workspace's is `workspace_state`, re-exported here):
``Succeeded``, ``Failed`` (terminal; also a spec error) or ``Pending``. The controller adds
``Deleting``, ``Retrying`` (the last reconcile raised) and ``Gone``.

`TERMINAL_STATES` are the ones `Controller.run_until_settled` stops at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kaito_backends.objects import Key, Manifest
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
    "Writes",
    "parse_time",
    "workspace_state",
]


@attrs.frozen(kw_only=True)
class ReconcileResult:
    """What one reconcile did and when to come back.

    ``state``: ``Succeeded``, ``Failed`` (terminal: ``reason``/``message`` say why), ``Pending``
    (still converging), ``Deleting``, or ``Gone`` (no such object any more).
    """

    key: Key
    state: str
    requeue: bool = False
    requeue_after: float | None = None
    reason: str = ""
    message: str = ""
    writes: int = 0
    spec_error: bool = False
    #: the status the reconcile computed (None when it did not plan)
    status: Any = None
    #: the planner's full answer; dropped from results the controller keeps (`slim`)
    outcome: Outcome[Any] | None = None

    def slim(self) -> ReconcileResult:
        """The result without the outcome's manifests (what is kept per object)."""
        return self if self.outcome is None else attrs.evolve(self, outcome=None)


@attrs.frozen(kw_only=True)
class Settled:
    """How `Controller.run_until_settled` ended."""

    #: every object's last result, by key
    results: Mapping[Key, ReconcileResult]
    #: True when every object reached a terminal state before the timeout
    settled: bool
    #: virtual seconds it took
    elapsed: float
    reconciles: int

    def state(self, key: Key) -> str:
        result = self.results.get(key)
        return result.state if result is not None else "Unknown"

    @property
    def succeeded(self) -> bool:
        """Every object succeeded."""
        return self.settled and all(r.state == "Succeeded" for r in self.results.values())


class Writes:
    """Counts the writes of one reconcile (and reports them to the metrics hook)."""

    __slots__ = ("hook", "n", "status", "stored")

    def __init__(self, hook: Callable[[str], None] | None) -> None:
        self.n = 0
        self.status = 0
        self.hook = hook
        #: the object as stored after our status write, if we wrote it
        self.stored: Manifest | None = None

    def add(self, verb: str) -> None:
        self.n += 1
        if self.hook is not None:
            self.hook(verb)
