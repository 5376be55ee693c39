"""What the engine saw in the cluster for one Workspace: the only input status is computed from.

Pure: no I/O, no clock, no logging.

The shell fills an `Observed` from its caches (or a backend's list calls) and hands it to
`kaito_core.plan`. Every object is a plain manifest dict in wire shape, exactly as the API server
returns it. Nothing here is "what we created": status never trusts our own writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Manifest", "Observed", "ref_key"]

Manifest = dict[str, Any]


def ref_key(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` of a manifest: the key objects are compared by within one workspace."""
    return f"{obj.get('kind', '')}/{obj.get('metadata', {}).get('name', '')}"


@attrs.frozen(kw_only=True)
class Observed:
    """A snapshot of the cluster around one Workspace.

    - `node_claims`: the workspace's NodeClaims (labelled ``kaito.sh/workspace``/``-namespace``),
      as the node provisioner reports them, deleting ones included.
    - `nodes`: Nodes matching the workspace's label selector or carrying its workspace labels.
    - `pods`: Pods labelled ``kaito.sh/workspace=<name>`` in the workspace's namespace.
    - `objects`: the workspace's own children (StatefulSet, Services, ConfigMaps, Job,
      ControllerRevisions, a legacy Deployment), as they are stored now.
    - `config_maps`: ConfigMaps the spec refers to, by name (user inference/tuning configs),
      and the release-namespace tuning templates by ``<namespace>/<name>``.
    - `secrets`: names of Secrets present in the workspace's namespace (contents never read).
    - `provision_error`: the node provisioner's last refusal (e.g. quota), shown on ResourceReady
      with reason `provision_reason` (None: ``InsufficientCapacity``; ``QuotaExceeded`` when a
      quota pre-flight refused).
    - `references`: objects the spec points at that the object does not own, as stored now (any
      kind, any namespace; looked up with `reference`). Not `objects`, which are the object's own
      children: those are diffed and deleted when no longer wanted, and these must never be. A
      RAGEngine's are the Service its ``inferenceService.url`` names, the Workspace controlling
      that Service, and that Workspace's inference ConfigMap (`kaito_core.ragengine.wiring`).
      ``None`` (the default) means "not looked up": planners treat every reference as unknown.
      A tuple means "looked up": an object it lacks does not exist.
    """

    node_claims: tuple[Manifest, ...] = ()
    nodes: tuple[Manifest, ...] = ()
    pods: tuple[Manifest, ...] = ()
    objects: tuple[Manifest, ...] = ()
    config_maps: Mapping[str, Manifest] = attrs.field(factory=dict)
    secrets: frozenset[str] = frozenset()
    provision_error: str | None = None
    provision_reason: str | None = None
    references: tuple[Manifest, ...] | None = None

    def object(self, kind: str, name: str) -> Manifest | None:
        """The observed child of this kind and name, if any."""
        for obj in self.objects:
            if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
                return obj
        return None

    def reference(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """The referenced object of this kind, namespace and name, if it was observed."""
        for obj in self.references or ():
            meta = obj.get("metadata") or {}
            if (
                obj.get("kind") == kind
                and meta.get("name") == name
                and (meta.get("namespace") or "") == namespace
            ):
                return obj
        return None
