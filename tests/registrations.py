"""The registrations InferenceSet and RAGEngine need: a `KindSpec` each, from their slices alone.

Not in `kaito_core.registry.default_registry` yet (wiring them in is the integration step: these
two values move next to `kaito_core.workspace_kind.WORKSPACE` and into the default registry,
and ``DEFAULT_HOOKS`` gets their ``crd``). Here they prove the registry fits the slices as they
landed: `tests/engine/test_shipped_kinds.py` runs them through the engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks
from kaito_backends.operator.inferenceset_crd import inferenceset_crd
from kaito_backends.operator.ragengine_crd import ragengine_crd
from kaito_core.api import InferenceSet, RAGEngine
from kaito_core.api.inferenceset import InferenceSetStatus
from kaito_core.api.ragengine import RAGEngineStatus
from kaito_core.api.ragengine_serde import converter as ragengine_converter
from kaito_core.inferenceset import facts as iset_facts
from kaito_core.inferenceset import plan_inferenceset
from kaito_core.kinds import KindRef, KindSpec, PrinterColumn
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from kaito_core.ragengine import kind as rag_facts
from kaito_core.ragengine.conditions import CONDITION_SUCCEEDED as RAG_SUCCEEDED
from kaito_core.ragengine.plan import plan_ragengine
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.validation.inferenceset import validate_inferenceset
from kaito_core.validation.ragengine import validate_ragengine
from kaito_core.workspace_kind import PERSISTENT_FAILURE_REASONS

__all__ = ["HOOKS", "INFERENCESET", "RAGENGINE", "inferenceset_state", "ragengine_state"]


def _columns(columns: Any) -> tuple[PrinterColumn, ...]:
    return tuple(
        PrinterColumn(name=c["name"], type=c["type"], json_path=c["jsonPath"]) for c in columns
    )


def inferenceset_state(
    status: InferenceSetStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """Succeeded while every replica is ready (InferenceSetReady True), Failed when the spec
    cannot be planned (``inferencesetFailed``), else Pending."""
    ready = status.condition(iset_facts.CONDITION_READY) if status is not None else None
    if ready is None:
        return "Pending", "", ""
    if ready.status == "True":
        return "Succeeded", ready.reason or "", ready.message or ""
    if ready.reason == iset_facts.REASON_FAILED:
        return "Failed", ready.reason, ready.message or ""
    return "Pending", "", ""


def ragengine_state(
    status: RAGEngineStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """Succeeded when RAGEngineSucceeded is True, else Pending (spec errors fail through the
    engine)."""
    done = status.condition(RAG_SUCCEEDED) if status is not None else None
    if done is not None and done.status == "True":
        return "Succeeded", done.reason or "", done.message or ""
    return "Pending", "", ""


def _plan_ragengine(
    rag: RAGEngine, *, observed: Observed, catalog: Any, now: str, settings: Any
) -> Outcome[RAGEngineStatus]:
    """`plan_ragengine` with the engine's `PlanSettings` turned into `RAGEngineSettings`."""
    return plan_ragengine(
        rag,
        observed=observed,
        catalog=catalog,
        now=now,
        settings=RAGEngineSettings.from_plan_settings(settings) if settings else None,
    )


INFERENCESET: KindSpec[InferenceSet, InferenceSetStatus] = KindSpec(
    group=iset_facts.GROUP,
    kind=iset_facts.KIND,
    plural=iset_facts.PLURAL,
    singular=iset_facts.SINGULAR,
    versions=iset_facts.VERSIONS,
    short_names=iset_facts.SHORT_NAMES,
    categories=iset_facts.CATEGORIES,
    finalizer=iset_facts.FINALIZER,
    parse=InferenceSet.from_manifest,
    validate=validate_inferenceset,
    plan=plan_inferenceset,
    status_type=InferenceSetStatus,
    state=inferenceset_state,
    owns=tuple(KindRef(api, kind) for api, kind in iset_facts.OWNED_KINDS),
    printer_columns={v: _columns(iset_facts.PRINTER_COLUMNS) for v in iset_facts.VERSIONS},
    conditions=(iset_facts.CONDITION_READY,),
)

RAGENGINE: KindSpec[RAGEngine, RAGEngineStatus] = KindSpec(
    group=rag_facts.GROUP,
    kind=rag_facts.KIND,
    plural=rag_facts.PLURAL,
    singular=rag_facts.SINGULAR,
    versions=rag_facts.VERSIONS,
    short_names=rag_facts.SHORT_NAMES,
    categories=rag_facts.CATEGORIES,
    finalizer=rag_facts.FINALIZER,
    parse=RAGEngine.from_manifest,
    validate=validate_ragengine,
    plan=_plan_ragengine,
    status_type=RAGEngineStatus,
    state=ragengine_state,
    owns=tuple(KindRef(api, kind) for api, kind in rag_facts.CHILD_KINDS),
    makes_node_claims=rag_facts.NODE_CLAIMS,
    printer_columns={v: _columns(rag_facts.PRINTER_COLUMNS) for v in rag_facts.VERSIONS},
    conditions=("ResourceReady", "ServiceReady", RAG_SUCCEEDED),
    persistent_failure_reasons=PERSISTENT_FAILURE_REASONS,
    converter=ragengine_converter,
)

#: The shell's side: their model-generated CRDs (``kaito manifests``).
HOOKS = {
    **DEFAULT_HOOKS,
    "InferenceSet": KindHooks(crd=inferenceset_crd),
    "RAGEngine": KindHooks(crd=ragengine_crd),
}
