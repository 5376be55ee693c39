"""Invariants of `compute_status` over arbitrary observations, and the status modules' API."""

from __future__ import annotations

from types import ModuleType

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_core import conditions as conditions_module
from kaito_core import pod_failures as pod_failures_module
from kaito_core import status as status_module
from kaito_core import testing as kt
from kaito_core.conditions import MAX_MESSAGE_LENGTH
from kaito_core.observed import Manifest, Observed
from kaito_core.pod_failures import classify_pod_failure
from kaito_core.status import compute_status

WS = "phi"
NOW = "2026-01-02T00:00:00Z"
LATER = "2026-01-03T00:00:00Z"
STATES = {"Pending", "Running", "Ready", "NotReady", "Succeeded", "Failed"}

_containers = st.sampled_from(
    [
        kt.container_status(WS),
        kt.container_status(WS, ready=False),
        kt.crash_looping(WS),
        kt.oom_killed(WS),
        kt.waiting(WS, "ImagePullBackOff", "x" * 400),
        kt.waiting(WS, "CreateContainerConfigError", "missing secret"),
    ]
)


@st.composite
def _pods(draw: st.DrawFn) -> list[Manifest]:
    pods = []
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["normal", "evicted", "unschedulable"]))
        name = f"{WS}-{i}"
        if kind == "evicted":
            message = draw(st.sampled_from(["low on memory", "disk", "preempted"]))
            pods.append(
                kt.pod(name, workspace=WS, phase="Failed", reason="Evicted", message=message)
            )
        elif kind == "unschedulable":
            pods.append(kt.pod(name, workspace=WS, unschedulable="0/1 nodes"))
        else:
            pods.append(kt.pod(name, workspace=WS, containers=[draw(_containers)]))
    return pods


@st.composite
def _observed(draw: st.DrawFn) -> Observed:
    nodes, claims = [], []
    for i in range(draw(st.integers(0, 3))):
        nodes.append(
            kt.node(
                f"gpu-{i}",
                workspace=WS,
                labels={"apps": WS},
                ready=draw(st.booleans()),
                gpus=draw(st.sampled_from([None, 0, 1, 8])),
                pressure=draw(st.sets(st.sampled_from(["DiskPressure", "PIDPressure"]))),
            )
        )
        claims.append(
            kt.node_claim(
                f"ws-{i}",
                workspace=WS,
                node_name=draw(st.sampled_from([None, f"gpu-{i}"])),
                ready=draw(st.sampled_from([None, True, False])),
                deleting=draw(st.booleans()),
            )
        )
    objects = []
    if draw(st.booleans()):
        replicas = draw(st.integers(1, 3))
        objects.append(
            kt.statefulset(WS, replicas=replicas, ready_replicas=draw(st.integers(0, replicas)))
        )
    if draw(st.booleans()):
        objects.append(kt.job(WS, active=draw(st.integers(0, 1)), failed=draw(st.integers(0, 1))))
    return Observed(
        nodes=tuple(nodes),
        node_claims=tuple(claims),
        pods=tuple(draw(_pods())),
        objects=tuple(objects),
        provision_error=draw(st.sampled_from([None, "quota exceeded"])),
    )


@settings(max_examples=150, deadline=None)
@given(
    observed=_observed(),
    tuning=st.booleans(),
    provisioner=st.sampled_from(["karpenter", "azure-gpu-provisioner", "byo"]),
    target=st.integers(1, 3),
)
def test_status_is_a_fixed_point(
    observed: Observed, tuning: bool, provisioner: str, target: int
) -> None:
    """Computing again from the result, later, changes nothing; states and conditions are sane."""
    ws = kt.workspace(WS, tuning=tuning)
    first = compute_status(
        workspace=ws, observed=observed, target_node_count=target, now=NOW, provisioner=provisioner
    )
    again = compute_status(
        workspace=attrs.evolve(ws, status=first),
        observed=observed,
        target_node_count=target,
        now=LATER,
        provisioner=provisioner,
    )
    assert again == first
    assert first.state in STATES
    types = [c.type for c in first.conditions or ()]
    assert types == sorted(set(types))
    assert ("NodeClaimReady" in types) == (provisioner != "byo")
    for cond in first.conditions or ():
        assert cond.status in ("True", "False")
        assert cond.last_transition_time == NOW
        assert cond.observed_generation == 1


@settings(max_examples=150, deadline=None)
@given(pods=_pods())
def test_classification_is_order_free_and_capped(pods: list[Manifest]) -> None:
    """The diagnosis does not depend on pod order and its message fits on a condition."""
    got = classify_pod_failure(pods)
    assert got == classify_pod_failure(list(reversed(pods)))
    if got is not None:
        assert len(got[1].encode()) <= MAX_MESSAGE_LENGTH + len("...")


@pytest.mark.parametrize(
    "module",
    [conditions_module, pod_failures_module, status_module, kt],
    ids=lambda m: m.__name__,
)
def test_all_is_sorted_and_complete(module: ModuleType) -> None:
    """Each module's __all__ is sorted (isort-style) and names real attributes."""
    names = list(module.__all__)
    for name in names:
        assert hasattr(module, name), name
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in names]
    assert key == sorted(key)
