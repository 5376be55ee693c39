"""`plan_inferenceset`: from an InferenceSet and what is observed, the replica Workspaces to
create and delete, the KEDA ScaledObject, and the new status.

Pure: no I/O, no clock, no logging. The same InferenceSet, observed state, catalog, settings,
options and `now` always give an equal `Outcome`, and its manifests serialise byte-identically.

The steps:

1. Read the spec as the API server stores it (CRD defaults; v1alpha1 read as v1beta1). Being
   deleted: delete every replica (upstream's finalizer does the same) and report
   ``InferenceSetDeleting``. A spec that cannot be planned (a bad update strategy, a name too
   long for its replicas' names) is returned as `Outcome.error` with ``InferenceSetReady`` False
   (``inferencesetFailed``); the webhook rejects both at admission.
2. Build replica ``<set>-0`` from the template (`kaito_core.inferenceset.children`) and hash it.
3. ``spec.nodeCountLimit`` (upstream declares it and never enforces it): with node
   auto-provisioning, the replicas that fit are ``limit // nodes per replica``, the node count of
   one replica being what the Workspace planner decides for the template (`kaito_core.decision`),
   else what current replicas report; the rest are held back, and ``NodeCountLimitReached`` says
   so.
4. The replica planner (`kaito_core.inferenceset.rollout`): empty slots to create, surplus and
   outdated replicas to delete, ``maxUnavailable`` respected.
5. With `InferenceSetOptions.keda`, the ScaledObject keda-kaito-scaler would provision
   (`kaito_core.inferenceset.keda`), or the deletion of a managed one when autoscaling is off.
6. The status from the observed replicas alone (`kaito_core.inferenceset.status`).

What `Observed` should hold for an InferenceSet: in `objects`, the Workspaces labelled
``inferenceset.kaito.sh/created-by=<name>`` in its namespace and any Workspace named
``<name>-<n>`` (to notice a name held by someone else), the ScaledObject named after it when
ScaledObjects are provisioned, and the replicas' StatefulSets when the auto-upgrade gate is on;
in `config_maps`, the template's inference ConfigMap (it can change a replica's node count); in
`nodes`, nothing is needed.
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from typing import Any

import attrs

from kaito_core import conditions as kc
from kaito_core.api.inferenceset import UPDATE_ROLLING, InferenceSet, InferenceSetStatus
from kaito_core.api.types import Condition, Workspace
from kaito_core.decision import PlanSettings, decide
from kaito_core.errors import FieldError, SpecError
from kaito_core.inferenceset import keda
from kaito_core.inferenceset.children import (
    Replica,
    child_name,
    child_workspace,
    observed_replicas,
    ordinal_of,
    owner_reference,
    replica_name_problem,
    template_hash,
    up_to_date,
)
from kaito_core.inferenceset.facts import (
    ANNOTATION_DISABLE_BENCHMARK,
    ANNOTATION_RUNTIME,
    CONDITION_NODE_COUNT_LIMIT,
    CONDITION_REPLICA_CONFLICT,
    LABEL_TEMPLATE_HASH,
    REASON_NAME_TAKEN,
    REASON_NO_LIMIT_FOR_BYO,
    REASON_REPLICA_SIZE_UNKNOWN,
    REASON_REPLICAS_HELD_BACK,
    REASON_WITHIN_NODE_COUNT_LIMIT,
)
from kaito_core.inferenceset.rollout import (
    MAX_CREATES_PER_STEP,
    Rollout,
    count_problems,
    plan_rollout,
    resolve_max_unavailable,
    update_strategy_problems,
)
from kaito_core.inferenceset.status import compute_status, status_events
from kaito_core.inferenceset.upgrade import auto_upgrade_status
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Event, ObjectKey, Outcome
from kaito_presets import BASE_IMAGE_NAME, BASE_IMAGE_TAG, Catalog

__all__ = [
    "REQUEUE_SECONDS",
    "InferenceSetOptions",
    "plan_inferenceset",
    "replica_manifest",
    "replica_size",
]

#: When more replicas remain to be created than one step creates, look again this soon.
REQUEUE_SECONDS = 5.0
_WORKSPACE_API = "kaito.sh/v1beta1"


@attrs.frozen(kw_only=True)
class InferenceSetOptions:
    """How the operator runs InferenceSets (the same for all of them)."""

    #: Provision the KEDA ScaledObject keda-kaito-scaler would, for sets that ask for one
    #: (None: leave that to keda-kaito-scaler, or to nobody).
    keda: keda.KedaScaler | None = None
    #: Upstream's ``enableBaseImageAutoUpgrade`` feature gate (off by default).
    base_image_auto_upgrade: bool = False


def _key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(api_version=_WORKSPACE_API, kind="Workspace", namespace=namespace, name=name)


def replica_manifest(
    iset: InferenceSet, *, slot: int = 0, node_auto_provisioning: bool = True
) -> Manifest:
    """The manifest of the replica in `slot` as the planner applies it: the Workspace
    `child_workspace` builds, with the template-hash label and a controller owner reference, in a
    fixed key order. `iset` should be defaulted and read as v1beta1.

    Pure: no I/O, no clock, no logging.
    """
    ws = child_workspace(iset, ordinal=slot, node_auto_provisioning=node_auto_provisioning)
    body = ws.to_manifest()
    meta: dict[str, Any] = {"name": ws.name, "namespace": ws.namespace}
    labels = dict(ws.labels)
    meta["labels"] = labels
    if ws.annotations:
        meta["annotations"] = dict(ws.annotations)
    meta["ownerReferences"] = [owner_reference(iset)]
    manifest: Manifest = {"apiVersion": ws.api_version, "kind": ws.kind, "metadata": meta}
    for key in ("resource", "inference"):
        if key in body:
            manifest[key] = body[key]
    labels[LABEL_TEMPLATE_HASH] = template_hash(manifest)
    meta["labels"] = dict(sorted(labels.items()))
    return manifest


def _for_slot(base: bytes, set_name: str, slot: int) -> Manifest:
    manifest: Manifest = marshal.loads(base)
    manifest["metadata"]["name"] = child_name(set_name, slot)
    return manifest


def replica_size(
    child: Workspace,
    *,
    replicas: Sequence[Replica],
    current_hash: str,
    observed: Observed,
    catalog: Catalog,
    settings: PlanSettings,
) -> tuple[int | None, str]:
    """The GPU nodes one replica needs: what the Workspace planner decides for the template,
    else the most a current replica reports; ``(None, why)`` when neither is known.

    Pure: no I/O, no clock, no logging.
    """
    try:
        decision = decide(
            child.with_defaults(),
            observed=Observed(config_maps=observed.config_maps, nodes=observed.nodes),
            catalog=catalog,
            settings=settings,
        )
    except SpecError as error:
        reported = [
            r.target_node_count
            for r in replicas
            if r.template_hash == current_hash and r.target_node_count
        ]
        if reported:
            return max(reported), ""
        return None, f"{error.path}: {error.message}" if error.path else error.message
    return decision.context.node_count, ""


def _limit(
    iset: InferenceSet, *, size: int | None, why: str, nap: bool
) -> tuple[int, Condition | None]:
    """How many replicas to run, and the ``NodeCountLimitReached`` condition (None: no limit)."""
    replicas, limit = iset.replicas, iset.spec.node_count_limit or 0
    if limit <= 0:
        return replicas, None
    kind = CONDITION_NODE_COUNT_LIMIT
    if not nap:
        return replicas, kc.condition(
            kind,
            False,
            REASON_NO_LIMIT_FOR_BYO,
            "spec.nodeCountLimit counts the GPU nodes KAITO provisions; with bring-your-own nodes "
            "it provisions none, so no replica is held back",
        )
    if size is None:
        return replicas, kc.condition(
            kind,
            kc.UNKNOWN,
            REASON_REPLICA_SIZE_UNKNOWN,
            kc.truncate_message(
                f"cannot tell how many GPU nodes a replica needs ({why}), so spec.nodeCountLimit "
                "is not applied"
            ),
        )
    fit = limit // size
    if fit < replicas:
        return fit, kc.condition(
            kind,
            True,
            REASON_REPLICAS_HELD_BACK,
            f"{replicas - fit} of {replicas} replica(s) held back: each needs {size} GPU node(s) "
            f"and spec.nodeCountLimit is {limit}, so {fit} fit",
        )
    return replicas, kc.condition(
        kind,
        False,
        REASON_WITHIN_NODE_COUNT_LIMIT,
        f"{replicas} replica(s) need {replicas * size} of the {limit} GPU node(s) "
        "spec.nodeCountLimit allows",
    )


def _conflict(foreign: Sequence[str], set_name: str, target: int) -> Condition | None:
    taken = [n for n in foreign if (ordinal_of(set_name, n) or 0) < target]
    if not taken:
        return None
    shown = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
    return kc.condition(
        CONDITION_REPLICA_CONFLICT,
        True,
        REASON_NAME_TAKEN,
        f"Workspace {shown} exists but is not a replica of this InferenceSet (another owner, or "
        "no inferenceset.kaito.sh/created-by label); its slot stays empty until it is renamed "
        "or deleted",
    )


def _benchmark(iset: InferenceSet, settings: PlanSettings) -> bool:
    """Upstream's ``ShouldRunInferenceSetBenchmark``: vLLM, a preset, benchmark not disabled."""
    return (
        iset.annotations.get(ANNOTATION_DISABLE_BENCHMARK) != "true"
        and settings.vllm_enabled
        and iset.annotations.get(ANNOTATION_RUNTIME) != "transformers"
        and iset.spec.template.inference.preset is not None
    )


