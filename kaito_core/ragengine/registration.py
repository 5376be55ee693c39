"""The RAGEngine's registration: its `KindSpec`, and how the engine reads a RAGEngine status.

Pure: no I/O, no clock, no logging.

`RAGENGINE` ties the RAGEngine slice together for the kind registry
(`kaito_core.registry.default_registry`, after Workspace and InferenceSet):
`kaito_core.api.RAGEngine.from_manifest`, `kaito_core.validation.validate_ragengine`,
`plan_ragengine` (through `plan_with_engine_settings`, which turns the engine's
`kaito_core.plan.PlanSettings` into `RAGEngineSettings`), `RAGEngineStatus` with the RAGEngine
model's own converter, `ragengine_state`, and upstream's names, finalizer and printer columns
(the constants of `kaito_core.ragengine.kind`).

A RAGEngine's state is read from its status alone (`ragengine_state`):

- ``Succeeded``: RAGEngineSucceeded is True (the node is ready and the RAG service serves);
- ``Failed``: RAGEngineSucceeded is False with a plan error's reason (``InvalidSpec``,
  ``GuardrailsPolicyNotFound``, ``GuardrailsPolicyInvalid``, ``ObjectConflict``: anything but
  ``ragenginePending``), so the user must act; or ResourceReady, NodeClaimReady or ServiceReady
  has been False for ``failure_grace`` seconds with a failure it might recover from
  (`PERSISTENT_FAILURE_REASONS`: the provider's refusal, a NodeClaim that failed to launch, a
  crash-looping, unpullable, OOM-killed or unschedulable RAG service pod);
- ``Pending`` otherwise (waiting for the node or the Deployment, or being deleted).

The wiring conditions (``InferenceServiceReady``, ``ContextWindowFits``) never decide the state:
a RAG service that cannot generate still indexes and retrieves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaito_core.api.ragengine import RAGEngine, RAGEngineStatus
from kaito_core.api.ragengine_serde import converter as ragengine_converter
from kaito_core.decision import PlanSettings
from kaito_core.kinds import KindRef, KindSpec, PrinterColumn
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from kaito_core.ragengine import conditions as rc
from kaito_core.ragengine import kind as facts
from kaito_core.ragengine.plan import plan_ragengine
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.validation.ragengine import validate_ragengine
from kaito_core.workspace_kind import PERSISTENT_FAILURE_REASONS as WORKSPACE_PERSISTENT
from kaito_core.workspace_kind import parse_time

__all__ = [
    "PERSISTENT_FAILURE_REASONS",
    "RAGENGINE",
    "plan_with_engine_settings",
    "ragengine_state",
]

#: Reasons a RAGEngine can recover from (a pod restarts, a refused machine is asked for again);
#: terminal once they persist for ``failure_grace`` seconds.
PERSISTENT_FAILURE_REASONS = WORKSPACE_PERSISTENT | {rc.REASON_CHECK_NODE_CLAIM_FAILED}
#: The conditions a persistent failure is read from, machines first: the RAG pod cannot
#: schedule *because* its node is missing, so the node's reason explains a failure.
_FAILURE_CONDITIONS = (
    rc.CONDITION_RESOURCE_READY,
    rc.CONDITION_NODE_CLAIM_READY,
    rc.CONDITION_SERVICE_READY,
)


def ragengine_state(
    status: RAGEngineStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """(state, reason, message) of a RAGEngine from its status alone (see the module docstring).

    Pure: no I/O, no clock, no logging.
    """
    if status is None or not status.conditions:
        return "Pending", "", ""
    deleting = status.condition(rc.CONDITION_DELETING)
    if deleting is not None and deleting.status == "True":
        return "Pending", "", ""
    succeeded = status.condition(rc.CONDITION_SUCCEEDED)
    if succeeded is not None and succeeded.status == "True":
        return "Succeeded", succeeded.reason or "", succeeded.message or ""
    if (
        succeeded is not None
        and succeeded.status == "False"
        and succeeded.reason
        and succeeded.reason != rc.REASON_PENDING
    ):
        return "Failed", succeeded.reason, succeeded.message or ""
    for type_ in _FAILURE_CONDITIONS:
        found = status.condition(type_)
        if (
            found is None
            or found.status != "False"
            or found.reason not in (PERSISTENT_FAILURE_REASONS)
        ):
            continue
        since = parse_time(found.last_transition_time)
        if since is not None and (now - since).total_seconds() >= failure_grace:
            return "Failed", found.reason or "", found.message or ""
    return "Pending", "", ""


def plan_with_engine_settings(
    rag: RAGEngine, *, observed: Observed, catalog: Any, now: str, settings: Any = None
) -> Outcome[RAGEngineStatus]:
    """`plan_ragengine` as a `kaito_core.kinds.KindPlanner`: the engine's settings
    (`kaito_core.plan.PlanSettings`) become `RAGEngineSettings.from_plan_settings`;
    `RAGEngineSettings` are used as they are; anything else means the defaults.

    Pure: no I/O, no clock, no logging.
    """
    if isinstance(settings, PlanSettings):
        settings = RAGEngineSettings.from_plan_settings(settings)
    elif not isinstance(settings, RAGEngineSettings):
        settings = None
    return plan_ragengine(rag, observed=observed, catalog=catalog, now=now, settings=settings)


def _columns() -> tuple[PrinterColumn, ...]:
    return tuple(
        PrinterColumn(name=c["name"], type=c["type"], json_path=c["jsonPath"])
        for c in facts.PRINTER_COLUMNS
    )


#: The RAGEngine, registered after Workspace and InferenceSet in
#: `kaito_core.registry.default_registry`.
RAGENGINE: KindSpec[RAGEngine, RAGEngineStatus] = KindSpec(
    group=facts.GROUP,
    kind=facts.KIND,
    plural=facts.PLURAL,
    singular=facts.SINGULAR,
    versions=facts.VERSIONS,
    short_names=facts.SHORT_NAMES,
    categories=facts.CATEGORIES,
    finalizer=facts.FINALIZER,
    parse=RAGEngine.from_manifest,
    validate=validate_ragengine,
    plan=plan_with_engine_settings,
    status_type=RAGEngineStatus,
    state=ragengine_state,
    owns=tuple(KindRef(api, kind) for api, kind in facts.CHILD_KINDS),
    makes_node_claims=facts.NODE_CLAIMS,
    printer_columns={version: _columns() for version in facts.VERSIONS},
    conditions=(
        rc.CONDITION_RESOURCE_READY,
        rc.CONDITION_SERVICE_READY,
        rc.CONDITION_SUCCEEDED,
    ),
    persistent_failure_reasons=PERSISTENT_FAILURE_REASONS,
    converter=ragengine_converter,
)
