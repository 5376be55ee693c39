"""A Workspace's status, computed from what was observed in the cluster and nothing else.

Pure: no I/O, no clock, no logging.

`compute_status` is upstream KAITO's ``syncWorkspaceStatus`` as one function of the Workspace
(its previous status included), an `Observed` snapshot and `now`. It never trusts "we created
it": a StatefulSet whose ``readyReplicas`` looks right while its pods crash-loop is not ready.
`node_conditions` is the node provisioner's ``CollectNodeStatusInfo``. The condition vocabulary
is in `kaito_core.conditions`, the pod diagnosis in `kaito_core.pod_failures`; `docs/status.md`
describes every condition, the state machine and where we differ from upstream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core import conditions as kc
from kaito_core.api.types import Condition, Workspace, WorkspaceStatus
from kaito_core.conditions import (
    TRUE,
    condition,
    diagnosis_message,
    find_condition,
    remove_condition,
    set_condition,
)
from kaito_core.errors import SizingError, SpecError, UnsupportedGpuError
from kaito_core.observed import Manifest, Observed
from kaito_core.phases import status_phase
from kaito_core.pod_failures import classify_pod_failure
from kaito_core.render.context import provisioner_selector
from kaito_core.render.meta import sanitized_match_labels

__all__ = [
    "GPU_RESOURCES",
    "PRESSURE_CONDITIONS",
    "PROVISIONER_BYO",
    "compute_defaulted_status",
    "compute_status",
    "node_conditions",
    "worker_nodes",
]

PROVISIONER_BYO = "byo"
_PROVISIONER_KARPENTER = "karpenter"
#: Extended resources that prove a node's GPU device plugin is up.
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
#: Node conditions reported as a warning on NodesReady (diagnostic only).
PRESSURE_CONDITIONS = ("DiskPressure", "MemoryPressure", "PIDPressure")
_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_LABEL_NODEPOOL = "karpenter.sh/nodepool"
_LABEL_REVISION = "controller-revision-hash"
#: NodeClaim lifecycle conditions, in the order Karpenter sets them.
_CLAIM_STAGES = ("Launched", "Registered", "Initialized")
_AWAITING_RECONCILIATION = "AwaitingReconciliation"


# --- reading manifests -----------------------------------------------------------------------
def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _kube_condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return item  # type: ignore[no-any-return]
    return None


def _is_true(obj: Mapping[str, Any], type_: str) -> bool:
    item = _kube_condition(obj, type_)
    return item is not None and item.get("status") == TRUE


def _count(status: Mapping[str, Any], key: str) -> int:
    value = status.get(key)
    return value if isinstance(value, int) else 0


def _positive(quantity: Any) -> bool:
    try:
        return float(str(quantity).strip()) > 0
    except ValueError:
        return False


def _matches(obj: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    labels = _labels(obj)
    return all(labels.get(key) == value for key, value in selector.items())


def _node_ready(node: Mapping[str, Any]) -> bool:
    return not _deleting(node) and _is_true(node, "Ready")


def _claim_ready(claim: Mapping[str, Any]) -> bool:
    """Not deleting, and Ready True; with no Ready condition yet, bound to a node."""
    if _deleting(claim):
        return False
    if _kube_condition(claim, "Ready") is not None:
        return _is_true(claim, "Ready")
    return bool((claim.get("status") or {}).get("nodeName"))


# --- nodes -----------------------------------------------------------------------------------
def worker_nodes(*, workspace: Workspace, observed: Observed, provisioner: str) -> tuple[str, ...]:
    """Sorted names of every node (ready or not) matching the workspace's sanitized matchLabels
    and the labels its provisioner puts on nodes (``kaito.sh/workspace*``; none for BYO).

    Pure: no I/O, no clock, no logging.
    """
    selector = {
        **sanitized_match_labels(workspace),
        **dict(provisioner_selector(workspace, provisioner)),
    }
    return tuple(sorted({_name(n) for n in observed.nodes if _matches(n, selector)}))


def _claim_problem(claims: Sequence[Manifest]) -> tuple[str, str] | None:
    """The earliest lifecycle condition, with a message, that is not True on any claim; a real
    error wins over Karpenter's initial ``AwaitingReconciliation``."""
    best: tuple[tuple[bool, int, str], str, str] | None = None
    for claim in claims:
        for stage, type_ in enumerate(_CLAIM_STAGES):
            item = _kube_condition(claim, type_)
            if item is None or item.get("status") == TRUE or not item.get("message"):
                continue
            reason = str(item.get("reason") or "")
            awaiting = reason == _AWAITING_RECONCILIATION
            key = (awaiting, stage, _name(claim))
            if best is None or key < best[0]:
                message = f"NodeClaim {_name(claim)} not {type_}: {item['message']}"
                best = (key, reason if reason and not awaiting else "", message)
            break
    if best is None:
        return None
    reason = best[1] or kc.REASON_NODE_CLAIM_NOT_READY
    return reason, diagnosis_message(reason, best[2])


