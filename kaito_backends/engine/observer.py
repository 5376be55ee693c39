"""Building the `Observed` snapshot of one object of a registered kind, from caches or lists.

What belongs to an object (`kaito_backends.kinds.owner_keys` maps any object back to its keys):

- its children, of the kinds its `KindSpec` ``owns``: an ownerReference to it, or one of the
  kind's owner labels (a Workspace's StatefulSet, Services, ConfigMaps, Job, ControllerRevisions,
  a legacy Deployment; an InferenceSet's Workspaces);
- Pods and Nodes carrying its owner labels (``kaito.sh/workspace``/``-namespace``, Karpenter's
  ``karpenter.kaito.sh/workspace-name``/``-namespace``) or an owner reference;
- NodeClaims, for kinds that make them: whatever the node provisioner's ``observe(key)`` reports;
- whatever its `kaito_backends.kinds.KindHooks` ``related`` hook adds (a Workspace: the
  ConfigMaps its spec names, the names of its namespace's Secrets, read as metadata only: their
  contents are never fetched, and bring-your-own Nodes; an InferenceSet: the Workspaces holding
  its replicas' names, whoever owns them). Related ``objects`` and ``nodes`` join the owned
  ones (an object found both ways is listed once).

`CacheObserver` reads informers (what the controller uses: no API call but the provisioner's);
it owns every informer the controller runs. `ListObserver` issues list calls (for one-shot use
and embedding without informers).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from kaito_backends.clock import Clock
from kaito_backends.engine.informers import Indexer, Informer, strip_secret_data
from kaito_backends.errors import NotFound
from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks, owner_keys
from kaito_backends.kinds.workspace import referenced_config_maps, selector_labels
from kaito_backends.objects import Key, Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from kaito_core.kinds import KindRef, Registry
from kaito_core.observed import Observed
from kaito_core.registry import default_registry
from kaito_core.workspace_kind import WORKSPACE

__all__ = [
    "NODE",
    "NODE_CLAIM",
    "POD",
    "SECRET",
    "CacheObserver",
    "ListObserver",
    "Observer",
    "referenced_config_maps",
    "selector_labels",
    "workspace_keys_of",
]

POD = KindRef("v1", "Pod")
NODE = KindRef("v1", "Node")
SECRET = KindRef("v1", "Secret")
NODE_CLAIM = KindRef("karpenter.sh/v1", "NodeClaim")
_CONFIG_MAP = KindRef("v1", "ConfigMap")
_NO_HOOKS = KindHooks()


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def workspace_keys_of(obj: Mapping[str, Any]) -> list[Key]:
    """The Workspaces an object belongs to (owner reference or workspace labels); a Workspace
    is its own. The default registry's Workspace keys of `owner_keys`."""
    kind = WORKSPACE.kind
    if obj.get("kind") == kind:
        meta = _meta(obj)
        return [Key(kind, str(meta.get("namespace") or "default"), str(meta.get("name") or ""))]
    return [key for key in owner_keys(obj, default_registry()) if key.kind == kind]


def _label_pairs(obj: Manifest) -> Iterable[Hashable]:
    labels: Mapping[str, str] = _meta(obj).get("labels") or {}
    return labels.items()


def _namespace_index(obj: Manifest) -> Iterable[Hashable]:
    return (str(_meta(obj).get("namespace") or ""),)


def _scope_of(client: ClusterClient) -> str | None:
    """The namespace a scoped client (`kaito_backends.operator.ScopedClient`) confines lists
    to, else None."""
    scope = getattr(client, "namespace_scope", None)
    return scope if isinstance(scope, str) and scope else None


def _refuse_secrets(kind: str) -> None:
    if kind == SECRET.kind:
        raise ValueError("Secrets are never read through a ClusterView (names only)")


async def _get(
    client: ClusterClient, api_version: str, kind: str, namespace: str, name: str
) -> Manifest | None:
    try:
        return await client.get(ObjectRef(api_version, kind, name, namespace))
    except NotFound:  # absent, or a kind that is not served
        return None


