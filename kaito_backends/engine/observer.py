"""Building the `Observed` snapshot of one Workspace, from informer caches or from list calls.

What belongs to a Workspace ``<ns>/<name>`` (`workspace_keys_of` maps any object back):

- children (StatefulSet, Service, ConfigMap, Job, ControllerRevision, a legacy Deployment):
  a controller ownerReference to the Workspace, or the label ``kaito.sh/workspace=<name>``
  (ControllerRevisions: ``workspace.kaito.io/name``) in its namespace;
- Pods labelled ``kaito.sh/workspace=<name>`` in its namespace;
- NodeClaims: whatever the node provisioner's ``observe(key)`` reports;
- Nodes labelled ``kaito.sh/workspace``/``kaito.sh/workspacenamespace`` (or Karpenter's
  ``karpenter.kaito.sh/workspace-name``/``-namespace``), plus Nodes matching the Workspace's
  ``labelSelector.matchLabels`` without KAITO's reserved keys (bring-your-own nodes);
- the ConfigMaps its spec names (``inference.config``, ``tuning.config``), by name;
- the names of the Secrets in its namespace (read as metadata only: their contents are never
  fetched).

`CacheObserver` reads informers (what the controller uses: no API call but the provisioner's);
`ListObserver` issues list calls (for one-shot use and embedding without informers).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from kaito_backends.clock import Clock
from kaito_backends.engine.informers import Indexer, Informer, strip_secret_data
from kaito_backends.errors import NotFound
from kaito_backends.objects import Manifest, WorkspaceKey
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from kaito_core.observed import Observed

__all__ = [
    "CHILD_KINDS",
    "WORKSPACE",
    "WORKSPACE_INDEXERS",
    "CacheObserver",
    "Kind",
    "ListObserver",
    "Observer",
    "referenced_config_maps",
    "selector_labels",
    "workspace_keys_of",
]

LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
LABEL_KARPENTER_NAME = "karpenter.kaito.sh/workspace-name"
LABEL_KARPENTER_NAMESPACE = "karpenter.kaito.sh/workspace-namespace"
LABEL_REVISION_OWNER = "workspace.kaito.io/name"
_RESERVED = frozenset(
    {
        LABEL_WORKSPACE,
        LABEL_WORKSPACE_NAMESPACE,
        LABEL_KARPENTER_NAME,
        LABEL_KARPENTER_NAMESPACE,
        "kaito.sh/ragengine",
        "kaito.sh/ragenginenamespace",
        "karpenter.kaito.sh/inferenceset",
        "karpenter.kaito.sh/inferenceset-namespace",
    }
)


@attrs.frozen
class Kind:
    """An API kind the engine reads: ``Kind("apps/v1", "StatefulSet")``."""

    api_version: str
    kind: str


WORKSPACE = Kind("kaito.sh/v1beta1", "Workspace")
#: The Workspace's own children, the kinds `Observed.objects` holds.
CHILD_KINDS = (
    Kind("apps/v1", "StatefulSet"),
    Kind("v1", "Service"),
    Kind("v1", "ConfigMap"),
    Kind("batch/v1", "Job"),
    Kind("apps/v1", "ControllerRevision"),
    Kind("apps/v1", "Deployment"),
)
POD = Kind("v1", "Pod")
NODE = Kind("v1", "Node")
SECRET = Kind("v1", "Secret")
NODE_CLAIM = Kind("karpenter.sh/v1", "NodeClaim")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def workspace_keys_of(obj: Mapping[str, Any]) -> list[WorkspaceKey]:
    """The Workspaces an object belongs to (owner reference or workspace labels), deduplicated."""
    meta = _meta(obj)
    ns = str(meta.get("namespace") or "")
    keys: list[WorkspaceKey] = []
    if obj.get("kind") == "Workspace":
        return [WorkspaceKey(ns or "default", str(meta.get("name") or ""))]
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == "Workspace" and ref.get("name") and ns:
            keys.append(WorkspaceKey(ns, str(ref["name"])))
    labels = meta.get("labels") or {}
    name = labels.get(LABEL_WORKSPACE)
    if name:
        keys.append(
            WorkspaceKey(str(labels.get(LABEL_WORKSPACE_NAMESPACE) or ns or "default"), str(name))
        )
    name = labels.get(LABEL_KARPENTER_NAME)
    if name:
        keys.append(
            WorkspaceKey(str(labels.get(LABEL_KARPENTER_NAMESPACE) or ns or "default"), str(name))
        )
    name = labels.get(LABEL_REVISION_OWNER)
    if name and ns:
        keys.append(WorkspaceKey(ns, str(name)))
    if len(keys) > 1:
        keys = list(dict.fromkeys(keys))
    return keys


def _owner_index(obj: Manifest) -> Iterable[Hashable]:
    return workspace_keys_of(obj)


def _label_pairs(obj: Manifest) -> Iterable[Hashable]:
    labels: Mapping[str, str] = _meta(obj).get("labels") or {}
    return labels.items()


def _namespace_index(obj: Manifest) -> Iterable[Hashable]:
    return (str(_meta(obj).get("namespace") or ""),)


def referenced_config_maps(workspace: Mapping[str, Any]) -> list[str]:
    """Names of the ConfigMaps a Workspace manifest refers to (inference and tuning config)."""
    names: list[str] = []
    for section in ("inference", "tuning"):
        spec = workspace.get(section)
        if isinstance(spec, Mapping):
            name = spec.get("config")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def selector_labels(workspace: Mapping[str, Any]) -> dict[str, str]:
    """The Workspace's ``resource.labelSelector.matchLabels`` without KAITO's reserved keys."""
    resource = workspace.get("resource")
    if not isinstance(resource, Mapping):
        return {}
    selector = resource.get("labelSelector")
    if not isinstance(selector, Mapping):
        return {}
    match = selector.get("matchLabels")
    if not isinstance(match, Mapping):
        return {}
    return {str(k): str(v) for k, v in sorted(match.items()) if k not in _RESERVED}


def _config_refs(ws: Manifest) -> Iterable[Hashable]:
    ns = str(_meta(ws).get("namespace") or "default")
    return [(ns, name) for name in referenced_config_maps(ws)]


def _workspace_namespace(ws: Manifest) -> Iterable[Hashable]:
    return (str(_meta(ws).get("namespace") or "default"),)


def _brings_own_nodes(ws: Manifest) -> Iterable[Hashable]:
    return ("byo",) if selector_labels(ws) else ()


#: Indexes of the Workspace informer: the ConfigMaps each names (``(namespace, name)``), its
#: namespace, and ``"byo"`` for those with a node selector (bring-your-own Nodes are matched
#: against them).
WORKSPACE_INDEXERS: dict[str, Indexer] = {
    "config": _config_refs,
    "namespace": _workspace_namespace,
    "byo": _brings_own_nodes,
}


class Observer(Protocol):
    """Builds the snapshot `kaito_core.plan` reads for one Workspace."""

    async def observe(
        self, key: WorkspaceKey, workspace: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed: ...


def _sorted(objs: Iterable[Manifest]) -> tuple[Manifest, ...]:
    return tuple(sorted(objs, key=lambda o: (o.get("kind", ""), str(_meta(o).get("name", "")))))


class CacheObserver:
    """Observes from informers (built by `CacheObserver.informers`); NodeClaims come from the
    provisioner."""

    def __init__(
        self, client: ClusterClient, provisioner: NodeProvisioner, *, clock: Clock
    ) -> None:
        self.client = client
        self.provisioner = provisioner
        self.clock = clock
        owner: dict[str, Indexer] = {"owner": _owner_index}
        self.children = {
            k.kind: Informer(client, k.api_version, k.kind, clock=clock, indexers=owner)
            for k in CHILD_KINDS
        }
        self.pods = Informer(client, POD.api_version, POD.kind, clock=clock, indexers=owner)
        self.nodes = Informer(
            client,
            NODE.api_version,
            NODE.kind,
            clock=clock,
            indexers={"owner": _owner_index, "label": _label_pairs},
        )
        self.secrets = Informer(
            client,
            SECRET.api_version,
            SECRET.kind,
            clock=clock,
            indexers={"namespace": _namespace_index},
            transform=strip_secret_data,
            metadata_only=True,
        )
        self.node_claims = Informer(
            client, NODE_CLAIM.api_version, NODE_CLAIM.kind, clock=clock, indexers=owner
        )
        self._secret_names: dict[str, frozenset[str]] = {}
        self.secrets.add_handler(self._secrets_changed)

    def informers(self) -> list[Informer]:
        """Every informer the observer reads (the controller runs them, plus its Workspace one)."""
        return [*self.children.values(), self.pods, self.nodes, self.secrets, self.node_claims]

    def _secrets_changed(self, _type: str, obj: Manifest, _old: Manifest | None) -> None:
        self._secret_names.pop(str(_meta(obj).get("namespace") or ""), None)

    def secret_names(self, namespace: str) -> frozenset[str]:
        names = self._secret_names.get(namespace)
        if names is None:
            names = frozenset(
                str(_meta(s).get("name")) for s in self.secrets.by_index("namespace", namespace)
            )
            self._secret_names[namespace] = names
        return names

    async def observe(
        self, key: WorkspaceKey, workspace: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed:
        objects: list[Manifest] = []
        for informer in self.children.values():
            objects.extend(informer.by_index("owner", key))
        pods = self.pods.by_index("owner", key)
        nodes = {(_meta(n).get("name")): n for n in self.nodes.by_index("owner", key)}
        selector = selector_labels(workspace)
        if selector:
            candidates: set[tuple[str, str]] | None = None
            for pair in selector.items():
                found = self.nodes.index_keys("label", pair)
                candidates = found if candidates is None else candidates & found
                if not candidates:
                    break
            for nkey in sorted(candidates or ()):
                node = self.nodes.objects[nkey]
                nodes.setdefault(_meta(node).get("name"), node)
        config_maps: dict[str, Manifest] = {}
        cms = self.children["ConfigMap"]
        for name in referenced_config_maps(workspace):
            cm = cms.get(key.namespace, name)
            if cm is not None:
                config_maps[name] = cm
        claims = await self.provisioner.observe(key)
        return Observed(
            node_claims=tuple(claims),
            nodes=tuple(nodes[n] for n in sorted(nodes, key=str)),
            pods=tuple(pods),
            objects=_sorted(objects),
            config_maps=config_maps,
            secrets=self.secret_names(key.namespace),
            provision_error=provision_error,
        )


class ListObserver:
    """Observes with list calls (one per kind): no caches, always current, O(namespace)."""

    def __init__(self, client: ClusterClient, provisioner: NodeProvisioner) -> None:
        self.client = client
        self.provisioner = provisioner

    async def _list(
        self,
        kind: Kind,
        namespace: str | None,
        labels: Mapping[str, str] | None,
        *,
        metadata_only: bool = False,
    ) -> list[Manifest]:
        try:
            result = await self.client.list(
                kind.api_version,
                kind.kind,
                namespace=namespace,
                labels=labels,
                metadata_only=metadata_only,
            )
        except NotFound:  # the kind is not served here (a CRD that is not installed)
            return []
        return list(result.items)

    async def observe(
        self, key: WorkspaceKey, workspace: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed:
        objects: list[Manifest] = []
        for kind in CHILD_KINDS:
            for obj in await self._list(kind, key.namespace, None):
                if key in workspace_keys_of(obj):
                    objects.append(obj)
        pods = await self._list(POD, key.namespace, {LABEL_WORKSPACE: key.name})
        nodes: dict[str, Manifest] = {}
        by_labels = await self._list(
            NODE, None, {LABEL_WORKSPACE: key.name, LABEL_WORKSPACE_NAMESPACE: key.namespace}
        )
        selector = selector_labels(workspace)
        if selector:
            by_labels += await self._list(NODE, None, selector)
        for node in by_labels:
            nodes.setdefault(str(_meta(node).get("name")), node)
        config_maps: dict[str, Manifest] = {}
        for name in referenced_config_maps(workspace):
            for cm in await self._list(CHILD_KINDS[2], key.namespace, None):
                if _meta(cm).get("name") == name:
                    config_maps[name] = cm
        secrets = frozenset(
            str(_meta(s).get("name"))
            for s in await self._list(SECRET, key.namespace, None, metadata_only=True)
        )
        claims = await self.provisioner.observe(key)
        return Observed(
            node_claims=tuple(claims),
            nodes=tuple(nodes[n] for n in sorted(nodes)),
            pods=tuple(sorted(pods, key=lambda p: str(_meta(p).get("name")))),
            objects=_sorted(objects),
            config_maps=config_maps,
            secrets=secrets,
            provision_error=provision_error,
        )