def _plugin_problem(
    claims: Sequence[Manifest], nodes: Mapping[str, Manifest], instance_type: str | None
) -> str | None:
    """Why the GPU nodes behind the claims cannot run GPU pods yet, or None."""
    for claim in claims:
        node_name = (claim.get("status") or {}).get("nodeName")
        if not node_name:
            return f"NodeClaim {_name(claim)} has no node yet"
        node = nodes.get(node_name)
        if node is None or not _node_ready(node):
            return f"node {node_name} is not ready"
        if instance_type and _labels(node).get(_LABEL_INSTANCE_TYPE) != instance_type:
            return f"node {node_name} is not of instance type {instance_type}"
        capacity = (node.get("status") or {}).get("capacity") or {}
        if not any(_positive(capacity.get(resource)) for resource in GPU_RESOURCES):
            return f"node {node_name} has no GPU capacity ({GPU_RESOURCES[0]})"
    return None


def _pressure_warning(nodes: Sequence[Manifest]) -> str:
    under = []
    for node in nodes:
        kinds = [p for p in PRESSURE_CONDITIONS if _is_true(node, p)]
        if kinds:
            under.append(f"{_name(node)} ({', '.join(kinds)})")
    if not under:
        return ""
    return "; warning: worker node(s) under resource pressure: " + "; ".join(under)


def _claims_condition(
    observed: Observed, claims: Sequence[Manifest], counted: Sequence[Manifest], target: int
) -> Condition:
    """NodeClaimReady: enough ready claims for the nodes BYO nodes do not already provide."""
    claimed = {(c.get("status") or {}).get("nodeName") for c in observed.node_claims}
    byo_nodes = [
        n for n in counted if _name(n) not in claimed and _LABEL_NODEPOOL not in _labels(n)
    ]
    if sum(1 for c in claims if _claim_ready(c)) >= target - len(byo_nodes):
        return condition(
            kc.CONDITION_NODE_CLAIM_READY,
            True,
            kc.REASON_NODE_CLAIMS_READY,
            kc.MESSAGE_NODE_CLAIMS_READY,
        )
    reason, message = _claim_problem(claims) or (
        kc.REASON_NODE_CLAIM_NOT_READY,
        kc.MESSAGE_NODE_CLAIMS_NOT_READY,
    )
    return condition(kc.CONDITION_NODE_CLAIM_READY, False, reason, message)


