"""Horizontal autoscaling as the Kubernetes HPA controller decides it, as pure arithmetic.

Pure: no I/O, no clock, no logging.

One `autoscale` call is one sync of the HPA controller (every 15 s by default) for one target
and one metric of type ``AverageValue`` (what a KEDA ScaledObject's external trigger with
``metricType: AverageValue`` becomes). Time is a number of seconds the caller passes in; what
the controller remembers between syncs (its recent recommendations and scale events) is an
`AutoscalerMemory` value handed back and forth.

1. **Bounds first.** A target scaled to 0 with a minimum above 0 is left alone (autoscaling is
   off for it); a target above ``max_replicas`` is brought to the maximum, below
   ``min_replicas`` to the minimum.
2. **The metric's recommendation** (`replicas_for_metric`): with ``usage`` the metric summed over
   the target and ``current`` its replica count (the scale subresource's ``status.replicas``),
   the ratio ``usage / (target * current)`` within the tolerance (``[1 - down, 1 + up]``, 0.1
   each by default) keeps ``current``; otherwise the recommendation is ``ceil(usage / target)``,
   that is ``ceil(current * average / target)``.
3. **Stabilisation.** Every recommendation is remembered with its time. The one used is the
   smallest of those made within the scale-up window (default 0 s: the new one alone) and the
   largest within the scale-down window (default 300 s), kept between them with the current
   count as the starting point: a dip in load has to last the whole scale-down window before
   replicas go, a spike the scale-up window before they come.
4. **Rate policies.** Scaling up, each policy allows, from the count the target had at the start
   of its period (``periodSeconds``: the current count minus what was added plus what was
   removed within it), ``Pods: value`` more replicas or ``Percent: value`` % more (rounded up);
   ``selectPolicy: Max`` (default) takes the most permissive policy, ``Min`` the least,
   ``Disabled`` forbids the direction. Scaling down the same with fewer (the percentage's
   remaining replicas rounded down).
   The result is also kept within ``[min_replicas, max_replicas]``.

`DEFAULT_BEHAVIOR` is Kubernetes' default: up by 100 % or 4 pods (the larger) per 15 s, no
window; down by 100 % per 15 s after a 300 s window. The decision's ``reason`` is the HPA's
``ScalingLimited`` reason (``DesiredWithinRange``, ``ScaleUpLimit``, ``ScaleDownLimit``,
``TooManyReplicas``, ``TooFewReplicas``) or why nothing was computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

import attrs

__all__ = [
    "DEFAULT_BEHAVIOR",
    "DEFAULT_SCALE_DOWN",
    "DEFAULT_SCALE_UP",
    "DEFAULT_TOLERANCE",
    "SYNC_PERIOD",
    "AutoscalerMemory",
    "AutoscalerSpec",
    "Behavior",
    "Decision",
    "Recommendation",
    "ScaleEvent",
    "ScalingPolicy",
    "ScalingRules",
    "autoscale",
    "replicas_for_metric",
]

PolicyType = Literal["Pods", "Percent"]
SelectPolicy = Literal["Max", "Min", "Disabled"]

#: The HPA controller's ``--horizontal-pod-autoscaler-sync-period`` default, seconds.
SYNC_PERIOD = 15.0
#: ``--horizontal-pod-autoscaler-tolerance``: the ratio's distance from 1 that changes nothing.
DEFAULT_TOLERANCE = 0.1


@attrs.frozen(kw_only=True)
class ScalingPolicy:
    """``Pods`` (a count) or ``Percent`` of the replicas, per ``period_seconds``."""

    type: PolicyType
    value: int
    period_seconds: int


@attrs.frozen(kw_only=True)
class ScalingRules:
    """One direction of an HPA's ``behavior``."""

    stabilization_window_seconds: int
    policies: tuple[ScalingPolicy, ...]
    select_policy: SelectPolicy = "Max"
    tolerance: float = DEFAULT_TOLERANCE


DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_seconds=0,
    policies=(
        ScalingPolicy(type="Percent", value=100, period_seconds=15),
        ScalingPolicy(type="Pods", value=4, period_seconds=15),
    ),
)
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_seconds=300,
    policies=(ScalingPolicy(type="Percent", value=100, period_seconds=15),),
)


