"""The RAGEngine's hooks: what a RAGEngine reads without owning it, and its CRD.

What the plan reads beyond its children (the ``related`` hook fills `kaito_core.observed.Observed`):

- ``references``, for the wiring check (`kaito_core.ragengine.wiring`): the Service
  ``inferenceService.url`` names (`kaito_core.ragengine.inference_target`; possibly in another
  namespace), the Workspace controlling that Service (or, while the Service does not exist,
  the Workspace of its name, which may not have made it yet), and that Workspace's
  ``inference.config`` ConfigMap, whichever exist. Always looked up (a tuple), so a Service
  that does not exist is reported as such (unless the operator's namespace scope hides it);
- ``config_maps``: the ConfigMap ``guardrails.configMapRef.name`` names (by name), and the
  release namespace's ``ragengine-guardrails-policy-template`` (by ``<namespace>/<name>``;
  the release namespace is `kaito_core.ragengine.DEFAULT_RELEASE_NAMESPACE`, as the plan's
  `RAGEngineSettings.from_plan_settings` assumes);
- ``nodes``: the Nodes matching ``compute.labelSelector`` (KAITO's reserved keys removed), so a
  node someone else made can serve the RAGEngine.

What wakes a RAGEngine up (informer indexes of the RAGEngine informer, `Watch`es):

- a change of the Service its URL names (index ``target``: ``(namespace, service)``);
- a change of any Workspace, or of a ConfigMap no object owns, in the namespace its URL leads to
  (index ``target-namespace``): a Workspace becoming ready, or its inference ConfigMap changing
  its max model length, changes the wiring conditions;
- a change of the guardrails ConfigMap or the policy template (index ``config``);
- a Node with no owner whose labels match its compute selector (index ``byo``).

The admission webhook reads, for a CREATE with guardrails on, the ConfigMap ``configMapRef``
names (a missing one, or one without ``guardrails.yaml``, is reported). The CRD is
`kaito_backends.operator.ragengine_crd.ragengine_crd`, generated from the attrs model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.kinds.hooks import AdmissionReader, ClusterView, IndexLookup, KindHooks, Watch
from kaito_backends.objects import Key, Manifest
from kaito_core.api import ManifestError
from kaito_core.api.ragengine import DEFAULT_GUARDRAILS_POLICY_CONFIG_MAP, RAGEngine
from kaito_core.ragengine import DEFAULT_RELEASE_NAMESPACE, InferenceTarget, inference_target
from kaito_core.ragengine.render import sanitized_selector
from kaito_core.validation import ValidationContext

__all__ = ["RAGENGINE_HOOKS", "guardrails_config_map", "target_of"]

_POLICY_TEMPLATE = (DEFAULT_RELEASE_NAMESPACE, DEFAULT_GUARDRAILS_POLICY_CONFIG_MAP)
_WORKSPACE_API = "kaito.sh/v1beta1"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _parsed(manifest: Mapping[str, Any]) -> RAGEngine | None:
    try:
        return RAGEngine.from_manifest(manifest)
    except ManifestError:
        return None  # the reconciler reports it (InvalidSpec)


def target_of(rag: Mapping[str, Any]) -> InferenceTarget | None:
    """The in-cluster Service a RAGEngine manifest's ``inferenceService.url`` names, or None
    (no URL, an address outside the cluster, or a manifest that does not parse)."""
    parsed = _parsed(rag)
    return inference_target(parsed) if parsed is not None else None


def guardrails_config_map(rag: RAGEngine) -> str | None:
    """The ConfigMap ``guardrails.configMapRef.name`` names while guardrails are enabled."""
    guardrails = rag.spec.guardrails if rag.spec is not None else None
    if guardrails is None or not guardrails.enabled or guardrails.config_map_ref is None:
        return None
    return guardrails.config_map_ref.name or None


def _controller(obj: Mapping[str, Any], kind: str) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("kind") == kind and ref.get("controller") and ref.get("name"):
            return str(ref["name"])
    return None


def _inference_config(workspace: Mapping[str, Any]) -> str | None:
    inference = workspace.get("inference")
    name = inference.get("config") if isinstance(inference, Mapping) else None
    return name if isinstance(name, str) and name else None


# -- indexes of the RAGEngine informer --------------------------------------------------------
def _target(rag: Manifest) -> Iterable[Hashable]:
    target = target_of(rag)
    return () if target is None else ((target.namespace, target.service),)


def _target_namespace(rag: Manifest) -> Iterable[Hashable]:
    target = target_of(rag)
    return () if target is None else (target.namespace,)


def _config_refs(rag: Manifest) -> Iterable[Hashable]:
    parsed = _parsed(rag)
    if parsed is None or parsed.spec is None or parsed.spec.guardrails is None:
        return ()
    name = guardrails_config_map(parsed)
    return ((parsed.namespace, name),) if name else (_POLICY_TEMPLATE,)


def _brings_own_nodes(rag: Manifest) -> Iterable[Hashable]:
    parsed = _parsed(rag)
    return ("byo",) if parsed is not None and sanitized_selector(parsed) else ()


# -- what wakes a RAGEngine up ----------------------------------------------------------------
def _where(obj: Manifest) -> tuple[str, str]:
    meta = _meta(obj)
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def _service_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    return index("target", _where(obj))


def _workspace_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    return index("target-namespace", _where(obj)[0])


def _config_map_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    where = _where(obj)
    found = {_where(rag): rag for rag in index("config", where)}
    if not owners:  # maybe a Workspace's inference ConfigMap
        found.update({_where(rag): rag for rag in index("target-namespace", where[0])})
    return [found[k] for k in sorted(found)]


def _node_changed(
    change: str, obj: Manifest, owners: Sequence[Key], index: IndexLookup
) -> Iterable[Manifest]:
    if owners:
        return ()  # a machine of ours: its owner is reconciled already
    labels = _meta(obj).get("labels") or {}
    wanted = []
    for rag in index("byo", "byo"):
        parsed = _parsed(rag)
        selector = sanitized_selector(parsed) if parsed is not None else {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            wanted.append(rag)
    return wanted


# -- what the plan reads beyond what the RAGEngine owns ------------------------------------------
async def _references(target: InferenceTarget, view: ClusterView) -> tuple[Manifest, ...]:
    service = await view.object("v1", "Service", target.namespace, target.service)
    found = [] if service is None else [service]
    # a missing Service may be one a Workspace of that name has not made yet
    owner = target.service if service is None else _controller(service, "Workspace")
    if owner is None:
        return tuple(found)
    workspace = await view.object(_WORKSPACE_API, "Workspace", target.namespace, owner)
    if workspace is None:
        return tuple(found)
    found.append(workspace)
    config = _inference_config(workspace)
    if config:
        config_map = await view.config_map(target.namespace, config)
        if config_map is not None:
            found.append(config_map)
    return tuple(found)


async def _related(key: Key, manifest: Mapping[str, Any], view: ClusterView) -> dict[str, Any]:
    rag = _parsed(manifest)
    if rag is None:
        return {}
    rag = attrs.evolve(rag, metadata=attrs.evolve(rag.metadata, namespace=key.namespace))
    related: dict[str, Any] = {}
    selector = sanitized_selector(rag)
    if selector:
        related["nodes"] = await view.nodes_labelled(selector)
    config_maps: dict[str, Manifest] = {}
    name = guardrails_config_map(rag)
    if name:
        found = await view.config_map(key.namespace, name)
        if found is not None:
            config_maps[name] = found
    elif rag.spec is not None and rag.spec.guardrails is not None and rag.spec.guardrails.enabled:
        template = await view.config_map(*_POLICY_TEMPLATE)
        if template is not None:
            config_maps["/".join(_POLICY_TEMPLATE)] = template
    related["config_maps"] = config_maps
    target = inference_target(rag)
    if target is None:
        related["references"] = ()
    elif view.sees(target.namespace):
        related["references"] = await _references(target, view)
    # else: outside the operator's namespace scope, unknown (None): not checked
    return related


# -- what admission reads -------------------------------------------------------------------------
async def _admission(
    rag: Any, context: ValidationContext, reader: AdmissionReader
) -> ValidationContext:
    name = guardrails_config_map(rag) if isinstance(rag, RAGEngine) else None
    if name and context.config_maps is None:
        found = await reader.config_maps(rag.namespace, [name])
        if found is not None:
            context = attrs.evolve(context, config_maps=found)
    return context


def _crd(*, labels: Mapping[str, str] | None = None) -> Manifest:
    from kaito_backends.operator.ragengine_crd import ragengine_crd

    return ragengine_crd(labels=labels)


RAGENGINE_HOOKS = KindHooks(
    indexers={
        "target": _target,
        "target-namespace": _target_namespace,
        "config": _config_refs,
        "byo": _brings_own_nodes,
    },
    watches=(
        Watch(kind="Service", enqueue=_service_changed),
        Watch(kind="Workspace", enqueue=_workspace_changed),
        Watch(kind="ConfigMap", enqueue=_config_map_changed),
        Watch(kind="Node", enqueue=_node_changed),
    ),
    related=_related,
    admission=_admission,
    crd=_crd,
)
