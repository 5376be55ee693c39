"""`FakeProvisioner`: the `NodeProvisioner` protocol over NodeClaims in the fake store.

NodeClaims are cluster-scoped ``karpenter.sh/v1`` objects labelled with their key's
`kaito_backends.objects.machine_labels` (``kaito.sh/workspace`` and
``kaito.sh/workspacenamespace`` for a Workspace; added when missing); the simulated node
controller launches them (`kaito_backends.fake.nodes`). ``provision`` creates the missing
claims by name, deletes the key's claims that are not asked for, and raises
`InsufficientCapacity` (after creating the rest) when the fault plan refuses a machine; the
refused claim stays, Launched=False.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kaito_backends.errors import BackendError, InsufficientCapacity, Invalid
from kaito_backends.fake.client import Recorder
from kaito_backends.fake.faults import Faults
from kaito_backends.fake.nodes import NODECLAIM_API, instance_type_of, quota_message
from kaito_backends.fake.store import Store
from kaito_backends.objects import Key, Manifest, clone, machine_labels

if TYPE_CHECKING:
    from kaito_presets import Catalog, GpuSku

__all__ = ["LABEL_WORKSPACE", "LABEL_WORKSPACE_NAMESPACE", "FakeProvisioner"]

LABEL_WORKSPACE = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE = "kaito.sh/workspacenamespace"


class FakeProvisioner:
    """Provisions GPU nodes as NodeClaims the fake cluster launches."""

    name = "fake"

    def __init__(self, store: Store, faults: Faults, recorder: Recorder, catalog: Catalog) -> None:
        self._store = store
        self._faults = faults
        self._recorder = recorder
        self._catalog = catalog

    def _call(self, verb: str, key: Key | None) -> None:
        index = self._recorder.record(
            verb, "NodeClaim", key.namespace if key else None, key.name if key else None
        )
        try:
            self._faults.api(verb, "NodeClaim", key.name if key else "", call=index)
        except BackendError:
            self._recorder.fail(index)
            raise

    def _claims(self, key: Key) -> list[Manifest]:
        return self._store.select(NODECLAIM_API, "NodeClaim", None, machine_labels(key))

    async def instance_types(self) -> Sequence[GpuSku]:
        self._call("instance_types", None)
        return self._catalog.skus()

    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        self._call("provision", key)
        wanted: dict[str, Manifest] = {}
        for claim in node_claims:
            copied: Manifest = clone(dict(claim))
            copied.setdefault("apiVersion", NODECLAIM_API)
            copied.setdefault("kind", "NodeClaim")
            meta = copied["metadata"] = dict(copied.get("metadata") or {})
            meta.pop("namespace", None)
            if not meta.get("name"):
                raise Invalid("a NodeClaim to provision needs metadata.name")
            meta["labels"] = {**(meta.get("labels") or {}), **machine_labels(key)}
            wanted[meta["name"]] = copied
        for existing in self._claims(key):
            meta = existing["metadata"]
            if meta["name"] not in wanted and not meta.get("deletionTimestamp"):
                self._store.delete(NODECLAIM_API, "NodeClaim", None, meta["name"])
        refused: list[str] = []
        for name, claim in wanted.items():
            if self._store.find(NODECLAIM_API, "NodeClaim", None, name) is not None:
                continue
            stored = self._store.create(claim)
            if self._faults.launch_fails(stored["metadata"]["uid"], name):
                sku = self._catalog.find_sku(instance_type_of(stored))
                refused.append(
                    quota_message(
                        instance_type_of(stored),
                        sku.gpu_count if sku else 1,
                        sku.cloud if sku else "azure",
                    )
                )
        if refused:
            raise InsufficientCapacity(refused[0])

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        self._call("observe", key)
        return tuple(clone(c) for c in self._claims(key))

    async def release(self, key: Key) -> None:
        self._call("release", key)
        for claim in self._claims(key):
            if not claim["metadata"].get("deletionTimestamp"):
                self._store.delete(NODECLAIM_API, "NodeClaim", None, claim["metadata"]["name"])
