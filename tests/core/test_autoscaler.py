"""The HPA arithmetic (`kaito_core.autoscaler`), checked against the examples of the
Kubernetes documentation ("Horizontal Pod Autoscaling": algorithm details, stabilization
window, scaling policies, default behavior), and its invariants."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_core.autoscaler import (
    DEFAULT_BEHAVIOR,
    AutoscalerMemory,
    AutoscalerSpec,
    Behavior,
    Decision,
    ScalingPolicy,
    ScalingRules,
    autoscale,
    replicas_for_metric,
)


def spec(
    *, low: int = 1, high: int = 100, target: float = 10.0, behavior: Behavior = DEFAULT_BEHAVIOR
) -> AutoscalerSpec:
    return AutoscalerSpec(
        min_replicas=low, max_replicas=high, target_average_value=target, behavior=behavior
    )


def step(
    s: AutoscalerSpec, current: int, average: float, at: float, memory: AutoscalerMemory | None
) -> Decision:
    """One sync where the target has ``current`` replicas with ``average`` each."""
    return autoscale(
        s,
        now=at,
        spec_replicas=current,
        status_replicas=current,
        usage=average * current,
        memory=memory,
    )


# -- algorithm details ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "metric", "target", "expected"),
    [
        (3, 0.200, 0.100, 6),  # "200m ... desired 100m: the number of replicas will be doubled"
        (4, 0.050, 0.100, 2),  # "50m: you'll halve the number of replicas"
        (5, 0.105, 0.100, 5),  # within the 0.1 tolerance: no scaling
        (5, 0.091, 0.100, 5),  # within the tolerance, below
        (5, 0.089, 0.100, 5),  # ceil(5 * 0.89) = ceil(4.45) = 5
        (5, 0.111, 0.100, 6),  # ceil(5.55)
        (1, 25.0, 10.0, 3),  # ceil(1 * 25 / 10)
        (3, 0.0, 10.0, 0),  # no load: the bounds (min) decide later
        (0, 25.0, 10.0, 3),  # no replicas yet: usage / target
    ],
    ids=[
        "double",
        "halve",
        "tolerance-up",
        "tolerance-down",
        "ceil",
        "ceil-up",
        "one",
        "idle",
        "empty",
    ],
)
def test_desired_replicas_follow_the_ratio(
    current: int, metric: float, target: float, expected: int
) -> None:
    """desiredReplicas = ceil[currentReplicas * (currentMetricValue / desiredMetricValue)],
    skipped when the ratio is within the tolerance of 1.0."""
    usage = metric * current if current else metric
    assert replicas_for_metric(current=current, usage=usage, target=target) == expected


def test_a_configurable_tolerance_per_direction() -> None:
    """``tolerance`` per direction (keda-kaito-scaler's 100m up, 500m down)."""
    assert replicas_for_metric(current=4, usage=4 * 6.0, target=10.0, tolerance_down=0.5) == 4
    assert replicas_for_metric(current=4, usage=4 * 4.9, target=10.0, tolerance_down=0.5) == 2
    assert replicas_for_metric(current=4, usage=4 * 10.9, target=10.0, tolerance_up=0.1) == 4
    assert replicas_for_metric(current=4, usage=4 * 11.1, target=10.0, tolerance_up=0.1) == 5


def test_the_target_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        replicas_for_metric(current=1, usage=1.0, target=0.0)


# -- bounds --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "expected", "reason"),
    [(12, 10, "TooManyReplicas"), (1, 2, "TooFewReplicas"), (0, 0, "ScalingDisabled")],
    ids=["above-max", "below-min", "scaled-to-zero"],
)
def test_bounds_come_first(current: int, expected: int, reason: str) -> None:
    """A target outside [min, max] is brought in whatever the metric; one at 0 is left alone."""
    decision = step(spec(low=2, high=10), current, 50.0, 0.0, None)
    assert (decision.replicas, decision.reason) == (expected, reason)


def test_min_and_max_limit_what_the_metric_asks() -> None:
    decision = step(spec(low=2, high=6), 4, 100.0, 0.0, None)
    assert (decision.recommended, decision.replicas, decision.reason) == (
        40,
        6,
        "TooManyReplicas",
    )
    decision = step(spec(low=2, high=6), 4, 0.0, 0.0, None)
    assert (decision.recommended, decision.replicas, decision.reason) == (0, 2, "TooFewReplicas")


