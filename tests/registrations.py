"""The registration RAGEngine needs: a `KindSpec` from its slice alone.

Not in `kaito_core.registry.default_registry` yet (wiring it in is the integration step: the
value moves next to `kaito_core.workspace_kind.WORKSPACE` and into the default registry, and
``DEFAULT_HOOKS`` gets its ``crd``). Here it proves the registry fits the slice as it landed:
`tests/engine/test_shipped_kinds.py` runs it through the engine. InferenceSet is registered for
real (`kaito_core.inferenceset.kind.INFERENCESET`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks
from kaito_backends.operator.ragengine_crd import ragengine_crd
from kaito_core.api import RAGEngine
from kaito_core.api.ragengine import RAGEngineStatus
from kaito_core.api.ragengine_serde import converter as ragengine_converter
from kaito_core.inferenceset.kind import INFERENCESET
from kaito_core.kinds import KindRef, KindSpec, PrinterColumn
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from kaito_core.ragengine import kind as rag_facts
from kaito_core.ragengine.conditions import CONDITION_SUCCEEDED as RAG_SUCCEEDED
from kaito_core.ragengine.plan import plan_ragengine
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.validation.ragengine import validate_ragengine
from kaito_core.workspace_kind import PERSISTENT_FAILURE_REASONS

__all__ = ["HOOKS", "INFERENCESET", "RAGENGINE", "ragengine_state"]


def _columns(columns: Any) -> tuple[PrinterColumn, ...]:
    return tuple(
        PrinterColumn(name=c["name"], type=c["type"], json_path=c["jsonPath"]) for c in columns
    )


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

#: The shell's side: the default hooks (InferenceSet's among them) and RAGEngine's CRD.
HOOKS = {**DEFAULT_HOOKS, "RAGEngine": KindHooks(crd=ragengine_crd)}
