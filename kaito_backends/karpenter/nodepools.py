"""The per-workspace static-capacity NodePool of the NodePool mode (controller.md §4).

Upstream's Karpenter provisioner makes one cluster-scoped ``karpenter.sh/v1`` NodePool per
Workspace and lets Karpenter create its NodeClaims. The planner renders NodeClaims (the
NodeClaim mode's currency); `node_pool_from_claims` turns them into that NodePool (for any
kind that makes NodeClaims: a RAGEngine's too):

- name `pool_name`: a Workspace's is `kaito_core.render.nodeclaims.node_pool_name`
  (``<namespace>-<name>``, hashed past 63, as before), another kind's
  ``<kind>.<namespace>.<name>`` (``ragengine.default.rag``, hashed past 63): namespaces and
  these kinds' names are DNS labels without dots, so it never equals a Workspace's pool, and a
  RAGEngine and a Workspace of one name get a NodePool each;
- labels ``karpenter.kaito.sh/managed-by=kaito`` and the owner's labels: a Workspace's
  ``karpenter.kaito.sh/workspace-name`` / ``-namespace``, another kind's
  `kaito_backends.objects.machine_labels` (``kaito.sh/ragengine`` / ``...namespace``);
- ``spec.replicas``: the number of claims (the provisioner never lowers a stored value);
- ``template.metadata.labels``: the claims' labels without ``karpenter.sh/nodepool`` (which
  Karpenter sets to the pool's name), plus the owner's labels;
- ``template.spec``: the node class (the claim's ``kaito.sh/node-class-name`` annotation, else
  the provisioner's default), ``node.kubernetes.io/instance-type In [<the claims' type>]``
  (plus ``karpenter.azure.com/placement-scope In [regional]`` for AKS node classes) and the
  claims' taints;
- ``disruption``: ``consolidateAfter: 0s`` and a budget of one node for ``Drifted``.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.errors import Invalid
from kaito_backends.objects import Key, Manifest, clone, machine_labels
from kaito_core.render.nodeclaims import (
    ANNOTATION_NODE_CLASS_NAME,
    LABEL_KARPENTER_MANAGED_BY,
    LABEL_KARPENTER_WORKSPACE_NAME,
    LABEL_KARPENTER_WORKSPACE_NAMESPACE,
    LABEL_NODEPOOL,
    node_pool_name,
)

__all__ = ["NODEPOOL_API", "NodeClass", "instance_type_of", "node_pool_from_claims", "pool_name"]

NODEPOOL_API = "karpenter.sh/v1"
_LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_LABEL_PLACEMENT_SCOPE = "karpenter.azure.com/placement-scope"
_AKS_GROUP = "karpenter.azure.com"
_MAX_NAME_LEN = 63
_HASH_LEN = 9


def pool_name(key: Key) -> str:
    """The NodePool of ``key`` (see the module docstring): ``default-phi`` for Workspace
    default/phi, ``ragengine.default.phi`` for RAGEngine default/phi.

    Pure: no I/O, no clock, no logging.
    """
    if key.kind == "Workspace":
        return node_pool_name(key.namespace, key.name)
    full = f"{key.kind.lower()}.{key.namespace}.{key.name}"
    if len(full) <= _MAX_NAME_LEN:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH_LEN]
    return f"{full[: _MAX_NAME_LEN - 1 - _HASH_LEN].rstrip('-.')}-{digest}"


def _owner_labels(key: Key) -> dict[str, str]:
    if key.kind == "Workspace":
        return {
            LABEL_KARPENTER_WORKSPACE_NAME: key.name,
            LABEL_KARPENTER_WORKSPACE_NAMESPACE: key.namespace,
        }
    return machine_labels(key)


@attrs.frozen(kw_only=True)
class NodeClass:
    """The ``nodeClassRef`` NodePools point at (AKS' ``AKSNodeClass/default`` unless told)."""

    group: str = _AKS_GROUP
    kind: str = "AKSNodeClass"
    name: str = "default"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def instance_type_of(claim: Mapping[str, Any]) -> str | None:
    """The instance type a NodeClaim asks for (its ``node.kubernetes.io/instance-type In``)."""
    for requirement in (claim.get("spec") or {}).get("requirements") or ():
        if requirement.get("key") == _LABEL_INSTANCE_TYPE and requirement.get("operator") == "In":
            values = requirement.get("values") or ()
            if values:
                return str(values[0])
    return None


def node_pool_from_claims(
    key: Key,
    claims: Sequence[Mapping[str, Any]],
    *,
    node_class: NodeClass | None = None,
    replicas: int | None = None,
) -> Manifest:
    """The NodePool standing for ``claims`` (see the module docstring).

    ``replicas`` defaults to ``len(claims)``. Raises `Invalid` when there is no claim or the
    claims ask for no instance type or for several.

    Pure: no I/O, no clock, no logging.
    """
    if not claims:
        raise Invalid(f"workspace {key}: a NodePool needs at least one NodeClaim to copy")
    types = {instance_type_of(c) for c in claims}
    if None in types or len(types) != 1:
        raise Invalid(f"workspace {key}: NodeClaims must ask for one instance type, got {types}")
    instance_type = str(types.pop())
    node_class = node_class or NodeClass()
    first = claims[0]
    owner_labels = _owner_labels(key)
    claim_labels = {k: str(v) for k, v in (_meta(first).get("labels") or {}).items()}
    claim_labels.pop(LABEL_NODEPOOL, None)
    template_labels = {**claim_labels, **owner_labels}
    class_name = (_meta(first).get("annotations") or {}).get(ANNOTATION_NODE_CLASS_NAME)
    requirements = [{"key": _LABEL_INSTANCE_TYPE, "operator": "In", "values": [instance_type]}]
    if node_class.group == _AKS_GROUP:
        requirements.append(
            {"key": _LABEL_PLACEMENT_SCOPE, "operator": "In", "values": ["regional"]}
        )
    taints = clone((first.get("spec") or {}).get("taints") or [])
    count = len(claims) if replicas is None else replicas
    return {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {
            "name": pool_name(key),
            "labels": dict(sorted({LABEL_KARPENTER_MANAGED_BY: "kaito", **owner_labels}.items())),
        },
        "spec": {
            "replicas": max(0, count),
            "template": {
                "metadata": {"labels": dict(sorted(template_labels.items()))},
                "spec": {
                    "nodeClassRef": {
                        "group": node_class.group,
                        "kind": node_class.kind,
                        "name": str(class_name or node_class.name),
                    },
                    "requirements": sorted(requirements, key=lambda r: str(r["key"])),
                    "taints": taints,
                },
            },
            "disruption": {
                "consolidateAfter": "0s",
                "budgets": [{"nodes": "1", "reasons": ["Drifted"]}],
            },
        },
    }
