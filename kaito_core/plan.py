"""`plan`: from a Workspace and what is observed, everything that must exist.

Pure: no I/O, no clock, no logging. The same Workspace, observed state, catalog, settings and
`now` always give an equal `Outcome`, and its manifests serialise byte-identically.

The steps, each a pure function of the previous ones (``docs/plan.md`` has the details):

1. `decide` (`kaito_core.decision`) resolves the model, the GPU configuration, the runtime
   and dtype, the node count and the revision into one `RenderContext` (or a `SpecError` the
   user must fix).
2. The renderers turn the context into manifests: NodeClaims, the ControllerRevision, Services,
   the inference StatefulSet or the tuning Job (and its ConfigMap). The workloads are stamped with
   the hash of their whole rendered form.
3. A desired child whose name an object controlled by someone else already has (a RAGEngine's
   Service of the same name) is a `SpecError` ``ObjectConflict`` (`kaito_core.diff`).
   The desired manifests are compared with the observed ones (`kaito_core.diff`): only what
   differs is applied; what cannot change in place is deleted, to be created again once it is
   gone; children the Workspace no longer wants (stale revisions, a legacy Deployment, the objects
   of a mode it left) are deleted.
4. The status is computed from the observed state alone (`kaito_core.status`).
"""

from __future__ import annotations

import contextlib
import json
import marshal
from collections import OrderedDict
from typing import Any

import attrs

from kaito_core.api.types import Workspace, WorkspaceStatus
from kaito_core.decision import (
    REPLACE_REQUEUE_SECONDS,
    Decision,
    PlanSettings,
    decide,
)
from kaito_core.diff import changes as diff_changes
from kaito_core.diff import check_ownership
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Outcome, transition_events
from kaito_core.render.context import RenderContext
from kaito_core.render.inference import inference_statefulset, template_statefulset
from kaito_core.render.meta import child_metadata
from kaito_core.render.nodeclaims import node_claims
from kaito_core.render.revision import (
    ANNOTATION_TEMPLATE_HASH,
    controller_revision,
    stamp_template_hash,
    template_hash,
)
from kaito_core.render.services import inference_services
from kaito_core.render.tuning import tuning_config_map, tuning_config_name, tuning_job
from kaito_core.status import compute_defaulted_status
from kaito_core.status import compute_status as _compute_status
from kaito_presets import Catalog

__all__ = ["PlanSettings", "decide", "plan"]


def _stamped(obj: Manifest) -> Manifest:
    """`obj` carrying its template hash; `obj` is freshly rendered, so it is stamped in place
    when its annotations already exist (they do: the revision annotation)."""
    annotations = obj["metadata"].get("annotations")
    if not isinstance(annotations, dict):
        return stamp_template_hash(obj)
    digest = template_hash(obj)
    annotations[ANNOTATION_TEMPLATE_HASH] = digest
    obj["metadata"]["annotations"] = dict(sorted(annotations.items()))
    return obj


#: The default training ConfigMap's ``data`` by (tuning method, dtype override): the only inputs
#: of its YAML text (`kaito_core.render.tuning.default_tuning_config`), whose dump costs more
#: than rendering everything else. Bounded: there are a handful of methods and dtypes.
_CONFIG_MAP_DATA: dict[tuple[Any, Any], dict[str, Any]] = {}
_CONFIG_MAP_DATA_SIZE = 64


def _tuning_config_map(ctx: RenderContext) -> Manifest:
    """`tuning_config_map`, with its YAML text memoised (the rest is the workspace's)."""
    tuning = ctx.workspace.tuning
    key = (tuning.method if tuning is not None else None, ctx.dtype_override)
    data = _CONFIG_MAP_DATA.get(key)
    if data is None:
        manifest = tuning_config_map(ctx)
        if len(_CONFIG_MAP_DATA) < _CONFIG_MAP_DATA_SIZE:
            _CONFIG_MAP_DATA[key] = dict(manifest["data"])
        return manifest
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(ctx.workspace, tuning_config_name(ctx)),
        "data": dict(data),
    }


def _desired_objects(decision: Decision) -> list[Manifest]:
    ctx, revisions = decision.context, decision.revisions
    ws = ctx.workspace
    objects: list[Manifest] = [
        controller_revision(
            decision.spec, revision=revisions.revision, hash=revisions.hash, name=revisions.name
        )
    ]
    if ws.inference is not None:
        objects += inference_services(ctx)
        if ws.inference.template is not None:
            objects.append(_stamped(template_statefulset(ctx)))
        else:
            objects.append(_stamped(inference_statefulset(ctx)))
    elif ws.tuning is not None:
        if not ws.tuning.config:
            objects.append(_tuning_config_map(ctx))
        objects.append(_stamped(tuning_job(ctx)))
    return objects


# --- rendering, memoised ---------------------------------------------------------------------

#: Rendered manifests by `_render_key`, as marshal bytes (loading them is four times faster than
#: rendering and hashing again, and gives fresh dicts every time). Least recently used first.
_RENDER_CACHE: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_RENDER_CACHE_SIZE = 16384


