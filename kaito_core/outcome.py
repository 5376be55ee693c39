"""What one reconcile step decides: the value `kaito_core.plan` returns.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from typing import Any

import attrs

from kaito_core.api.types import WorkspaceStatus
from kaito_core.errors import SpecError

__all__ = ["Event", "ObjectKey", "Outcome", "PlanSummary"]

Manifest = dict[str, Any]


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


@attrs.frozen(kw_only=True)
class Outcome:
    """Everything that must be true for one Workspace, and what must change to get there.

    - `node_claims`: every NodeClaim that must exist (the node provisioner makes them real).
    - `desired`: every namespaced object that must exist, in a stable order.
    - `apply`: the subset of `desired` that differs from what was observed (create or update).
    - `delete`: observed objects that must go (stale revisions, a legacy Deployment, a Job to
      recreate, objects of a mode the workspace left).
    - `status`: the status to write; equal to the observed status when nothing changed.
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
    status: WorkspaceStatus = attrs.field(factory=WorkspaceStatus)
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    error: SpecError | None = None
    deleting: bool = False
    target_node_count: int = 0
    summary: PlanSummary | None = None

    @property
    def converged(self) -> bool:
        """Nothing to apply and nothing to delete."""
        return not self.apply and not self.delete
