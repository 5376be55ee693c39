"""The InferenceSet's registration: its `KindSpec`, and how the engine reads its status.

Pure: no I/O, no clock, no logging.

`INFERENCESET` (in `kaito_core.registry.default_registry`, after Workspace) ties the slice
together: `kaito_core.api.InferenceSet.from_manifest`, `validate_inferenceset`,
`plan_inferenceset`, `InferenceSetStatus`, `inferenceset_state`, upstream's names, finalizer
and printer columns (``inferencesets.kaito.sh`` of KAITO v0.12), the ``scale`` subresource, and
the replica Workspaces it owns. `inferenceset_kind` makes the same registration with KEDA
ScaledObjects provisioned by the planner (what ``kaito operator --keda-scaled-objects`` runs):
the set then also owns ``ScaledObject``\\ s.

Besides owner references, a replica is known by its ``inferenceset.kaito.sh/created-by`` label
(the owner label here), so a replica left without an owner (``kubectl delete is --cascade=
orphan``) is adopted by the next InferenceSet of that name, as upstream lists replicas by label.

How ``kaito up`` and ``run_until_settled`` end for an InferenceSet (`inferenceset_state`, from
its status alone):

- ``Succeeded`` while ``InferenceSetReady`` is True: at least ``spec.replicas`` replicas are
  ready (a set of 0 replicas at once). An InferenceSet is never done in the operator (replicas
  are level-triggered, and a scale makes it ``Pending`` again until the new replicas are
  ready), but this is the point a ``kaito up`` run is complete;
- ``Failed`` when the spec cannot be planned (``InferenceSetReady`` False,
  ``inferencesetFailed``); when ``spec.nodeCountLimit`` holds replicas back and every replica
  that runs is ready (``NodeCountLimitReached`` True: nothing more will happen until the spec
  changes); or when a replica's failure (``ReplicasHealthy`` False) is terminal for a Workspace
  (``workspaceFailed``, a failed tuning Job) or has lasted ``failure_grace`` (a crash loop, a
  refused machine: the Workspace's `PERSISTENT_FAILURE_REASONS`, which also make the engine
  look again when the grace is up);
- ``Pending`` otherwise.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from kaito_core.api.inferenceset import InferenceSet, InferenceSetStatus
from kaito_core.api.types import Condition
from kaito_core.inferenceset import facts
from kaito_core.inferenceset.keda import SCALED_OBJECT_API_VERSION, KedaScaler
from kaito_core.inferenceset.plan import InferenceSetOptions, plan_inferenceset
from kaito_core.kinds import KindRef, KindSpec, OwnerLabels, PrinterColumn, ScaleSubresource
from kaito_core.validation.inferenceset import validate_inferenceset
from kaito_core.workspace_kind import PERSISTENT_FAILURE_REASONS, TERMINAL_REASONS, parse_time

__all__ = ["INFERENCESET", "SCALE", "inferenceset_kind", "inferenceset_state"]

#: ``.spec.replicas`` / ``.status.replicas`` / ``.status.selector``; the CRD defaults
#: ``spec.replicas`` to 1.
SCALE = ScaleSubresource(
    spec_replicas_path=facts.SCALE_SUBRESOURCE["specReplicasPath"],
    status_replicas_path=facts.SCALE_SUBRESOURCE["statusReplicasPath"],
    label_selector_path=facts.SCALE_SUBRESOURCE["labelSelectorPath"],
    default_replicas=1,
)
_COLUMNS = tuple(
    PrinterColumn(name=c["name"], type=c["type"], json_path=c["jsonPath"])
    for c in facts.PRINTER_COLUMNS
)
_WORKSPACES = KindRef(*facts.OWNED_KINDS[0])
_SCALED_OBJECTS = KindRef(SCALED_OBJECT_API_VERSION, "ScaledObject")


def _held_back(status: InferenceSetStatus) -> Condition | None:
    limit = status.condition(facts.CONDITION_NODE_COUNT_LIMIT)
    if limit is None or limit.status != "True":
        return None
    if (status.ready_replicas or 0) < (status.replicas or 0):
        return None  # replicas that fit are still coming up
    return limit


def inferenceset_state(
    status: InferenceSetStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """(state, reason, message) of an InferenceSet from its status alone (see the module
    docstring).

    Pure: no I/O, no clock, no logging.
    """
    ready = status.condition(facts.CONDITION_READY) if status is not None else None
    if status is None or ready is None:
        return "Pending", "", ""
    if ready.status == "True":
        return "Succeeded", ready.reason or "", ready.message or ""
    if ready.reason == facts.REASON_FAILED:
        return "Failed", ready.reason, ready.message or ""
    held = _held_back(status)
    if held is not None:
        return "Failed", held.reason or "", held.message or ""
    health = status.condition(facts.CONDITION_REPLICAS_HEALTHY)
    if health is not None and health.status == "False" and health.reason:
        if health.reason in TERMINAL_REASONS:
            return "Failed", health.reason, health.message or ""
        since = parse_time(health.last_transition_time)
        if since is not None and (now - since).total_seconds() >= failure_grace:
            return "Failed", health.reason, health.message or ""
    return "Pending", "", ""


def inferenceset_kind(
    *, keda: KedaScaler | None = None
) -> KindSpec[InferenceSet, InferenceSetStatus]:
    """The InferenceSet's `KindSpec`; with ``keda`` its planner provisions the KEDA
    ScaledObjects sets ask for (``scaledobject.kaito.sh/auto-provision``) through that scaler,
    and the set owns ScaledObjects (the engine watches them; RBAC grants them).

    Pure: no I/O, no clock, no logging.
    """
    planner: Any = plan_inferenceset
    owns: tuple[KindRef, ...] = (_WORKSPACES,)
    if keda is not None:
        planner = partial(plan_inferenceset, options=InferenceSetOptions(keda=keda))
        owns = (_WORKSPACES, _SCALED_OBJECTS)
    return KindSpec(
        group=facts.GROUP,
        kind=facts.KIND,
        plural=facts.PLURAL,
        singular=facts.SINGULAR,
        versions=facts.VERSIONS,
        short_names=facts.SHORT_NAMES,
        categories=facts.CATEGORIES,
        finalizer=facts.FINALIZER,
        parse=InferenceSet.from_manifest,
        validate=validate_inferenceset,
        plan=planner,
        status_type=InferenceSetStatus,
        state=inferenceset_state,
        owns=owns,
        owner_labels=(OwnerLabels(name=facts.LABEL_CREATED_BY),),
        printer_columns=dict.fromkeys(facts.VERSIONS, _COLUMNS),
        conditions=(facts.CONDITION_READY,),
        persistent_failure_reasons=PERSISTENT_FAILURE_REASONS,
        scale=SCALE,
    )


#: The InferenceSet, registered after Workspace in `kaito_core.registry.default_registry`.
INFERENCESET: KindSpec[InferenceSet, InferenceSetStatus] = inferenceset_kind()
