"""The InferenceSet's hooks: the objects it reads without owning them, and its CRD.

Its replica Workspaces reach it by owner reference (or, for one left without an owner, by its
``inferenceset.kaito.sh/created-by`` label: `kaito_core.inferenceset.kind`), so a replica's
status change wakes its InferenceSet. Beyond them the planner reads:

- the Workspaces holding its replicas' names (``<set>-<slot>`` for each slot below
  ``spec.replicas``), whoever owns them: a name held by another Workspace is never written over
  (the planner reports ``ReplicaNameConflict``), so it must be seen. A Workspace named like a
  slot that belongs to no InferenceSet wakes the set of that name (informer index ``name``)
  when it appears or goes away;
- the ScaledObject named after it, whoever manages it (when KEDA ScaledObjects are
  provisioned: one keda-kaito-scaler does not manage is left alone);
- the template's inference ConfigMap (it can change how many GPU nodes a replica needs, which
  ``spec.nodeCountLimit`` is counted in); a change of it wakes the sets naming it (index
  ``config``).

`with_keda` turns a registry's InferenceSet into the one whose planner provisions KEDA
ScaledObjects (``kaito operator --keda-scaled-objects``). The CRD is
`kaito_backends.operator.inferenceset_crd.inferenceset_crd`, generated from the attrs model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from kaito_backends.kinds.hooks import ClusterView, IndexLookup, KindHooks, Watch
from kaito_backends.objects import Key, Manifest
from kaito_core.inferenceset import KIND, MAX_REPLICAS
from kaito_core.inferenceset.children import child_name
from kaito_core.inferenceset.keda import SCALED_OBJECT_API_VERSION, KedaScaler
from kaito_core.inferenceset.kind import inferenceset_kind
from kaito_core.kinds import Registry

__all__ = ["INFERENCESET_HOOKS", "slot_names", "with_keda"]

_WORKSPACE_API = "kaito.sh/v1beta1"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace") or "default")


def slot_names(iset: Mapping[str, Any]) -> list[str]:
    """The replica names of an InferenceSet manifest: ``<name>-0 .. <name>-<replicas-1>``
    (``spec.replicas`` defaults to 1; at most `MAX_REPLICAS` names)."""
    spec = iset.get("spec") if isinstance(iset.get("spec"), Mapping) else {}
    replicas = spec.get("replicas", 1) if isinstance(spec, Mapping) else 1
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        replicas = 1
    name = str(_meta(iset).get("name") or "")
    return [child_name(name, slot) for slot in range(max(0, min(replicas, MAX_REPLICAS)))]


def _template_config(iset: Mapping[str, Any]) -> str | None:
    spec = iset.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    inference = template.get("inference") if isinstance(template, Mapping) else None
    config = inference.get("config") if isinstance(inference, Mapping) else None
    return config if isinstance(config, str) and config else None


# -- informer indexes of the InferenceSets --------------------------------------------------------
def _by_name(iset: Manifest) -> Iterable[Hashable]:
    return ((_namespace(iset), str(_meta(iset).get("name") or "")),)


def _config_ref(iset: Manifest) -> Iterable[Hashable]:
    config = _template_config(iset)
    return ((_namespace(iset), config),) if config else ()


# -- watches --------------------------------------------------------------------------------------
def _slot_holder_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    if change == "MODIFIED" or any(owner.kind == KIND for owner in owners):
        return ()  # a replica of a set reaches it through its owner; only existence matters
    prefix, _, slot = str(_meta(obj).get("name") or "").rpartition("-")
    if not prefix or not slot.isdigit():
        return ()
    return index("name", (_namespace(obj), prefix))


def _config_map_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    return index("config", (_namespace(obj), str(_meta(obj).get("name") or "")))


# -- what the plan reads beyond what the InferenceSet owns ----------------------------------------
async def _related(key: Key, iset: Mapping[str, Any], view: ClusterView) -> dict[str, Any]:
    objects: list[Manifest] = []
    for name in slot_names(iset):
        found = await view.object(_WORKSPACE_API, "Workspace", key.namespace, name)
        if found is not None:
            objects.append(found)
    scaled = await view.object(SCALED_OBJECT_API_VERSION, "ScaledObject", key.namespace, key.name)
    if scaled is not None:
        objects.append(scaled)
    related: dict[str, Any] = {"objects": objects}
    config = _template_config(iset)
    if config:
        cm = await view.config_map(key.namespace, config)
        related["config_maps"] = {config: cm} if cm is not None else {}
    return related


def _crd(*, labels: Mapping[str, str] | None = None) -> Manifest:
    from kaito_backends.operator.inferenceset_crd import inferenceset_crd

    return inferenceset_crd(labels=labels)


INFERENCESET_HOOKS = KindHooks(
    indexers={"name": _by_name, "config": _config_ref},
    watches=(
        Watch(kind="Workspace", enqueue=_slot_holder_changed),
        Watch(kind="ConfigMap", enqueue=_config_map_changed),
    ),
    related=_related,
    crd=_crd,
)


def with_keda(registry: Registry, scaler: KedaScaler | None = None) -> Registry:
    """``registry`` with its InferenceSet replaced by one whose planner provisions the KEDA
    ScaledObjects sets ask for, through ``scaler`` (keda-kaito-scaler's chart defaults when
    None); unchanged when it has no InferenceSet."""
    if KIND not in registry:
        return registry
    return registry.with_kind(inferenceset_kind(keda=scaler or KedaScaler()))
