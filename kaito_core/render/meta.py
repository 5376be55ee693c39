"""Labels, owner references and metadata every child of a Workspace carries.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_core.api.types import V1BETA1, Workspace

__all__ = [
    "FINALIZER",
    "LABEL_WORKSPACE",
    "LABEL_WORKSPACE_NAMESPACE",
    "RESERVED_LABEL_DOMAINS",
    "RESERVED_LABEL_KEYS",
    "child_metadata",
    "node_labels",
    "owner_reference",
    "reserved_label_owner",
    "sanitized_match_labels",
    "workload_labels",
]

LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
LABEL_CREATED_BY_INFERENCESET = "inferenceset.kaito.sh/created-by"
LABEL_CREATED_BY_MRI = "multiroleinference.kaito.sh/created-by"
LABEL_INFERENCE_ROLE = "kaito.sh/inference-role"
ANNOTATION_REVISION = "workspace.kaito.io/revision"
ANNOTATION_HASH = "workspace.kaito.io/hash"
LABEL_REVISION_OWNER = "workspace.kaito.io/name"
FINALIZER = "workspace.finalizer.kaito.sh"

#: matchLabels keys KAITO owns; they are stripped before labels reach nodes or affinity.
RESERVED_LABEL_KEYS = frozenset(
    {
        "kaito.sh/workspace",
        "kaito.sh/ragengine",
        "kaito.sh/workspacenamespace",
        "kaito.sh/ragenginenamespace",
        "karpenter.kaito.sh/workspace-name",
        "karpenter.kaito.sh/workspace-namespace",
        "karpenter.kaito.sh/inferenceset",
        "karpenter.kaito.sh/inferenceset-namespace",
    }
)


#: Label-key prefixes (``<domain>/``, subdomains included) owned by a component that sets them on
#: nodes itself: a user's matchLabels key in one of them is never copied onto a NodeClaim, and
#: validation refuses it when KAITO creates the nodes.
RESERVED_LABEL_DOMAINS: tuple[tuple[str, str], ...] = (
    ("kubernetes.io", "Kubernetes"),
    ("k8s.io", "Kubernetes"),
    ("karpenter.sh", "Karpenter"),
    ("karpenter.k8s.aws", "Karpenter"),
    ("karpenter.azure.com", "Karpenter"),
    ("kaito.sh", "KAITO"),
    ("kaito.io", "KAITO"),
)


def reserved_label_owner(key: str) -> str | None:
    """Who owns the label `key` (``Kubernetes``, ``Karpenter``, ``KAITO``), None if nobody we
    know: ``node.kubernetes.io/x`` and ``karpenter.k8s.io/x`` belong to Kubernetes' domains,
    ``karpenter.kaito.sh/x`` to KAITO's.

    Pure: no I/O, no clock, no logging.
    """
    prefix, slash, _ = key.rpartition("/")
    if not slash:
        return None
    domain = prefix.lower()
    for reserved, owner in RESERVED_LABEL_DOMAINS:
        if domain == reserved or domain.endswith("." + reserved):
            if owner == "Kubernetes" and domain.startswith("karpenter."):
                return "Karpenter"
            return owner
    return None


def sanitized_match_labels(workspace: Workspace) -> dict[str, str]:
    """The user's matchLabels without KAITO's reserved keys, sorted by key."""
    labels = workspace.match_labels
    return {k: labels[k] for k in sorted(labels) if k not in RESERVED_LABEL_KEYS}


def node_labels(workspace: Workspace) -> dict[str, str]:
    """The user's matchLabels KAITO may put on nodes it creates: `sanitized_match_labels`
    without any key a reserved domain owns (`reserved_label_owner`), sorted by key.

    Pure: no I/O, no clock, no logging.
    """
    labels = sanitized_match_labels(workspace)
    return {k: v for k, v in labels.items() if reserved_label_owner(k) is None}


def owner_reference(workspace: Workspace) -> dict[str, Any]:
    """A controller owner reference to the Workspace (always the v1beta1 storage version)."""
    ref: dict[str, Any] = {
        "apiVersion": V1BETA1,
        "kind": "Workspace",
        "name": workspace.name,
        "uid": workspace.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return ref


def workload_labels(workspace: Workspace) -> dict[str, str]:
    """Pod-template and selector labels: the workspace label plus InferenceSet/MRI/role labels."""
    labels = {LABEL_WORKSPACE: workspace.name}
    for key in (LABEL_CREATED_BY_INFERENCESET, LABEL_CREATED_BY_MRI, LABEL_INFERENCE_ROLE):
        if key in workspace.labels:
            labels[key] = workspace.labels[key]
    return dict(sorted(labels.items()))


def child_metadata(
    workspace: Workspace,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Metadata of a namespaced child: name, namespace, labels, annotations, controller ownerRef."""
    meta: dict[str, Any] = {"name": name, "namespace": workspace.namespace}
    all_labels = {LABEL_WORKSPACE: workspace.name, **(labels or {})}
    meta["labels"] = dict(sorted(all_labels.items()))
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    meta["ownerReferences"] = [owner_reference(workspace)]
    return meta