class Observer(Protocol):
    """Builds the snapshot a kind's planner reads for one object."""

    async def observe(
        self, key: Key, manifest: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed: ...

    async def occupants(
        self, key: Key, manifests: Sequence[Mapping[str, Any]]
    ) -> tuple[Manifest, ...]:
        """The stored objects that bear the kind, namespace and name of one of ``manifests``
        (what a plan is about to apply) but do not belong to ``key`` (another object's, or
        nobody's): the planner must see them before it writes over them."""
        ...


def _occupied(current: Manifest | None, key: Key, registry: Registry) -> bool:
    return current is not None and key not in owner_keys(current, registry)


def _identity(obj: Manifest) -> tuple[str, str, str]:
    meta = _meta(obj)
    return (str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))


def _sorted(objs: Iterable[Manifest]) -> tuple[Manifest, ...]:
    return tuple(sorted(objs, key=lambda o: (o.get("kind", ""), str(_meta(o).get("name", "")))))


def _observed(
    nodes: dict[str, Manifest],
    related: Mapping[str, Any],
    claims: Iterable[Manifest],
    **parts: Any,
) -> Observed:
    """The snapshot from its parts: the related hook's ``nodes`` and ``objects`` join the owned
    ones (by name; by kind, namespace and name)."""
    extra = dict(related)
    for node in extra.pop("nodes", ()):
        nodes.setdefault(str(_meta(node).get("name")), node)
    more = extra.pop("objects", ())
    if more:
        joined = {_identity(o): o for o in (*more, *parts["objects"])}
        parts["objects"] = _sorted(joined.values())
    return Observed(
        node_claims=tuple(claims),
        nodes=tuple(nodes[n] for n in sorted(nodes)),
        **parts,
        **extra,
    )


