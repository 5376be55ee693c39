"""The replica planner, rule by rule: what one step creates and deletes."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_core.api import RollingUpdate, UpdateStrategy
from kaito_core.inferenceset import Replica, plan_rollout
from kaito_core.inferenceset.rollout import (
    MAX_CREATES_PER_STEP,
    max_unavailable_problem,
    resolve_max_unavailable,
    update_strategy_problems,
)

NEW = "new0000000"
OLD = "old0000000"


def r(
    slot: int | None,
    *,
    ready: bool = True,
    current: bool = True,
    deleting: bool = False,
    name: str = "s-abcde",
) -> Replica:
    """Replica `slot` of set ``s`` (None: a replica upstream's controller named `name`)."""
    return Replica(
        name=f"s-{slot}" if slot is not None else name,
        ordinal=slot,
        template_hash=NEW if current else OLD,
        ready=ready and not deleting,
        deleting=deleting,
        target_node_count=1,
        manifest={},
    )


CASES: list[Any] = [
    pytest.param(3, 1, [], (0, 1, 2), [], id="empty: create every slot"),
    pytest.param(3, 1, [r(0), r(1), r(2)], (), [], id="converged: nothing"),
    pytest.param(3, 1, [r(0)], (1, 2), [], id="scale up: create the empty slots"),
    pytest.param(1, 1, [r(0), r(1), r(2)], (), ["s-2", "s-1"], id="scale down: highest slot first"),
    pytest.param(
        1,
        1,
        [r(0), r(1, ready=False), r(2)],
        (),
        ["s-1", "s-2"],
        id="scale down: unready surplus before ready",
    ),
    pytest.param(
        2,
        1,
        [r(0, ready=False), r(1, ready=False), r(2)],
        (),
        [],
        id="scale down: the only ready replica stays until the kept ones are ready",
    ),
    pytest.param(0, 1, [r(0), r(1)], (), ["s-1", "s-0"], id="scale to zero"),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False), r(2, current=False)],
        (),
        ["s-2"],
        id="rolling update: one at a time, highest first",
    ),
    pytest.param(
        3,
        2,
        [r(0, current=False), r(1, current=False), r(2, current=False)],
        (),
        ["s-2", "s-1"],
        id="rolling update: maxUnavailable 2",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False), r(2, current=False, ready=False)],
        (),
        ["s-2"],
        id="rolling update: an unready outdated replica costs nothing",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False, ready=False), r(2, current=False)],
        (),
        ["s-1"],
        id="rolling update: unready outdated first, then wait",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False), r(2, current=False, deleting=True)],
        (),
        [],
        id="rolling update: wait while a replacement's predecessor is deleted",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False)],
        (2,),
        [],
        id="rolling update: recreate the deleted slot with the new template",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False), r(2, ready=False)],
        (),
        [],
        id="rolling update: wait for the new replica to be ready",
    ),
    pytest.param(
        3,
        1,
        [r(0, current=False), r(1, current=False), r(2)],
        (),
        ["s-1"],
        id="rolling update: the next once it is",
    ),
    pytest.param(
        1, 1, [r(0, current=False)], (), ["s-0"], id="one replica: replaced (maxUnavailable 1)"
    ),
    pytest.param(
        2,
        1,
        [r(None), r(None, name="s-fghij")],
        (0, 1),
        ["s-abcde"],
        id="an upstream-named replica is surplus; ready replicas above the floor may go",
    ),
    pytest.param(
        2,
        1,
        [r(None), r(0, ready=False)],
        (1,),
        [],
        id="an upstream-named ready replica stays while it is all that serves",
    ),
    pytest.param(
        2,
        1,
        [r(None, ready=False), r(0), r(1)],
        (),
        ["s-abcde"],
        id="an unready upstream-named replica goes at once",
    ),
]


@pytest.mark.parametrize(("target", "max_unavailable", "replicas", "create", "delete"), CASES)
def test_one_step(
    target: int,
    max_unavailable: int,
    replicas: list[Replica],
    create: tuple[int, ...],
    delete: list[str],
) -> None:
    """Creates and deletes of one step, in order."""
    step = plan_rollout(
        replicas=replicas, target=target, max_unavailable=max_unavailable, current_hash=NEW
    )
    assert step.create == create
    assert list(step.delete) == delete


