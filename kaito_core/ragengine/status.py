"""A RAGEngine's status, computed from what was observed, and the Events of a step.

Pure: no I/O, no clock, no logging.

- ``ResourceReady``, ``NodeClaimReady`` and ``workerNodes``: `kaito_core.ragengine.nodes`.
- ``ServiceReady``: the Deployment ``<rag>`` reports its replica ready and updated for its
  current generation, and no pod of the RAGEngine is not Ready; else the most actionable pod
  failure (`kaito_core.pod_failures`: crash loops, image pulls, OOM kills, unschedulable), else
  ``RAGEngineServicePending``.
- ``InferenceServiceReady`` and ``ContextWindowFits``: `kaito_core.ragengine.wiring`.
- ``RAGEngineSucceeded``: True when ResourceReady and ServiceReady are; a `SpecError` of the
  plan makes it False with the error's reason and message. The two wiring conditions do not
  affect it: the RAG service works (``/index``, ``/retrieve``) even when generation cannot.
- Deleting: ``RAGEngineDeleting`` True; everything else is kept.

Transition times follow ``meta.SetStatusCondition``: kept while a condition's status stays,
`now` when it flips; ``observedGeneration`` is the RAGEngine's generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api.ragengine import RAGEngine, RAGEngineStatus
from kaito_core.api.types import Condition
from kaito_core.conditions import condition, find_condition, remove_condition, set_condition
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Event
from kaito_core.pod_failures import classify_pod_failure
from kaito_core.ragengine import conditions as rc
from kaito_core.ragengine.kind import LABEL_RAGENGINE
from kaito_core.ragengine.nodes import node_decision
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.ragengine.wiring import wiring_conditions
from kaito_presets import Catalog

__all__ = ["compute_ragengine_status", "ragengine_events", "service_ready"]

_WIRING_TYPES = (rc.CONDITION_INFERENCE_SERVICE_READY, rc.CONDITION_CONTEXT_WINDOW_FITS)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for item in (pod.get("status") or {}).get("conditions") or ():
        if item.get("type") == "Ready":
            return bool(item.get("status") == "True")
    return False


def _pods(rag: RAGEngine, observed: Observed) -> list[Manifest]:
    return [
        p
        for p in observed.pods
        if (_meta(p).get("labels") or {}).get(LABEL_RAGENGINE) == rag.name
        and not _meta(p).get("deletionTimestamp")
    ]


def service_ready(rag: RAGEngine, observed: Observed) -> bool:
    """The Deployment ``<rag>`` has its replicas ready and updated for its current generation,
    and every observed pod of the RAGEngine is Ready.

    Pure: no I/O, no clock, no logging.
    """
    deployment = observed.object("Deployment", rag.name)
    if deployment is None or _meta(deployment).get("deletionTimestamp"):
        return False
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    replicas = _int(spec.get("replicas"), 1)
    generation = _meta(deployment).get("generation")
    seen = status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(seen, int) and seen < generation:
        return False
    if _int(status.get("readyReplicas")) < replicas:
        return False
    if "updatedReplicas" in status and _int(status.get("updatedReplicas")) < replicas:
        return False
    return all(_pod_ready(p) for p in _pods(rag, observed))


def _service_condition(rag: RAGEngine, observed: Observed) -> Condition:
    if service_ready(rag, observed):
        return condition(
            rc.CONDITION_SERVICE_READY, True, rc.REASON_SERVICE_SUCCESS, rc.MESSAGE_SERVICE_SUCCESS
        )
    failure = classify_pod_failure(_pods(rag, observed))
    if failure is not None:
        return condition(rc.CONDITION_SERVICE_READY, False, failure[0], failure[1])
    exists = observed.object("Deployment", rag.name) is not None
    message = (
        f"the RAG service Deployment {rag.name} has no ready replica yet"
        if exists
        else f"the RAG service Deployment {rag.name} does not exist yet"
    )
    return condition(rc.CONDITION_SERVICE_READY, False, rc.REASON_SERVICE_PENDING, message)


def compute_ragengine_status(
    rag: RAGEngine,
    *,
    observed: Observed,
    catalog: Catalog,
    settings: RAGEngineSettings,
    now: str,
    error: SpecError | None = None,
) -> RAGEngineStatus:
    """The status `rag` should have, given what is `observed` (see the module docstring).

    Computing twice from the same inputs gives equal statuses, equal to the previous one when
    nothing changed.

    Pure: no I/O, no clock, no logging.
    """
    previous = rag.status or RAGEngineStatus()
    conditions = tuple(sorted(previous.conditions or (), key=lambda c: c.type))
    generation = rag.metadata.generation

    def put(*new: Condition) -> None:
        nonlocal conditions
        for item in new:
            conditions = set_condition(conditions, item, now=now, generation=generation)

    if rag.metadata.deletion_timestamp:
        put(condition(rc.CONDITION_DELETING, True, rc.REASON_DELETED, rc.MESSAGE_DELETED))
        return attrs.evolve(previous, conditions=conditions)
    nodes = node_decision(
        rag,
        observed=observed,
        catalog=catalog,
        settings=settings,
        previous=previous.worker_nodes or (),
    )
    if all(c.type != rc.CONDITION_NODE_CLAIM_READY for c in nodes.conditions):
        conditions = remove_condition(conditions, rc.CONDITION_NODE_CLAIM_READY)
    put(*nodes.conditions)
    put(_service_condition(rag, observed))
    wiring = wiring_conditions(
        rag, observed=observed, catalog=catalog, vllm_enabled=settings.vllm_enabled
    )
    for type_ in _WIRING_TYPES:
        if all(c.type != type_ for c in wiring):
            conditions = remove_condition(conditions, type_)
    put(*wiring)
    resource = find_condition(conditions, rc.CONDITION_RESOURCE_READY)
    service = find_condition(conditions, rc.CONDITION_SERVICE_READY)
    if error is not None:
        put(condition(rc.CONDITION_SUCCEEDED, False, error.reason, error.message))
    elif all(c is not None and c.status == "True" for c in (resource, service)):
        put(condition(rc.CONDITION_SUCCEEDED, True, rc.REASON_SUCCEEDED, rc.MESSAGE_SUCCEEDED))
    else:
        put(condition(rc.CONDITION_SUCCEEDED, False, rc.REASON_PENDING, rc.MESSAGE_PENDING))
    return RAGEngineStatus(worker_nodes=nodes.worker_nodes or None, conditions=conditions)


def ragengine_events(
    old: Sequence[Condition],
    new: Sequence[Condition],
    *,
    observed: Observed,
    claims: Sequence[Manifest] = (),
) -> tuple[Event, ...]:
    """The Events of one step: ``Normal NodeClaimCreated`` per desired claim not observed yet,
    ``Normal ragengineSucceeded`` when RAGEngineSucceeded turns True, and a ``Warning`` when a
    condition turns False (or Unknown) with a reason that is a failure, not a wait. Conditions
    whose status and reason did not change record nothing.

    Pure: no I/O, no clock, no logging.
    """
    events: list[Event] = []
    seen = {str(_meta(c).get("name") or "") for c in observed.node_claims}
    for claim in claims:
        name = str(_meta(claim).get("name") or "")
        if name not in seen:
            events.append(
                Event(
                    type="Normal", reason="NodeClaimCreated", message=f"Creating NodeClaim {name}"
                )
            )
    before = {c.type: c for c in old}
    warned: set[tuple[str, str]] = set()
    for item in new:
        prior = before.get(item.type)
        if prior is not None and prior.status == item.status and prior.reason == item.reason:
            continue
        reason, message = item.reason or "", item.message or ""
        if item.type == rc.CONDITION_SUCCEEDED and item.status == "True":
            events.append(Event(type="Normal", reason=reason, message=message))
        elif (
            item.status != "True"
            and reason
            and reason not in rc.WAITING_REASONS
            and (reason, message) not in warned
        ):
            warned.add((reason, message))
            events.append(Event(type="Warning", reason=reason, message=message))
    return tuple(events)
