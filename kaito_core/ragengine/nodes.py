"""The node a RAGEngine runs on: its NodeClaim, and ResourceReady / NodeClaimReady / workerNodes.

Pure: no I/O, no clock, no logging.

Upstream (``applyRAGEngineResource``) needs one node only when ``compute.instanceType`` is set:
a Ready node matching the compute label selector (KAITO's reserved keys removed) and of that
instance type. If there is none it creates one NodeClaim (200 GiB OS disk, labelled
``kaito.sh/ragengine`` / ``kaito.sh/ragenginenamespace`` plus the selector's labels) and waits
for it; on a GPU instance type it then waits for the node's GPU device plugin. Without
``compute.instanceType`` nothing is provisioned and ResourceReady is True at once.

Here the same decision is a function of what is observed, and stable: a claim of ours that
exists is kept (so its own node, once Ready, never makes it redundant); a new one is wanted only
when no Ready node of someone else's qualifies. The claim name is ``rag`` + 9 hex of
sha256(``<namespace>/<name>``) (upstream: ``ws`` + a hash over the current time, so a retry
makes a second machine). With the ``byo`` provisioner no claim is made: the qualifying node must
already exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.ragengine import RAGEngine
from kaito_core.api.types import Condition
from kaito_core.conditions import condition, diagnosis_message
from kaito_core.observed import Manifest, Observed
from kaito_core.ragengine import conditions as rc
from kaito_core.ragengine.kind import LABEL_RAGENGINE, LABEL_RAGENGINE_NAMESPACE
from kaito_core.ragengine.render import sanitized_selector
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.render.nodeclaims import (
    ANNOTATION_DO_NOT_DISRUPT,
    ANNOTATION_NODE_IMAGE_FAMILY,
    KAITO_NODEPOOL,
    LABEL_NODEPOOL,
    claim_manifest,
    node_image_family,
)
from kaito_presets import Catalog

__all__ = [
    "CLAIM_DISK_GIB",
    "NodeDecision",
    "desired_node_claims",
    "gpu_count",
    "node_claim_name",
    "node_decision",
    "qualified_nodes",
]

#: Upstream's OS disk for a RAGEngine node.
CLAIM_DISK_GIB = 200
_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_GPU_RESOURCE = "nvidia.com/gpu"
_CLAIM_STAGES = ("Launched", "Registered", "Initialized")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _true(obj: Mapping[str, Any], type_: str) -> bool:
    for item in (obj.get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return bool(item.get("status") == "True")
    return False


def node_claim_name(rag: RAGEngine) -> str:
    """``rag<9 hex of sha256("<namespace>/<name>")>``: stable, unique per RAGEngine, never equal
    to a Workspace's (``ws...``).

    Pure: no I/O, no clock, no logging.
    """
    digest = hashlib.sha256(f"{rag.namespace}/{rag.name}".encode()).hexdigest()
    return f"rag{digest[:9]}"


def gpu_count(rag: RAGEngine, *, catalog: Catalog, cloud: str) -> int:
    """GPUs of the compute instance type (0: none set, or not a GPU SKU we know).

    Pure: no I/O, no clock, no logging.
    """
    if not rag.instance_type:
        return 0
    sku = catalog.find_sku(rag.instance_type, cloud=cloud)
    return int(sku.gpu_count) if sku is not None else 0


def _ours(rag: RAGEngine, claims: Sequence[Manifest]) -> list[Manifest]:
    """Our claims that are not going away, by name."""
    mine = [
        c
        for c in claims
        if _labels(c).get(LABEL_RAGENGINE) == rag.name
        and _labels(c).get(LABEL_RAGENGINE_NAMESPACE) == rag.namespace
        and not _deleting(c)
    ]
    return sorted(mine, key=_name)


def qualified_nodes(rag: RAGEngine, observed: Observed) -> list[Manifest]:
    """Ready, not deleting nodes matching the sanitized selector and of the instance type
    (compared case-insensitively, as upstream), by name.

    Pure: no I/O, no clock, no logging.
    """
    selector = sanitized_selector(rag)
    wanted = rag.instance_type.lower()
    found = [
        n
        for n in observed.nodes
        if all(_labels(n).get(k) == v for k, v in selector.items())
        and not _deleting(n)
        and _true(n, "Ready")
        and str(_labels(n).get(_LABEL_INSTANCE_TYPE, "")).lower() == wanted
    ]
    return sorted(found, key=_name)


def _claim(rag: RAGEngine, name: str, settings: RAGEngineSettings) -> Manifest:
    labels = {
        LABEL_NODEPOOL: KAITO_NODEPOOL,
        LABEL_RAGENGINE: rag.name,
        LABEL_RAGENGINE_NAMESPACE: rag.namespace,
        **sanitized_selector(rag),
    }
    annotations = {ANNOTATION_DO_NOT_DISRUPT: "true"}
    family = node_image_family(rag.annotations, default=settings.default_node_image_family)
    if family is not None:
        annotations[ANNOTATION_NODE_IMAGE_FAMILY] = family
    return claim_manifest(
        name=name,
        labels=labels,
        annotations=annotations,
        instance_type=rag.instance_type,
        cloud=settings.cloud,
        disk_gib=CLAIM_DISK_GIB,
    )


def desired_node_claims(
    rag: RAGEngine, *, observed: Observed, settings: RAGEngineSettings
) -> list[Manifest]:
    """The NodeClaim the RAGEngine needs: none without an instance type or with ``byo``; ours
    if one exists (under its observed name); else one unless another Ready node qualifies.

    Pure: no I/O, no clock, no logging.
    """
    if not rag.instance_type or not settings.node_auto_provisioning:
        return []
    ours = _ours(rag, observed.node_claims)
    if ours:
        return [_claim(rag, _name(ours[0]), settings)]
    claimed = {(c.get("status") or {}).get("nodeName") for c in observed.node_claims}
    foreign = [
        n
        for n in qualified_nodes(rag, observed)
        if _name(n) not in claimed and _labels(n).get(LABEL_RAGENGINE) != rag.name
    ]
    return [] if foreign else [_claim(rag, node_claim_name(rag), settings)]


class NodeDecision:
    """The node conditions (without times) and the worker node of one plan."""

    __slots__ = ("conditions", "worker_nodes")

    def __init__(self, conditions: tuple[Condition, ...], worker_nodes: tuple[str, ...]) -> None:
        self.conditions = conditions
        self.worker_nodes = worker_nodes


def _has_gpu(node: Mapping[str, Any]) -> bool:
    capacity = (node.get("status") or {}).get("capacity") or {}
    try:
        return float(str(capacity.get(_GPU_RESOURCE, "0")).strip()) > 0
    except ValueError:
        return False


def _claim_problem(claims: Sequence[Manifest]) -> str | None:
    """The first lifecycle condition of a claim that failed with a message (Karpenter's initial
    ``AwaitingReconciliation`` is not a failure)."""
    for claim in claims:
        for type_ in _CLAIM_STAGES:
            for item in (claim.get("status") or {}).get("conditions") or ():
                if (
                    item.get("type") == type_
                    and item.get("status") == "False"
                    and item.get("message")
                    and item.get("reason") != "AwaitingReconciliation"
                ):
                    return diagnosis_message(
                        str(item.get("reason") or ""),
                        f"NodeClaim {_name(claim)} not {type_}: {item['message']}",
                    )
    return None


def _waiting(
    rag: RAGEngine, observed: Observed, qualified: Sequence[Manifest], nap: bool
) -> tuple[str, str]:
    if qualified:
        names = ", ".join(_name(n) for n in qualified)
        return (
            rc.REASON_NODE_PLUGINS_NOT_READY,
            f"waiting all node plugins to be ready (node {names} has no GPU capacity "
            f"({_GPU_RESOURCE}))",
        )
    if not nap:
        return (
            rc.REASON_NODE_NOT_READY,
            f"no Ready node of instance type {rag.instance_type} matches the label selector",
        )
    if observed.provision_error:
        return (
            observed.provision_reason or rc.REASON_INSUFFICIENT_CAPACITY,
            observed.provision_error,
        )
    ours = _ours(rag, observed.node_claims)
    problem = _claim_problem(ours)
    if problem is not None:
        return rc.REASON_CHECK_NODE_CLAIM_FAILED, problem
    for claim in ours:
        node = (claim.get("status") or {}).get("nodeName")
        if node:
            return rc.REASON_NODE_NOT_READY, f"node {node} of NodeClaim {_name(claim)} is not ready"
    return rc.REASON_NODE_CLAIM_PENDING, rc.MESSAGE_NODE_CLAIM_PENDING


def node_decision(
    rag: RAGEngine,
    *,
    observed: Observed,
    catalog: Catalog,
    settings: RAGEngineSettings,
    previous: Sequence[str] = (),
) -> NodeDecision:
    """ResourceReady and NodeClaimReady (with node auto-provisioning) and ``workerNodes``.

    The worker node is a qualified node (with GPU capacity on a GPU instance type): one of the
    `previous` worker nodes if still qualified, else the node of our claim, else the first by
    name. Waiting reasons: ``CreateNodeClaimPending`` (upstream's Unknown), ``NodeNotReady``,
    ``NodePluginsNotReady``; failures: the provisioner's refusal (``observed.provision_reason``,
    else ``InsufficientCapacity``),
    ``checkNodeClaimStatusFailed`` (a claim failed to launch).

    Pure: no I/O, no clock, no logging.
    """
    if not rag.instance_type:
        ready = condition(
            rc.CONDITION_RESOURCE_READY,
            True,
            rc.REASON_RESOURCE_SUCCESS,
            rc.MESSAGE_RESOURCE_SUCCESS,
        )
        return NodeDecision((ready,), ())
    nap = settings.node_auto_provisioning
    qualified = qualified_nodes(rag, observed)
    gpu = gpu_count(rag, catalog=catalog, cloud=settings.cloud) > 0
    usable = [n for n in qualified if not gpu or _has_gpu(n)]
    if usable:
        names = [_name(n) for n in usable]
        claimed = [
            (c.get("status") or {}).get("nodeName") for c in _ours(rag, observed.node_claims)
        ]
        chosen = next(
            (n for n in (*previous, *claimed) if n in names),
            names[0],
        )
        found: list[Condition] = [
            condition(
                rc.CONDITION_RESOURCE_READY,
                True,
                rc.REASON_RESOURCE_SUCCESS,
                rc.MESSAGE_RESOURCE_SUCCESS,
            )
        ]
        if nap:
            found.append(
                condition(
                    rc.CONDITION_NODE_CLAIM_READY,
                    True,
                    rc.REASON_NODE_PLUGINS_SUCCESS,
                    rc.MESSAGE_NODE_PLUGINS_SUCCESS,
                )
            )
        return NodeDecision(tuple(sorted(found, key=lambda c: c.type)), (str(chosen),))
    reason, message = _waiting(rag, observed, qualified, nap)
    result = [condition(rc.CONDITION_RESOURCE_READY, False, reason, message)]
    if nap:
        status = "Unknown" if reason == rc.REASON_NODE_CLAIM_PENDING else "False"
        result.append(condition(rc.CONDITION_NODE_CLAIM_READY, status, reason, message))
    return NodeDecision(tuple(sorted(result, key=lambda c: c.type)), ())