def node_conditions(
    *,
    workspace: Workspace,
    observed: Observed,
    target_nodes: int,
    provisioner: str,
    instance_type: str | None,
) -> list[Condition]:
    """NodeClaimReady, NodesReady and ResourceReady (BYO: only the last two), without times.

    - Nodes are those matching the workspace's sanitized matchLabels; a node counts when it is
      Ready, not deleting and (with a provisioner) of `instance_type`.
    - NodeClaimReady: ready claims (not deleting; Ready True, or bound to a node while no Ready
      condition exists) cover the nodes not already served by ready nodes that no claim or
      NodePool made (BYO nodes). Else the earliest failing Launched/Registered/Initialized
      message of a claim, or upstream's generic one.
    - NodesReady: enough counted nodes, and (with a provisioner) every claim's node is Ready,
      of the instance type, and advertises GPU capacity: else ``NodePluginsNotReady``.
      Nodes under Disk/Memory/PID pressure are named in a warning appended to the message.
    - ResourceReady: True when the others are; else the provisioner's refusal
      (``observed.provision_error``, reason ``observed.provision_reason`` or
      ``InsufficientCapacity``), else a copy of the first False one (NodeClaimReady before
      NodesReady).

    Pure: no I/O, no clock, no logging.
    """
    byo = provisioner == PROVISIONER_BYO
    selector = sanitized_match_labels(workspace)
    nodes = sorted((n for n in observed.nodes if _matches(n, selector)), key=_name)
    right_type = byo or not instance_type
    counted = [
        n
        for n in nodes
        if _node_ready(n) and (right_type or _labels(n).get(_LABEL_INSTANCE_TYPE) == instance_type)
    ]
    claims = sorted((c for c in observed.node_claims if not _deleting(c)), key=_name)
    warning = _pressure_warning(nodes)

    if len(counted) < target_nodes:
        reason, message = kc.REASON_NODE_NOT_READY, kc.MESSAGE_NODES_NOT_READY
    else:
        by_name = {_name(n): n for n in observed.nodes}
        problem = None if byo else _plugin_problem(claims, by_name, instance_type)
        if problem is None:
            suffix = " with GPU resources" if provisioner == _PROVISIONER_KARPENTER else ""
            reason, message = kc.REASON_NODES_READY, kc.MESSAGE_NODES_READY + suffix
        else:
            reason = kc.REASON_NODE_PLUGINS_NOT_READY
            message = f"{kc.MESSAGE_NODE_PLUGINS_NOT_READY} ({problem})"
    ok = reason == kc.REASON_NODES_READY
    result = [condition(kc.CONDITION_NODES_READY, ok, reason, message + warning)]
    if not byo:
        result.insert(0, _claims_condition(observed, claims, counted, target_nodes))

    failing = next((c for c in result if c.status != TRUE), None)
    if failing is None:
        reason, message = kc.REASON_RESOURCE_SUCCESS, kc.MESSAGE_RESOURCE_SUCCESS
    elif observed.provision_error:
        reason = observed.provision_reason or kc.REASON_INSUFFICIENT_CAPACITY
        message = observed.provision_error
    else:
        reason, message = failing.reason or "", failing.message or ""
    result.append(condition(kc.CONDITION_RESOURCE_READY, failing is None, reason, message))
    return sorted(result, key=lambda c: c.type)


def _by_type(c: Condition) -> str:
    return c.type


def _set_condition(
    conditions: tuple[Condition, ...], new: Condition, *, now: str, generation: int | None
) -> tuple[Condition, ...]:
    """`kaito_core.conditions.set_condition` for `conditions` sorted by type with no type twice
    (as `compute_defaulted_status` keeps them when the previous status had no duplicates): an
    equal result, without `attrs.evolve` and, when nothing changes, without a new tuple."""
    observed_generation = new.observed_generation if generation is None else generation
    type_ = new.type
    previous = None
    for existing in conditions:
        if existing.type == type_:
            previous = existing
            break
    if previous is not None and previous.status == new.status:
        transition = previous.last_transition_time or new.last_transition_time or now
    else:
        transition = new.last_transition_time or now
    updated = Condition(
        type=type_,
        status=new.status,
        reason=new.reason,
        message=new.message,
        last_transition_time=transition,
        observed_generation=observed_generation,
    )
    if previous is not None and previous == updated:
        return conditions
    others = [c for c in conditions if c.type != type_]
    return tuple(sorted([*others, updated], key=_by_type))


