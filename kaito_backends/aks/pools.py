"""The agent pool a Workspace's NodeClaims ask for, and the ARM body that makes it.

`desired_pool` turns the NodeClaims the planner rendered (all of one instance type) into a
`PoolSpec`: ``vmSize`` from the ``node.kubernetes.io/instance-type`` requirement, ``count`` = the
number of claims, the OS disk from the largest ``spec.resources.requests.storage``, the claims'
labels as node labels (minus the prefixes AKS reserves or that belong to Karpenter), their taints
(``sku=gpu:NoSchedule`` always) and the node image family annotation as ``osSKU``. The claim
names go into a pool tag, so `claim_names` can give them back after an engine restart.

`pool_body` is the PUT body (the existing pool's settable fields kept, ours laid over them);
`needs_update` says whether an existing pool differs from a spec in anything we may change.
These functions do no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.aks.naming import (
    TAG_CLAIM_STEM,
    TAG_CLAIMS,
    TAG_KIND,
    TAG_MANAGED_BY,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_WORKSPACE,
    TAG_WORKSPACE_NAMESPACE,
    owner_tags,
)
from kaito_backends.errors import Invalid
from kaito_backends.objects import Key, Manifest, WorkspaceKey, machine_labels

__all__ = [
    "GPU_TAINT",
    "MAX_OS_DISK_GB",
    "MIN_OS_DISK_GB",
    "PoolSpec",
    "claim_names",
    "desired_pool",
    "disk_gib",
    "instance_type",
    "needs_update",
    "owner_of",
    "pool_body",
]

LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
GPU_TAINT = "sku=gpu:NoSchedule"
#: AKS accepts OS disks of 30 to 2048 GB.
MIN_OS_DISK_GB = 30
MAX_OS_DISK_GB = 2048
_INSTANCE_TYPE_KEYS = ("node.kubernetes.io/instance-type", "karpenter.azure.com/sku-name")
#: Label prefixes AKS rejects in nodeLabels, or that only mean something to Karpenter.
_DROPPED_LABEL_PREFIXES = (
    "karpenter.sh/",
    "karpenter.azure.com/",
    "karpenter.k8s.aws/",
    "kubernetes.azure.com/",
    "kubernetes.io/",
    "node.kubernetes.io/",
    "node-role.kubernetes.io/",
    "topology.kubernetes.io/",
)
_IMAGE_FAMILY_ANNOTATION = "kaito.sh/node-image-family"
_OS_SKUS = {"ubuntu": "Ubuntu", "azurelinux": "AzureLinux"}
_MAX_TAG_VALUE = 256
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]i?|k|)\s*$")
_FACTORS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
#: The fields of an agent pool we own; everything else of an existing pool is kept as it is.
_OWNED_FIELDS = ("count", "nodeLabels", "nodeTaints", "tags")
#: Read-only fields of an agent pool, never sent back in a PUT.
_READONLY_FIELDS = (
    "provisioningState",
    "status",
    "currentOrchestratorVersion",
    "nodeImageVersion",
    "eTag",
)


@attrs.frozen(kw_only=True)
class PoolSpec:
    """What a Workspace's agent pool must look like."""

    name: str
    vm_size: str
    count: int
    os_disk_gb: int | None
    os_sku: str | None
    node_labels: Mapping[str, str]
    node_taints: tuple[str, ...]
    claim_names: tuple[str, ...]
    tags: Mapping[str, str]


def instance_type(claim: Mapping[str, Any]) -> str:
    """The instance type a NodeClaim asks for (requirement, else label); ``""`` if none."""
    for req in (claim.get("spec") or {}).get("requirements") or ():
        if req.get("key") in _INSTANCE_TYPE_KEYS and req.get("values"):
            return str(req["values"][0])
    labels = (claim.get("metadata") or {}).get("labels") or {}
    return str(labels.get(_INSTANCE_TYPE_KEYS[0], ""))


def disk_gib(quantity: Any) -> int | None:
    """A Kubernetes quantity (``1024Gi``, ``500G``, ``1Ti``) in whole GiB, rounded up."""
    if quantity is None:
        return None
    match = _QUANTITY.match(str(quantity))
    if match is None:
        raise Invalid(f"storage request {quantity!r} is not a quantity")
    value = float(match.group(1)) * _FACTORS[match.group(2)]
    return max(1, math.ceil(value / 2**30))


def _taint_text(taint: Mapping[str, Any]) -> str:
    key, value, effect = taint.get("key", ""), taint.get("value", ""), taint.get("effect", "")
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def _kept_label(key: str) -> bool:
    return not key.startswith(_DROPPED_LABEL_PREFIXES)


def _claim_tags(names: Sequence[str]) -> dict[str, str]:
    if not names:
        return {}
    stem = names[0].rpartition("-")[0]
    if stem and list(names) == [f"{stem}-{i}" for i in range(len(names))]:
        return {TAG_CLAIM_STEM: stem}
    joined = ",".join(names)
    if len(joined) > _MAX_TAG_VALUE or any("," in n for n in names):
        raise Invalid(
            "NodeClaim names must be <stem>-0 ... <stem>-<n-1>, or fit in one 256-character "
            f"Azure tag: {joined[:80]}..."
        )
    return {TAG_CLAIMS: joined}


