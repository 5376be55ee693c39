"""Least-privilege RBAC rules of the operator: explicit verbs per resource, no wildcard anywhere.

The rules of the kinds come from the kind registry (`kaito_core.kinds.Registry`, `kind_rules`):
each registered kind gets read, update and patch (finalizers), ``/status`` patch and
``/finalizers`` update; the child kinds they own get full verbs when a planner creates them,
else list, watch and delete only (plus create and delete on a registered kind another one owns,
as an InferenceSet its Workspaces). For the default registry (Workspace, InferenceSet,
RAGEngine) the table below; with ``--keda-scaled-objects``
(`kaito_backends.kinds.inferenceset.with_keda`) the InferenceSet also owns KEDA ScaledObjects,
and ``scaledobjects`` (``keda.sh``) gets full verbs.
Each rule is granted for a reason (the verbs are those `kaito_backends.kubernetes.KubernetesClient`
sends: ``apply`` is ``patch``, plus ``create`` when it creates; docs/security.md explains each):

===============================  ==========================================  =======================
resource                         verbs                                       why
===============================  ==========================================  =======================
workspaces (kaito.sh)            get list watch create update patch delete   informer, finalizers;
                                                                             an InferenceSet's
                                                                             replicas
workspaces/status                patch                                       status writes
workspaces/finalizers            update                                      blockOwnerDeletion
inferencesets (kaito.sh)         get list watch update patch                 informer, finalizers
inferencesets/status             patch                                       status writes
inferencesets/finalizers         update                                      blockOwnerDeletion
ragengines (kaito.sh), /status,  as for inferencesets                        the same, for
/finalizers                                                                  RAGEngines
statefulsets, deployments,       get list watch create update patch delete   owned workloads (a
controllerrevisions (apps)                                                   RAGEngine's RAG
                                                                             service Deployment)
jobs (batch)                     get list watch create update patch delete   tuning
services, configmaps             get list watch create update patch delete   owned objects; a
                                                                             RAGEngine reads the
                                                                             Service its URL names
                                                                             (any namespace)
pods                             list watch                                  readiness
nodes                            get list watch                              readiness, BYO nodes
secrets                          list watch                                  metadata only: that a
                                                                             Secret exists
events                           get list create update patch delete         Events of every kind;
                                                                             deleted (listed by
                                                                             involvedObject.uid)
                                                                             when their object is:
                                                                             no GC for Events
nodeclaims (karpenter.sh)        get list watch, and with karpenter:         machines
                                 create patch delete
nodepools (karpenter.sh)         get create patch delete, with karpenter     one NodePool per
                                 ``--karpenter-mode nodepool`` only          Workspace
===============================  ==========================================  =======================

Cluster-wide by default (`cluster_rules`: one ClusterRole, because Workspaces live in any
namespace). With a namespace scope (``kaito manifests --namespace-scope NS``, which also passes
``--namespace-scope NS`` to the operator), the rules of namespaced resources go into a Role in
that namespace (`namespaced_rules`) and the ClusterRole keeps only the cluster-scoped ones
(Nodes, NodeClaims). In the operator's own namespace a Role (`namespace_rules`) allows
``leases`` (``coordination.k8s.io``) ``create``, and ``get``/``update`` of the election Lease
only (``resourceNames``).

Secrets are read as ``PartialObjectMetadata`` (their data is never requested), but RBAC cannot
say "metadata only": ``list``/``watch`` on secrets would let a compromised operator read data.
``get`` is not granted, and ``--namespace-scope`` confines the grant to one namespace.
`allows` evaluates rules as the RBAC authorizer does, for tests and audits.

With the self-signed webhook certificate (the manifests' default), two more rules, each naming
its objects (`certificate_namespace_rules`, `certificate_cluster_rules`): ``get``/``update``
of the Secret ``<name>-webhook-cert`` in the operator's namespace (the manifests create it
empty; the operator fills it), and of the registered kinds' ValidatingWebhookConfigurations
(``validation.workspace.kaito.sh``: their ``caBundle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from kaito_backends.objects import group_of, resource_of
from kaito_core.kinds import Registry
from kaito_core.registry import default_registry

__all__ = [
    "Backend",
    "allows",
    "certificate_cluster_rules",
    "certificate_namespace_rules",
    "cluster_rules",
    "kind_rules",
    "namespace_rules",
    "namespaced_rules",
    "rules_have_wildcards",
]

Backend = Literal["karpenter", "aks", "byo"]

_READ = ["get", "list", "watch"]
_OWN = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(group: str, resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(resources)}
    rule.update(extra)
    rule["verbs"] = list(verbs)
    return rule


def kind_rules(registry: Registry | None = None) -> list[dict[str, Any]]:
    """The rules the registered kinds and their child kinds need (see the module docstring):
    the kinds in registry order, then the children by API group (core last), full verbs first.
    """
    registry = registry if registry is not None else default_registry()
    made = {ref.kind for spec in registry for ref in spec.owns if ref.creates}
    rules: list[dict[str, Any]] = []
    for spec in registry:
        verbs = _OWN if spec.kind in made else ["get", "list", "watch", "update", "patch"]
        rules.append(_rule(spec.group, [spec.plural], verbs))
        rules.append(_rule(spec.group, [f"{spec.plural}/status"], ["patch"]))
        rules.append(_rule(spec.group, [f"{spec.plural}/finalizers"], ["update"]))
    grouped: dict[tuple[str, bool], list[str]] = {}
    for ref in registry.child_kinds():
        creates = ref.kind in made
        plural = resource_of(ref.api_version, ref.kind).split(".")[0]
        grouped.setdefault((group_of(ref.api_version), creates), []).append(plural)
    for (group, creates), plurals in sorted(
        grouped.items(), key=lambda item: (item[0][0] == "", item[0][0], not item[0][1])
    ):
        rules.append(_rule(group, plurals, _OWN if creates else ["list", "watch", "delete"]))
    return rules


def namespaced_rules(registry: Registry | None = None) -> list[dict[str, Any]]:
    """The rules of namespaced resources (the same for every backend), in a fixed order: the
    registered kinds' (`kind_rules`), then what the engine reads."""
    return [
        *kind_rules(registry),
        _rule("", ["pods"], ["list", "watch"]),
        _rule("", ["secrets"], ["list", "watch"]),
        _rule("", ["events"], ["get", "list", "create", "update", "patch", "delete"]),
    ]