@attrs.frozen(kw_only=True)
class Behavior:
    """An HPA's ``behavior``: how fast each direction may go."""

    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN


DEFAULT_BEHAVIOR = Behavior()


@attrs.frozen(kw_only=True)
class AutoscalerSpec:
    """What one HPA is asked: the replica range and the per-replica target of its metric."""

    min_replicas: int
    max_replicas: int
    target_average_value: float
    behavior: Behavior = DEFAULT_BEHAVIOR


@attrs.frozen
class Recommendation:
    """What the metric asked for at ``at`` (seconds)."""

    at: float
    replicas: int


@attrs.frozen
class ScaleEvent:
    """Replicas added (or removed) at ``at`` (seconds); ``change`` is positive."""

    at: float
    change: int


@attrs.frozen(kw_only=True)
class AutoscalerMemory:
    """What the controller remembers of one target between syncs."""

    recommendations: tuple[Recommendation, ...] = ()
    scale_ups: tuple[ScaleEvent, ...] = ()
    scale_downs: tuple[ScaleEvent, ...] = ()


@attrs.frozen(kw_only=True)
class Decision:
    """One sync's outcome: set ``replicas`` (unchanged when equal to the current count)."""

    replicas: int
    #: what the metric alone asks for (None when bounds or a disabled target decided)
    recommended: int | None
    #: the metric's average per replica (``usage / status replicas``; 0 without replicas)
    average: float
    reason: str
    memory: AutoscalerMemory


def _milli(value: float) -> int:
    """A metric value in thousandths, rounded up (a Kubernetes quantity's ``MilliValue``)."""
    return math.ceil(round(value * 1000, 6))


def replicas_for_metric(
    *,
    current: int,
    usage: float,
    target: float,
    tolerance_up: float = DEFAULT_TOLERANCE,
    tolerance_down: float = DEFAULT_TOLERANCE,
) -> int:
    """The replicas an ``AverageValue`` metric asks for (step 2 of the module docstring):
    ``current`` when ``usage / (target * current)`` is within ``[1 - tolerance_down,
    1 + tolerance_up]``, else ``ceil(usage / target)``.

    Pure: no I/O, no clock, no logging.
    """
    total, per_replica = _milli(usage), _milli(target)
    if per_replica <= 0:
        raise ValueError(f"the target must be positive, got {target}")
    if current <= 0:
        return math.ceil(Fraction(total, per_replica)) if total > 0 else current
    ratio = Fraction(total, per_replica * current)
    low = Fraction(1) - Fraction(_milli(tolerance_down), 1000)
    high = Fraction(1) + Fraction(_milli(tolerance_up), 1000)
    if low <= ratio <= high:
        return current
    return math.ceil(Fraction(total, per_replica))


def _changed_within(events: Sequence[ScaleEvent], period: int, now: float) -> int:
    return sum(e.change for e in events if e.at > now - period)


def _limit(
    rules: ScalingRules, current: int, memory: AutoscalerMemory, now: float, *, up: bool
) -> int:
    """The most (scaling up) or fewest (down) replicas the rate policies allow now."""
    if rules.select_policy == "Disabled" or not rules.policies:
        return current
    proposals = []
    for policy in rules.policies:
        added = _changed_within(memory.scale_ups, policy.period_seconds, now)
        removed = _changed_within(memory.scale_downs, policy.period_seconds, now)
        start = current - added + removed
        if policy.type == "Pods":
            proposals.append(start + policy.value if up else start - policy.value)
        elif up:
            proposals.append(math.ceil(Fraction(start * (100 + policy.value), 100)))
        else:
            proposals.append(int(Fraction(start * (100 - policy.value), 100)))  # toward 0
    most_change = max if up else min
    least_change = min if up else max
    return (most_change if rules.select_policy == "Max" else least_change)(proposals)


