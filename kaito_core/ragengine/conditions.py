"""RAGEngine condition types, reasons and messages.

Pure: no I/O, no clock, no logging.

Upstream's vocabulary (``api/v1beta1/condition_types.go``, ``pkg/ragengine/controllers``) is
kept as upstream spells it, so tools written against it keep working: ``ResourceReady``,
``NodeClaimReady``, ``ServiceReady``, ``RAGEngineSucceeded``, ``RAGEngineDeleting`` with the
reasons ``ragengineResourceStatusSuccess``, ``installNodePluginsSuccess``,
``RAGEngineServiceSuccess``, ``ragengineSucceeded``, ``ragengineDeleted``. Upstream writes a
failing service as ``RAGEngineServiceReady`` (a different type from the ``ServiceReady`` it sets
on success, so ``kubectl get rag`` never shows it); here both are ``ServiceReady``.

Upstream blocks inside a reconcile while it waits for a node or the Deployment, so it has no
"still waiting" states; ours have their own reasons (`WAITING_REASONS`), which record no Warning
Event. Two condition types are ours: ``InferenceServiceReady`` (where ``inferenceService.url``
leads) and ``ContextWindowFits`` (``contextWindowSize`` against the model's length); see
`kaito_core.ragengine.wiring`.
"""

from __future__ import annotations

from kaito_core.conditions import (
    REASON_INSUFFICIENT_CAPACITY,
    REASON_NODE_CLAIM_NOT_READY,
    REASON_NODE_NOT_READY,
    REASON_NODE_PLUGINS_NOT_READY,
)

__all__ = [
    "CONDITION_CONTEXT_WINDOW_FITS",
    "CONDITION_DELETING",
    "CONDITION_INFERENCE_SERVICE_READY",
    "CONDITION_NODE_CLAIM_READY",
    "CONDITION_RESOURCE_READY",
    "CONDITION_SERVICE_READY",
    "CONDITION_SUCCEEDED",
    "MESSAGE_DELETED",
    "MESSAGE_NODE_CLAIM_PENDING",
    "MESSAGE_NODE_PLUGINS_SUCCESS",
    "MESSAGE_PENDING",
    "MESSAGE_RESOURCE_SUCCESS",
    "MESSAGE_SERVICE_SUCCESS",
    "MESSAGE_SUCCEEDED",
    "REASON_CHECK_NODE_CLAIM_FAILED",
    "REASON_CONTEXT_WINDOW_FITS",
    "REASON_CONTEXT_WINDOW_TOO_LARGE",
    "REASON_DELETED",
    "REASON_INSUFFICIENT_CAPACITY",
    "REASON_NODE_CLAIM_NOT_READY",
    "REASON_NODE_CLAIM_PENDING",
    "REASON_NODE_NOT_READY",
    "REASON_NODE_PLUGINS_NOT_READY",
    "REASON_NODE_PLUGINS_SUCCESS",
    "REASON_NOT_CHECKED",
    "REASON_PENDING",
    "REASON_RESOURCE_SUCCESS",
    "REASON_SERVICE_FOUND",
    "REASON_SERVICE_PENDING",
    "REASON_SERVICE_SUCCESS",
    "REASON_SUCCEEDED",
    "REASON_TARGET_NOT_FOUND",
    "REASON_TARGET_NOT_SERVING",
    "REASON_TARGET_PATH_UNSUPPORTED",
    "REASON_TARGET_PORT_MISMATCH",
    "REASON_TARGET_READY",
    "REASON_TARGET_SCHEME_MISMATCH",
    "REASON_WORKSPACE_NOT_READY",
    "WAITING_REASONS",
]

# --- types ---------------------------------------------------------------------------------------
CONDITION_RESOURCE_READY = "ResourceReady"
CONDITION_NODE_CLAIM_READY = "NodeClaimReady"
CONDITION_SERVICE_READY = "ServiceReady"
CONDITION_SUCCEEDED = "RAGEngineSucceeded"
CONDITION_DELETING = "RAGEngineDeleting"
CONDITION_INFERENCE_SERVICE_READY = "InferenceServiceReady"
CONDITION_CONTEXT_WINDOW_FITS = "ContextWindowFits"

# --- ResourceReady and NodeClaimReady (upstream) -------------------------------------------------
REASON_RESOURCE_SUCCESS = "ragengineResourceStatusSuccess"
MESSAGE_RESOURCE_SUCCESS = "ragengine resource is ready"
REASON_NODE_PLUGINS_SUCCESS = "installNodePluginsSuccess"
MESSAGE_NODE_PLUGINS_SUCCESS = "nodeClaim plugins have been installed successfully"
REASON_NODE_CLAIM_PENDING = "CreateNodeClaimPending"
MESSAGE_NODE_CLAIM_PENDING = "creating 1 nodeClaim"
REASON_CHECK_NODE_CLAIM_FAILED = "checkNodeClaimStatusFailed"

# --- ServiceReady --------------------------------------------------------------------------------
REASON_SERVICE_SUCCESS = "RAGEngineServiceSuccess"
MESSAGE_SERVICE_SUCCESS = "Inference has been deployed successfully"
REASON_SERVICE_PENDING = "RAGEngineServicePending"

# --- RAGEngineSucceeded and RAGEngineDeleting ----------------------------------------------------
REASON_SUCCEEDED = "ragengineSucceeded"
MESSAGE_SUCCEEDED = "ragengine succeeds"
REASON_PENDING = "ragenginePending"
MESSAGE_PENDING = "ragengine is waiting for its resources and its RAG service to be ready"
REASON_DELETED = "ragengineDeleted"
MESSAGE_DELETED = "ragengine is being deleted"

# --- InferenceServiceReady (ours) ----------------------------------------------------------------
REASON_TARGET_READY = "WorkspaceServiceReady"
REASON_SERVICE_FOUND = "ServiceFound"
REASON_NOT_CHECKED = "NotChecked"
REASON_TARGET_NOT_FOUND = "InferenceServiceNotFound"
REASON_TARGET_PORT_MISMATCH = "InferenceServicePortMismatch"
REASON_TARGET_SCHEME_MISMATCH = "InferenceServiceSchemeMismatch"
REASON_TARGET_PATH_UNSUPPORTED = "InferenceServicePathUnsupported"
REASON_TARGET_NOT_SERVING = "InferenceWorkspaceNotServing"
REASON_WORKSPACE_NOT_READY = "InferenceWorkspaceNotReady"

# --- ContextWindowFits (ours) --------------------------------------------------------------------
REASON_CONTEXT_WINDOW_FITS = "ContextWindowFits"
REASON_CONTEXT_WINDOW_TOO_LARGE = "ContextWindowTooLarge"

#: Reasons that mean "not yet", not "something is wrong": no Warning Event for them.
WAITING_REASONS = frozenset(
    {
        REASON_NODE_CLAIM_PENDING,
        REASON_NODE_CLAIM_NOT_READY,
        REASON_NODE_NOT_READY,
        REASON_NODE_PLUGINS_NOT_READY,
        REASON_SERVICE_PENDING,
        REASON_PENDING,
        REASON_WORKSPACE_NOT_READY,
        REASON_NOT_CHECKED,
        "AwaitingReconciliation",
    }
)