def _cluster_scoped_rules(backend: Backend, karpenter_mode: str) -> list[dict[str, Any]]:
    claims = [*_READ, "create", "patch", "delete"] if backend == "karpenter" else _READ
    rules = [_rule("", ["nodes"], _READ), _rule("karpenter.sh", ["nodeclaims"], claims)]
    if backend == "karpenter" and karpenter_mode == "nodepool":
        rules.append(_rule("karpenter.sh", ["nodepools"], ["get", "create", "patch", "delete"]))
    return rules


def cluster_rules(
    backend: Backend,
    registry: Registry | None = None,
    *,
    namespace_scoped: bool = False,
    karpenter_mode: str = "nodeclaim",
) -> list[dict[str, Any]]:
    """The ClusterRole rules for ``backend`` and the registered kinds, in a fixed order: every
    rule, or with ``namespace_scoped`` only those of cluster-scoped resources (the rest go in a
    Role). ``karpenter_mode`` ``nodepool`` adds NodePools (the karpenter backend only)."""
    if karpenter_mode not in ("nodeclaim", "nodepool"):
        raise ValueError(f"karpenter mode must be nodeclaim or nodepool, not {karpenter_mode!r}")
    scoped = _cluster_scoped_rules(backend, karpenter_mode)
    return scoped if namespace_scoped else [*namespaced_rules(registry), *scoped]


def namespace_rules(lease_name: str) -> list[dict[str, Any]]:
    """The Role rules in the operator's namespace: its election Lease."""
    return [
        _rule("coordination.k8s.io", ["leases"], ["create"]),
        _rule("coordination.k8s.io", ["leases"], ["get", "update"], resourceNames=[lease_name]),
    ]


def allows(
    rules: list[dict[str, Any]], *, verb: str, group: str, resource: str, name: str = ""
) -> bool:
    """Whether ``rules`` grant ``verb`` on ``resource`` (``plural`` or ``plural/subresource``)
    of ``group``, for the object ``name`` (``resourceNames`` rules need one), as Kubernetes'
    RBAC authorizer decides it (wildcards included)."""
    for rule in rules:
        if not _has(rule.get("verbs"), verb) or not _has(rule.get("apiGroups"), group):
            continue
        if not _has(rule.get("resources"), resource):
            continue
        names = rule.get("resourceNames") or ()
        if names and name not in names:
            continue
        return True
    return False


def _has(values: Any, wanted: str) -> bool:
    return any(v == "*" or v == wanted for v in values or ())


def rules_have_wildcards(rules: list[dict[str, Any]]) -> bool:
    """True when any verb, group, resource, name or URL of the rules is (or contains) ``*``."""
    for rule in rules:
        for key in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            if any("*" in value for value in rule.get(key) or ()):
                return True
    return False


def certificate_namespace_rules(secret: str | None) -> list[dict[str, Any]]:
    """With a self-signed webhook certificate (``secret``, else none): get and update of that
    one Secret in the operator's namespace (the manifests create it empty)."""
    if not secret:
        return []
    return [_rule("", ["secrets"], ["get", "update"], resourceNames=[secret])]


def certificate_cluster_rules(configurations: Sequence[str]) -> list[dict[str, Any]]:
    """With a self-signed webhook certificate: get and update of the webhook configurations
    ``configurations`` (none: no rule), to put the CA into their ``caBundle``."""
    if not configurations:
        return []
    return [
        _rule(
            "admissionregistration.k8s.io",
            ["validatingwebhookconfigurations"],
            ["get", "update"],
            resourceNames=list(configurations),
        )
    ]