def test_held_ready_replicas_are_reported() -> None:
    """A ready surplus replica kept for availability is named in `held`."""
    step = plan_rollout(
        replicas=[r(0, ready=False), r(1, ready=False), r(2)],
        target=2,
        max_unavailable=1,
        current_hash=NEW,
    )
    assert step.delete == ()
    assert step.held == ("s-2",)


def test_waiting_slots_are_reported() -> None:
    """A slot whose old replica is being deleted waits, and is not created over it."""
    step = plan_rollout(
        replicas=[r(0), r(1, current=False, deleting=True)],
        target=2,
        max_unavailable=1,
        current_hash=NEW,
    )
    assert step.create == ()
    assert step.waiting == (1,)


def test_on_delete_never_replaces_outdated_replicas() -> None:
    """OnDelete: outdated replicas stay; surplus still goes."""
    step = plan_rollout(
        replicas=[r(0, current=False), r(1, current=False), r(2)],
        target=2,
        max_unavailable=1,
        current_hash=NEW,
        rolling=False,
    )
    assert step.delete == ("s-2",)
    assert step.outdated == ()


def test_partition_keeps_lower_slots() -> None:
    """Slots below the partition keep their template."""
    step = plan_rollout(
        replicas=[r(s, current=False) for s in range(3)],
        target=3,
        max_unavailable=3,
        current_hash=NEW,
        partition=2,
    )
    assert step.delete == ("s-2",)


def test_blocked_slots_are_not_created() -> None:
    """A slot whose name someone else holds stays empty."""
    step = plan_rollout(
        replicas=[], target=3, max_unavailable=1, current_hash=NEW, blocked=frozenset({1})
    )
    assert step.create == (0, 2)


def test_creates_per_step_are_bounded() -> None:
    """Two billion replicas asked: one step creates a bounded batch, lowest slots first."""
    step = plan_rollout(replicas=[r(0)], target=2_000_000_000, max_unavailable=1, current_hash=NEW)
    assert len(step.create) == MAX_CREATES_PER_STEP
    assert step.create[:2] == (1, 2)


@pytest.mark.parametrize(
    ("value", "replicas", "expected"),
    [
        pytest.param(None, 5, 1, id="absent: 1"),
        pytest.param(2, 5, 2, id="an integer"),
        pytest.param("25%", 5, 2, id="a percentage, rounded up"),
        pytest.param("25%", 1, 1, id="at least 1"),
        pytest.param("100%", 3, 3, id="all"),
        pytest.param(5, 2, 5, id="more than there are"),
        pytest.param("50%", 0, 1, id="of zero replicas"),
    ],
)
def test_resolve_max_unavailable(value: Any, replicas: int, expected: int) -> None:
    """StatefulSet semantics: percentages round up, never below 1."""
    assert resolve_max_unavailable(value, replicas) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(1, None, id="1"),
        pytest.param("50%", None, id="50%"),
        pytest.param("100%", None, id="100%"),
        pytest.param(0, "cannot be 0", id="0"),
        pytest.param(-1, "greater than or equal to 0", id="negative"),
        pytest.param("0%", "cannot be 0", id="0%"),
        pytest.param("101%", "must not be greater than 100%", id="over 100%"),
        pytest.param("10", "a valid percent string", id="a number as a string"),
        pytest.param("x%", "a valid percent string", id="not a number"),
    ],
)
def test_max_unavailable_rules(value: Any, problem: str | None) -> None:
    """The StatefulSet API's rules for maxUnavailable."""
    found = max_unavailable_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param(None, [], id="absent"),
        pytest.param(UpdateStrategy(type="OnDelete"), [], id="on delete"),
        pytest.param(
            UpdateStrategy(type="Recreate"),
            ["spec.updateStrategy.type"],
            id="a Deployment strategy",
        ),
        pytest.param(
            UpdateStrategy(type="OnDelete", rolling_update=RollingUpdate(max_unavailable=1)),
            ["spec.updateStrategy.rollingUpdate"],
            id="rollingUpdate with OnDelete",
        ),
        pytest.param(
            UpdateStrategy(rolling_update=RollingUpdate(max_unavailable=0, partition=-1)),
            [
                "spec.updateStrategy.rollingUpdate.maxUnavailable",
                "spec.updateStrategy.rollingUpdate.partition",
            ],
            id="zero and a negative partition",
        ),
    ],
)
def test_update_strategy_problems(strategy: UpdateStrategy | None, expected: list[str]) -> None:
    """One problem per bad field, with its path."""
    assert [e.path for e in update_strategy_problems(strategy)] == expected
