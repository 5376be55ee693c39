"""The plan's fast paths give exactly what the general paths give."""

from __future__ import annotations

import copy
import json

import attrs
from hypothesis import given
from hypothesis import strategies as st

from kaito_core import testing as kt
from kaito_core.api.types import Condition, Workspace, WorkspaceStatus
from kaito_core.conditions import set_condition
from kaito_core.diff import changes
from kaito_core.observed import Observed
from kaito_core.render.revision import (
    ANNOTATION_TEMPLATE_HASH,
    spec_hash,
    spec_hash_memo,
    stamp_template_hash,
)
from kaito_core.status import _set_condition, compute_defaulted_status, compute_status

NOW = "2026-01-01T00:00:00Z"

_types = st.sampled_from(["A", "B", "C", "D"])
_conditions = st.builds(
    Condition,
    type=_types,
    status=st.sampled_from(["True", "False", "Unknown"]),
    reason=st.sampled_from([None, "R1", "R2"]),
    message=st.sampled_from([None, "m1", "m2"]),
    last_transition_time=st.sampled_from([None, "2025-01-01T00:00:00Z"]),
    observed_generation=st.sampled_from([None, 1, 2]),
)


@given(
    existing=st.lists(_conditions, max_size=4, unique_by=lambda c: c.type),
    new=st.lists(_conditions, max_size=6),
    generation=st.sampled_from([None, 1, 3]),
)
def test_fast_set_condition_equals_set_condition(
    existing: list[Condition], new: list[Condition], generation: int | None
) -> None:
    slow = fast = tuple(sorted(existing, key=lambda c: c.type))
    for item in new:
        slow = set_condition(slow, item, now=NOW, generation=generation)
        fast = _set_condition(fast, item, now=NOW, generation=generation)
        assert fast == slow


def _previous(ws: Workspace, conditions: tuple[Condition, ...]) -> Workspace:
    return attrs.evolve(ws, status=WorkspaceStatus(conditions=conditions, state="Pending"))


def test_defaulted_status_equals_compute_status() -> None:
    ws = kt.workspace("ws")
    observed = Observed(
        node_claims=(kt.node_claim("ws-0", workspace="ws", node_name="gpu-0"),),
        nodes=(kt.node("gpu-0", workspace="ws", labels={"apps": "ws"}),),
        pods=(kt.pod("ws-0", workspace="ws"),),
        objects=(kt.statefulset("ws"),),
    )
    old = Condition(type="ResourceReady", status="False", reason="x", message="y")
    dup = Condition(type="Zeta", status="True", last_transition_time=NOW)
    for candidate in (ws, _previous(ws, (old,)), _previous(ws, (dup, old, dup))):
        for obs in (observed, Observed()):
            args = {"observed": obs, "target_node_count": 1, "now": NOW, "notes": ("n",)}
            slow = compute_status(workspace=candidate, **args)  # type: ignore[arg-type]
            fast = compute_defaulted_status(
                workspace=candidate.with_defaults(),
                **args,  # type: ignore[arg-type]
            )
            assert fast == slow


def test_spec_hash_memo_equals_spec_hash() -> None:
    a = kt.workspace("a")
    b = kt.workspace("b", instance_type="Standard_NC12s_v3")
    for ws in (a, b, a, b):
        manifest = ws.to_manifest()
        text = json.dumps(manifest, default=repr)
        assert spec_hash_memo(manifest, text) == spec_hash(ws)
    assert spec_hash(a) != spec_hash(b)


def test_a_matching_template_hash_does_not_hide_drift() -> None:
    """Why `changes` still compares field by field: the template hash says what we rendered,
    not that nobody changed the object since (``kubectl scale`` keeps the annotation)."""
    ws = kt.workspace("ws")
    desired = stamp_template_hash(kt.statefulset("ws"))
    observed = copy.deepcopy(desired)
    observed["spec"]["replicas"] = 5
    assert (
        observed["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH]
        == desired["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH]
    )
    assert changes([desired], [observed], workspace=ws).apply == (desired,)
    assert changes([desired], [desired], workspace=ws).apply == ()