# -- default behavior ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [(1, 10, 5), (2, 10, 6), (4, 20, 8), (10, 50, 20), (10, 12, 12)],
    ids=["1->5", "2->6", "4->8", "10->20", "within"],
)
def test_default_scale_up_is_4_pods_or_100_percent_per_15s(
    current: int, wanted: int, allowed: int
) -> None:
    """ "Scale up ... 4 Pods or 100% of the currently running replicas will be added every 15
    seconds, whichever is higher" (the default behavior)."""
    decision = step(spec(), current, 10.0 * wanted / current, 0.0, None)
    assert decision.recommended == wanted
    assert decision.replicas == allowed


def test_default_scale_down_waits_300s_then_takes_the_highest_recommendation() -> None:
    """ "The highest recommendation within the last 300 seconds is used": a dip shorter than
    the window changes nothing; after it, everything may go at once (100% per 15 s)."""
    s = spec(low=1)
    memory: AutoscalerMemory | None = None
    decision = step(s, 8, 10.0, 0.0, memory)  # 8 is right for this load
    memory = decision.memory
    for t in range(15, 300, 15):
        decision = step(s, 8, 1.0, float(t), memory)  # 1 replica would do
        memory = decision.memory
        assert decision.replicas == 8, t
    decision = step(s, 8, 1.0, 315.0, memory)
    assert decision.replicas == 1


# -- scaling policies ----------------------------------------------------------------------------
DOWN_BY_4_OR_10_PERCENT = Behavior(
    scale_down=ScalingRules(
        stabilization_window_seconds=0,
        policies=(
            ScalingPolicy(type="Pods", value=4, period_seconds=60),
            ScalingPolicy(type="Percent", value=10, period_seconds=60),
        ),
    )
)


def test_the_policy_allowing_the_most_change_is_selected() -> None:
    """The documentation's example: Pods 4 and Percent 10 per minute, from 80 replicas to 10:
    8 go first (10 %), then 8 of 72 ("7.2 ... rounded up to 8"), and below 40 four at a time;
    within one period nothing more goes."""
    s = spec(low=1, behavior=DOWN_BY_4_OR_10_PERCENT)
    current, memory, at, seen = 80, AutoscalerMemory(), 0.0, []
    while current > 10:
        decision = step(s, current, 10.0 * 10 / current, at, memory)  # 10 replicas would do
        if current == 80:
            blocked = step(s, decision.replicas, 100 / 72, at + 30, decision.memory)
            assert blocked.replicas == decision.replicas, "the first period's 8 are used up"
        seen.append(current - decision.replicas)
        current, memory, at = decision.replicas, decision.memory, at + 60
    assert seen[:3] == [8, 8, 7]
    assert seen[-4:] == [4, 4, 4, 2]
    assert current == 10


@pytest.mark.parametrize(
    ("select", "expected"),
    [("Max", 36), ("Min", 38), ("Disabled", 40)],
    ids=["max", "min", "disabled"],
)
def test_select_policy(select: str, expected: int) -> None:
    """``selectPolicy``: Max (most change), Min (least), Disabled (none) in that direction."""
    rules = ScalingRules(
        stabilization_window_seconds=0,
        policies=(
            ScalingPolicy(type="Pods", value=4, period_seconds=60),
            ScalingPolicy(type="Percent", value=5, period_seconds=60),
        ),
        select_policy=select,  # type: ignore[arg-type]
    )
    s = spec(behavior=Behavior(scale_down=rules))
    assert step(s, 40, 1.0, 0.0, None).replicas == expected


def test_percent_900_scales_up_tenfold() -> None:
    """ "Percent 900 ... the number of replicas can be scaled up by 9 times the current"."""
    rules = ScalingRules(
        stabilization_window_seconds=0,
        policies=(ScalingPolicy(type="Percent", value=900, period_seconds=60),),
    )
    s = spec(high=1000, behavior=Behavior(scale_up=rules))
    assert step(s, 1, 1000.0, 0.0, None).replicas == 10
    assert step(s, 10, 1000.0, 0.0, None).replicas == 100