def _replica_events(
    iset: InferenceSet, rollout: Rollout, replicas: Sequence[Replica], target: int
) -> list[Event]:
    by_name = {r.name: r for r in replicas}
    events = [
        Event(
            type="Normal",
            reason="ReplicaCreated",
            message=f"Creating Workspace {iset.namespace}/{child_name(iset.name, slot)} "
            f"(replica {slot})",
        )
        for slot in rollout.create
    ]
    for name in rollout.delete:
        ordinal = by_name[name].ordinal
        if ordinal is None:
            why = "not named by slot (made by another controller)"
        elif ordinal >= target:
            why = "surplus replica"
        else:
            why = "outdated template (rolling update)"
        events.append(
            Event(
                type="Normal",
                reason="ReplicaDeleted",
                message=f"Deleting Workspace {iset.namespace}/{name}: {why}",
            )
        )
    return events


def plan_inferenceset(
    iset: InferenceSet,
    *,
    observed: Observed,
    catalog: Catalog,
    now: str,
    settings: PlanSettings | None = None,
    options: InferenceSetOptions | None = None,
) -> Outcome[InferenceSetStatus]:
    """Everything that must exist for `iset` now, what must change, and its new status (see the
    module docstring). `now` is an RFC 3339 timestamp used only for condition transition times.

    Pure: no I/O, no clock, no logging.
    """
    settings = settings or PlanSettings()
    options = options or InferenceSetOptions()
    spec_set = iset.with_defaults()
    if spec_set.is_v1alpha1:
        spec_set = spec_set.as_v1beta1()
    previous = spec_set.status.conditions if spec_set.status and spec_set.status.conditions else ()
    replicas, foreign = observed_replicas(spec_set, observed.objects)
    if spec_set.metadata.deletion_timestamp:
        names = tuple(r.name for r in replicas if not r.deleting)
        status = compute_status(spec_set, replicas=replicas, now=now, deleting=True)
        events = [
            Event(
                type="Normal",
                reason="ReplicaDeleted",
                message=f"Deleting Workspace {spec_set.namespace}/{name}: InferenceSet deleted",
            )
            for name in names
        ]
        return Outcome(
            status=status,
            delete=tuple(_key(spec_set.namespace, n) for n in names),
            events=(*events, *status_events(previous, status)),
            deleting=True,
        )
    problems = count_problems(spec_set)
    problems += update_strategy_problems(spec_set.spec.update_strategy)
    name_problem = replica_name_problem(spec_set)
    if name_problem is not None:
        problems.append(name_problem)
    if not spec_set.name:
        problems.append(FieldError(path="metadata.name", message="name is required"))
    if problems:
        first = problems[0]
        error = SpecError(first.message, path=first.path, reason="InvalidSpec")
        status = compute_status(
            spec_set, replicas=replicas, now=now, failure="; ".join(str(p) for p in problems)
        )
        return Outcome(status=status, error=error, events=status_events(previous, status))

    nap = settings.node_auto_provisioning
    base = replica_manifest(spec_set, node_auto_provisioning=nap)
    current_hash = base["metadata"]["labels"][LABEL_TEMPLATE_HASH]
    limit = spec_set.spec.node_count_limit or 0
    size: int | None = None
    why = ""
    if limit > 0 and nap:
        child = child_workspace(spec_set, ordinal=0, node_auto_provisioning=nap)
        size, why = replica_size(
            child,
            replicas=replicas,
            current_hash=current_hash,
            observed=observed,
            catalog=catalog,
            settings=settings,
        )
    target, limit_condition = _limit(spec_set, size=size, why=why, nap=nap)

    strategy = spec_set.spec.update_strategy
    rolling_update = strategy.rolling_update if strategy else None
    rollout = plan_rollout(
        replicas=replicas,
        target=target,
        max_unavailable=resolve_max_unavailable(
            rolling_update.max_unavailable if rolling_update else None, target
        ),
        current_hash=current_hash,
        rolling=strategy is None or strategy.type in (None, UPDATE_ROLLING),
        partition=(rolling_update.partition if rolling_update else None) or 0,
        blocked=frozenset(
            o for o in (ordinal_of(spec_set.name, n) for n in foreign) if o is not None
        ),
    )

    blob = marshal.dumps(base)
    by_slot = {r.ordinal: r for r in replicas if r.ordinal is not None}
    slots = sorted({*rollout.create, *(s for s in by_slot if s < target)})
    desired: list[Manifest] = []
    apply: list[Manifest] = []
    created = set(rollout.create)
    removed = set(rollout.delete)
    for slot in slots:
        manifest = _for_slot(blob, spec_set.name, slot)
        desired.append(manifest)
        replica = by_slot.get(slot)
        if slot in created or (
            replica is not None
            and not replica.deleting
            and replica.name not in removed
            and replica.template_hash == current_hash
            and not up_to_date(replica.manifest, manifest)
        ):
            apply.append(manifest)
    delete = [_key(spec_set.namespace, name) for name in rollout.delete]

    own_conditions = [c for c in (limit_condition, _conflict(foreign, spec_set.name, target)) if c]
    if options.keda is not None:
        reported = [r.target_node_count for r in replicas if r.target_node_count]
        scaled, apply_scaled, drop, condition = keda.plan_scaled_object(
            spec_set,
            scaler=options.keda,
            observed=observed,
            nodes_per_replica=size or max(reported, default=None),
        )
        if scaled is not None:
            desired.append(scaled)
            if apply_scaled:
                apply.append(scaled)
        if drop is not None:
            delete.append(drop)
        if condition is not None:
            own_conditions.append(condition)

    upgrade = auto_upgrade_status(
        spec_set,
        replicas=replicas,
        observed=observed,
        desired_image=f"{settings.registry}/{BASE_IMAGE_NAME}:{BASE_IMAGE_TAG}",
        gate=options.base_image_auto_upgrade,
        now=now,
    )
    status = compute_status(
        spec_set,
        replicas=replicas,
        now=now,
        conditions=own_conditions,
        benchmark=_benchmark(spec_set, settings),
        auto_upgrade=upgrade,
    )
    events = _replica_events(spec_set, rollout, replicas, target)
    more = len(rollout.create) == MAX_CREATES_PER_STEP
    return Outcome(
        desired=tuple(desired),
        apply=tuple(apply),
        delete=tuple(delete),
        status=status,
        events=(*events, *status_events(previous, status)),
        requeue_after=REQUEUE_SECONDS if more else None,
        target_node_count=(size or 0) * target,
    )
