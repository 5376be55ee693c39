"""Karpenter NodeClaims (one per GPU node) and the per-workspace NodePool.

Pure: no I/O, no clock, no logging.

Two provisioning shapes exist upstream (controller.md §3.5, §4):

- **NodeClaims** (gpu-provisioner path): one cluster-scoped ``karpenter.sh/v1`` NodeClaim per node,
  labelled with the fake NodePool ``kaito`` so Karpenter itself never scales them. Upstream names
  each claim ``ws`` + 9 hex of sha256(namespace + name + *now*), so desired state is not a function
  of the Workspace. We hash ``<namespace>/<name>`` only and append the node index: claim ``i``
  keeps its name forever, and planning twice gives the same claims.
- **NodePool** (karpenter path): one static-capacity NodePool per workspace; Karpenter makes the
  NodeClaims. Its name is ``<namespace>-<name>``, shortened with a hash suffix past 63 characters
  (it becomes the ``karpenter.sh/nodepool`` label value of every node, so 63 is a hard limit).

Neither object gets an owner reference: both are cluster-scoped and the Workspace is namespaced,
which Kubernetes' garbage collector rejects. The finalizer releases them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from kaito_core.api.types import Workspace
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest
from kaito_core.render.context import RenderContext
from kaito_core.render.meta import (
    LABEL_CREATED_BY_INFERENCESET,
    LABEL_WORKSPACE,
    LABEL_WORKSPACE_NAMESPACE,
    node_labels,
)

__all__ = [
    "ANNOTATION_DO_NOT_DISRUPT",
    "ANNOTATION_NODE_CLASS_NAME",
    "ANNOTATION_NODE_IMAGE_FAMILY",
    "DEFAULT_DISK_GIB",
    "KAITO_NODEPOOL",
    "LABEL_KARPENTER_MANAGED_BY",
    "LABEL_KARPENTER_WORKSPACE_NAME",
    "LABEL_KARPENTER_WORKSPACE_NAMESPACE",
    "LABEL_NODEPOOL",
    "NODE_IMAGE_FAMILIES",
    "claim_manifest",
    "node_claim_names",
    "node_claims",
    "node_disk_gib",
    "node_image_family",
    "node_pool",
    "node_pool_name",
]

LABEL_NODEPOOL = "karpenter.sh/nodepool"
#: The fake NodePool NodeClaims point at, so Karpenter neither scales nor consolidates them.
KAITO_NODEPOOL = "kaito"
ANNOTATION_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
ANNOTATION_NODE_IMAGE_FAMILY = "kaito.sh/node-image-family"
ANNOTATION_NODE_CLASS_NAME = "kaito.sh/node-class-name"
NODE_IMAGE_FAMILIES = ("azurelinux", "ubuntu")
DEFAULT_NODE_IMAGE_FAMILY = "ubuntu"
#: OS disk of a node when the workspace has no preset (template inference).
DEFAULT_DISK_GIB = 1024

LABEL_KARPENTER_MANAGED_BY = "karpenter.kaito.sh/managed-by"
LABEL_KARPENTER_WORKSPACE_NAME = "karpenter.kaito.sh/workspace-name"
LABEL_KARPENTER_WORKSPACE_NAMESPACE = "karpenter.kaito.sh/workspace-namespace"
LABEL_KARPENTER_INFERENCESET = "karpenter.kaito.sh/inferenceset"
LABEL_KARPENTER_INFERENCESET_NAMESPACE = "karpenter.kaito.sh/inferenceset-namespace"

_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_LABEL_OS = "kubernetes.io/os"
_LABEL_AZURE_SKU = "karpenter.azure.com/sku-name"
_LABEL_AZURE_PLACEMENT_SCOPE = "karpenter.azure.com/placement-scope"
_LABEL_AWS_GPU_COUNT = "karpenter.k8s.aws/instance-gpu-count"

#: ``nodeClassRef`` of a NodeClaim per cloud. Upstream leaves kind and group empty for any other
#: cloud, which the NodeClaim CRD's CEL rules reject; we fall back to KAITO's own node class.
_CLAIM_NODE_CLASSES = {
    "azure": ("kaito.sh", "KaitoNodeClass"),
    "aws": ("karpenter.k8s.aws", "EC2NodeClass"),
}
_NODE_CLASS_NAME = "default"

_NAME_HASH_LEN = 9
_MAX_NAME_LEN = 63


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_NAME_HASH_LEN]


def node_claim_names(workspace: Workspace, count: int) -> list[str]:
    """Names of the workspace's first `count` NodeClaims: ``ws<9 hex>-<index>``.

    Pure: no I/O, no clock, no logging.

    The hash is over ``<namespace>/<name>``, so names are unique per workspace, at most 24
    characters, DNS-valid, and stable as the count grows (claim ``i`` keeps its name).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    stem = "ws" + _short_hash(f"{workspace.namespace}/{workspace.name}")
    return [f"{stem}-{index}" for index in range(count)]


