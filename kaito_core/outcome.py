"""What one reconcile step decides: the value `kaito_core.plan` returns.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs

from kaito_core import conditions as kc
from kaito_core.api.types import Condition
from kaito_core.errors import SpecError

__all__ = [
    "Event",
    "ObjectKey",
    "Outcome",
    "PlanSummary",
    "StatusT",
    "transition_events",
]

Manifest = dict[str, Any]

#: The status value of a kind (a frozen attrs class: `WorkspaceStatus`, ...).
StatusT = TypeVar("StatusT")


@attrs.frozen(kw_only=True, order=True)
class ObjectKey:
    """Identifies one object: ``apps/v1 StatefulSet default/ws``."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: Manifest) -> ObjectKey:
        meta = obj.get("metadata", {})
        return cls(
            api_version=obj.get("apiVersion", ""),
            kind=obj.get("kind", ""),
            namespace=meta.get("namespace"),
            name=meta.get("name", ""),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


@attrs.frozen(kw_only=True)
class Event:
    """A Kubernetes Event to record on the Workspace (``Normal`` or ``Warning``)."""

    type: str
    reason: str
    message: str


@attrs.frozen(kw_only=True)
class PlanSummary:
    """The one-line preview `kaito plan --summary` prints per Workspace."""

    workspace: str
    mode: str  # "inference" | "tuning" | "template"
    instance_type: str
    nodes: int
    gpus_per_node: int
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    disk: str
    served_model_name: str
    readiness_timeout_seconds: int
    runtime: str
    dtype: str
    notes: tuple[str, ...] = ()


def _error_key(error: SpecError | None) -> tuple[Any, ...] | None:
    """Exceptions compare by identity; two plans of one spec give equal errors by value."""
    if error is None:
        return None
    return (type(error), error.reason, error.path, error.message)


@attrs.frozen(kw_only=True)
class Outcome(Generic[StatusT]):
    """Everything that must be true for one object, and what must change to get there.

    Generic in the kind's status class: ``plan()`` returns ``Outcome[WorkspaceStatus]``; every
    kind's planner returns an Outcome of its own status type, so the engine treats all kinds
    alike.

    - `node_claims`: every NodeClaim that must exist (the node provisioner makes them real).
    - `desired`: every namespaced object that must exist, in a stable order.
    - `apply`: the subset of `desired` that differs from what was observed (create or update).
    - `delete`: observed objects that must go (stale revisions, a legacy Deployment, a Job to
      recreate, objects of a mode the workspace left).
    - `status`: the status to write (required); equal to the observed status when nothing
      changed.
    - `events`: Events for transitions this step observed.
    - `requeue_after`: seconds until the engine should look again even without a watch event
      (``None``: wait for events).
    - `error`: the SpecError that makes this Workspace terminal until its spec changes.
    - `deleting`: the Workspace is being deleted; the engine releases machines and then drops
      its finalizer.
    """

    node_claims: tuple[Manifest, ...] = ()
    desired: tuple[Manifest, ...] = ()
    apply: tuple[Manifest, ...] = ()
    delete: tuple[ObjectKey, ...] = ()
    status: StatusT
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    error: SpecError | None = attrs.field(default=None, eq=_error_key)
    deleting: bool = False
    target_node_count: int = 0
    summary: PlanSummary | None = None

    @property
    def converged(self) -> bool:
        """Nothing to apply and nothing to delete."""
        return not self.apply and not self.delete


#: Condition reasons that mean "not yet", not "something is wrong": no Warning event for them.
_WAITING_REASONS = frozenset(
    {
        kc.REASON_NODE_CLAIM_NOT_READY,
        kc.REASON_NODE_NOT_READY,
        kc.REASON_NODE_PLUGINS_NOT_READY,
        kc.REASON_RESOURCE_NOT_READY,
        kc.REASON_INFERENCE_PENDING,
        kc.REASON_JOB_PENDING,
        kc.REASON_WORKSPACE_PENDING,
        "AwaitingReconciliation",
    }
)
_MIGRATION_MESSAGE = (
    "Migrating inference workload from Deployment to StatefulSet, this will cause a few minutes "
    "of downtime."
)


def _claim_name(claim: Mapping[str, Any]) -> str:
    return str((claim.get("metadata") or {}).get("name") or "")


def transition_events(
    old: Sequence[Condition],
    new: Sequence[Condition],
    *,
    observed: Any,
    claims: Sequence[Manifest] = (),
    migrating: bool = False,
    notes: Sequence[str] = (),
) -> tuple[Event, ...]:
    """The Events of one step, from what it starts and how the conditions moved.

    Pure: no I/O, no clock, no logging.

    - ``Normal NodeClaimCreated`` per desired claim not yet observed (`observed` is the
      `kaito_core.observed.Observed` snapshot);
    - ``Warning WorkloadMigration`` when a legacy Deployment is deleted (upstream's wording);
    - ``Normal RuntimeAdjusted`` for each plan note (e.g. float16 on a pre-Ampere GPU) that the
      previous conditions did not carry yet, so it is recorded once;
    - ``Normal <reason>`` when WorkspaceSucceeded turns True;
    - ``Warning <reason>`` when a condition turns False (or changes reason) with a reason that
      is a failure rather than "not ready yet", once per distinct reason and message.
    Conditions whose status and reason did not change give no event, so a step that changes
    nothing records nothing.
    """
    events: list[Event] = []
    seen = {_claim_name(c) for c in observed.node_claims}
    for claim in claims:
        name = _claim_name(claim)
        if name not in seen:
            events.append(
                Event(
                    type="Normal", reason="NodeClaimCreated", message=f"Creating NodeClaim {name}"
                )
            )
    if migrating:
        events.append(Event(type="Warning", reason="WorkloadMigration", message=_MIGRATION_MESSAGE))
    told = " ".join(c.message or "" for c in old)
    events += [
        Event(type="Normal", reason="RuntimeAdjusted", message=note)
        for note in notes
        if note not in told
    ]
    before = {c.type: c for c in old}
    warned: set[tuple[str, str]] = set()
    for condition in new:
        previous = before.get(condition.type)
        if (
            previous is not None
            and previous.status == condition.status
            and previous.reason == condition.reason
        ):
            continue
        reason, message = condition.reason or "", condition.message or ""
        if condition.type == kc.CONDITION_WORKSPACE_SUCCEEDED and condition.status == kc.TRUE:
            events.append(Event(type="Normal", reason=reason, message=message))
        elif (
            condition.status != kc.TRUE
            and reason
            and reason not in _WAITING_REASONS
            and (reason, message) not in warned
        ):
            warned.add((reason, message))
            events.append(Event(type="Warning", reason=reason, message=message))
    return tuple(events)
