"""Status conditions as the simulated controllers write them, and shared simulation settings.

`set_condition` follows ``meta.SetStatusCondition``: ``lastTransitionTime`` moves only when the
status changes. `Timings` holds every virtual duration the simulated controllers use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.objects import Manifest
from kaito_core.readiness import ReadinessFigures, default_figures

__all__ = ["Timings", "condition", "find_condition", "is_true", "set_condition"]


@attrs.frozen(kw_only=True)
class Timings:
    """Virtual seconds the simulated controllers take (all measured from the object's start).

    By default the durations of nodes and pods come from the time-to-ready model of the core
    (`kaito_core.readiness`) applied to `figures` (`kaito_backends.fake.startup`): a NodeClaim's
    Node registers after the model's node provisioning for its instance type (``register``)
    and is Ready with GPUs after its initialisation too (``initialize``); a pod's containers
    wait in ContainerCreating for the model's PullingImage (``image_pull``), run without
    passing their startup probe for its LoadingWeights (``load``), and have passed it but are
    not Ready for its WarmingUp (``warm_up``). A number given for one of these replaces the
    model for every object. NodeClaims are Launched at ``launch`` (or at registration, if
    sooner); a deleted NodeClaim is gone after ``terminate``. A crash-looping container exits
    ``crash_after`` seconds after it starts; restarts back off ``backoff`` doubling up to
    ``max_backoff``. A tuning Job's pod runs ``job_duration`` seconds after its image is
    pulled. A NodeClaim that failed to launch for want of capacity is deleted
    ``failed_claim_ttl`` seconds later, as Karpenter does, so its owner can ask again.
    """

    figures: ReadinessFigures = attrs.field(factory=default_figures)
    launch: float = 30.0
    register: float | None = None
    initialize: float | None = None
    terminate: float = 5.0
    image_pull: float | None = None
    load: float | None = None
    warm_up: float | None = None
    crash_after: float = 10.0
    backoff: float = 10.0
    max_backoff: float = 300.0
    job_duration: float = 600.0
    failed_claim_ttl: float = 60.0


def find_condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The condition of this type in ``status.conditions``, if any."""
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            found: Mapping[str, Any] = cond
            return found
    return None


def is_true(obj: Mapping[str, Any], kind: str) -> bool:
    """True when the condition of this type has status ``"True"``."""
    cond = find_condition(obj, kind)
    return cond is not None and cond.get("status") == "True"


def condition(kind: str, status: str, reason: str, message: str, now: str) -> Manifest:
    """A karpenter/metav1-shaped condition."""
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    **extra: Any,
) -> list[Manifest]:
    """A new list with the condition set; ``lastTransitionTime`` kept unless the status changes."""
    result: list[Manifest] = []
    found = False
    for cond in conditions:
        if cond.get("type") != kind:
            result.append(dict(cond))
            continue
        found = True
        since = cond.get("lastTransitionTime", now) if cond.get("status") == status else now
        new = {**condition(kind, status, reason, message, since), **extra}
        if "lastProbeTime" in cond:
            new["lastProbeTime"] = cond["lastProbeTime"]
        result.append(new)
    if not found:
        result.append({**condition(kind, status, reason, message, now), **extra})
    return result