def _render_key(decision: Decision, catalog: Catalog, settings: PlanSettings) -> tuple[Any, ...]:
    """Everything the renderers read: the workspace's name, namespace, uid, spec (as JSON in
    the user's key order, which the ControllerRevision and a pod template keep; with the
    catalog it also fixes the model), labels and annotations, and the decided facts."""
    ctx, revisions = decision.context, decision.revisions
    ws = ctx.workspace
    return (
        catalog,
        settings,
        revisions.revision,
        revisions.name,
        decision.spec_json,
        tuple(ws.labels.items()),
        tuple(ws.annotations.items()),
        ctx.node_count,
        ctx.runtime,
        ctx.dtype_override,
        ctx.gpu,
        None if ctx.inference_config is None else tuple(ctx.inference_config.items()),
        None if ctx.tuning_config is None else json.dumps(ctx.tuning_config, default=repr),
    )


def _render(
    decision: Decision, catalog: Catalog, settings: PlanSettings
) -> tuple[list[Manifest], list[Manifest]]:
    """The NodeClaims and the desired objects of `decision` (fresh dicts on every call).

    Raises `SpecError` from the renderers (those results are not memoised).
    """
    key = _render_key(decision, catalog, settings)
    blob = _RENDER_CACHE.get(key)
    if blob is not None:
        with contextlib.suppress(KeyError):  # another thread evicted it meanwhile
            _RENDER_CACHE.move_to_end(key)
        claims, desired = marshal.loads(blob)
        return claims, desired
    ctx = decision.context
    claims = node_claims(ctx, default_image_family=settings.default_node_image_family)
    desired = _desired_objects(decision)
    try:
        _RENDER_CACHE[key] = marshal.dumps((claims, desired))
    except ValueError:  # a value marshal cannot write (never in what we render): no memo
        return claims, desired
    while len(_RENDER_CACHE) > _RENDER_CACHE_SIZE:
        with contextlib.suppress(KeyError):
            _RENDER_CACHE.popitem(last=False)
    return claims, desired


# --- the plan ---------------------------------------------------------------------------------


def _canonical_instance_type(ws: Workspace, catalog: Catalog) -> Workspace:
    """`ws` with the catalog's spelling of its instance type: the webhook accepts any case
    (``standard_nc24ads_a100_v4``), nodes carry the catalog's (``Standard_NC24ads_A100_v4``), and
    NodeClaims, the summary and the node checks of the status must all use the one the nodes
    carry, or the Workspace never sees its nodes as its own."""
    resource = ws.resource
    if resource is None or not resource.instance_type:
        return ws
    canonical = catalog.canonical_instance_type(resource.instance_type)
    if canonical == resource.instance_type:
        return ws
    return attrs.evolve(ws, resource=attrs.evolve(resource, instance_type=canonical))


def plan(
    workspace: Workspace,
    *,
    observed: Observed,
    catalog: Catalog,
    now: str,
    settings: PlanSettings | None = None,
) -> Outcome[WorkspaceStatus]:
    """Everything that must exist for `workspace`, what must change, and its new status.

    `now` is an RFC 3339 timestamp used only for condition transition times. A `SpecError`
    (unknown SKU, a model that does not fit, an unsupported GPU, ...) is returned in
    `Outcome.error` with the False conditions that say so, and no objects.

    Pure: no I/O, no clock, no logging.
    """
    settings = settings or PlanSettings()
    ws = workspace.with_defaults()
    # `ws` is defaulted, so its status needs no second `with_defaults`; a converted v1alpha1
    # workspace takes the general path.
    compute_status = compute_defaulted_status
    if ws.is_v1alpha1:
        ws = ws.as_v1beta1()
        compute_status = _compute_status
    ws = _canonical_instance_type(ws, catalog)
    previous = ws.status.conditions if ws.status and ws.status.conditions else ()
    previous_target = (ws.status.target_node_count if ws.status else None) or 0
    if ws.metadata.deletion_timestamp:
        status = compute_status(
            workspace=ws,
            observed=observed,
            target_node_count=previous_target,
            now=now,
            provisioner=settings.provisioner,
        )
        return Outcome(status=status, deleting=True, target_node_count=previous_target)
    try:
        decision = decide(ws, observed=observed, catalog=catalog, settings=settings)
        rendered_claims, desired = _render(decision, catalog, settings)
        check_ownership(desired, observed.objects, workspace=ws)
    except SpecError as error:
        status = compute_status(
            workspace=ws,
            observed=observed,
            target_node_count=previous_target,
            now=now,
            provisioner=settings.provisioner,
            error=error,
        )
        return Outcome(
            status=status,
            error=error,
            events=transition_events(previous, status.conditions or (), observed=observed),
            target_node_count=previous_target,
        )
    ctx = decision.context
    claims = tuple(rendered_claims)
    changes = diff_changes(
        desired, observed.objects, workspace=ws, stale_revisions=decision.revisions.delete
    )
    status = compute_status(
        workspace=ws,
        observed=observed,
        target_node_count=ctx.node_count,
        now=now,
        provisioner=settings.provisioner,
        notes=decision.notes,
    )
    return Outcome(
        node_claims=claims,
        desired=tuple(desired),
        apply=changes.apply,
        delete=changes.delete,
        status=status,
        events=transition_events(
            previous,
            status.conditions or (),
            observed=observed,
            claims=claims,
            migrating=changes.migrating,
            notes=decision.notes,
        ),
        requeue_after=REPLACE_REQUEUE_SECONDS if changes.waiting else None,
        target_node_count=ctx.node_count,
        summary=decision.summary,
    )