def _supported_family(value: object) -> str | None:
    if isinstance(value, str) and value.strip().lower() in NODE_IMAGE_FAMILIES:
        return value.strip().lower()
    return None


def node_image_family(annotations: Mapping[str, str], *, default: str | None = None) -> str | None:
    """The node image family, as upstream decides it: the workspace annotation if valid; else
    ``ubuntu`` when no `default` is set (None or empty), `default` when it is valid, and None (no
    annotation on the NodeClaim: the NodeClass decides) when `default` is set but unsupported.
    Values are compared case- and space-insensitively and written lower-cased.

    Pure: no I/O, no clock, no logging.
    """
    chosen = _supported_family(annotations.get(ANNOTATION_NODE_IMAGE_FAMILY))
    if chosen is not None:
        return chosen
    if not default:
        return DEFAULT_NODE_IMAGE_FAMILY
    return _supported_family(default)


def node_disk_gib(ctx: RenderContext) -> int:
    """OS-disk size a node needs: the model disk of an inference preset, else 1024 GiB.

    As upstream (``determineNodeOSDiskSize``): only an inference preset sizes the disk, so tuning
    nodes get the 1024 GiB default; they hold the tuning image, the base weights, the dataset and
    checkpoints, none of which the preset's tuning disk bounds.

    Pure: no I/O, no clock, no logging.
    """
    model = ctx.model
    if model is None or ctx.workspace.inference is None:
        return DEFAULT_DISK_GIB
    return int(model.disk_gib)


def _instance_type(ctx: RenderContext) -> str:
    resource = ctx.workspace.resource
    instance_type = resource.instance_type if resource is not None else None
    if not instance_type and ctx.gpu is not None:
        instance_type = getattr(ctx.gpu, "sku", None)
    if not instance_type:
        raise SpecError(
            "an instance type is required to provision GPU nodes",
            path="spec.resource.instanceType",
            reason="InstanceTypeRequired",
        )
    return str(instance_type)


def _requirement(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


def _claim_requirements(instance_type: str, cloud: str) -> list[dict[str, Any]]:
    requirements = [
        _requirement(LABEL_NODEPOOL, "In", KAITO_NODEPOOL),
        _requirement(_LABEL_INSTANCE_TYPE, "In", instance_type),
        _requirement(_LABEL_OS, "In", "linux"),
    ]
    if cloud == "azure":
        requirements.append(_requirement(_LABEL_AZURE_SKU, "In", instance_type))
    elif cloud == "aws":
        requirements.append(_requirement(_LABEL_AWS_GPU_COUNT, "Gt", "0"))
    return sorted(requirements, key=lambda r: str(r["key"]))


def _gpu_taint() -> dict[str, str]:
    return {"key": "sku", "value": "gpu", "effect": "NoSchedule"}


def node_claims(ctx: RenderContext, *, default_image_family: str | None = None) -> list[Manifest]:
    """The NodeClaims of a workspace, one per node of ``ctx.node_count`` (none for BYO).

    Pure: no I/O, no clock, no logging.

    `default_image_family` is the operator's ``--default-node-image-family``.
    """
    if ctx.provisioner == "byo" or ctx.node_count <= 0:
        return []
    workspace = ctx.workspace
    instance_type = _instance_type(ctx)
    labels = {
        **node_labels(workspace),  # never a Kubernetes/Karpenter/KAITO key: ours win anyway
        LABEL_NODEPOOL: KAITO_NODEPOOL,
        LABEL_WORKSPACE: workspace.name,
        LABEL_WORKSPACE_NAMESPACE: workspace.namespace,
    }
    annotations = {ANNOTATION_DO_NOT_DISRUPT: "true"}
    family = node_image_family(workspace.annotations, default=default_image_family)
    if family is not None:
        annotations[ANNOTATION_NODE_IMAGE_FAMILY] = family
    return [
        claim_manifest(
            name=name,
            labels=labels,
            annotations=annotations,
            instance_type=instance_type,
            cloud=ctx.cloud,
            disk_gib=node_disk_gib(ctx),
        )
        for name in node_claim_names(workspace, ctx.node_count)
    ]


def claim_manifest(
    *,
    name: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    instance_type: str,
    cloud: str,
    disk_gib: int,
) -> Manifest:
    """One ``karpenter.sh/v1`` NodeClaim in KAITO's shape: the fake NodePool ``kaito``, the
    cloud's node class, the instance type, Linux, an OS disk of `disk_gib` GiB and the
    ``sku=gpu:NoSchedule`` taint. `labels` and `annotations` are written sorted.

    Pure: no I/O, no clock, no logging.
    """
    group, kind = _CLAIM_NODE_CLASSES.get(cloud, _CLAIM_NODE_CLASSES["azure"])
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": {
            "nodeClassRef": {"group": group, "kind": kind, "name": _NODE_CLASS_NAME},
            "requirements": _claim_requirements(instance_type, cloud),
            "resources": {"requests": {"storage": f"{disk_gib}Gi"}},
            "taints": [_gpu_taint()],
        },
    }


