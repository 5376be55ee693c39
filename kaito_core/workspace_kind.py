"""The Workspace's registration: its `KindSpec`, and how the engine reads a Workspace status.

Pure: no I/O, no clock, no logging.

`WORKSPACE` ties the Workspace slice together: `kaito_core.api.Workspace.from_manifest`,
`kaito_core.validation.validate`, `kaito_core.plan.plan`, `WorkspaceStatus`, `workspace_state`,
upstream's names, finalizer and printer columns (``workspaces.kaito.sh`` of KAITO v0.12, and
after them in v1beta1 kaito-py's Phase and Since, `PHASE_COLUMNS`), the
children the planner makes, and the labels that name a Workspace on NodeClaims, Nodes, Pods and
ControllerRevisions.

A Workspace's state is read from its status alone (`workspace_state`):

- ``Succeeded``: WorkspaceSucceeded is True;
- ``Failed``: a condition is False with a terminal reason (`TERMINAL_REASONS`: the provider's
  refusal, a failed tuning Job), or with a pod failure (`PERSISTENT_FAILURE_REASONS`: crash
  loops, image pulls, OOM kills, ...) that has lasted ``failure_grace`` seconds;
- ``Pending`` otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kaito_core import conditions as kc
from kaito_core.api.types import Workspace, WorkspaceStatus
from kaito_core.kinds import KindRef, KindSpec, OwnerLabels, PrinterColumn
from kaito_core.plan import plan
from kaito_core.validation import validate

__all__ = [
    "PERSISTENT_FAILURE_REASONS",
    "PHASE_COLUMNS",
    "TERMINAL_REASONS",
    "WORKSPACE",
    "WORKSPACE_FINALIZER",
    "parse_time",
    "workspace_state",
]

WORKSPACE_FINALIZER = "workspace.finalizer.kaito.sh"

#: Reasons that end a Workspace's hopes at once (the user or the provider must act).
TERMINAL_REASONS = frozenset({"WorkspaceTuningJobStatusFailed", "workspaceFailed"})
#: Reasons a Workspace can recover from (a pod restarts, a refused machine is asked for again);
#: terminal once they persist for ``failure_grace`` seconds.
PERSISTENT_FAILURE_REASONS = frozenset(
    {
        "InsufficientCapacity",
        "QuotaExceeded",
        # Karpenter's CRDs are not installed (the engine retries; installing them recovers)
        "NodeClaimCRDMissing",
        "NodePoolCRDMissing",
        "ContainerOOMKilled",
        "ImagePullError",
        "ContainerStartError",
        "ContainerCrashLoopBackOff",
        "Unschedulable",
        "PodEvicted",
        "NodeDiskPressure",
        "NodeMemoryPressure",
        "SASTokenFetchFailed",
    }
)
_NODE_CONDITIONS = frozenset({"ResourceReady", "NodeClaimReady", "NodesReady"})


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 ``...Z`` timestamp (as conditions carry), None when absent or malformed.

    Pure: no I/O, no clock, no logging.
    """
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def workspace_state(
    status: WorkspaceStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """(state, reason, message) of a Workspace from its status alone.

    ``Succeeded`` when WorkspaceSucceeded is True; ``Failed`` when a condition is False with a
    terminal reason, or with a pod failure reason that has lasted ``failure_grace`` seconds;
    else ``Pending``.

    Pure: no I/O, no clock, no logging.
    """
    if status is None or not status.conditions:
        return "Pending", "", ""
    succeeded = status.condition(kc.CONDITION_WORKSPACE_SUCCEEDED)
    if succeeded is not None and succeeded.status == "True":
        return "Succeeded", succeeded.reason or "", succeeded.message or ""
    if status.state == "Failed":
        failed = succeeded or status.conditions[0]
        return "Failed", failed.reason or "", failed.message or ""
    # Machines first: pods cannot schedule *because* nodes are missing, so the node reason is
    # the one that explains a failure.
    for condition in sorted(status.conditions, key=lambda c: c.type not in _NODE_CONDITIONS):
        if condition.status != "False" or not condition.reason:
            continue
        if condition.reason in TERMINAL_REASONS:
            return "Failed", condition.reason, condition.message or ""
        if condition.reason in PERSISTENT_FAILURE_REASONS:
            since = parse_time(condition.last_transition_time)
            if since is not None and (now - since).total_seconds() >= failure_grace:
                return "Failed", condition.reason, condition.message or ""
    return "Pending", "", ""


def _condition_column(type_: str) -> PrinterColumn:
    return PrinterColumn(
        name=type_, type="string", json_path=f'.status.conditions[?(@.type=="{type_}")].status'
    )


_CONDITIONS = (
    kc.CONDITION_RESOURCE_READY,
    kc.CONDITION_INFERENCE_READY,
    kc.CONDITION_JOB_STARTED,
    kc.CONDITION_WORKSPACE_SUCCEEDED,
)
_INSTANCE = PrinterColumn(name="Instance", type="string", json_path=".resource.instanceType")
_AGE = PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp")
_V1ALPHA1_COLUMNS = (_INSTANCE, *(_condition_column(t) for t in _CONDITIONS), _AGE)
#: kaito-py's columns, after upstream's in v1beta1: the phase of a Workspace that is not ready
#: (``status.phase``; v1alpha1 has none).
PHASE_COLUMNS = (
    PrinterColumn(name="Phase", type="string", json_path=".status.phase.name"),
    PrinterColumn(name="Since", type="date", json_path=".status.phase.since"),
)
_V1BETA1_COLUMNS = (
    *_V1ALPHA1_COLUMNS[:-1],
    PrinterColumn(name="TargetNodeCount", type="integer", json_path=".status.targetNodeCount"),
    PrinterColumn(name="State", type="string", json_path=".status.state"),
    _AGE,
    *PHASE_COLUMNS,
)

#: The Workspace, registered first in `kaito_core.registry.default_registry`.
WORKSPACE: KindSpec[Workspace, WorkspaceStatus] = KindSpec(
    group="kaito.sh",
    kind="Workspace",
    plural="workspaces",
    singular="workspace",
    versions=("v1beta1", "v1alpha1"),
    short_names=("wk", "wks"),
    categories=("workspace",),
    finalizer=WORKSPACE_FINALIZER,
    parse=Workspace.from_manifest,
    validate=validate,
    plan=plan,
    status_type=WorkspaceStatus,
    state=workspace_state,
    owns=(
        KindRef("apps/v1", "StatefulSet"),
        KindRef("v1", "Service"),
        KindRef("v1", "ConfigMap"),
        KindRef("batch/v1", "Job"),
        KindRef("apps/v1", "ControllerRevision"),
        KindRef("apps/v1", "Deployment", creates=False),  # legacy: deleted, never made
    ),
    owner_labels=(
        OwnerLabels(name="kaito.sh/workspace", namespace="kaito.sh/workspacenamespace"),
        OwnerLabels(
            name="karpenter.kaito.sh/workspace-name",
            namespace="karpenter.kaito.sh/workspace-namespace",
        ),
        # ControllerRevisions (upstream's label; the revision is in the Workspace's namespace)
        OwnerLabels(name="workspace.kaito.io/name"),
    ),
    makes_node_claims=True,
    printer_columns={"v1beta1": _V1BETA1_COLUMNS, "v1alpha1": _V1ALPHA1_COLUMNS},
    conditions=_CONDITIONS,
    persistent_failure_reasons=PERSISTENT_FAILURE_REASONS,
    summary_columns=(
        ("Instance", "instanceType"),
        ("ResourceReady", "resourceReady"),
        ("InferenceReady", "inferenceReady"),
        ("JobStarted", "jobStarted"),
        ("WorkspaceSucceeded", "workspaceSucceeded"),
        ("Age", "age"),
    ),
)
