"""`KarpenterProvisioner`: the `NodeProvisioner` protocol over Karpenter's ``karpenter.sh/v1``.

Two modes (docs/kubernetes.md):

``mode="nodeclaim"`` (default; the gpu-provisioner shape, controller.md §3.5)
    The planner's NodeClaims are the machines. ``provision`` lists the workspace's claims (by
    the ``kaito.sh/workspace`` / ``kaito.sh/workspacenamespace`` labels, which it also stamps
    on every claim), server-side applies each missing one by its deterministic name (a present
    one is left alone: NodeClaim specs are immutable, and a second claim of one name cannot
    exist), and deletes the workspace's claims that are no longer asked for. ``observe`` lists
    them; ``release`` deletes them all.

``mode="nodepool"`` (upstream's Karpenter provisioner, controller.md §4)
    One static-capacity NodePool per workspace (`node_pool_from_claims`), with
    ``spec.replicas`` = the number of claims asked for, only ever increased (a lower count
    keeps the stored value, as upstream does; an empty list changes nothing). Karpenter makes
    the NodeClaims, labelled ``karpenter.sh/nodepool=<pool>``, which ``observe`` lists.
    ``release`` deletes the NodePool and its NodeClaims. The planner's claim names are not
    kept (Karpenter names the claims), so the engine sees "claims differ" on every reconcile
    and calls ``provision`` again: that costs one GET and one no-op apply.

``node_class`` is the ``nodeClassRef`` NodePools point at (AKS' ``AKSNodeClass/default`` unless
told). Given explicitly, it also replaces the ``nodeClassRef`` the planner rendered into each
NodeClaim (``kaito.sh/KaitoNodeClass`` on Azure, ``EC2NodeClass`` on AWS): a Karpenter whose
cloud provider serves another node class kind, such as Karpenter's kwok provider and its
``karpenter.kwok.sh/KWOKNodeClass`` (``kaito operator --karpenter-node-class``), launches only
claims of its own kind.

In both modes a claim that Karpenter could not launch for want of capacity (``Launched=False``,
reason ``InsufficientCapacity``) makes ``provision`` raise `InsufficientCapacity` with the
provider's message. `readiness` adds what the claims alone do not say: whether each claim's
Node is Ready and advertises ``nvidia.com/gpu`` capacity (`kaito_backends.karpenter.readiness`).
``instance_types`` lists the catalog's GPU SKUs (of ``cloud``, when given). Every write uses
one field manager; deletes tolerate `NotFound`.

A cluster without Karpenter's CRDs serves no NodeClaims (or NodePools): ``provision`` raises
`KindNotServed` (reason ``NodeClaimCRDMissing`` / ``NodePoolCRDMissing``) with a message that
says what is missing and how to install it, which the engine shows on the object's
ResourceReady condition; reads of an unserved kind are empty and ``release`` has nothing to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from kaito_backends.errors import InsufficientCapacity, Invalid, KindNotServed, NotFound
from kaito_backends.karpenter.nodepools import NodeClass, node_pool_from_claims, pool_name
from kaito_backends.karpenter.readiness import Readiness, capacity_refusal
from kaito_backends.objects import Key, Manifest, ObjectRef, clone, machine_labels
from kaito_backends.protocols import ClusterClient
from kaito_core.render.nodeclaims import LABEL_NODEPOOL

if TYPE_CHECKING:
    from kaito_presets import Catalog, GpuSku

__all__ = [
    "LABEL_WORKSPACE",
    "LABEL_WORKSPACE_NAMESPACE",
    "NODECLAIM_API",
    "KarpenterProvisioner",
    "Mode",
]

NODECLAIM_API = "karpenter.sh/v1"
LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"
Mode = Literal["nodeclaim", "nodepool"]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


class KarpenterProvisioner:
    """GPU machines as Karpenter NodeClaims or per-workspace NodePools (module docstring)."""

    name = "karpenter"

    def __init__(
        self,
        client: ClusterClient,
        *,
        mode: Mode = "nodeclaim",
        catalog: Catalog | None = None,
        cloud: str | None = None,
        node_class: NodeClass | None = None,
        field_manager: str = "kaito",
    ) -> None:
        if mode not in ("nodeclaim", "nodepool"):
            raise ValueError(f"mode must be 'nodeclaim' or 'nodepool', not {mode!r}")
        self.client = client
        self.mode: Mode = mode
        self.cloud = cloud
        self.node_class = node_class or NodeClass()
        #: replace the rendered claims' nodeClassRef (only when a node class was given)
        self.claim_node_class = node_class
        self.field_manager = field_manager
        self._catalog = catalog

    # -- catalog ---------------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            from kaito_presets import default_catalog

            self._catalog = default_catalog()
        return self._catalog

    async def instance_types(self) -> Sequence[GpuSku]:
        return tuple(
            sku
            for sku in self.catalog.skus()
            if sku.gpu_count > 0 and (self.cloud is None or sku.cloud == self.cloud)
        )

    # -- provisioning ----------------------------------------------------------------------------
    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        wanted = self._prepared(key, node_claims)
        if self.mode == "nodepool":
            await self._provision_pool(key, list(wanted.values()))
            return
        present = {_name(c): c for c in await self._claims(key)}
        for name, claim in present.items():
            if name not in wanted and not _deleting(claim):
                await self._delete(ObjectRef(NODECLAIM_API, "NodeClaim", name))
        for name, claim in wanted.items():
            if name not in present:
                await self._apply(claim)
        refusal = capacity_refusal([c for n, c in present.items() if n in wanted])
        if refusal:
            raise InsufficientCapacity(refusal)

    def _prepared(self, key: Key, node_claims: Sequence[Manifest]) -> dict[str, Manifest]:
        """The claims by name, as NodeClaims of this workspace (copies; labels stamped)."""
        wanted: dict[str, Manifest] = {}
        for claim in node_claims:
            copied: Manifest = clone(dict(claim))
            copied.setdefault("apiVersion", NODECLAIM_API)
            copied.setdefault("kind", "NodeClaim")
            if copied["kind"] != "NodeClaim":
                raise Invalid(
                    f"{key.kind.lower()} {key}: expected NodeClaims, got a {copied['kind']}"
                )
            meta = copied["metadata"] = dict(copied.get("metadata") or {})
            meta.pop("namespace", None)
            meta.pop("resourceVersion", None)
            copied.pop("status", None)
            if self.claim_node_class is not None:
                node_class = self.claim_node_class
                spec = copied["spec"] = dict(copied.get("spec") or {})
                spec["nodeClassRef"] = {
                    "group": node_class.group,
                    "kind": node_class.kind,
                    "name": node_class.name,
                }
            if not meta.get("name"):
                raise Invalid(
                    f"{key.kind.lower()} {key}: a NodeClaim to provision needs metadata.name"
                )
            meta["labels"] = {**(meta.get("labels") or {}), **machine_labels(key)}
            wanted[str(meta["name"])] = copied
        return wanted

    async def _provision_pool(self, key: Key, claims: list[Manifest]) -> None:
        if not claims:
            return
        ref = self._pool_ref(key)
        try:
            current: Manifest | None = await self.client.get(ref)
        except NotFound:
            current = None
        if current is not None and _deleting(current):
            return  # being released: wait until it is gone, then a new one is made
        stored = int(((current or {}).get("spec") or {}).get("replicas") or 0)
        pool = node_pool_from_claims(
            key, claims, node_class=self.node_class, replicas=max(stored, len(claims))
        )
        await self._apply(pool)
        refusal = capacity_refusal(await self.observe(key))
        if refusal:
            raise InsufficientCapacity(refusal)

    async def _apply(self, obj: Manifest) -> None:
        try:
            await self.client.apply(obj, field_manager=self.field_manager)
        except KindNotServed as error:
            raise _not_served(str(obj.get("kind") or ""), error) from None

    # -- reading ---------------------------------------------------------------------------------
    def _pool_ref(self, key: Key) -> ObjectRef:
        return ObjectRef(NODECLAIM_API, "NodePool", pool_name(key))

    def _selector(self, key: Key) -> dict[str, str]:
        if self.mode == "nodepool":
            return {LABEL_NODEPOOL: pool_name(key)}
        return machine_labels(key)

    async def _claims(self, key: Key) -> tuple[Manifest, ...]:
        listed = await self.client.list(NODECLAIM_API, "NodeClaim", labels=self._selector(key))
        return tuple(sorted(listed.items, key=_name))

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        return await self._claims(key)

    async def readiness(self, key: Key, *, wanted: int | None = None) -> Readiness:
        """The workspace's claims and their Nodes summed up (`Readiness`). Read-only.

        ``wanted``: how many machines the workspace needs (None: as many claims as exist).
        """
        claims = await self._claims(key)
        nodes: dict[str, Manifest] = {}
        for claim in claims:
            node_name = str((claim.get("status") or {}).get("nodeName") or "")
            if node_name and node_name not in nodes:
                try:
                    nodes[node_name] = await self.client.get(ObjectRef("v1", "Node", node_name))
                except NotFound:
                    continue
        return Readiness.of(claims, nodes, wanted=wanted)

    # -- releasing -------------------------------------------------------------------------------
    async def release(self, key: Key) -> None:
        if self.mode == "nodepool":
            await self._delete(self._pool_ref(key))
        for claim in await self._claims(key):
            if not _deleting(claim):
                await self._delete(ObjectRef(NODECLAIM_API, "NodeClaim", _name(claim)))

    async def _delete(self, ref: ObjectRef) -> None:
        with contextlib.suppress(NotFound):
            await self.client.delete(ref, propagation="Background")


def _not_served(kind: str, error: KindNotServed) -> KindNotServed:
    """The error for a cluster without Karpenter's CRDs: what is missing, how to install it."""
    plural = "nodeclaims" if kind == "NodeClaim" else "nodepools"
    return KindNotServed(
        f"the cluster does not serve {kind}s ({NODECLAIM_API}): the CustomResourceDefinition "
        f"{plural}.karpenter.sh is not installed. Install Karpenter with its CRDs "
        "(https://karpenter.sh/docs/getting-started/), or run the operator with --backend byo "
        "to use GPU nodes you bring yourself",
        api_version=NODECLAIM_API,
        kind=kind or error.kind,
    )
