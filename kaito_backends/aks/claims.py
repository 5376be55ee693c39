"""NodeClaim-shaped manifests synthesized from an agent pool, so the core reads AKS as Karpenter.

One claim per node of the pool's ``count``, named as the planner named them (the pool's tags
keep the names), cluster-scoped ``karpenter.sh/v1`` like the real thing, with the conditions
Karpenter sets, derived from the pool's ``provisioningState`` and, when the caller lists them,
the pool's Kubernetes Nodes (label ``kubernetes.azure.com/agentpool=<pool>``), claim ``i`` bound
to the ``i``-th node by name:

================================  ========  ==========  ===========  =====
pool / node                       Launched  Registered  Initialized  Ready
================================  ========  ==========  ===========  =====
Failed, no node                   False     Unknown     Unknown      False
Creating/Scaling/..., no node     Unknown   Unknown     Unknown      Unknown
Succeeded, no node listed         True      Unknown     Unknown      Unknown
node present, not Ready           True      True        False        False
node Ready                        True      True        True         True
Succeeded, nodes not listed       True      True        True         True
================================  ========  ==========  ===========  =====

A Failed claim carries Azure's message, with reason ``InsufficientCapacity`` for quota and
allocation failures (``LaunchFailed`` otherwise). A pool being deleted gives claims with a
``deletionTimestamp``. Bound claims carry ``status.nodeName`` and ``status.providerID``. A
claim's ``uid`` is derived from the pool's id, creation time and the claim name: the same while
the pool lives, new when the pool is made again; ``creationTimestamp`` is the pool's.
These functions do no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_backends.aks.failures import error_codes, is_capacity
from kaito_backends.aks.naming import LABEL_AGENTPOOL
from kaito_backends.aks.pools import GPU_TAINT, claim_names
from kaito_backends.errors import BackendError, InsufficientCapacity
from kaito_backends.objects import Key, Manifest, clone, machine_labels

__all__ = [
    "ANNOTATION_AGENTPOOL",
    "BUSY_STATES",
    "NODECLAIM_API",
    "REASON_LAUNCH_FAILED",
    "REASON_WAITING",
    "node_claims_of_pool",
    "pool_failure",
    "provisioning_state",
]

NODECLAIM_API = "karpenter.sh/v1"
#: Provisioning states in which AKS refuses another operation on the pool.
BUSY_STATES = frozenset(
    {
        "Creating",
        "Scaling",
        "Updating",
        "Upgrading",
        "Deleting",
        "Starting",
        "Stopping",
        "Canceling",
    }
)
ANNOTATION_AGENTPOOL = "kaito.sh/agentpool"
REASON_LAUNCH_FAILED = "LaunchFailed"
REASON_CAPACITY = "InsufficientCapacity"
#: Karpenter's reason for a condition not decided yet (the core ranks real errors first).
REASON_WAITING = "AwaitingReconciliation"
_STAGES = ("Launched", "Registered", "Initialized", "Ready")
_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
#: ARM times (``2026-01-01T00:00:00.1234567Z``) to whole seconds, as Kubernetes writes them
_SECONDS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")


def provisioning_state(pool: Mapping[str, Any]) -> str:
    """The pool's ``properties.provisioningState`` (``""`` when absent)."""
    return str((pool.get("properties") or {}).get("provisioningState") or "")


def pool_failure(pool: Mapping[str, Any], error: BackendError | None) -> tuple[str, str]:
    """(reason, message) of a Failed pool: our operation's `error`, else the pool's own."""
    if error is not None:
        capacity = isinstance(error, InsufficientCapacity)
        return (REASON_CAPACITY if capacity else REASON_LAUNCH_FAILED), error.message
    detail = ((pool.get("properties") or {}).get("status") or {}).get("provisioningError") or {}
    message = str(detail.get("message") or f"agent pool {pool.get('name')} is in state Failed")
    reason = REASON_CAPACITY if is_capacity(error_codes(detail), message) else REASON_LAUNCH_FAILED
    return reason, message


def _condition(type_: str, status: str, reason: str, message: str, at: str) -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": at,
    }