# --- workloads -------------------------------------------------------------------------------
def _inference_ready(workspace: Workspace, observed: Observed) -> bool:
    """The StatefulSet ``<ws>`` reports every replica ready for its current generation and
    revision, and every ``<ws>-<ordinal>`` pod of that revision is Ready."""
    sts = observed.object("StatefulSet", workspace.name)
    if sts is None or _deleting(sts):
        return False
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    replicas = spec.get("replicas")
    replicas = 1 if replicas is None else replicas
    if _count(status, "readyReplicas") != replicas:
        return False
    generation = (sts.get("metadata") or {}).get("generation")
    observed_generation = status.get("observedGeneration")
    if (
        generation is not None
        and observed_generation is not None
        and generation != observed_generation
    ):
        return False
    update_revision = status.get("updateRevision")
    current_revision = status.get("currentRevision")
    on_delete = (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
    if (
        update_revision
        and current_revision
        and current_revision != update_revision
        and not on_delete
    ):
        return False
    prefix = f"{workspace.name}-"
    for pod in observed.pods:
        name = _name(pod)
        if not _is_ordinal_of(name, prefix) or _deleting(pod):
            continue
        revision = _labels(pod).get(_LABEL_REVISION)
        if update_revision and revision and revision != update_revision:
            continue
        if not _is_true(pod, "Ready"):
            return False
    return True


def _is_ordinal_of(name: str, prefix: str) -> bool:
    """True for ``<prefix><digits>``: a StatefulSet pod of this workspace, not of a longer name."""
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


def _tuning_job(observed: Observed, name: str) -> tuple[bool, bool, bool]:
    """(started, succeeded, failed) of the Job ``<ws>``; a deleting Job counts as absent."""
    job = observed.object("Job", name)
    if job is None or _deleting(job):
        return False, False, False
    status = job.get("status") or {}
    succeeded = _count(status, "succeeded") > 0 or _is_true(job, "Complete")
    failed = not succeeded and (_count(status, "failed") > 0 or _is_true(job, "Failed"))
    started = succeeded or _count(status, "ready") > 0 or _count(status, "active") > 0
    return started, succeeded, failed


def _with_notes(message: str, notes: Sequence[str]) -> str:
    return "; ".join([message, *notes]) if notes else message


def _succeeded(ok: bool, reason: str, message: str) -> Condition:
    return condition(kc.CONDITION_WORKSPACE_SUCCEEDED, ok, reason, message)


def _inference(
    ws: Workspace, observed: Observed, *, resource_ready: bool, notes: Sequence[str], state: str
) -> tuple[Condition, Condition, str]:
    """InferenceReady, WorkspaceSucceeded and the state of an inference workspace."""
    if resource_ready and _inference_ready(ws, observed):
        message = _with_notes(kc.MESSAGE_INFERENCE_SUCCESS, notes)
        return (
            condition(kc.CONDITION_INFERENCE_READY, True, kc.REASON_INFERENCE_SUCCESS, message),
            _succeeded(True, kc.REASON_WORKSPACE_SUCCEEDED, kc.MESSAGE_WORKSPACE_SUCCEEDED),
            kc.STATE_READY,
        )
    reason, message = classify_pod_failure(observed.pods) or (
        kc.REASON_INFERENCE_PENDING,
        kc.MESSAGE_INFERENCE_PENDING,
    )
    established = state in (kc.STATE_READY, kc.STATE_NOT_READY)
    return (
        condition(kc.CONDITION_INFERENCE_READY, False, reason, _with_notes(message, notes)),
        _succeeded(False, kc.REASON_WORKSPACE_PENDING, kc.MESSAGE_WORKSPACE_PENDING_INFERENCE),
        kc.STATE_NOT_READY if established else kc.STATE_PENDING,
    )


def _tuning(ws: Workspace, observed: Observed) -> tuple[Condition, Condition, str]:
    """JobStarted, WorkspaceSucceeded and the state of a tuning workspace."""
    started, done, failed = _tuning_job(observed, ws.name)
    if failed:
        return (
            condition(kc.CONDITION_JOB_STARTED, False, kc.REASON_JOB_FAILED, kc.MESSAGE_JOB_FAILED),
            _succeeded(False, kc.REASON_WORKSPACE_FAILED, kc.MESSAGE_WORKSPACE_FAILED_TUNING),
            kc.STATE_FAILED,
        )
    if started:
        job = condition(
            kc.CONDITION_JOB_STARTED, True, kc.REASON_JOB_STARTED, kc.MESSAGE_JOB_STARTED
        )
    else:
        job = condition(
            kc.CONDITION_JOB_STARTED, False, kc.REASON_JOB_PENDING, kc.MESSAGE_JOB_PENDING
        )
    if done:
        succeeded = _succeeded(True, kc.REASON_WORKSPACE_SUCCEEDED, kc.MESSAGE_WORKSPACE_SUCCEEDED)
        return job, succeeded, kc.STATE_SUCCEEDED
    if started:
        succeeded = _succeeded(
            False, kc.REASON_WORKSPACE_PENDING, kc.MESSAGE_WORKSPACE_RUNNING_TUNING
        )
        return job, succeeded, kc.STATE_RUNNING
    succeeded = _succeeded(False, kc.REASON_WORKSPACE_PENDING, kc.MESSAGE_WORKSPACE_PENDING_TUNING)
    return job, succeeded, kc.STATE_PENDING


def compute_status(
    *,
    workspace: Workspace,
    observed: Observed,
    target_node_count: int,
    now: str,
    provisioner: str = "karpenter",
    error: SpecError | None = None,
    notes: Sequence[str] = (),
) -> WorkspaceStatus:
    """The status `workspace` should have, given what is `observed` (see `docs/status.md`).

    - Deleting: WorkspaceDeleting True; everything else, ``state`` included, is kept.
    - `error` (a `SpecError` from planning): WorkspaceSucceeded False with its reason and
      message, state ``Failed``; a sizing or GPU error also makes ResourceReady False.
    - Otherwise node conditions (`node_conditions`), then InferenceReady (inference) or
      JobStarted (tuning), then WorkspaceSucceeded and ``state``.
    - `notes` (why a dtype or runtime was chosen) are appended, ``; ``-joined, to the
      ResourceReady and InferenceReady messages.

    ``lastTransitionTime`` comes from the previous status (``workspace.status``) unless the
    condition's status flips, when it is `now`; ``observedGeneration`` is the workspace's
    generation. ``targetNodeCount`` is `target_node_count` (omitted when 0). Computing twice
    from the same inputs gives equal statuses, equal to the previous one when nothing changed.

    Pure: no I/O, no clock, no logging.
    """
    return compute_defaulted_status(
        workspace=workspace.with_defaults(),
        observed=observed,
        target_node_count=target_node_count,
        now=now,
        provisioner=provisioner,
        error=error,
        notes=notes,
    )


def compute_defaulted_status(
    *,
    workspace: Workspace,
    observed: Observed,
    target_node_count: int,
    now: str,
    provisioner: str = "karpenter",
    error: SpecError | None = None,
    notes: Sequence[str] = (),
) -> WorkspaceStatus:
    """`compute_status` of a `workspace` that already is its own `Workspace.with_defaults`
    (what `plan` holds), without defaulting it again.

    Pure: no I/O, no clock, no logging.
    """
    ws = workspace
    previous = ws.status or WorkspaceStatus()
    target = target_node_count if target_node_count > 0 else None
    conditions = tuple(sorted(previous.conditions or (), key=_by_type))
    generation = ws.metadata.generation
    # Without duplicate types (always, but for a hand-written status) the fast path applies.
    setter = (
        _set_condition if len({c.type for c in conditions}) == len(conditions) else set_condition
    )

    def put(*new: Condition) -> None:
        nonlocal conditions
        for item in new:
            conditions = setter(conditions, item, now=now, generation=generation)

    if ws.metadata.deletion_timestamp:
        put(
            condition(
                kc.CONDITION_WORKSPACE_DELETING,
                True,
                kc.REASON_WORKSPACE_DELETED,
                kc.MESSAGE_WORKSPACE_DELETED,
            )
        )
        return attrs.evolve(previous, conditions=conditions, target_node_count=target)

    # With a SpecError and no node count ever decided there are no nodes to report on.
    if error is None or target_node_count > 0:
        reported = node_conditions(
            workspace=ws,
            observed=observed,
            target_nodes=target_node_count,
            provisioner=provisioner,
            instance_type=ws.resource.instance_type if ws.resource else None,
        )
        for type_ in kc.NODE_CONDITION_TYPES:
            if all(c.type != type_ for c in reported):
                conditions = remove_condition(conditions, type_)
        for item in reported:
            if item.type == kc.CONDITION_RESOURCE_READY:
                item = attrs.evolve(item, message=_with_notes(item.message or "", notes))
            put(item)
    if isinstance(error, SizingError | UnsupportedGpuError):
        put(condition(kc.CONDITION_RESOURCE_READY, False, error.reason, error.message))
    resource = find_condition(conditions, kc.CONDITION_RESOURCE_READY)

    state = previous.state or kc.STATE_PENDING
    succeeded: Condition | None = None
    if ws.inference is not None:
        ready = resource is not None and resource.status == TRUE
        workload, succeeded, state = _inference(
            ws, observed, resource_ready=ready, notes=notes, state=state
        )
        put(workload)
    elif ws.tuning is not None:
        workload, succeeded, state = _tuning(ws, observed)
        put(workload)
    if error is not None:
        succeeded = _succeeded(False, error.reason, error.message)
        state = kc.STATE_FAILED
    if succeeded is not None:
        put(succeeded)

    phase = None
    if error is None:
        phase = status_phase(
            workspace=ws,
            observed=observed,
            state=state,
            target_nodes=target_node_count,
            provisioned=provisioner != PROVISIONER_BYO,
            resource_ready=resource is not None and resource.status == TRUE,
            now=now,
        )
    names = worker_nodes(workspace=ws, observed=observed, provisioner=provisioner)
    return WorkspaceStatus(
        worker_nodes=names or None,
        conditions=conditions,
        target_node_count=target,
        state=state,
        performance=previous.performance,
        phase=phase,
    )
