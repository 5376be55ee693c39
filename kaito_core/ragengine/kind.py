"""What the shared machinery must know about the RAGEngine kind, as module constants.

Pure: no I/O, no clock, no logging.

These are the facts a kind registry needs (``/work/kinds-contract.md`` item 5): group, names,
served versions (storage first), upstream's finalizer, the child kinds a RAGEngine owns (for
watches and garbage collection), its printer columns, and whether a status can be terminal.
They mirror upstream's CRD (``config/crd/bases/kaito.sh_ragengines.yaml``) and controller
(``pkg/ragengine/controllers``); `kaito_backends.operator.ragengine_crd` builds the CRD from them.
"""

from __future__ import annotations

__all__ = [
    "CATEGORIES",
    "CHILD_KINDS",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_RAGENGINE",
    "LABEL_RAGENGINE_NAMESPACE",
    "LIST_KIND",
    "NODE_CLAIMS",
    "PLURAL",
    "PRINTER_COLUMNS",
    "SCOPE",
    "SHORT_NAMES",
    "SINGULAR",
    "STATUS_TERMINAL",
    "STORAGE_VERSION",
    "VERSIONS",
]

GROUP = "kaito.sh"
KIND = "RAGEngine"
LIST_KIND = "RAGEngineList"
PLURAL = "ragengines"
SINGULAR = "ragengine"
SHORT_NAMES: tuple[str, ...] = ("rag",)
CATEGORIES: tuple[str, ...] = ("ragengine",)
SCOPE = "Namespaced"
#: Served versions, storage version first (v1alpha1 is served, deprecated, never stored).
VERSIONS: tuple[str, ...] = ("v1beta1", "v1alpha1")
STORAGE_VERSION = VERSIONS[0]
#: Upstream's finalizer (``consts.RAGEngineFinalizer``): it releases the NodeClaims.
FINALIZER = "ragengine.finalizer.kaito.sh"
#: Labels on everything made for a RAGEngine (upstream ``LabelRAGEngineName``/``Namespace``);
#: NodeClaims carry both, namespaced children and pods the first.
LABEL_RAGENGINE = "kaito.sh/ragengine"
LABEL_RAGENGINE_NAMESPACE = "kaito.sh/ragenginenamespace"
#: ``(apiVersion, kind)`` of the namespaced children a RAGEngine controls (ownerReference with
#: ``controller: true``): to watch, and to delete when no longer wanted.
CHILD_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "ControllerRevision"),
    ("apps/v1", "Deployment"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
)
#: A RAGEngine may need a node: cluster-scoped ``karpenter.sh/v1`` NodeClaims labelled
#: `LABEL_RAGENGINE` and `LABEL_RAGENGINE_NAMESPACE` (no owner reference: the finalizer
#: releases them).
NODE_CLAIMS = True
#: A RAGEngine runs a service; no status of it is final (unlike a finished tuning Workspace).
STATUS_TERMINAL = False
#: ``kubectl get rag`` columns, the same in both versions (upstream's).
PRINTER_COLUMNS: tuple[dict[str, str], ...] = (
    {"jsonPath": ".spec.compute.instanceType", "name": "Instance", "type": "string"},
    {
        "jsonPath": '.status.conditions[?(@.type=="ResourceReady")].status',
        "name": "ResourceReady",
        "type": "string",
    },
    {
        "jsonPath": '.status.conditions[?(@.type=="ServiceReady")].status',
        "name": "ServiceReady",
        "type": "string",
    },
    {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
)