def test_keda_kaito_scalers_behavior_adds_one_replica_per_5_minutes() -> None:
    """The ScaledObject the planner renders: up one pod per 300 s after a 60 s window."""
    up = ScalingRules(
        stabilization_window_seconds=60,
        policies=(ScalingPolicy(type="Pods", value=1, period_seconds=300),),
    )
    s = spec(high=5, behavior=Behavior(scale_up=up))
    memory, replicas, timeline = AutoscalerMemory(), 1, []
    for t in range(0, 1200, 15):
        load = 5.0 if t < 300 else 40.0  # quiet for 5 minutes, then 4 replicas' worth
        decision = step(s, replicas, load / replicas, float(t), memory)
        memory, replicas = decision.memory, decision.replicas
        timeline.append(replicas)
    rise = 300 // 15  # the first high recommendation; the window holds while an older low one
    # is younger than 60 s (samples every 15 s: 45 s later they are all high)
    assert timeline[: rise + 3] == [1] * (rise + 3)
    assert timeline[rise + 3] == 2
    assert timeline.index(3) == rise + 3 + 20, "then one more every 300 s"


# -- invariants ----------------------------------------------------------------------------------
POLICIES = st.builds(
    ScalingPolicy,
    type=st.sampled_from(["Pods", "Percent"]),
    value=st.integers(1, 200),
    period_seconds=st.integers(1, 600),
)
RULES = st.builds(
    ScalingRules,
    stabilization_window_seconds=st.integers(0, 600),
    policies=st.lists(POLICIES, min_size=1, max_size=3).map(tuple),
    select_policy=st.sampled_from(["Max", "Min"]),
    tolerance=st.sampled_from([0.0, 0.1, 0.5]),
)
SPECS = st.builds(
    lambda low, span, target, up, down: spec(
        low=low, high=low + span, target=target, behavior=Behavior(scale_up=up, scale_down=down)
    ),
    st.integers(1, 5),
    st.integers(0, 20),
    st.sampled_from([1.0, 5.0, 10.0, 0.5]),
    RULES,
    RULES,
)


@settings(max_examples=200, deadline=None)
@given(
    s=SPECS,
    start=st.integers(0, 30),
    loads=st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=40),
)
def test_replicas_never_leave_the_range(s: AutoscalerSpec, start: int, loads: list[float]) -> None:
    """Whatever the load, every decision after the first is within [min, max] (the first
    brings an out-of-range target in), and a step changes nothing when told to wait."""
    current, memory = max(start, 1), AutoscalerMemory()
    for i, usage in enumerate(loads):
        decision = autoscale(
            s,
            now=15.0 * i,
            spec_replicas=current,
            status_replicas=current,
            usage=usage,
            memory=memory,
        )
        assert s.min_replicas <= decision.replicas <= s.max_replicas
        current, memory = decision.replicas, decision.memory


@settings(max_examples=200, deadline=None)
@given(s=SPECS, start=st.integers(1, 30), usage=st.floats(0, 500, allow_nan=False))
def test_a_constant_load_settles(s: AutoscalerSpec, start: int, usage: float) -> None:
    """Under a constant total load the replicas stop changing, at the count the metric asks
    for (kept within range) or at one within the tolerance."""
    current, memory = min(max(start, s.min_replicas), s.max_replicas), AutoscalerMemory()
    history = []
    rules = (s.behavior.scale_up, s.behavior.scale_down)
    slowest = max(p.period_seconds for r in rules for p in r.policies)
    window = max(r.stabilization_window_seconds for r in rules)
    # long enough to cross the whole range one replica per slowest period, then 60 syncs more
    syncs = int((s.max_replicas - s.min_replicas + 2) * (slowest + window + 15) / 15) + 60
    for i in range(syncs):
        decision = autoscale(
            s,
            now=15.0 * i,
            spec_replicas=current,
            status_replicas=current,
            usage=usage,
            memory=memory,
        )
        current, memory = decision.replicas, decision.memory
        history.append(current)
    tail = history[-60:]
    assert len(set(tail)) == 1, history
    final = tail[0]
    wanted = min(max(math.ceil(round(usage * 1000) / (s.target_average_value * 1000)), 1), 10**9)
    bounded = min(max(wanted, s.min_replicas), s.max_replicas)
    ratio = usage / (s.target_average_value * final)
    up, down = s.behavior.scale_up.tolerance, s.behavior.scale_down.tolerance
    assert (
        final == bounded
        or 1 - down - 1e-9 <= ratio <= 1 + up + 1e-9
        or (final in (s.min_replicas, s.max_replicas))
    )


def test_decisions_are_values() -> None:
    """The same inputs give the same decision; memory is never shared or mutated."""
    s = spec()
    first = step(s, 3, 25.0, 0.0, None)
    again = step(s, 3, 25.0, 0.0, None)
    assert first == again
    assert attrs.evolve(first.memory) == first.memory