def _stabilize(
    spec: AutoscalerSpec, memory: AutoscalerMemory, current: int, desired: int, now: float
) -> tuple[int, tuple[Recommendation, ...]]:
    behavior = spec.behavior
    up_window = behavior.scale_up.stabilization_window_seconds
    down_window = behavior.scale_down.stabilization_window_seconds
    up, down = desired, desired
    for rec in memory.recommendations:
        if rec.at > now - up_window:
            up = min(up, rec.replicas)
        if rec.at > now - down_window:
            down = max(down, rec.replicas)
    stabilized = min(max(current, up), down)
    horizon = max(up_window, down_window)
    kept = tuple(r for r in memory.recommendations if r.at > now - horizon)
    return stabilized, (*kept, Recommendation(now, desired))


def _rate_limited(
    spec: AutoscalerSpec, memory: AutoscalerMemory, current: int, desired: int, now: float
) -> tuple[int, str]:
    if desired > current:
        limit = max(_limit(spec.behavior.scale_up, current, memory, now, up=True), current)
        if spec.max_replicas > limit:
            allowed, reason = limit, "ScaleUpLimit"
        else:
            allowed, reason = spec.max_replicas, "TooManyReplicas"
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(_limit(spec.behavior.scale_down, current, memory, now, up=False), current)
        if spec.min_replicas < limit:
            allowed, reason = limit, "ScaleDownLimit"
        else:
            allowed, reason = spec.min_replicas, "TooFewReplicas"
        if desired < allowed:
            return allowed, reason
    return desired, "DesiredWithinRange"


def _longest_period(rules: ScalingRules) -> int:
    return max((p.period_seconds for p in rules.policies), default=0)


def _remember_scale(
    spec: AutoscalerSpec, memory: AutoscalerMemory, before: int, after: int, now: float
) -> AutoscalerMemory:
    behavior = spec.behavior
    ups = tuple(e for e in memory.scale_ups if e.at > now - _longest_period(behavior.scale_up))
    downs = tuple(
        e for e in memory.scale_downs if e.at > now - _longest_period(behavior.scale_down)
    )
    if after > before:
        ups = (*ups, ScaleEvent(now, after - before))
    elif after < before:
        downs = (*downs, ScaleEvent(now, before - after))
    return attrs.evolve(memory, scale_ups=ups, scale_downs=downs)


def autoscale(
    spec: AutoscalerSpec,
    *,
    now: float,
    spec_replicas: int,
    status_replicas: int,
    usage: float,
    memory: AutoscalerMemory | None = None,
) -> Decision:
    """One HPA sync (see the module docstring). ``spec_replicas`` is the target's desired count
    (the scale subresource's ``spec.replicas``), ``status_replicas`` the replicas it has
    (``status.replicas``), ``usage`` the metric summed over them, ``now`` the time in seconds.

    Pure: no I/O, no clock, no logging.
    """
    if spec.min_replicas < 1 or spec.max_replicas < spec.min_replicas:
        raise ValueError(f"invalid replica range [{spec.min_replicas}, {spec.max_replicas}]")
    memory = memory or AutoscalerMemory()
    average = usage / status_replicas if status_replicas > 0 else 0.0
    current = spec_replicas
    if current == 0:
        return Decision(
            replicas=0, recommended=None, average=average, reason="ScalingDisabled", memory=memory
        )
    if current > spec.max_replicas or current < spec.min_replicas:
        bounded = min(max(current, spec.min_replicas), spec.max_replicas)
        reason = "TooManyReplicas" if current > spec.max_replicas else "TooFewReplicas"
        return Decision(
            replicas=bounded,
            recommended=None,
            average=average,
            reason=reason,
            memory=_remember_scale(spec, memory, current, bounded, now),
        )
    recommended = replicas_for_metric(
        current=status_replicas,
        usage=usage,
        target=spec.target_average_value,
        tolerance_up=spec.behavior.scale_up.tolerance,
        tolerance_down=spec.behavior.scale_down.tolerance,
    )
    stabilized, recommendations = _stabilize(spec, memory, current, recommended, now)
    desired, reason = _rate_limited(spec, memory, current, stabilized, now)
    remembered = attrs.evolve(memory, recommendations=recommendations)
    return Decision(
        replicas=desired,
        recommended=recommended,
        average=average,
        reason=reason,
        memory=_remember_scale(spec, remembered, current, desired, now),
    )
