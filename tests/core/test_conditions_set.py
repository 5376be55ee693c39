"""`set_condition` follows meta.SetStatusCondition (upstream's TestSetWorkspaceCondition)."""

from __future__ import annotations

import pytest

from kaito_core.api.types import Condition
from kaito_core.conditions import (
    MAX_MESSAGE_LENGTH,
    condition,
    find_condition,
    remove_condition,
    set_condition,
    truncate_message,
)

EARLIER = "2025-12-31T00:00:00Z"
NOW = "2026-01-01T00:00:00Z"


def _old(
    status: str, *, reason: str = "Old", message: str = "old", generation: int = 1
) -> Condition:
    return Condition(
        type="ResourceReady",
        status=status,
        reason=reason,
        message=message,
        last_transition_time=EARLIER,
        observed_generation=generation,
    )


@pytest.mark.parametrize(
    ("existing", "new", "generation", "want"),
    [
        pytest.param(
            (),
            condition("ResourceReady", True, "Ready", "ready"),
            3,
            Condition(
                type="ResourceReady",
                status="True",
                reason="Ready",
                message="ready",
                last_transition_time=NOW,
                observed_generation=3,
            ),
            id="new condition gets now",
        ),
        pytest.param(
            (_old("True"),),
            condition("ResourceReady", True, "Ready", "ready"),
            2,
            Condition(
                type="ResourceReady",
                status="True",
                reason="Ready",
                message="ready",
                last_transition_time=EARLIER,
                observed_generation=2,
            ),
            id="LTT unchanged when status same, reason message generation updated",
        ),
        pytest.param(
            (_old("True"),),
            condition("ResourceReady", False, "NotReady", "not ready"),
            1,
            Condition(
                type="ResourceReady",
                status="False",
                reason="NotReady",
                message="not ready",
                last_transition_time=NOW,
                observed_generation=1,
            ),
            id="LTT changes on flip",
        ),
        pytest.param(
            (_old("Unknown"),),
            condition("ResourceReady", "Unknown", "Still", "still"),
            1,
            Condition(
                type="ResourceReady",
                status="Unknown",
                reason="Still",
                message="still",
                last_transition_time=EARLIER,
                observed_generation=1,
            ),
            id="Unknown to Unknown keeps LTT",
        ),
        pytest.param(
            (),
            Condition(
                type="ResourceReady",
                status="True",
                last_transition_time=EARLIER,
                observed_generation=7,
            ),
            None,
            Condition(
                type="ResourceReady",
                status="True",
                last_transition_time=EARLIER,
                observed_generation=7,
            ),
            id="explicit LTT and generation kept when generation is None",
        ),
        pytest.param(
            (Condition(type="ResourceReady", status="True"),),
            condition("ResourceReady", True, "Ready", "ready"),
            1,
            Condition(
                type="ResourceReady",
                status="True",
                reason="Ready",
                message="ready",
                last_transition_time=NOW,
                observed_generation=1,
            ),
            id="condition without LTT gets one",
        ),
    ],
)
def test_set_condition(
    existing: tuple[Condition, ...], new: Condition, generation: int | None, want: Condition
) -> None:
    """The condition is set with meta.SetStatusCondition's LTT and generation rules."""
    got = set_condition(existing, new, now=NOW, generation=generation)
    assert got == (want,)


def test_set_condition_sorts_by_type_and_keeps_others() -> None:
    """Other types are kept untouched and the result is sorted by type."""
    other = Condition(type="InferenceReady", status="True", last_transition_time=EARLIER)
    late = Condition(type="WorkspaceSucceeded", status="False", last_transition_time=EARLIER)
    got = set_condition(
        (late, other), condition("NodesReady", True, "r", "m"), now=NOW, generation=1
    )
    assert [c.type for c in got] == ["InferenceReady", "NodesReady", "WorkspaceSucceeded"]
    assert got[0] is other
    assert got[2] is late


def test_set_condition_is_idempotent() -> None:
    """Setting the same condition twice gives equal tuples, with any `now` the second time."""
    once = set_condition((), condition("NodesReady", True, "r", "m"), now=NOW, generation=1)
    twice = set_condition(
        once, condition("NodesReady", True, "r", "m"), now="2030-01-01T00:00:00Z", generation=1
    )
    assert once == twice


def test_remove_and_find_condition() -> None:
    """remove_condition drops one type; find_condition finds by type."""
    conds = (
        Condition(type="NodeClaimReady", status="True"),
        Condition(type="NodesReady", status="True"),
    )
    assert remove_condition(conds, "NodeClaimReady") == (conds[1],)
    assert remove_condition(conds, "Absent") == conds
    assert find_condition(conds, "NodesReady") is conds[1]
    assert find_condition(None, "NodesReady") is None


@pytest.mark.parametrize(
    ("message", "want"),
    [
        pytest.param("short", "short", id="short message unchanged"),
        pytest.param("x" * 256, "x" * 256, id="exactly the limit"),
        pytest.param("x" * 257, "x" * 256 + "...", id="one over: 256 kept, then the marker"),
        pytest.param("x" * 1000, "x" * 256 + "...", id="long message: 259 characters"),
        pytest.param("é" * 200, "é" * 128 + "...", id="multi-byte: counted in bytes"),
        pytest.param("x" + "é" * 200, "x" + "é" * 127 + "...", id="no character split"),
    ],
)
def test_truncate_message(message: str, want: str) -> None:
    """As upstream's TruncateMessage: the first 256 bytes, then '...' (259 characters for ASCII);
    a multi-byte character is never cut in half."""
    assert MAX_MESSAGE_LENGTH == 256
    assert truncate_message(message) == want
