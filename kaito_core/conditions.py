"""Workspace condition vocabulary and `set_condition` (Kubernetes' ``meta.SetStatusCondition``).

Pure: no I/O, no clock, no logging.

Every condition type, reason, message and state a Workspace can carry is a constant here, spelled
as upstream KAITO spells it (``workspaceSucceeded`` is lower camel case upstream, and so here), so
tools written against upstream's status keep working. `kaito_core.status` decides which apply;
`docs/status.md` tabulates them.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from kaito_core.api.types import Condition

__all__ = [
    "CONDITION_INFERENCE_READY",
    "CONDITION_JOB_STARTED",
    "CONDITION_NODES_READY",
    "CONDITION_NODE_CLAIM_READY",
    "CONDITION_RESOURCE_READY",
    "CONDITION_WORKSPACE_DELETING",
    "CONDITION_WORKSPACE_SUCCEEDED",
    "FALSE",
    "MAX_MESSAGE_LENGTH",
    "MAX_REFUSAL_LENGTH",
    "MESSAGE_INFERENCE_PENDING",
    "MESSAGE_INFERENCE_SUCCESS",
    "MESSAGE_JOB_FAILED",
    "MESSAGE_JOB_PENDING",
    "MESSAGE_JOB_STARTED",
    "MESSAGE_NODES_NOT_READY",
    "MESSAGE_NODES_READY",
    "MESSAGE_NODE_CLAIMS_NOT_READY",
    "MESSAGE_NODE_CLAIMS_READY",
    "MESSAGE_NODE_PLUGINS_NOT_READY",
    "MESSAGE_RESOURCE_NOT_READY",
    "MESSAGE_RESOURCE_NOT_READY_BYO",
    "MESSAGE_RESOURCE_SUCCESS",
    "MESSAGE_WORKSPACE_DELETED",
    "MESSAGE_WORKSPACE_FAILED_TUNING",
    "MESSAGE_WORKSPACE_PENDING_INFERENCE",
    "MESSAGE_WORKSPACE_PENDING_TUNING",
    "MESSAGE_WORKSPACE_RUNNING_TUNING",
    "MESSAGE_WORKSPACE_SUCCEEDED",
    "NODE_CONDITION_TYPES",
    "REASON_INFERENCE_PENDING",
    "REASON_INFERENCE_SUCCESS",
    "REASON_INSUFFICIENT_CAPACITY",
    "REASON_JOB_FAILED",
    "REASON_JOB_PENDING",
    "REASON_JOB_STARTED",
    "REASON_NODES_READY",
    "REASON_NODE_CLAIMS_READY",
    "REASON_NODE_CLAIM_NOT_READY",
    "REASON_NODE_NOT_READY",
    "REASON_NODE_PLUGINS_NOT_READY",
    "REASON_QUOTA_EXCEEDED",
    "REASON_RESOURCE_NOT_READY",
    "REASON_RESOURCE_SUCCESS",
    "REASON_WORKSPACE_DELETED",
    "REASON_WORKSPACE_FAILED",
    "REASON_WORKSPACE_PENDING",
    "REASON_WORKSPACE_SUCCEEDED",
    "REFUSAL_REASONS",
    "STATE_FAILED",
    "STATE_NOT_READY",
    "STATE_PENDING",
    "STATE_READY",
    "STATE_RUNNING",
    "STATE_SUCCEEDED",
    "TRUE",
    "UNKNOWN",
    "condition",
    "diagnosis_message",
    "find_condition",
    "remove_condition",
    "set_condition",
    "truncate_message",
]

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"

# --- condition types -------------------------------------------------------------------------
CONDITION_NODE_CLAIM_READY = "NodeClaimReady"
CONDITION_NODES_READY = "NodesReady"
CONDITION_RESOURCE_READY = "ResourceReady"
CONDITION_INFERENCE_READY = "InferenceReady"
CONDITION_JOB_STARTED = "JobStarted"
CONDITION_WORKSPACE_SUCCEEDED = "WorkspaceSucceeded"
CONDITION_WORKSPACE_DELETING = "WorkspaceDeleting"

#: The types the node provisioner owns; any of them it does not report is removed.
NODE_CONDITION_TYPES = (CONDITION_NODE_CLAIM_READY, CONDITION_NODES_READY, CONDITION_RESOURCE_READY)

# --- states (status.state) -------------------------------------------------------------------
STATE_PENDING = "Pending"
STATE_RUNNING = "Running"
STATE_READY = "Ready"
STATE_NOT_READY = "NotReady"
STATE_SUCCEEDED = "Succeeded"
STATE_FAILED = "Failed"

# --- NodeClaimReady --------------------------------------------------------------------------
REASON_NODE_CLAIMS_READY = "NodeClaimsReady"
MESSAGE_NODE_CLAIMS_READY = "Enough NodeClaims are ready"
REASON_NODE_CLAIM_NOT_READY = "NodeClaimNotReady"
MESSAGE_NODE_CLAIMS_NOT_READY = "Ready NodeClaims are not enough"

# --- NodesReady ------------------------------------------------------------------------------
REASON_NODES_READY = "NodesReady"
MESSAGE_NODES_READY = "Enough Nodes are ready"
REASON_NODE_NOT_READY = "NodeNotReady"
MESSAGE_NODES_NOT_READY = "Not enough Nodes are ready"
REASON_NODE_PLUGINS_NOT_READY = "NodePluginsNotReady"
MESSAGE_NODE_PLUGINS_NOT_READY = "waiting all node plugins to be ready"

# --- ResourceReady ---------------------------------------------------------------------------
REASON_RESOURCE_SUCCESS = "workspaceResourceStatusSuccess"
MESSAGE_RESOURCE_SUCCESS = "workspace resource is ready"
REASON_RESOURCE_NOT_READY = "workspaceResourceStatusNotReady"
MESSAGE_RESOURCE_NOT_READY = "node claim or node status condition not ready"
MESSAGE_RESOURCE_NOT_READY_BYO = "node status condition not ready"
#: The node provisioner refused to provision (quota, no capacity); its message is shown.
REASON_INSUFFICIENT_CAPACITY = "InsufficientCapacity"
#: A quota pre-flight found the nodes do not fit; the message says which quota and where to ask.
REASON_QUOTA_EXCEEDED = "QuotaExceeded"

# --- InferenceReady --------------------------------------------------------------------------
REASON_INFERENCE_SUCCESS = "WorkspaceInferenceStatusSuccess"
MESSAGE_INFERENCE_SUCCESS = "Inference has been deployed successfully"
REASON_INFERENCE_PENDING = "WorkspaceInferenceStatusPending"
MESSAGE_INFERENCE_PENDING = "Inference workload is not ready"

# --- JobStarted ------------------------------------------------------------------------------
REASON_JOB_STARTED = "WorkspaceTuningJobStatusStarted"
MESSAGE_JOB_STARTED = "Tuning job has started"
REASON_JOB_PENDING = "WorkspaceTuningJobStatusPending"
MESSAGE_JOB_PENDING = "Tuning job has not started"
REASON_JOB_FAILED = "WorkspaceTuningJobStatusFailed"
MESSAGE_JOB_FAILED = "tuning job failed"

# --- WorkspaceSucceeded ----------------------------------------------------------------------
REASON_WORKSPACE_SUCCEEDED = "workspaceSucceeded"
MESSAGE_WORKSPACE_SUCCEEDED = "workspace succeeds"
REASON_WORKSPACE_PENDING = "workspacePending"
MESSAGE_WORKSPACE_PENDING_INFERENCE = "workspace is waiting for inference workload readiness"
MESSAGE_WORKSPACE_RUNNING_TUNING = "workspace has not completed yet, tuning job is running"
MESSAGE_WORKSPACE_PENDING_TUNING = "workspace is initializing, tuning job has not started"
REASON_WORKSPACE_FAILED = "workspaceFailed"
MESSAGE_WORKSPACE_FAILED_TUNING = "tuning job failed"

# --- WorkspaceDeleting -----------------------------------------------------------------------
REASON_WORKSPACE_DELETED = "workspaceDeleted"
MESSAGE_WORKSPACE_DELETED = "workspace is being deleted"

#: Bytes of a pod or NodeClaim diagnosis kept on a condition (upstream's cap); a cut message then
#: ends in ``...``, so it is at most ``MAX_MESSAGE_LENGTH + 3`` long, as upstream's.
MAX_MESSAGE_LENGTH = 256
#: Bytes of a capacity or quota refusal kept (`refusal_message`): the provider's whole text.
MAX_REFUSAL_LENGTH = 4096
#: Reasons whose message is a provider's capacity or quota refusal.
REFUSAL_REASONS = frozenset({REASON_INSUFFICIENT_CAPACITY, REASON_QUOTA_EXCEEDED})
_ELLIPSIS = "..."


def diagnosis_message(reason: str, message: str) -> str:
    """A pod or NodeClaim diagnosis for a condition: cut as upstream cuts it
    (`truncate_message`), except a capacity or quota refusal (`REFUSAL_REASONS`), which keeps
    the provider's whole text up to `MAX_REFUSAL_LENGTH` bytes: its end says how much quota is
    missing and where to ask for more (Azure's runs to about 400 characters).

    Pure: no I/O, no clock, no logging.
    """
    limit = MAX_REFUSAL_LENGTH if reason in REFUSAL_REASONS else MAX_MESSAGE_LENGTH
    return truncate_message(message, limit)


def truncate_message(message: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """`message` if its UTF-8 encoding fits in `limit` bytes, else its longest prefix that does,
    followed by ``...`` (upstream's ``TruncateMessage``: 256 ASCII characters become 259).

    Unlike upstream, a multi-byte character is never split (upstream cuts at a byte, which can
    leave invalid UTF-8 in the condition).

    Pure: no I/O, no clock, no logging.
    """
    encoded = message.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return message
    kept = encoded[:limit].decode("utf-8", "ignore")
    return kept + _ELLIPSIS


def condition(type_: str, status: bool | str, reason: str, message: str) -> Condition:
    """A condition without a transition time or generation (`set_condition` fills both).

    `status` may be a bool (``True`` -> ``"True"``) or one of ``True``/``False``/``Unknown``.

    Pure: no I/O, no clock, no logging.
    """
    if isinstance(status, bool):
        status = TRUE if status else FALSE
    return Condition(type=type_, status=status, reason=reason, message=message)


def find_condition(conditions: Sequence[Condition] | None, type_: str) -> Condition | None:
    """The condition of this type in `conditions`, if any.

    Pure: no I/O, no clock, no logging.
    """
    for existing in conditions or ():
        if existing.type == type_:
            return existing
    return None


def set_condition(
    conditions: Sequence[Condition] | None,
    new: Condition,
    *,
    now: str,
    generation: int | None,
) -> tuple[Condition, ...]:
    """`conditions` with `new` set, sorted by type: ``meta.SetStatusCondition`` semantics.

    - A type not present yet is added; its ``lastTransitionTime`` is ``new``'s, else `now`.
    - A present type whose ``status`` differs flips: ``lastTransitionTime`` becomes ``new``'s,
      else `now`. A present type whose ``status`` is the same keeps its ``lastTransitionTime``.
    - ``reason``, ``message`` and ``observedGeneration`` always take the new values;
      ``observedGeneration`` is `generation` (the workspace's ``metadata.generation``), or
      ``new.observed_generation`` when `generation` is ``None``.

    Setting a condition equal to the present one returns an equal tuple, so a status computed
    twice from the same observations compares equal and is not written again.

    Pure: no I/O, no clock, no logging.
    """
    observed_generation = new.observed_generation if generation is None else generation
    previous = find_condition(conditions, new.type)
    if previous is not None and previous.status == new.status:
        # A condition that lost its time (hand-written status) gets one; the API server needs it.
        transition = previous.last_transition_time or new.last_transition_time or now
    else:
        transition = new.last_transition_time or now
    updated = attrs.evolve(
        new, last_transition_time=transition, observed_generation=observed_generation
    )
    others = [c for c in conditions or () if c.type != new.type]
    return tuple(sorted([*others, updated], key=lambda c: c.type))


def remove_condition(conditions: Sequence[Condition] | None, type_: str) -> tuple[Condition, ...]:
    """`conditions` without the condition of this type, sorted by type.

    Pure: no I/O, no clock, no logging.
    """
    return tuple(sorted((c for c in conditions or () if c.type != type_), key=lambda c: c.type))
