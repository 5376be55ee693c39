"""Connecting the operator to a cluster: the cluster client and the node provisioner of a backend.

`connect` builds a `Connection` from `OperatorSettings`:

- the client: `kaito_backends.kubernetes.connect` (in-cluster in a pod, else the kubeconfig and
  context given; needs the ``kubernetes`` extra);
- the provisioner: ``karpenter`` `kaito_backends.karpenter.KarpenterProvisioner` (NodeClaims),
  ``byo`` `kaito_backends.karpenter.ByoProvisioner` (nothing to provision), ``aks``
  `kaito_backends.cli.aks_options.aks_provisioner_from_args` (agent pools; needs the ``aks``
  extra and the ``--aks-*`` flags or their environment variables).

Every problem is a `SetupError` whose message is one line for the user (the command exits 2).
`ScopedClient` narrows the engine's lists and watches to one namespace (``--namespace-scope``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs

from kaito_backends.objects import Manifest, ObjectRef, is_cluster_scoped
from kaito_backends.operator.settings import OperatorSettings
from kaito_backends.protocols import ObjectList, WatchEvent

__all__ = ["Connection", "ScopedClient", "SetupError", "build_provisioner", "connect"]


class SetupError(Exception):
    """The operator cannot start: bad settings, a missing extra, an unusable kubeconfig."""


@attrs.define
class Connection:
    """A cluster client, a provisioner, and what closes them."""

    client: Any
    provisioner: Any
    closers: list[Callable[[], Awaitable[object]]] = attrs.field(factory=list)

    async def close(self) -> None:
        """Close everything, last opened first; errors are swallowed (we are shutting down)."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            with contextlib.suppress(Exception):  # nothing useful to do on the way out
                await close()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


async def connect(settings: OperatorSettings) -> Connection:
    """The kubernetes client and the provisioner of ``settings.backend``; raises `SetupError`."""
    try:
        from kaito_backends.kubernetes import connect as kubernetes_connect
    except ModuleNotFoundError as error:
        raise SetupError(
            "the operator needs the 'kubernetes' extra: pip install -e '.[kubernetes]' in a "
            f"kaito-py clone (not on PyPI yet) ({_one_line(error)})"
        ) from error
    try:
        client = await kubernetes_connect(settings.kubeconfig, settings.context)
    except Exception as error:  # ConfigException, OSError, a broken kubeconfig
        raise SetupError(f"cannot load the cluster configuration: {_one_line(error)}") from error
    connection = Connection(client=client, provisioner=None, closers=[client.close])
    try:
        connection.provisioner = await build_provisioner(settings, client, connection)
    except BaseException:
        await connection.close()
        raise
    return connection


async def build_provisioner(settings: OperatorSettings, client: Any, connection: Connection) -> Any:
    """The `NodeProvisioner` of the backend (closers it needs are added to ``connection``)."""
    backend = settings.backend
    if backend == "karpenter":
        from kaito_backends.karpenter import KarpenterProvisioner, NodeClass

        node_class = None
        if settings.karpenter_node_class is not None:
            group, kind, name = settings.karpenter_node_class
            node_class = NodeClass(group=group, kind=kind, name=name)
        return KarpenterProvisioner(
            client,
            cloud=settings.cloud_provider,
            node_class=node_class,
            mode=settings.karpenter_mode,
        )
    if backend == "byo":
        from kaito_backends.karpenter import ByoProvisioner

        return ByoProvisioner(client)
    if backend == "aks":
        try:
            from kaito_backends.cli.aks_options import aks_provisioner_from_args
        except ModuleNotFoundError as error:
            raise SetupError(f"the AKS backend is not available: {_one_line(error)}") from error
        try:
            provisioner = aks_provisioner_from_args(settings.extra, nodes=client)
        except (ValueError, ImportError) as error:  # AksConfigError is a ValueError
            raise SetupError(_one_line(error)) from error
        close = getattr(provisioner, "close", None)
        if close is not None:
            connection.closers.append(close)
        return provisioner
    raise SetupError(f"unknown backend {backend!r}: use karpenter, aks or byo")


class ScopedClient:
    """A `ClusterClient` whose all-namespace lists and watches of namespaced kinds see one
    namespace; cluster-scoped kinds (Nodes, NodeClaims) and everything else pass through."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    @property
    def namespace_scope(self) -> str:
        """The one namespace lists and watches see (what observers ask to know what they
        cannot see)."""
        return self.namespace

    def _scope(self, kind: str, namespace: str | None) -> str | None:
        if namespace is None and not is_cluster_scoped(kind):
            return self.namespace
        return namespace

    async def get(self, ref: ObjectRef) -> Manifest:
        found: Manifest = await self.client.get(ref)
        return found

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
        options: dict[str, Any] = {"labels": labels, "metadata_only": metadata_only}
        if fields:
            options["fields"] = fields
        found: ObjectList = await self.client.list(
            api_version, kind, namespace=self._scope(kind, namespace), **options
        )
        return found

    async def create(self, obj: Manifest) -> Manifest:
        created: Manifest = await self.client.create(obj)
        return created

    async def apply(self, obj: Manifest, *, field_manager: str = "kaito") -> Manifest:
        applied: Manifest = await self.client.apply(obj, field_manager=field_manager)
        return applied

    async def update(self, obj: Manifest) -> Manifest:
        updated: Manifest = await self.client.update(obj)
        return updated

    async def apply_status(self, obj: Manifest) -> Manifest:
        written: Manifest = await self.client.apply_status(obj)
        return written

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background") -> None:
        await self.client.delete(ref, propagation=propagation)

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        stream: AsyncIterator[WatchEvent] = self.client.watch(
            api_version,
            kind,
            namespace=self._scope(kind, namespace),
            resource_version=resource_version,
            metadata_only=metadata_only,
        )
        return stream
