"""What the shared machinery must know about the InferenceSet kind, and its vocabulary.

Pure: no I/O, no clock, no logging.

The registry of kinds (engine, operator, webhook, fake API server, CLI) learns InferenceSet from
the constants below (`/work/kinds-contract.md`, item 5): group, kind, plural, singular, short
names, served versions (storage first), upstream's finalizer, the kinds it owns, its printer
columns, and that no status is terminal. The labels, annotations, condition types, reasons and
messages are spelled as upstream KAITO v0.12 spells them (``pkg/utils/consts``,
``api/v1beta1/condition_types.go``, ``pkg/inferenceset``), except the ones marked *ours*.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_DISABLE_BENCHMARK",
    "ANNOTATION_RUNTIME",
    "CATEGORIES",
    "CONDITION_DELETING",
    "CONDITION_NODE_COUNT_LIMIT",
    "CONDITION_READY",
    "CONDITION_REPLICAS_HEALTHY",
    "CONDITION_REPLICA_CONFLICT",
    "CONDITION_SCALED_OBJECT",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_CREATED_BY",
    "LABEL_INFERENCE_ROLE",
    "LABEL_MRI_PARENT",
    "LABEL_TEMPLATE_HASH",
    "LIST_KIND",
    "MAX_NODE_COUNT_LIMIT",
    "MAX_REPLICAS",
    "MESSAGE_DELETING",
    "MESSAGE_READY",
    "OWNED_KINDS",
    "PLURAL",
    "PRINTER_COLUMNS",
    "REASON_DELETING",
    "REASON_FAILED",
    "REASON_NAME_TAKEN",
    "REASON_NOT_READY",
    "REASON_NO_LIMIT_FOR_BYO",
    "REASON_READY",
    "REASON_REPLICAS_HELD_BACK",
    "REASON_REPLICA_SIZE_UNKNOWN",
    "REASON_WITHIN_NODE_COUNT_LIMIT",
    "SCALE_SUBRESOURCE",
    "SHORT_NAMES",
    "SINGULAR",
    "STATUS_IS_TERMINAL",
    "VERSIONS",
    "not_ready_message",
]

GROUP = "kaito.sh"
KIND = "InferenceSet"
LIST_KIND = "InferenceSetList"
PLURAL = "inferencesets"
SINGULAR = "inferenceset"
SHORT_NAMES = ("is", "isets")
CATEGORIES = ("inferenceset",)
#: Served versions, the storage version first.
VERSIONS = ("v1beta1", "v1alpha1")
#: ``consts.InferenceSetFinalizer``.
FINALIZER = "inferenceset.finalizer.kaito.sh"
#: Kinds an InferenceSet controls (owner references with ``controller: true``): its replica
#: Workspaces, and the KEDA ScaledObject when the planner is asked to provision one.
OWNED_KINDS = (("kaito.sh/v1beta1", "Workspace"), ("keda.sh/v1alpha1", "ScaledObject"))
#: An InferenceSet never stops being reconciled: replicas are level-triggered forever.
STATUS_IS_TERMINAL = False
#: The ``scale`` subresource: what ``kubectl scale``, an HPA and KEDA read and write.
SCALE_SUBRESOURCE = {
    "labelSelectorPath": ".status.selector",
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
}
#: The most replicas one InferenceSet may ask for (ours: the CRD only says int32). Each replica
#: is a Workspace with its own GPU nodes, so this bounds what one object can make, as
#: ``resource.count`` is bounded for one Workspace (`kaito_core.validation.resource`).
MAX_REPLICAS = 1000
#: The largest ``spec.nodeCountLimit`` (ours): `MAX_REPLICAS` replicas of the largest
#: Workspace (1,000 nodes) need no more.
MAX_NODE_COUNT_LIMIT = 1_000_000
#: Upstream's printer columns (the same in both versions).
PRINTER_COLUMNS = (
    {"jsonPath": ".spec.replicas", "name": "Replicas", "type": "integer"},
    {"jsonPath": ".status.readyReplicas", "name": "ReadyReplicas", "type": "integer"},
    {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
)

#: On every replica Workspace: the name of its InferenceSet. The Workspace renderer serves the
#: model under this name (``--served-model-name``), adds it to the StatefulSet selector and pod
#: labels, and the status ``selector`` is ``<this>=<name>``.
LABEL_CREATED_BY = "inferenceset.kaito.sh/created-by"
#: *Ours*: the hash of everything a replica is made of; a replica whose label differs from the
#: template's hash is replaced by a rolling update.
LABEL_TEMPLATE_HASH = "inferenceset.kaito.sh/template-hash"
#: Copied from the InferenceSet's own labels to each replica (upstream does the same, in case
#: the API server pruned the template's labels).
LABEL_INFERENCE_ROLE = "kaito.sh/inference-role"
LABEL_MRI_PARENT = "multiroleinference.kaito.sh/created-by"
#: ``"true"`` on the InferenceSet turns the post-load benchmark off in every replica.
ANNOTATION_DISABLE_BENCHMARK = "kaito.sh/disable-benchmark"
#: ``vllm`` (default) or ``transformers`` on the InferenceSet: which runtime the aggregated
#: performance metric names.
ANNOTATION_RUNTIME = "kaito.sh/runtime"

CONDITION_READY = "InferenceSetReady"
REASON_READY = "inferencesetReady"
MESSAGE_READY = "inferenceset is ready"
REASON_NOT_READY = "inferencesetNotReady"
#: The spec cannot be planned (a bad update strategy, replica names that cannot exist).
REASON_FAILED = "inferencesetFailed"

CONDITION_DELETING = "InferenceSetDeleting"
REASON_DELETING = "inferencesetDeleted"
MESSAGE_DELETING = "inferenceset is being deleted"

#: *Ours*: present when ``spec.nodeCountLimit`` is set; True while it holds replicas back.
CONDITION_NODE_COUNT_LIMIT = "NodeCountLimitReached"
REASON_REPLICAS_HELD_BACK = "ReplicasHeldBack"
REASON_WITHIN_NODE_COUNT_LIMIT = "WithinNodeCountLimit"
REASON_REPLICA_SIZE_UNKNOWN = "ReplicaSizeUnknown"
REASON_NO_LIMIT_FOR_BYO = "NotApplicableToBYO"

#: *Ours*: present while a replica's name is held by a Workspace that is not this set's.
CONDITION_REPLICA_CONFLICT = "ReplicaNameConflict"
REASON_NAME_TAKEN = "NameTaken"

#: *Ours*: present (False) while a replica's Workspace reports a failure (a crash loop, a
#: refused machine, a failed image pull, ...); its reason is the replica's.
CONDITION_REPLICAS_HEALTHY = "ReplicasHealthy"

#: *Ours*: present when the planner provisions ScaledObjects and
#: ``scaledobject.kaito.sh/auto-provision`` is ``"true"``.
CONDITION_SCALED_OBJECT = "ScaledObjectProvisioned"


def not_ready_message(ready: int, desired: int) -> str:
    """Upstream's message: ``inferenceset is not ready, X/Y replicas are ready``."""
    return f"inferenceset is not ready, {ready}/{desired} replicas are ready"
