"""The two seams every backend implements: a cluster client and a node provisioner.

Both are `typing.Protocol`s with async methods. Each method's docstring states whether it is
idempotent and which `kaito_backends.errors` it raises; any method may also raise `Transient`
(throttling, server errors, timeouts), which callers retry. Manifests go in and come out as plain
dicts in wire shape; a backend never keeps a reference to a dict it was given and never hands
out one it keeps (callers may mutate what they get).

Implementations: ``kaito_backends.fake`` (in memory), and the Kubernetes / AKS backends.
A provisioner may also be a `NoticeSource`: what it has to tell about a Workspace without
failing (e.g. "quota not checked"), which the engine records as Events on the Workspace.
``tests/backends/conformance.py`` is the executable form of these docstrings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import attrs

from kaito_backends.objects import Key, Manifest, ObjectRef

if TYPE_CHECKING:
    from kaito_presets import GpuSku

__all__ = [
    "ClusterClient",
    "EventType",
    "NodeProvisioner",
    "Notice",
    "NoticeSource",
    "ObjectList",
    "WatchEvent",
]

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


@attrs.frozen
class WatchEvent:
    """One change seen by a watch: ``object`` as it is after it (its last state, for DELETED)."""

    type: EventType
    object: Manifest


@attrs.frozen
class ObjectList:
    """The result of a list: the items, sorted by (namespace, name), and the list's version.

    Pass ``resource_version`` to `ClusterClient.watch` to see every change after the list.
    """

    items: tuple[Manifest, ...]
    resource_version: str


@runtime_checkable
class ClusterClient(Protocol):
    """Reads and writes Kubernetes objects, as the API server does.

    Objects are addressed by `ObjectRef`; ``apiVersion`` picks the version the object is read
    in (``kaito.sh/v1alpha1`` and ``kaito.sh/v1beta1`` Workspaces are one object). Every stored
    object has ``metadata.resourceVersion``, ``uid``, ``generation`` and ``creationTimestamp``.
    Kinds with a status subresource (Workspace, StatefulSet, Job, NodeClaim, Node, Pod, ...)
    ignore ``status`` in `create`/`apply`/`update` and change it only through `apply_status`.
    """

    async def get(self, ref: ObjectRef) -> Manifest:
        """The object as stored now. Read-only. Raises `NotFound`."""
        ...

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        metadata_only: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> ObjectList:
        """Objects of a kind, in one namespace (or all), whose labels include ``labels`` and
        whose fields equal ``fields`` (an equality field selector: ``{"involvedObject.uid":
        uid}``; a real server accepts only the fields it indexes for the kind, such as an
        Event's ``involvedObject.*``, ``reason``, ``type`` and every kind's ``metadata.name``).

        With ``metadata_only`` each item is ``{"apiVersion", "kind", "metadata"}`` and nothing
        else is read from the server (a real one is asked for ``PartialObjectMetadataList``):
        what a caller that needs to know only that objects exist asks, so Secret contents never
        reach it. Read-only; never raises `NotFound` (an empty list instead).
        """
        ...

    async def create(self, obj: Manifest) -> Manifest:
        """Create the object and return it as stored. Not idempotent: raises `AlreadyExists`
        when the name is taken, `Invalid` when the server rejects it."""
        ...

    async def apply(self, obj: Manifest, *, field_manager: str = "kaito") -> Manifest:
        """Server-side apply: create the object if absent, else set the fields given.

        Maps are merged, lists replaced; fields this field manager applied before and omits now
        are removed (fields other writers set are kept). ``metadata.generation`` bumps only when
        the spec changes. Idempotent: applying the same object twice changes nothing the second
        time (not even ``resourceVersion``). A ``metadata.resourceVersion`` in ``obj`` is a
        precondition (`Conflict` when stale). Raises `Invalid` (e.g. an immutable field changed).
        Returns the stored object.
        """
        ...

    async def update(self, obj: Manifest) -> Manifest:
        """Replace the object whole (status aside). Raises `NotFound`; `Conflict` when
        ``metadata.resourceVersion`` is given and stale; `Invalid`. Removing the last finalizer
        of an object being deleted removes it."""
        ...

    async def apply_status(self, obj: Manifest) -> Manifest:
        """Replace ``status`` only (everything else in ``obj`` is ignored). Idempotent.

        Raises `NotFound` (also for a kind without a status subresource); `Conflict` when
        ``metadata.resourceVersion`` is given and stale.
        """
        ...

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background") -> None:
        """Delete the object. Raises `NotFound` when absent (callers that want "ensure gone"
        catch it). With finalizers the object only gets ``metadata.deletionTimestamp`` and is
        removed when the last finalizer is. Dependents (ownerReferences) are garbage-collected:
        ``Background`` / ``Foreground`` delete them, ``Orphan`` keeps them."""
        ...

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        """Changes of a kind, in order (objects reduced to their metadata with
        ``metadata_only``, as `list`). Without ``resource_version`` it starts with an ADDED
        event per existing object. The iterator raises `Gone` when ``resource_version`` is older
        than the retained history (relist and watch again) and may end at any time (a dropped
        connection): callers rewatch from the last version they saw."""
        ...


@runtime_checkable
class NodeProvisioner(Protocol):
    """Gets GPU machines for objects of registered kinds (Workspaces, ...), as NodeClaim-shaped
    objects.

    Each object's machines are keyed by its `Key` (kind, namespace, name); NodeClaims carry the
    labels `kaito_backends.objects.machine_labels` gives: ``kaito.sh/<kind>`` and
    ``kaito.sh/<kind>namespace`` (``kaito.sh/workspace`` and ``kaito.sh/workspacenamespace``).
    """

    name: str

    async def instance_types(self) -> Sequence[GpuSku]:
        """The instance types this provisioner can launch. Read-only."""
        ...

    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        """Ensure exactly these NodeClaims exist for the key. Idempotent.

        Missing ones are created by name (never a duplicate); ones present are left as they are;
        the key's other NodeClaims are deleted. Raises `InsufficientCapacity` when the
        provider refuses the machines (the message is the provider's), `Invalid` for a claim the
        provider rejects.
        """
        ...

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        """The key's NodeClaims as they are now (deleting ones included), by name, with
        their status conditions (Launched, Registered, Initialized, Ready). Read-only.
        Backends without NodeClaims synthesize NodeClaim-shaped manifests."""
        ...

    async def release(self, key: Key) -> None:
        """Delete every machine of the key. Idempotent: absent machines are fine."""
        ...


@attrs.frozen(kw_only=True)
class Notice:
    """Something a backend tells the user about one object (a Workspace): recorded as an Event
    on it."""

    #: ``Normal`` or ``Warning``
    type: str
    reason: str
    message: str


@runtime_checkable
class NoticeSource(Protocol):
    """Optional for a `NodeProvisioner`: notices about the objects it provisions for, each
    handed out once."""

    def take_notices(self, key: Key) -> Sequence[Notice]:
        """The notices about the key's object not handed out yet (oldest first); they are
        handed out by this call and never again. No I/O."""
        ...
