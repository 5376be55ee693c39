"""The Workspace's hooks: the objects a Workspace reads without owning them, and its CRD.

- the ConfigMaps its spec names (``inference.config``, ``tuning.config``), by name: a change
  of one reconciles the Workspaces naming it (informer index ``config``);
- the names of the Secrets in its namespace (a ``modelAccessSecret`` must exist; contents are
  never read): a Secret created or deleted reconciles the namespace's Workspaces (index
  ``namespace``; an update changes nothing the plan reads);
- bring-your-own Nodes, matched by ``resource.labelSelector.matchLabels`` without KAITO's
  reserved keys: a Node with no owner reconciles the Workspaces whose selector it matches
  (index ``byo``: the Workspaces that have a selector).

The admission webhook reads, for a CREATE, the ConfigMaps the spec names (a missing one is
reported) and, with bring-your-own nodes, the Nodes its selector matches (the GPU checks). The
CRD is `kaito_backends.operator.crd.workspace_crd`, generated from the attrs model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.kinds.hooks import AdmissionReader, ClusterView, IndexLookup, KindHooks, Watch
from kaito_backends.objects import Key, Manifest
from kaito_core.render.meta import sanitized_match_labels
from kaito_core.validation import ValidationContext

__all__ = ["RESERVED_LABELS", "WORKSPACE_HOOKS", "referenced_config_maps", "selector_labels"]

#: Labels KAITO sets itself: never part of a bring-your-own node selector.
RESERVED_LABELS = frozenset(
    {
        "kaito.sh/workspace",
        "kaito.sh/workspacenamespace",
        "karpenter.kaito.sh/workspace-name",
        "karpenter.kaito.sh/workspace-namespace",
        "kaito.sh/ragengine",
        "kaito.sh/ragenginenamespace",
        "karpenter.kaito.sh/inferenceset",
        "karpenter.kaito.sh/inferenceset-namespace",
    }
)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


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
    return {str(k): str(v) for k, v in sorted(match.items()) if k not in RESERVED_LABELS}


# -- indexes of the Workspace informer --------------------------------------------------------
def _config_refs(ws: Manifest) -> Iterable[Hashable]:
    ns = str(_meta(ws).get("namespace") or "default")
    return [(ns, name) for name in referenced_config_maps(ws)]


def _namespace(ws: Manifest) -> Iterable[Hashable]:
    return (str(_meta(ws).get("namespace") or "default"),)


def _brings_own_nodes(ws: Manifest) -> Iterable[Hashable]:
    return ("byo",) if selector_labels(ws) else ()


# -- what wakes a Workspace up ----------------------------------------------------------------
def _config_map_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    meta = _meta(obj)
    return index("config", (str(meta.get("namespace") or "default"), str(meta.get("name") or "")))


def _secret_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    if change == "MODIFIED":
        return ()  # only existence is read: contents never matter
    return index("namespace", str(_meta(obj).get("namespace") or "default"))


def _node_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    if owners:
        return ()  # a machine of ours: its owner is reconciled already
    labels = _meta(obj).get("labels") or {}
    return [
        ws
        for ws in index("byo", "byo")
        if all(labels.get(k) == v for k, v in selector_labels(ws).items())
    ]


# -- what the plan reads beyond what the Workspace owns ------------------------------------------
async def _related(key: Key, workspace: Mapping[str, Any], view: ClusterView) -> dict[str, Any]:
    related: dict[str, Any] = {}
    selector = selector_labels(workspace)
    if selector:
        related["nodes"] = await view.nodes_labelled(selector)
    config_maps: dict[str, Manifest] = {}
    for name in referenced_config_maps(workspace):
        cm = await view.config_map(key.namespace, name)
        if cm is not None:
            config_maps[name] = cm
    related["config_maps"] = config_maps
    related["secrets"] = await view.secret_names(key.namespace)
    return related


# -- what admission reads -------------------------------------------------------------------------
async def _admission(
    ws: Any, context: ValidationContext, reader: AdmissionReader
) -> ValidationContext:
    names = sorted(
        {
            name
            for name in (
                ws.inference.config if ws.inference is not None else None,
                ws.tuning.config if ws.tuning is not None else None,
            )
            if name
        }
    )
    if names and context.config_maps is None:
        found = await reader.config_maps(ws.namespace, names)
        if found is not None:
            context = attrs.evolve(context, config_maps=found)
    if not context.nap and not context.nodes:
        labels = sanitized_match_labels(ws)
        if labels:
            nodes = await reader.nodes(labels)
            if nodes:
                context = attrs.evolve(context, nodes=nodes)
    return context


def _crd(*, labels: Mapping[str, str] | None = None) -> Manifest:
    from kaito_backends.operator.crd import workspace_crd

    return workspace_crd(labels=labels)


WORKSPACE_HOOKS = KindHooks(
    indexers={"config": _config_refs, "namespace": _namespace, "byo": _brings_own_nodes},
    watches=(
        Watch(kind="ConfigMap", enqueue=_config_map_changed),
        Watch(kind="Secret", enqueue=_secret_changed),
        Watch(kind="Node", enqueue=_node_changed),
    ),
    related=_related,
    admission=_admission,
    crd=_crd,
)
