"""When a Karpenter NodeClaim's machine is ready for a GPU workload, and when it was refused.

A claim is ready when (upstream's ``EnsureNodesReady``, controller.md §3.6):

- it is not being deleted;
- its ``Ready`` condition is True (a claim with no Ready condition at all counts once it is
  bound to a node: ``status.nodeName``);
- its Node exists, is not being deleted, is ``Ready``, and advertises GPUs: the NVIDIA device
  plugin has put ``nvidia.com/gpu`` > 0 into ``status.capacity`` (a node that registered but
  whose plugin has not started yet has none).

`claim_problem` says why one claim is not ready (None when it is); `Readiness` sums a
workspace up. `capacity_refusal` finds a claim the provider refused for want of capacity
(``Launched=False``, reason ``InsufficientCapacity``), whose message is the provider's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.objects import Manifest

__all__ = [
    "GPU_RESOURCE",
    "Readiness",
    "capacity_refusal",
    "claim_problem",
    "condition",
    "gpu_capacity",
    "node_ready",
]

GPU_RESOURCE = "nvidia.com/gpu"
_CAPACITY_REASONS = frozenset({"InsufficientCapacity", "InsufficientCapacityError"})


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The ``status.conditions`` entry of this type, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def gpu_capacity(node: Mapping[str, Any]) -> int:
    """``status.capacity["nvidia.com/gpu"]`` as a number (0 when absent or unreadable)."""
    value = ((node.get("status") or {}).get("capacity") or {}).get(GPU_RESOURCE)
    try:
        return int(str(value))
    except ValueError:
        return 0


def node_ready(node: Mapping[str, Any]) -> bool:
    """Ready condition True and not being deleted."""
    if _meta(node).get("deletionTimestamp"):
        return False
    ready = condition(node, "Ready")
    return ready is not None and ready.get("status") == "True"


def claim_problem(claim: Mapping[str, Any], node: Mapping[str, Any] | None) -> str | None:
    """Why the claim's machine is not ready for GPU pods yet; None when it is.

    ``node`` is the Node named by the claim's ``status.nodeName`` (None when there is none).
    """
    name = str(_meta(claim).get("name") or "")
    if _meta(claim).get("deletionTimestamp"):
        return f"NodeClaim {name} is being deleted"
    ready = condition(claim, "Ready")
    node_name = str((claim.get("status") or {}).get("nodeName") or "")
    if ready is not None and ready.get("status") != "True":
        detail = ready.get("message") or ready.get("reason") or "not ready"
        return f"NodeClaim {name} is not ready: {detail}"
    if not node_name:
        return f"NodeClaim {name} has no node yet"
    if node is None:
        return f"node {node_name} of NodeClaim {name} does not exist"
    if not node_ready(node):
        return f"node {node_name} is not ready"
    if gpu_capacity(node) <= 0:
        return f"node {node_name} advertises no {GPU_RESOURCE} capacity yet"
    return None


def capacity_refusal(claims: Sequence[Mapping[str, Any]]) -> str | None:
    """The provider's message of the first claim (by name) refused for want of capacity."""
    for claim in sorted(claims, key=lambda c: str(_meta(c).get("name") or "")):
        launched = condition(claim, "Launched")
        if launched is None or launched.get("status") != "False":
            continue
        reason = str(launched.get("reason") or "")
        message = str(launched.get("message") or "")
        squeezed = message.lower().replace(" ", "")
        if reason in _CAPACITY_REASONS or "insufficientcapacity" in squeezed:
            return message or reason
    return None


@attrs.frozen(kw_only=True)
class Readiness:
    """A workspace's machines: how many are wanted, which claims are ready, what is missing."""

    #: NodeClaims asked for (None: as many as exist)
    wanted: int | None
    #: names of the ready claims, sorted
    ready: tuple[str, ...]
    #: one line per claim that is not ready (and one for missing claims), sorted by claim
    problems: tuple[str, ...]

    @property
    def is_ready(self) -> bool:
        """Every wanted machine is ready (and at least one exists when any is wanted)."""
        if self.wanted is None:
            return not self.problems and bool(self.ready)
        return len(self.ready) >= self.wanted

    @classmethod
    def of(
        cls,
        claims: Sequence[Manifest],
        nodes: Mapping[str, Manifest],
        *,
        wanted: int | None = None,
    ) -> Readiness:
        """Sum up ``claims`` given the Nodes by name (see `claim_problem`)."""
        ready: list[str] = []
        problems: list[str] = []
        for claim in sorted(claims, key=lambda c: str(_meta(c).get("name") or "")):
            node_name = str((claim.get("status") or {}).get("nodeName") or "")
            problem = claim_problem(claim, nodes.get(node_name) if node_name else None)
            if problem is None:
                ready.append(str(_meta(claim).get("name") or ""))
            else:
                problems.append(problem)
        live = [c for c in claims if not _meta(c).get("deletionTimestamp")]
        if wanted is not None and len(live) < wanted:
            problems.append(f"{wanted - len(live)} of {wanted} NodeClaims do not exist yet")
        return cls(wanted=wanted, ready=tuple(ready), problems=tuple(problems))
