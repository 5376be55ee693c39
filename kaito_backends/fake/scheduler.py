"""Pod scheduling: which Ready node a pod can go to, or a kube-scheduler-like reason why not.

Filters, in kube-scheduler's order: node unschedulable (cordoned), taints (NoSchedule/NoExecute;
a node whose Ready condition is not True counts as tainted ``node.kubernetes.io/not-ready``),
``nodeSelector`` plus required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt), then
free extended resources (``nvidia.com/gpu``, any ``<domain>/<name>``). Among fitting nodes the
first by name wins. CPU and memory requests are not counted.

Pods whose affinity pins ``kaito.sh/workspace`` are checked only against that workspace's nodes
(an index), and wait in a per-workspace queue until one of those nodes changes, so scheduling
stays cheap with thousands of workspaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kaito_backends.fake.conditions import is_true
from kaito_backends.fake.store import Store
from kaito_backends.objects import Manifest

__all__ = ["INDEX_LABEL", "Scheduler", "pod_requests"]

INDEX_LABEL = "kaito.sh/workspace"
_NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
PodKey = tuple[str, str]


def pod_requests(pod: Mapping[str, Any]) -> dict[str, int]:
    """Extended-resource requests of a pod (limits count as requests), summed over containers."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        for name, value in _extended(container).items():
            total[name] = total.get(name, 0) + value
    for container in spec.get("initContainers") or ():
        for name, value in _extended(container).items():
            total[name] = max(total.get(name, 0), value)
    return total


