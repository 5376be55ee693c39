"""Least-privilege RBAC rules of the operator: explicit verbs per resource, no wildcard anywhere.

Cluster-wide (ClusterRole), because Workspaces live in any namespace:

===============================  ==========================================  =======================
resource                         verbs                                       why
===============================  ==========================================  =======================
workspaces (kaito.sh)            get list watch update patch                 informer, finalizers
workspaces/status                patch                                       status writes (apply)
workspaces/finalizers            update                                      blockOwnerDeletion
statefulsets,                    get list watch create update patch delete   owned workloads
controllerrevisions (apps)
jobs (batch)                     get list watch create update patch delete   tuning
services, configmaps             get list watch create update patch delete   owned objects
deployments (apps)               get list watch delete                       leftovers of old
                                                                             releases
pods, nodes                      get list watch                              readiness, BYO nodes
secrets                          get list watch                              a modelAccessSecret
                                                                             exists (data dropped)
events                           get create update patch                     Workspace events
nodeclaims (karpenter.sh)        get list watch, and with karpenter:         machines
                                 create patch delete
===============================  ==========================================  =======================

In the operator's namespace (Role): ``leases`` (``coordination.k8s.io``) ``create``, and
``get``/``update`` of the election Lease only (``resourceNames``). The engine watches NodeClaims
whatever the backend (an absent CRD reads as empty), hence read access everywhere. The verbs are
those `kaito_backends.kubernetes.KubernetesClient` sends (``apply`` is ``patch``), see
docs/kubernetes.md.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["Backend", "cluster_rules", "namespace_rules", "rules_have_wildcards"]

Backend = Literal["karpenter", "aks", "byo"]

_READ = ["get", "list", "watch"]
_OWN = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(group: str, resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(resources)}
    rule.update(extra)
    rule["verbs"] = list(verbs)
    return rule


def cluster_rules(backend: Backend) -> list[dict[str, Any]]:
    """The ClusterRole rules for ``backend``, in a fixed order."""
    rules = [
        _rule("kaito.sh", ["workspaces"], ["get", "list", "watch", "update", "patch"]),
        _rule("kaito.sh", ["workspaces/status"], ["patch"]),
        _rule("kaito.sh", ["workspaces/finalizers"], ["update"]),
        _rule("apps", ["statefulsets", "controllerrevisions"], _OWN),
        _rule("apps", ["deployments"], ["get", "list", "watch", "delete"]),
        _rule("batch", ["jobs"], _OWN),
        _rule("", ["services", "configmaps"], _OWN),
        _rule("", ["pods", "nodes"], _READ),
        _rule("", ["secrets"], _READ),
        _rule("", ["events"], ["get", "create", "update", "patch"]),
    ]
    if backend == "karpenter":
        rules.append(_rule("karpenter.sh", ["nodeclaims"], [*_READ, "create", "patch", "delete"]))
    else:
        rules.append(_rule("karpenter.sh", ["nodeclaims"], _READ))
    return rules


def namespace_rules(lease_name: str) -> list[dict[str, Any]]:
    """The Role rules in the operator's namespace: its election Lease."""
    return [
        _rule("coordination.k8s.io", ["leases"], ["create"]),
        _rule("coordination.k8s.io", ["leases"], ["get", "update"], resourceNames=[lease_name]),
    ]


def rules_have_wildcards(rules: list[dict[str, Any]]) -> bool:
    """True when any verb, group, resource, name or URL of the rules is (or contains) ``*``."""
    for rule in rules:
        for key in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            if any("*" in value for value in rule.get(key) or ()):
                return True
    return False
