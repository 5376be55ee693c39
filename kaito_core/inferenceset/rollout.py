"""The replica planner: which replica Workspaces to create and which to delete, this step.

Pure: no I/O, no clock, no logging.

Slots ``0 .. target-1`` must each hold a current replica (its template hash is the template's).
One step of the plan, from the observed replicas alone:

- **create** every empty slot below `target` (a slot whose old replica is still being deleted
  waits for it to go: the new replica takes the same name);
- **delete** every surplus replica (a slot at or above `target`, or a replica not named by slot,
  as upstream's controller names them) and, under ``RollingUpdate``, every outdated replica in a
  slot at or above the strategy's ``partition``; in this order: unready surplus, unready
  outdated, ready surplus, ready outdated, each highest slot first (unnamed replicas before
  named ones).

Deleting an unready replica costs no availability and is always done. A ready replica is
deleted only while the ready replicas left stay at or above ``target - maxUnavailable`` (the
floor): while fewer are ready, ready replicas are kept, surplus included, until the new ones
are ready. So during a rolling update or a scale-down no step ever takes the ready count below
the floor, and an outdated replica is replaced only by deleting it first (same name), like a
StatefulSet's ``RollingUpdate``. Slots blocked by someone else's Workspace of the same name are
never created.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Iterator, Sequence

import attrs

from kaito_core.api.inferenceset import (
    UPDATE_ON_DELETE,
    UPDATE_ROLLING,
    InferenceSet,
    UpdateStrategy,
)
from kaito_core.errors import FieldError
from kaito_core.inferenceset.children import Replica
from kaito_core.inferenceset.facts import MAX_NODE_COUNT_LIMIT, MAX_REPLICAS

__all__ = [
    "MAX_CREATES_PER_STEP",
    "Rollout",
    "count_problems",
    "max_unavailable_problem",
    "plan_rollout",
    "resolve_max_unavailable",
    "update_strategy_problems",
]

#: Replicas created in one step at most (a ReplicaSet's ``burstReplicas``): ``spec.replicas`` is
#: any int32, and one step's work and memory stay bounded whatever it says.
MAX_CREATES_PER_STEP = 500
_PERCENT = re.compile(r"^[0-9]+%$")
S = "spec"


@attrs.frozen(kw_only=True)
class Rollout:
    """One step of the replica plan."""

    #: Slots to create now, ascending (at most `MAX_CREATES_PER_STEP`).
    create: tuple[int, ...] = ()
    #: Replica names to delete now, in the order they should go.
    delete: tuple[str, ...] = ()
    #: Slots waiting for their old replica to finish deleting.
    waiting: tuple[int, ...] = ()
    #: Outdated replicas in slots the update will replace (not yet deleted).
    outdated: tuple[str, ...] = ()
    #: Ready replicas that must stay for now to keep the ready count at the floor.
    held: tuple[str, ...] = ()


def max_unavailable_problem(value: int | str) -> str | None:
    """Why `value` is not a valid ``maxUnavailable`` (the StatefulSet API's rules), else None.

    Pure: no I/O, no clock, no logging.
    """
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return (
                f'invalid value "{value}": a valid percent string must be a numeric string '
                "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                "'[0-9]+%')"
            )
        percent = int(value[:-1])
        if percent == 0:
            return f'invalid value "{value}": cannot be 0'
        if percent > 100:
            return f'invalid value "{value}": must not be greater than 100%'
        return None
    if value < 0:
        return f"invalid value {value}: must be greater than or equal to 0"
    if value == 0:
        return f"invalid value {value}: cannot be 0"
    return None


def count_problems(iset: InferenceSet) -> list[FieldError]:
    """``spec.replicas`` 0 to `MAX_REPLICAS` and ``spec.nodeCountLimit`` 0 (no limit) to
    `MAX_NODE_COUNT_LIMIT` (the CRD's int32, and ours beyond it); the planner refuses the same.

    Pure: no I/O, no clock, no logging.
    """
    from kaito_core.validation.names import number  # a cycle at import time (see children)

    errors: list[FieldError] = []
    bounded = (
        # field, value, maximum, what a negative value is told, what a too large one is told
        (
            "replicas",
            iset.spec.replicas,
            MAX_REPLICAS,
            "",
            " (each replica is a Workspace with its own GPU nodes)",
        ),
        (
            "nodeCountLimit",
            iset.spec.node_count_limit,
            MAX_NODE_COUNT_LIMIT,
            " (0 means no limit)",
            "",
        ),
    )
    for field, value, maximum, negative, too_large in bounded:
        if value is None:
            continue
        if value < 0:
            message = f"must be non-negative{negative}"
        elif value > maximum:
            message = f"must be less than or equal to {maximum}{too_large}"
        else:
            continue
        errors.append(
            FieldError(path=f"{S}.{field}", message=f"invalid value {number(value)}: {message}")
        )
    return errors


def update_strategy_problems(strategy: UpdateStrategy | None) -> list[FieldError]:
    """What is wrong with ``spec.updateStrategy`` (the StatefulSet API's rules): the type is
    ``RollingUpdate`` or ``OnDelete``, ``rollingUpdate`` only with ``RollingUpdate``, a valid
    ``maxUnavailable``, a non-negative ``partition``.

    Pure: no I/O, no clock, no logging.
    """
    if strategy is None:
        return []
    path = "spec.updateStrategy"
    errors: list[FieldError] = []
    type_ = UPDATE_ROLLING if strategy.type is None else strategy.type
    if type_ not in (UPDATE_ROLLING, UPDATE_ON_DELETE):
        errors.append(
            FieldError(
                path=f"{path}.type",
                message=f'unsupported value "{type_}": supported values: "{UPDATE_ON_DELETE}", '
                f'"{UPDATE_ROLLING}"',
            )
        )
    rolling = strategy.rolling_update
    if rolling is None:
        return errors
    if type_ == UPDATE_ON_DELETE:
        errors.append(
            FieldError(
                path=f"{path}.rollingUpdate",
                message=f"only allowed for updateStrategy '{UPDATE_ROLLING}'",
            )
        )
    if rolling.max_unavailable is not None:
        problem = max_unavailable_problem(rolling.max_unavailable)
        if problem is not None:
            errors.append(FieldError(path=f"{path}.rollingUpdate.maxUnavailable", message=problem))
    if rolling.partition is not None and rolling.partition < 0:
        errors.append(
            FieldError(
                path=f"{path}.rollingUpdate.partition",
                message=f"invalid value {rolling.partition}: must be greater than or equal to 0",
            )
        )
    return errors


def resolve_max_unavailable(value: int | str | None, replicas: int) -> int:
    """How many of `replicas` may be unavailable: an integer as is, a percentage of `replicas`
    rounded up, at least 1 (``getStatefulSetMaxUnavailable``). `value` must be valid.

    Pure: no I/O, no clock, no logging.
    """
    if value is None:
        return 1
    if isinstance(value, str):
        return max(1, math.ceil(int(value[:-1]) * replicas / 100))
    return max(1, value)


def _order(replica: Replica) -> tuple[int, int, str]:
    """Deletion order within one group: unnamed replicas first, then the highest slot first."""
    if replica.ordinal is None:
        return (0, 0, replica.name)
    return (1, -replica.ordinal, replica.name)


def _empty_slots(target: int, occupied: set[int], blocked: Collection[int]) -> Iterator[int]:
    """Slots below `target` with no replica and no foreign holder, ascending (lazily: `target`
    may be two billion)."""
    for slot in range(target):
        if slot not in occupied and slot not in blocked:
            yield slot


def plan_rollout(
    *,
    replicas: Sequence[Replica],
    target: int,
    max_unavailable: int,
    current_hash: str,
    rolling: bool = True,
    partition: int = 0,
    blocked: Collection[int] = (),
) -> Rollout:
    """One step toward `target` current replicas; see the module docstring for the rules.

    `replicas` are the set's observed replicas (`kaito_core.inferenceset.children`),
    `max_unavailable` is resolved (at least 1), `rolling` is False for ``OnDelete`` (outdated
    replicas are replaced only when someone deletes them), `partition` the first slot a rolling
    update touches, `blocked` the slots whose name another object holds.

    Pure: no I/O, no clock, no logging.
    """
    live = [r for r in replicas if not r.deleting]
    occupied = {r.ordinal for r in replicas if r.ordinal is not None}
    deleting_slots = {r.ordinal for r in replicas if r.deleting and r.ordinal is not None}
    live_slots = {r.ordinal for r in live if r.ordinal is not None}

    surplus = [r for r in live if r.ordinal is None or r.ordinal >= target]
    outdated = [
        r
        for r in live
        if r.ordinal is not None
        and r.ordinal < target
        and r.template_hash != current_hash
        and rolling
        and r.ordinal >= partition
    ]
    floor = max(0, target - max_unavailable)
    budget = sum(1 for r in live if r.ready) - floor

    delete: list[str] = []
    held: list[str] = []
    for group in (
        [r for r in surplus if not r.ready],
        [r for r in outdated if not r.ready],
    ):
        delete += [r.name for r in sorted(group, key=_order)]
    for group in ([r for r in surplus if r.ready], [r for r in outdated if r.ready]):
        for replica in sorted(group, key=_order):
            if budget > 0:
                delete.append(replica.name)
                budget -= 1
            else:
                held.append(replica.name)
    create = tuple(itertools.islice(_empty_slots(target, occupied, blocked), MAX_CREATES_PER_STEP))
    waiting = tuple(sorted(s for s in deleting_slots if s < target and s not in live_slots))
    removed = set(delete)
    return Rollout(
        create=create,
        delete=tuple(delete),
        waiting=waiting,
        outdated=tuple(sorted(r.name for r in outdated if r.name not in removed)),
        held=tuple(held),
    )