def desired_pool(key: Key, claims: Sequence[Manifest], *, name: str) -> PoolSpec | None:
    """The pool that serves these NodeClaims; None when there are none (no pool at all).

    Raises `Invalid` for a claim without a name or an instance type, or claims asking for
    different instance types (one pool has one VM size).
    """
    if not claims:
        return None
    sizes: set[str] = set()
    names: list[str] = []
    labels: dict[str, str] = {}
    taints: set[str] = {GPU_TAINT}
    disks: list[int] = []
    os_sku = None
    for claim in claims:
        meta = claim.get("metadata") or {}
        if not meta.get("name"):
            raise Invalid("a NodeClaim to provision needs metadata.name")
        names.append(str(meta["name"]))
        size = instance_type(claim)
        if not size:
            raise Invalid(f"NodeClaim {meta['name']} names no instance type")
        sizes.add(size)
        labels.update({k: str(v) for k, v in (meta.get("labels") or {}).items() if _kept_label(k)})
        spec = claim.get("spec") or {}
        taints.update(_taint_text(t) for t in spec.get("taints") or ())
        storage = disk_gib(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        if storage is not None:
            disks.append(storage)
        family = str((meta.get("annotations") or {}).get(_IMAGE_FAMILY_ANNOTATION, "")).lower()
        os_sku = _OS_SKUS.get(family, os_sku)
    if len({s.lower() for s in sizes}) > 1:
        raise Invalid(f"one agent pool has one VM size; the NodeClaims ask for {sorted(sizes)}")
    if len(set(names)) != len(names):
        raise Invalid(f"NodeClaim names repeat: {sorted(names)}")
    labels.update(machine_labels(key))
    disk = min(MAX_OS_DISK_GB, max(MIN_OS_DISK_GB, max(disks))) if disks else None
    tags = {TAG_MANAGED_BY: "kaito", **owner_tags(key), **_claim_tags(names)}
    return PoolSpec(
        name=name,
        vm_size=sizes.pop(),
        count=len(claims),
        os_disk_gb=disk,
        os_sku=os_sku,
        node_labels=dict(sorted(labels.items())),
        node_taints=tuple(sorted(taints)),
        claim_names=tuple(names),
        tags=dict(sorted(tags.items())),
    )


def _properties(pool: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if pool is None:
        return {}
    props: Mapping[str, Any] = pool.get("properties") or {}
    return props


def pool_body(spec: PoolSpec, existing: Mapping[str, Any] | None = None) -> Manifest:
    """The PUT body for `spec`: a new User pool, or `existing`'s settable fields with ours laid
    over them (immutable ones, such as the OS disk, stay as they are)."""
    if existing is not None:
        props = {k: v for k, v in _properties(existing).items() if k not in _READONLY_FIELDS}
    else:
        props = {
            "vmSize": spec.vm_size,
            "mode": "User",
            "osType": "Linux",
            "type": "VirtualMachineScaleSets",
            "enableAutoScaling": False,
        }
        if spec.os_disk_gb is not None:
            props["osDiskSizeGB"] = spec.os_disk_gb
        if spec.os_sku is not None:
            props["osSKU"] = spec.os_sku
    props.update(
        count=spec.count,
        nodeLabels=dict(spec.node_labels),
        nodeTaints=list(spec.node_taints),
        tags={**(props.get("tags") or {}), **spec.tags},
    )
    if TAG_CLAIM_STEM in spec.tags:
        props["tags"].pop(TAG_CLAIMS, None)
    elif TAG_CLAIMS in spec.tags:
        props["tags"].pop(TAG_CLAIM_STEM, None)
    return {"properties": props}


def needs_update(existing: Mapping[str, Any], spec: PoolSpec) -> bool:
    """True when the pool's count, node labels, taints or our tags differ from `spec`."""
    props = _properties(existing)
    if props.get("count") != spec.count:
        return True
    if dict(props.get("nodeLabels") or {}) != dict(spec.node_labels):
        return True
    if sorted(props.get("nodeTaints") or ()) != list(spec.node_taints):
        return True
    tags = props.get("tags") or {}
    return any(tags.get(k) != v for k, v in spec.tags.items())


def owner_of(pool: Mapping[str, Any]) -> Key | None:
    """The object a pool's tags say it serves (a Workspace without a kind tag), or None (not a
    pool of ours)."""
    tags = _properties(pool).get("tags") or {}
    kind = tags.get(TAG_KIND)
    if kind:
        name, namespace = tags.get(TAG_NAME), tags.get(TAG_NAMESPACE)
        if not name or not namespace:
            return None
        return Key(str(kind), str(namespace), str(name))
    name, namespace = tags.get(TAG_WORKSPACE), tags.get(TAG_WORKSPACE_NAMESPACE)
    if not name or not namespace:
        return None
    return WorkspaceKey(str(namespace), str(name))


def claim_names(pool: Mapping[str, Any]) -> list[str]:
    """The NodeClaim names of a pool, one per node of its ``count``: from its tags, padded with
    ``<pool>-<index>`` when the count grew behind our back."""
    props = _properties(pool)
    count = int(props.get("count") or 0)
    tags = props.get("tags") or {}
    stem = tags.get(TAG_CLAIM_STEM)
    if stem:
        return [f"{stem}-{i}" for i in range(count)]
    names = [n for n in str(tags.get(TAG_CLAIMS) or "").split(",") if n][:count]
    pool_name = str(pool.get("name") or "pool")
    taken = set(names)
    index = 0
    while len(names) < count:
        candidate = f"{pool_name}-{index}"
        index += 1
        if candidate not in taken:
            names.append(candidate)
    return names