class _CacheView:
    """The `kaito_backends.kinds.ClusterView` of a `CacheObserver`: its cache reads."""

    __slots__ = ("_observer",)

    def __init__(self, observer: CacheObserver) -> None:
        self._observer = observer

    async def config_map(self, namespace: str, name: str) -> Manifest | None:
        return await self._observer.config_map(namespace, name)

    async def secret_names(self, namespace: str) -> frozenset[str]:
        return self._observer.secret_names(namespace)

    async def nodes_labelled(self, labels: Mapping[str, str]) -> list[Manifest]:
        return self._observer.nodes_labelled(labels)

    async def object(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> Manifest | None:
        return await self._observer.object(api_version, kind, namespace, name)

    def sees(self, namespace: str) -> bool:
        return self._observer.sees(namespace)


class CacheObserver:
    """Observes from informers (it builds every informer the controller runs); NodeClaims come
    from the provisioner. Its ``view`` is the `kaito_backends.kinds.ClusterView` of the related
    hooks."""

    def __init__(
        self,
        client: ClusterClient,
        provisioner: NodeProvisioner,
        *,
        clock: Clock,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
    ) -> None:
        self.client = client
        self.provisioner = provisioner
        self.clock = clock
        self.registry = registry = registry if registry is not None else default_registry()
        self.hooks = hooks if hooks is not None else DEFAULT_HOOKS

        def owner_index(obj: Manifest) -> Iterable[Hashable]:
            return owner_keys(obj, registry)

        owner: dict[str, Indexer] = {"owner": owner_index}
        #: one informer per registered kind, in registry order
        self.kinds = {
            spec.kind: Informer(
                client,
                spec.api_version,
                spec.kind,
                clock=clock,
                indexers={**owner, **self.hooks_of(spec.kind).indexers},
            )
            for spec in registry
        }
        #: the kinds registered kinds own that are not registered themselves
        self.children = {
            k.kind: Informer(client, k.api_version, k.kind, clock=clock, indexers=owner)
            for k in registry.child_kinds()
        }
        self.pods = Informer(client, POD.api_version, POD.kind, clock=clock, indexers=owner)
        self.nodes = Informer(
            client,
            NODE.api_version,
            NODE.kind,
            clock=clock,
            indexers={"owner": owner_index, "label": _label_pairs},
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
        #: the one namespace a scoped client lists (``--namespace-scope``), else None
        self.namespace_scope = _scope_of(client)
        self._secret_names: dict[str, frozenset[str]] = {}
        self.secrets.add_handler(self._secrets_changed)
        self.view = _CacheView(self)

    def hooks_of(self, kind: str) -> KindHooks:
        """The shell's hooks of a kind (none: `KindHooks()`)."""
        return self.hooks.get(kind) or _NO_HOOKS

    def informers(self) -> list[Informer]:
        """Every informer the controller runs: the registered kinds' first, in registry order."""
        return [
            *self.kinds.values(),
            *self.children.values(),
            self.pods,
            self.nodes,
            self.secrets,
            self.node_claims,
        ]

    def informer(self, kind: str) -> Informer | None:
        """The informer of a kind, if there is one."""
        for informer in self.informers():
            if informer.kind == kind:
                return informer
        return None

    # -- cache reads (the ClusterView of related hooks, through `view`) --------------------------
    def _secrets_changed(self, _type: str, obj: Manifest, _old: Manifest | None) -> None:
        self._secret_names.pop(str(_meta(obj).get("namespace") or ""), None)

    def secret_names(self, namespace: str) -> frozenset[str]:
        """The names of the namespace's Secrets, from the cache."""
        names = self._secret_names.get(namespace)
        if names is None:
            names = frozenset(
                str(_meta(s).get("name")) for s in self.secrets.by_index("namespace", namespace)
            )
            self._secret_names[namespace] = names
        return names

    async def config_map(self, namespace: str, name: str) -> Manifest | None:
        informer = self.children.get(_CONFIG_MAP.kind)
        if informer is not None:
            return informer.get(namespace, name)
        try:  # no registered kind owns ConfigMaps: nobody caches them
            return await self.client.get(ObjectRef("v1", _CONFIG_MAP.kind, name, namespace))
        except NotFound:
            return None

    def cached(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """An object of a registered kind or of a kind they own, from its informer (None when
        it is not cached, or nobody caches the kind)."""
        informer = self.kinds.get(kind) or self.children.get(kind)
        return informer.get(namespace, name) if informer is not None else None

    def sees(self, namespace: str) -> bool:
        """Whether the informers list this namespace (all, unless the client is scoped)."""
        return self.namespace_scope is None or namespace == self.namespace_scope

    async def object(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> Manifest | None:
        """An object from the informer of its kind; None when nobody caches the kind (no API
        call: the operator's RBAC grants only what the registered kinds need)."""
        _refuse_secrets(kind)
        return self.cached(kind, namespace, name)

    def nodes_labelled(self, labels: Mapping[str, str]) -> list[Manifest]:
        """The cached Nodes carrying every one of these labels, by name."""
        candidates: set[tuple[str, str]] | None = None
        for pair in labels.items():
            found = self.nodes.index_keys("label", pair)
            candidates = found if candidates is None else candidates & found
            if not candidates:
                break
        return [self.nodes.objects[nkey] for nkey in sorted(candidates or ())]

    # -- observing -------------------------------------------------------------------------------
    async def occupants(
        self, key: Key, manifests: Sequence[Mapping[str, Any]]
    ) -> tuple[Manifest, ...]:
        """See `Observer.occupants` (from the informers: no API call)."""
        found: list[Manifest] = []
        for obj in manifests:
            meta = _meta(obj)
            informer = self.informer(str(obj.get("kind") or ""))
            if informer is None or not meta.get("namespace"):
                continue
            current = informer.get(str(meta["namespace"]), str(meta.get("name") or ""))
            if current is not None and _occupied(current, key, self.registry):
                found.append(current)
        return tuple(found)

    async def observe(
        self, key: Key, manifest: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed:
        spec = self.registry[key.kind]
        objects: list[Manifest] = []
        for ref in spec.owns:
            informer = self.kinds.get(ref.kind)
            if informer is None:
                informer = self.children[ref.kind]
            objects.extend(informer.by_index("owner", key))
        pods = self.pods.by_index("owner", key)
        nodes = {str(_meta(n).get("name")): n for n in self.nodes.by_index("owner", key)}
        hook = self.hooks_of(key.kind).related
        related = await hook(key, manifest, self.view) if hook is not None else {}
        claims = await self.provisioner.observe(key) if spec.makes_node_claims else ()
        return _observed(
            nodes,
            related,
            claims,
            pods=tuple(pods),
            objects=_sorted(objects),
            provision_error=provision_error,
        )


class ListObserver:
    """Observes with list calls (one per kind): no caches, always current, O(namespace).

    Pods and Nodes are listed by the kind's first owner labels; children by namespace, kept
    when they belong to the object. Also the `kaito_backends.kinds.ClusterView` of the related
    hooks (a list call per read).
    """

    def __init__(
        self,
        client: ClusterClient,
        provisioner: NodeProvisioner,
        *,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
    ) -> None:
        self.client = client
        self.provisioner = provisioner
        self.registry = registry if registry is not None else default_registry()
        self.hooks = hooks if hooks is not None else DEFAULT_HOOKS
        self.namespace_scope = _scope_of(client)

    def sees(self, namespace: str) -> bool:
        return self.namespace_scope is None or namespace == self.namespace_scope

    async def _list(
        self,
        kind: KindRef,
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

    async def secret_names(self, namespace: str) -> frozenset[str]:
        return frozenset(
            str(_meta(s).get("name"))
            for s in await self._list(SECRET, namespace, None, metadata_only=True)
        )

    async def config_map(self, namespace: str, name: str) -> Manifest | None:
        for cm in await self._list(_CONFIG_MAP, namespace, None):
            if _meta(cm).get("name") == name:
                return cm
        return None

    async def nodes_labelled(self, labels: Mapping[str, str]) -> list[Manifest]:
        return await self._list(NODE, None, labels)

    async def object(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> Manifest | None:
        _refuse_secrets(kind)
        return await _get(self.client, api_version, kind, namespace, name)

    async def occupants(
        self, key: Key, manifests: Sequence[Mapping[str, Any]]
    ) -> tuple[Manifest, ...]:
        """See `Observer.occupants` (a get call per namespaced manifest)."""
        found: list[Manifest] = []
        for obj in manifests:
            meta = _meta(obj)
            if not meta.get("namespace"):
                continue
            current = await _get(
                self.client,
                str(obj.get("apiVersion") or ""),
                str(obj.get("kind") or ""),
                str(meta["namespace"]),
                str(meta.get("name") or ""),
            )
            if current is not None and _occupied(current, key, self.registry):
                found.append(current)
        return tuple(found)

    async def observe(
        self, key: Key, manifest: Mapping[str, Any], *, provision_error: str | None = None
    ) -> Observed:
        spec = self.registry[key.kind]
        registry = self.registry
        objects: list[Manifest] = []
        for kind in spec.owns:
            for obj in await self._list(kind, key.namespace, None):
                if key in owner_keys(obj, registry):
                    objects.append(obj)
        owner = spec.owner_labels[0] if spec.owner_labels else None
        pods: list[Manifest] = []
        nodes: dict[str, Manifest] = {}
        if owner is not None:
            pods = await self._list(POD, key.namespace, {owner.name: key.name})
            if owner.namespace is not None:
                labels = {owner.name: key.name, owner.namespace: key.namespace}
                for node in await self._list(NODE, None, labels):
                    nodes.setdefault(str(_meta(node).get("name")), node)
        hook = self.hooks.get(key.kind)
        related = await hook.related(key, manifest, self) if hook and hook.related else {}
        claims = await self.provisioner.observe(key) if spec.makes_node_claims else ()
        return _observed(
            nodes,
            related,
            claims,
            pods=tuple(sorted(pods, key=lambda p: str(_meta(p).get("name")))),
            objects=_sorted(objects),
            provision_error=provision_error,
        )