def node_pool_name(namespace: str, name: str) -> str:
    """``<namespace>-<name>``; past 63 characters, its first 53 + ``-`` + 9 hex of its sha256.

    Pure: no I/O, no clock, no logging.
    """
    full = f"{namespace}-{name}"
    if len(full) <= _MAX_NAME_LEN:
        return full
    keep = _MAX_NAME_LEN - 1 - _NAME_HASH_LEN
    return f"{full[:keep].rstrip('-.')}-{_short_hash(full)}"


def node_pool(
    ctx: RenderContext,
    *,
    replicas: int | None = None,
    node_class_group: str = "karpenter.azure.com",
    node_class_kind: str = "AKSNodeClass",
    default_node_class: str = "default",
) -> Manifest:
    """The static-capacity Karpenter NodePool of one workspace (karpenter provisioner mode).

    Pure: no I/O, no clock, no logging.

    `replicas` defaults to ``ctx.node_count``; the backend passes ``target - covered`` (BYO and
    legacy nodes already serving the workspace) and never lowers it. The node class comes from
    the ``kaito.sh/node-class-name`` annotation, else `default_node_class`. Template labels carry
    both the ``karpenter.kaito.sh/workspace-*`` keys upstream uses and the ``kaito.sh/workspace*``
    keys our pod affinity selects on, so either selector finds the nodes.
    """
    workspace = ctx.workspace
    instance_type = _instance_type(ctx)
    created_by = workspace.labels.get(LABEL_CREATED_BY_INFERENCESET)
    owner_labels = {
        LABEL_KARPENTER_WORKSPACE_NAME: workspace.name,
        LABEL_KARPENTER_WORKSPACE_NAMESPACE: workspace.namespace,
    }
    if created_by:
        owner_labels[LABEL_KARPENTER_INFERENCESET] = created_by
        owner_labels[LABEL_KARPENTER_INFERENCESET_NAMESPACE] = workspace.namespace
    pool_labels = {LABEL_KARPENTER_MANAGED_BY: "kaito", **owner_labels}
    template_labels = {
        **node_labels(workspace),
        **owner_labels,
        LABEL_WORKSPACE: workspace.name,
        LABEL_WORKSPACE_NAMESPACE: workspace.namespace,
    }
    node_class = workspace.annotations.get(ANNOTATION_NODE_CLASS_NAME) or default_node_class
    requirements = [_requirement(_LABEL_INSTANCE_TYPE, "In", instance_type)]
    if node_class_group == "karpenter.azure.com":
        requirements.append(_requirement(_LABEL_AZURE_PLACEMENT_SCOPE, "In", "regional"))
    count = ctx.node_count if replicas is None else replicas
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {
            "name": node_pool_name(workspace.namespace, workspace.name),
            "labels": dict(sorted(pool_labels.items())),
        },
        "spec": {
            "replicas": max(0, count),
            "template": {
                "metadata": {"labels": dict(sorted(template_labels.items()))},
                "spec": {
                    "nodeClassRef": {
                        "group": node_class_group,
                        "kind": node_class_kind,
                        "name": node_class,
                    },
                    "requirements": sorted(requirements, key=lambda r: str(r["key"])),
                    "taints": [_gpu_taint()],
                },
            },
            "disruption": {
                "consolidateAfter": "0s",
                "budgets": [{"nodes": "0" if created_by else "1", "reasons": ["Drifted"]}],
            },
        },
    }
