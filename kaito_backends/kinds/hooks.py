"""What the imperative shell knows of a kind beyond its `kaito_core.kinds.KindSpec`.

Everything here is optional: a kind without `KindHooks` is reconciled from its owner
references and owner labels alone (its children, Pods, Nodes and NodeClaims), served by the fake
API server with a schemaless CRD, and validated by the webhook from its manifest alone. A kind
that reads more of the cluster says so here:

- ``indexers``: extra indexes of the kind's own informer (the Workspace's: the ConfigMaps each
  one names, its namespace, whether it brings its own nodes);
- ``watches``: `Watch`es, changes of other kinds that concern objects of this kind although
  they are not owned by them (a ConfigMap a Workspace names, a Secret in its namespace, a
  bring-your-own Node its selector matches);
- ``related``: what the observer adds to `kaito_core.observed.Observed` beyond the owned
  objects, read through a `ClusterView` (informer caches in the controller, list calls in
  `ListObserver`); ``objects`` and ``nodes`` it returns join the owned ones;
- ``admission``: what the webhook reads from the cluster before it validates a CREATE, through
  an `AdmissionReader`;
- ``crd``: the kind's CustomResourceDefinition with its full schema, for ``kaito manifests``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from kaito_backends.objects import Key, Manifest

__all__ = [
    "AdmissionHook",
    "AdmissionReader",
    "ClusterView",
    "IndexLookup",
    "Indexer",
    "KindHooks",
    "RelatedHook",
    "Watch",
    "WatchHandler",
]

#: Looks objects of the watching kind up in its informer: (index name, value) -> manifests.
IndexLookup = Callable[[str, Hashable], "list[Manifest]"]


class ClusterView(Protocol):
    """What a kind's ``related`` hook may read of the cluster."""

    async def config_map(self, namespace: str, name: str) -> Manifest | None:
        """The ConfigMap, or None when it does not exist."""
        ...

    async def secret_names(self, namespace: str) -> frozenset[str]:
        """The names of the namespace's Secrets (never their contents)."""
        ...

    async def nodes_labelled(self, labels: Mapping[str, str]) -> list[Manifest]:
        """The Nodes carrying every one of these labels, by name."""
        ...

    async def object(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> Manifest | None:
        """An object of a registered kind or of a kind one owns (a Service, a Workspace), by
        name; None when it does not exist (or, in the controller, when no informer caches its
        kind). Secrets are never read this way."""
        ...

    def sees(self, namespace: str) -> bool:
        """Whether this view reads the namespace's objects at all (False outside the
        operator's ``--namespace-scope``: an object there is unknown, not absent)."""
        ...


class AdmissionReader(Protocol):
    """What a kind's ``admission`` hook may read of the cluster (each read time-boxed)."""

    async def config_maps(
        self, namespace: str, names: Sequence[str]
    ) -> dict[tuple[str, str], Mapping[str, Any]] | None:
        """The ConfigMaps found, by (namespace, name); None when a read failed (unknown)."""
        ...

    async def nodes(self, labels: Mapping[str, str]) -> tuple[Manifest, ...]:
        """The Nodes with these labels; empty when a read failed."""
        ...


#: (change, object, its owner keys, the watching kind's index lookup) -> objects of the
#: watching kind to reconcile.
WatchHandler = Callable[[str, Manifest, Sequence[Key], IndexLookup], Iterable[Manifest]]
#: (key, the object's manifest, a view of the cluster) -> extra `Observed` fields; ``nodes``
#: are merged with the Nodes the object owns (by name), the others are set as given.
RelatedHook = Callable[[Key, Mapping[str, Any], ClusterView], Awaitable[Mapping[str, Any]]]
#: (the parsed object, the validation context, a reader) -> the context to validate with.
AdmissionHook = Callable[[Any, Any, AdmissionReader], Awaitable[Any]]
#: Informer index values of one object.
Indexer = Callable[[Manifest], Iterable[Hashable]]


@attrs.frozen(kw_only=True)
class Watch:
    """Changes of ``kind`` (an informer the engine runs) that concern objects of the kind that
    declares the watch; ``enqueue`` returns those objects."""

    kind: str
    enqueue: WatchHandler


@attrs.frozen(kw_only=True)
class KindHooks:
    """The shell's facts of one kind (see the module docstring); every field is optional."""

    indexers: Mapping[str, Indexer] = attrs.field(factory=dict)
    watches: tuple[Watch, ...] = ()
    related: RelatedHook | None = None
    admission: AdmissionHook | None = None
    crd: Callable[..., Manifest] | None = None
