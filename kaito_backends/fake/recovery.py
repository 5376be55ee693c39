"""What the fault plan injected into a fake cluster, and what the clients recovered from.

`fault_report` counts, per fault, how many struck and how many were got past:

- an API fault (conflict, throttle, server error) is recovered when the same call (verb, kind,
  namespace, name) was made again later and succeeded;
- a dropped or expired watch is recovered when a watch of the same kind was started again;
- a refused machine launch is recovered when the NodeClaim of that name exists at the end and
  has launched (the refused one is deleted, as Karpenter does, and asked for again);
- a pod fault (image pull, OOM, crash loop) is recovered when the pod is Ready (or Succeeded)
  at the end.

It reads `Faults.fired`, the recorded calls (`Recorder.calls`, whose ``failed`` marks the calls
a fault struck) and the store as it is now, so it is meaningful after a run and as long as the
recorder was not reset during it.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.fake.client import Call
from kaito_backends.fake.faults import FaultKind, FiredFault

if TYPE_CHECKING:
    from kaito_backends.fake.cluster import FakeCluster

__all__ = ["FAULT_LABELS", "FaultReport", "FaultTally", "fault_report"]

#: Every fault, in report order, with the words a report uses for it.
FAULT_LABELS: Mapping[FaultKind, str] = {
    "conflict": "conflicts (409)",
    "throttle": "throttled requests (429)",
    "server_error": "server errors (500)",
    "watch_drop": "dropped watches",
    "watch_gone": "expired watches (410)",
    "launch_failure": "refused machine launches",
    "image_pull": "image pull failures",
    "oom": "out-of-memory kills",
    "crashloop": "crash loops",
}
#: Faults a report lists even when none struck (the ones `kaito up --faults` injects).
_ALWAYS: tuple[FaultKind, ...] = (
    "conflict",
    "throttle",
    "server_error",
    "watch_drop",
    "watch_gone",
    "launch_failure",
)
_API: frozenset[str] = frozenset({"conflict", "throttle", "server_error"})
_WATCH: frozenset[str] = frozenset({"watch_drop", "watch_gone"})


@attrs.frozen(kw_only=True)
class FaultTally:
    """How many faults of one kind struck, and how many were recovered from."""

    fault: FaultKind
    injected: int
    recovered: int

    @property
    def label(self) -> str:
        return FAULT_LABELS[self.fault]


@attrs.frozen(kw_only=True)
class FaultReport:
    """Per fault, what struck and what was recovered from; and the faults not recovered from."""

    tallies: tuple[FaultTally, ...]
    unrecovered: tuple[FiredFault, ...]

    @property
    def injected(self) -> int:
        return sum(t.injected for t in self.tallies)

    @property
    def recovered(self) -> int:
        return sum(t.recovered for t in self.tallies)


def _call_key(call: Call) -> tuple[str, str, str | None, str | None]:
    return (call.verb, call.kind, call.namespace, call.name)


def _successes(calls: Sequence[Call]) -> dict[Any, list[int]]:
    """Indexes of the calls that succeeded, by call and by started watch kind (sorted)."""
    found: dict[Any, list[int]] = {}
    for index, call in enumerate(calls):
        if call.failed:
            continue
        found.setdefault(_call_key(call), []).append(index)
        if call.verb == "watch":
            found.setdefault(("watch", call.kind), []).append(index)
    return found


def _later(indexes: Sequence[int] | None, after: int) -> bool:
    return bool(indexes) and bisect.bisect_right(indexes or (), after) < len(indexes or ())


def _true(obj: Mapping[str, Any] | None, type_: str) -> bool:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return bool(cond.get("status") == "True")
    return False


def _recovered(
    fired: FiredFault, calls: Sequence[Call], successes: Mapping[Any, list[int]], cluster: Any
) -> bool:
    if fired.fault in _API:
        if not 0 <= fired.call < len(calls):
            return False
        return _later(successes.get(_call_key(calls[fired.call])), fired.call)
    if fired.fault in _WATCH:
        return _later(successes.get(("watch", fired.kind)), fired.call)
    store = cluster.store
    if fired.fault == "launch_failure":
        claim = store.find("karpenter.sh/v1", "NodeClaim", None, fired.name)
        return _true(claim, "Launched")
    namespace, _, name = fired.name.partition("/")
    pod = store.find("v1", "Pod", namespace, name)
    phase = ((pod or {}).get("status") or {}).get("phase")
    return phase == "Succeeded" or _true(pod, "Ready")


def fault_report(cluster: FakeCluster) -> FaultReport:
    """Per fault (the API, watch and launch faults always, pod faults when any struck): how
    many were injected and how many recovered (see the module docstring)."""
    calls = cluster.recorder.calls
    successes = _successes(calls)
    injected: dict[FaultKind, int] = {}
    recovered: dict[FaultKind, int] = {}
    unrecovered: list[FiredFault] = []
    for fired in cluster.faults.fired:
        injected[fired.fault] = injected.get(fired.fault, 0) + 1
        if _recovered(fired, calls, successes, cluster):
            recovered[fired.fault] = recovered.get(fired.fault, 0) + 1
        else:
            unrecovered.append(fired)
    tallies = tuple(
        FaultTally(fault=fault, injected=injected.get(fault, 0), recovered=recovered.get(fault, 0))
        for fault in FAULT_LABELS
        if fault in _ALWAYS or injected.get(fault)
    )
    return FaultReport(tallies=tallies, unrecovered=tuple(unrecovered))