def _extended(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    out: dict[str, int] = {}
    for section in ("limits", "requests"):
        for name, value in (resources.get(section) or {}).items():
            if "/" in name and name not in out:
                try:
                    out[name] = int(str(value))
                except ValueError:
                    continue
    return out


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for tol in tolerations:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key = tol.get("key")
        if tol.get("operator") == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _match_requirement(labels: Mapping[str, str], req: Mapping[str, Any]) -> bool:
    key, op, values = req.get("key", ""), req.get("operator"), req.get("values") or ()
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _required_terms(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms: list[Mapping[str, Any]] = list(required.get("nodeSelectorTerms") or ())
    return terms


def matches_node(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``nodeSelector`` and required node affinity (terms ORed, expressions ANDed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    terms = _required_terms(pod)
    if not terms:
        return True
    return any(
        all(_match_requirement(labels, r) for r in term.get("matchExpressions") or ())
        for term in terms
    )


def index_value(pod: Mapping[str, Any]) -> str | None:
    """The ``kaito.sh/workspace`` value every node the pod may use must carry, if pinned."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if INDEX_LABEL in selector:
        return str(selector[INDEX_LABEL])
    terms = _required_terms(pod)
    if len(terms) != 1:
        return None
    for req in terms[0].get("matchExpressions") or ():
        values: list[Any] = list(req.get("values") or ())
        if req.get("key") == INDEX_LABEL and req.get("operator") == "In" and len(values) == 1:
            return str(values[0])
    return None


class Scheduler:
    """Binds pods to nodes and keeps the books of what each node has given out."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.used: dict[str, dict[str, int]] = {}
        self.on_node: dict[str, dict[PodKey, dict[str, int]]] = {}
        self.waiting: dict[str | None, dict[PodKey, None]] = {}
        self._waiting_in: dict[PodKey, str | None] = {}
        self._bound: dict[PodKey, str] = {}

    # -- books -----------------------------------------------------------------------------------
    def bind(self, pod: Manifest, node: str) -> None:
        key = _pod_key(pod)
        if key in self._bound:
            return
        requests = pod_requests(pod)
        self._bound[key] = node
        self.on_node.setdefault(node, {})[key] = requests
        used = self.used.setdefault(node, {})
        for name, value in requests.items():
            used[name] = used.get(name, 0) + value
        self.unwait(key)

    def release(self, key: PodKey) -> str | None:
        """Forget a pod (deleted or finished); returns the node it freed room on."""
        self.unwait(key)
        node = self._bound.pop(key, None)
        if node is None:
            return None
        requests = self.on_node.get(node, {}).pop(key, {})
        used = self.used.get(node, {})
        for name, value in requests.items():
            used[name] = used.get(name, 0) - value
        return node

    def pods_on(self, node: str) -> list[PodKey]:
        return sorted(self.on_node.get(node, ()))

    def wait(self, pod: Manifest) -> None:
        """Park an unschedulable pod until a node it could use changes."""
        key = _pod_key(pod)
        self.unwait(key)
        value = index_value(pod)
        self.waiting.setdefault(value, {})[key] = None
        self._waiting_in[key] = value

    def unwait(self, key: PodKey) -> None:
        if key not in self._waiting_in:
            return
        value = self._waiting_in.pop(key)
        bucket = self.waiting.get(value)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del self.waiting[value]

    def waiting_for(self, node: Mapping[str, Any] | None) -> list[PodKey]:
        """Pods that a change of this node (or any node, if None) might let in."""
        keys: dict[PodKey, None] = {}
        if node is None:
            for bucket in self.waiting.values():
                keys.update(bucket)
        else:
            value = ((node.get("metadata") or {}).get("labels") or {}).get(INDEX_LABEL)
            if value is not None:
                keys.update(self.waiting.get(value, {}))
            keys.update(self.waiting.get(None, {}))
        return list(keys)

    # -- deciding --------------------------------------------------------------------------------
    def place(self, pod: Manifest) -> tuple[str | None, str]:
        """The node to bind to, or None and the FailedScheduling message."""
        pinned = index_value(pod)
        total = self.store.count("v1", "Node")
        if total == 0:
            return None, "no nodes available to schedule pods"
        if pinned is not None:
            candidates: Iterable[Manifest] = self.store.select(
                "v1", "Node", labels={INDEX_LABEL: pinned}
            )
        else:
            candidates = self.store.select("v1", "Node")
        reasons: dict[str, int] = {}
        seen = 0
        requests = pod_requests(pod)
        for node in candidates:
            seen += 1
            reason = self._misfit(pod, node, requests)
            if reason is None:
                return node["metadata"]["name"], ""
            reasons[reason] = reasons.get(reason, 0) + 1
        if total > seen:
            reason = "node(s) didn't match Pod's node affinity/selector"
            reasons[reason] = reasons.get(reason, 0) + total - seen
        parts = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))  # as kube-scheduler
        return None, (
            f"0/{total} nodes are available: {parts}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
        )

    def _misfit(self, pod: Manifest, node: Manifest, requests: Mapping[str, int]) -> str | None:
        spec = node.get("spec") or {}
        if spec.get("unschedulable"):
            return "node(s) were unschedulable"
        if node["metadata"].get("deletionTimestamp"):
            return "node(s) were being deleted"
        taints = list(spec.get("taints") or ())
        if not is_true(node, "Ready") and not any(
            t.get("key") == _NOT_READY["key"] for t in taints
        ):
            taints.append(_NOT_READY)
        tolerations = (pod.get("spec") or {}).get("tolerations") or ()
        for taint in taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(
                tolerations, taint
            ):
                key, value = taint.get("key"), taint.get("value") or ""
                return f"node(s) had untolerated taint {{{key}: {value}}}"
        if not matches_node(pod, node):
            return "node(s) didn't match Pod's node affinity/selector"
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        used = self.used.get(node["metadata"]["name"], {})
        for name, value in sorted(requests.items()):
            try:
                free = int(str(allocatable.get(name, 0))) - used.get(name, 0)
            except ValueError:
                free = 0
            if value > free:
                return f"Insufficient {name}"
        return None


def _pod_key(pod: Mapping[str, Any]) -> PodKey:
    meta = pod["metadata"]
    return (meta["namespace"], meta["name"])