def _node_ready(node: Mapping[str, Any]) -> bool:
    if (node.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for item in (node.get("status") or {}).get("conditions") or ():
        if item.get("type") == "Ready":
            return bool(item.get("status") == "True")
    return False


def _taint(text: str) -> dict[str, str]:
    key_value, _, effect = text.partition(":")
    key, _, value = key_value.partition("=")
    return (
        {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}
    )


def _stages(
    *,
    state: str,
    pool: str,
    node: Mapping[str, Any] | None,
    nodes_listed: bool,
    failure: tuple[str, str] | None,
) -> list[tuple[str, str, str]]:
    """(status, reason, message) for Launched, Registered, Initialized, Ready."""
    waiting = ("Unknown", REASON_WAITING)
    if node is not None:
        name = (node.get("metadata") or {}).get("name", "")
        if _node_ready(node):
            ok = ("True", "Ready", f"node {name} is ready")
            return [("True", "Launched", "launched"), ("True", "Registered", "registered"), ok, ok]
        not_ready = ("False", "NodeNotReady", f"node {name} is not ready")
        return [
            ("True", "Launched", "launched"),
            ("True", "Registered", "registered"),
            not_ready,
            not_ready,
        ]
    if state == "Failed":
        reason, message = failure or (REASON_LAUNCH_FAILED, f"agent pool {pool} failed")
        pending = f"agent pool {pool} failed"
        return [
            ("False", reason, message),
            (*waiting, pending),
            (*waiting, pending),
            ("False", reason, message),
        ]
    if state == "Succeeded":
        if not nodes_listed:
            done = ("True", "Ready", f"agent pool {pool} succeeded")
            return [done, done, done, done]
        message = f"waiting for a node of agent pool {pool} to register"
        return [
            ("True", "Launched", "launched"),
            (*waiting, message),
            (*waiting, message),
            (*waiting, message),
        ]
    message = f"agent pool {pool} is {state or 'being created'}"
    return [(*waiting, message)] * 4


def node_claims_of_pool(
    key: Key,
    pool: Mapping[str, Any],
    *,
    nodes: Sequence[Mapping[str, Any]] | None,
    failure: tuple[str, str] | None,
    now: str,
    deleting_since: str | None = None,
) -> tuple[Manifest, ...]:
    """The NodeClaims a pool stands for (see the module table), sorted by name.

    `nodes`: the pool's Kubernetes Nodes, or None when nobody lists them (the pool's state
    alone decides). `failure`: (reason, message) of the pool's failure. `now` stamps condition
    times; `deleting_since` is the deletionTimestamp of a pool being deleted.
    """
    props = pool.get("properties") or {}
    pool_name = str(pool.get("name") or "")
    state = provisioning_state(pool)
    vm_size = str(props.get("vmSize") or "")
    node_list = sorted(nodes or (), key=lambda n: str((n.get("metadata") or {}).get("name", "")))
    labels = {
        **(props.get("nodeLabels") or {}),
        **machine_labels(key),
        LABEL_AGENTPOOL: pool_name,
        _LABEL_INSTANCE_TYPE: vm_size,
    }
    taints = [_taint(t) for t in sorted(props.get("nodeTaints") or (GPU_TAINT,))]
    spec: Manifest = {
        "nodeClassRef": {"group": "kaito.sh", "kind": "AKSAgentPool", "name": pool_name},
        "requirements": [
            {"key": _LABEL_INSTANCE_TYPE, "operator": "In", "values": [vm_size]},
            {"key": LABEL_AGENTPOOL, "operator": "In", "values": [pool_name]},
        ],
        "taints": taints,
    }
    if props.get("osDiskSizeGB"):
        spec["resources"] = {"requests": {"storage": f"{int(props['osDiskSizeGB'])}Gi"}}
    created = str((pool.get("systemData") or {}).get("createdAt") or "")
    # stable while the pool lives; a pool made again (new createdAt) gives new uids
    identity = f"{pool.get('id') or pool_name}@{created}"
    seconds = _SECONDS.match(created)
    claims: list[Manifest] = []
    for index, name in enumerate(claim_names(pool)):
        node = node_list[index] if index < len(node_list) else None
        stages = _stages(
            state=state,
            pool=pool_name,
            node=node,
            nodes_listed=nodes is not None,
            failure=failure,
        )
        metadata: Manifest = {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identity}/{name}")),
            "labels": dict(sorted(labels.items())),
            "annotations": {ANNOTATION_AGENTPOOL: pool_name},
        }
        if seconds is not None:
            metadata["creationTimestamp"] = seconds.group(1) + "Z"
        if deleting_since is not None:
            metadata["deletionTimestamp"] = deleting_since
        status: Manifest = {
            "conditions": [
                _condition(type_, s, reason, message, now)
                for type_, (s, reason, message) in zip(_STAGES, stages, strict=True)
            ],
        }
        if node is not None:
            status["nodeName"] = (node.get("metadata") or {}).get("name")
            provider_id = (node.get("spec") or {}).get("providerID")
            if provider_id:
                status["providerID"] = provider_id
        claims.append(
            {
                "apiVersion": NODECLAIM_API,
                "kind": "NodeClaim",
                "metadata": metadata,
                "spec": clone(spec),
                "status": status,
            }
        )
    return tuple(sorted(claims, key=lambda c: str(c["metadata"]["name"])))
