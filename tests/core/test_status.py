"""`compute_status`: the Workspace status from observed state only (upstream's
TestSyncWorkspaceStatus, plus the defects we fix)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from kaito_core import testing as kt
from kaito_core.api.types import Condition, Workspace, WorkspaceStatus
from kaito_core.errors import SizingError, SpecError, UnsupportedGpuError
from kaito_core.observed import Manifest, Observed
from kaito_core.status import compute_status

WS = "phi"
EARLIER = "2025-12-31T00:00:00Z"
NOW = "2026-01-02T00:00:00Z"
LATER = "2026-01-03T00:00:00Z"


def gpu_node(name: str = "gpu-0", **kwargs: object) -> Manifest:
    """A node a provisioner made for the workspace (workspace labels + matchLabels)."""
    return kt.node(name, workspace=WS, labels={"apps": WS}, **kwargs)  # type: ignore[arg-type]


def healthy(
    *,
    pods: Sequence[Manifest] | None = None,
    objects: Sequence[Manifest] | None = None,
    nodes: Sequence[Manifest] | None = None,
    claims: Sequence[Manifest] | None = None,
    provision_error: str | None = None,
) -> Observed:
    """One ready GPU node behind one ready claim, a ready StatefulSet and pod, unless overridden."""
    return Observed(
        node_claims=tuple(
            [kt.node_claim("ws-0", workspace=WS, node_name="gpu-0")] if claims is None else claims
        ),
        nodes=tuple([gpu_node()] if nodes is None else nodes),
        pods=tuple([kt.pod(f"{WS}-0", workspace=WS)] if pods is None else pods),
        objects=tuple([kt.statefulset(WS)] if objects is None else objects),
        provision_error=provision_error,
    )


def status(
    workspace: Workspace | None = None,
    observed: Observed | None = None,
    *,
    target: int = 1,
    now: str = NOW,
    provisioner: str = "karpenter",
    error: SpecError | None = None,
    notes: Sequence[str] = (),
) -> WorkspaceStatus:
    return compute_status(
        workspace=workspace or kt.workspace(WS),
        observed=healthy() if observed is None else observed,
        target_node_count=target,
        now=now,
        provisioner=provisioner,
        error=error,
        notes=notes,
    )


def summary(st: WorkspaceStatus) -> dict[str, tuple[str, str | None]]:
    """type -> (status, reason) of every condition."""
    return {c.type: (c.status, c.reason) for c in st.conditions or ()}


def message(st: WorkspaceStatus, type_: str) -> str:
    cond = st.condition(type_)
    assert cond is not None, f"no {type_} condition"
    return cond.message or ""


def previous(
    state: str, *types: tuple[str, str, str], workspace: Workspace | None = None
) -> Workspace:
    """The workspace with a previous status of this state and (type, status, reason) conditions."""
    conds = tuple(
        Condition(
            type=t,
            status=s,
            reason=r,
            message="old",
            last_transition_time=EARLIER,
            observed_generation=1,
        )
        for t, s, r in types
    )
    ws = workspace or kt.workspace(WS)
    return attrs.evolve(ws, status=WorkspaceStatus(conditions=conds, state=state))


ALL_READY = {
    "InferenceReady": ("True", "WorkspaceInferenceStatusSuccess"),
    "NodeClaimReady": ("True", "NodeClaimsReady"),
    "NodesReady": ("True", "NodesReady"),
    "ResourceReady": ("True", "workspaceResourceStatusSuccess"),
    "WorkspaceSucceeded": ("True", "workspaceSucceeded"),
}
NODES_READY_ONLY = {k: v for k, v in ALL_READY.items() if k not in ("InferenceReady",)}
PENDING = {
    **NODES_READY_ONLY,
    "InferenceReady": ("False", "WorkspaceInferenceStatusPending"),
    "WorkspaceSucceeded": ("False", "workspacePending"),
}
CRASHING_POD = kt.pod(f"{WS}-0", workspace=WS, containers=(kt.crash_looping(WS),))


@pytest.mark.parametrize(
    ("workspace", "observed", "state", "want"),
    [
        pytest.param(None, healthy(), "Ready", ALL_READY, id="inference ready"),
        pytest.param(None, healthy(objects=[]), "Pending", PENDING, id="no statefulset yet"),
        pytest.param(
            None,
            healthy(objects=[kt.statefulset(WS, replicas=2, ready_replicas=1)]),
            "Pending",
            PENDING,
            id="not all replicas ready",
        ),
        pytest.param(
            None,
            healthy(objects=[kt.statefulset(WS, replicas=None)]),
            "Ready",
            ALL_READY,
            id="replicas omitted means one",
        ),
        pytest.param(
            None,
            healthy(objects=[kt.statefulset(WS, deleting=True)]),
            "Pending",
            PENDING,
            id="statefulset being replaced is not ready",
        ),
        pytest.param(
            None,
            healthy(objects=[kt.statefulset(WS, generation=2, observed_generation=1)]),
            "Pending",
            PENDING,
            id="rollout not yet observed is not ready",
        ),
        pytest.param(
            None,
            healthy(
                objects=[
                    {
                        **kt.statefulset(WS),
                        "status": {
                            "readyReplicas": 1,
                            "currentRevision": "old",
                            "updateRevision": "new",
                        },
                    }
                ]
            ),
            "Pending",
            PENDING,
            id="rollout between revisions is not ready",
        ),
        pytest.param(
            None,
            healthy(pods=[CRASHING_POD]),
            "Pending",
            {**PENDING, "InferenceReady": ("False", "ContainerCrashLoopBackOff")},
            id="crash-looping pod with a stale readyReplicas is not ready",
        ),
        pytest.param(
            None,
            healthy(
                objects=[kt.statefulset(WS, update_revision="new")],
                pods=[
                    kt.pod(f"{WS}-0", workspace=WS, revision="new"),
                    kt.pod(f"{WS}-1", workspace=WS, revision="old", ready=False, phase="Pending"),
                ],
            ),
            "Ready",
            ALL_READY,
            id="pods of an old revision do not count",
        ),
        pytest.param(
            None,
            healthy(pods=[kt.pod(f"{WS}-0", workspace=WS), kt.pod("other-0", ready=False)]),
            "Ready",
            ALL_READY,
            id="pods of other workloads do not count",
        ),
        pytest.param(
            previous("Ready", ("InferenceReady", "True", "WorkspaceInferenceStatusSuccess")),
            healthy(pods=[CRASHING_POD]),
            "NotReady",
            {**PENDING, "InferenceReady": ("False", "ContainerCrashLoopBackOff")},
            id="inference not ready after established",
        ),
        pytest.param(
            previous("NotReady"),
            healthy(objects=[]),
            "NotReady",
            PENDING,
            id="not ready stays not ready",
        ),
        pytest.param(
            previous("Failed"),
            healthy(objects=[]),
            "Pending",
            PENDING,
            id="failed spec fixed goes back to pending",
        ),
        pytest.param(
            previous("NotReady"),
            healthy(),
            "Ready",
            ALL_READY,
            id="not ready recovers to ready",
        ),
        pytest.param(
            None,
            healthy(nodes=[gpu_node(ready=False)]),
            "Pending",
            {
                **PENDING,
                "NodesReady": ("False", "NodeNotReady"),
                "ResourceReady": ("False", "NodeNotReady"),
            },
            id="ready statefulset on unready nodes is not ready",
        ),
        pytest.param(
            None,
            healthy(pods=[kt.pod(f"{WS}-0", workspace=WS, unschedulable="0/1 nodes available")]),
            "Pending",
            {**PENDING, "InferenceReady": ("False", "Unschedulable")},
            id="unschedulable pod",
        ),
    ],
)
def test_inference_status(
    workspace: Workspace | None,
    observed: Observed,
    state: str,
    want: dict[str, tuple[str, str]],
) -> None:
    """Inference readiness needs ready resources, a settled StatefulSet and Ready pods."""
    st = status(workspace, observed)
    assert st.state == state
    assert summary(st) == want


TUNING = kt.workspace(WS, tuning=True)


@pytest.mark.parametrize(
    ("job", "state", "job_started", "succeeded", "succeeded_message"),
    [
        pytest.param(
            None,
            "Pending",
            ("False", "WorkspaceTuningJobStatusPending"),
            ("False", "workspacePending"),
            "workspace is initializing, tuning job has not started",
            id="tuning pending without a job",
        ),
        pytest.param(
            kt.job(WS),
            "Pending",
            ("False", "WorkspaceTuningJobStatusPending"),
            ("False", "workspacePending"),
            "workspace is initializing, tuning job has not started",
            id="tuning job created but no pod yet",
        ),
        pytest.param(
            kt.job(WS, active=1),
            "Running",
            ("True", "WorkspaceTuningJobStatusStarted"),
            ("False", "workspacePending"),
            "workspace has not completed yet, tuning job is running",
            id="tuning running",
        ),
        pytest.param(
            kt.job(WS, ready=1),
            "Running",
            ("True", "WorkspaceTuningJobStatusStarted"),
            ("False", "workspacePending"),
            "workspace has not completed yet, tuning job is running",
            id="tuning ready pod counts as started",
        ),
        pytest.param(
            kt.job(WS, succeeded=1),
            "Succeeded",
            ("True", "WorkspaceTuningJobStatusStarted"),
            ("True", "workspaceSucceeded"),
            "workspace succeeds",
            id="tuning succeeded",
        ),
        pytest.param(
            kt.job(WS, failed=1),
            "Failed",
            ("False", "WorkspaceTuningJobStatusFailed"),
            ("False", "workspaceFailed"),
            "tuning job failed",
            id="tuning failed",
        ),
        pytest.param(
            kt.job(WS, failed=1, succeeded=1),
            "Succeeded",
            ("True", "WorkspaceTuningJobStatusStarted"),
            ("True", "workspaceSucceeded"),
            "workspace succeeds",
            id="tuning retried then succeeded",
        ),
        pytest.param(
            {**kt.job(WS, active=1), "metadata": {"name": WS, "deletionTimestamp": kt.TIMESTAMP}},
            "Pending",
            ("False", "WorkspaceTuningJobStatusPending"),
            ("False", "workspacePending"),
            "workspace is initializing, tuning job has not started",
            id="tuning job being deleted counts as absent",
        ),
    ],
)
def test_tuning_status(
    job: Manifest | None,
    state: str,
    job_started: tuple[str, str],
    succeeded: tuple[str, str],
    succeeded_message: str,
) -> None:
    """Tuning state follows the Job: Pending, Running, Succeeded or Failed."""
    st = status(TUNING, healthy(objects=[] if job is None else [job], pods=[]))
    assert st.state == state
    conds = summary(st)
    assert conds["JobStarted"] == job_started
    assert conds["WorkspaceSucceeded"] == succeeded
    assert message(st, "WorkspaceSucceeded") == succeeded_message
    assert "InferenceReady" not in conds


def test_deleting_does_not_change_state() -> None:
    """Deleting adds WorkspaceDeleting and keeps state, other conditions and worker nodes."""
    before = previous("Ready", ("InferenceReady", "True", "WorkspaceInferenceStatusSuccess"))
    before = attrs.evolve(
        before,
        metadata=attrs.evolve(before.metadata, deletion_timestamp=kt.TIMESTAMP),
        status=attrs.evolve(before.status, worker_nodes=("gpu-0",), target_node_count=1),
    )
    st = status(before, healthy(nodes=[], objects=[], pods=[CRASHING_POD]))
    assert st.state == "Ready"
    assert st.worker_nodes == ("gpu-0",)
    assert summary(st) == {
        "InferenceReady": ("True", "WorkspaceInferenceStatusSuccess"),
        "WorkspaceDeleting": ("True", "workspaceDeleted"),
    }
    assert message(st, "WorkspaceDeleting") == "workspace is being deleted"
    assert st.condition("InferenceReady") == (before.status.conditions or ())[0]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("error", "resource"),
    [
        pytest.param(
            SizingError("GPU memory of Standard_NV36ads_A10_v5 is too small for falcon-40b"),
            ("False", "SizingFailed"),
            id="sizing error fails resource",
        ),
        pytest.param(
            UnsupportedGpuError("no runtime supports NVIDIA K80"),
            ("False", "UnsupportedGPU"),
            id="unsupported gpu fails resource",
        ),
        pytest.param(
            SpecError("configmap missing", reason="ConfigMapNotFound"),
            ("True", "workspaceResourceStatusSuccess"),
            id="other spec error leaves resource as observed",
        ),
    ],
)
def test_spec_error_is_terminal(error: SpecError, resource: tuple[str, str]) -> None:
    """A SpecError makes the workspace Failed with the error's reason and message."""
    st = status(error=error)
    assert st.state == "Failed"
    assert summary(st)["WorkspaceSucceeded"] == ("False", error.reason)
    assert message(st, "WorkspaceSucceeded") == error.message
    assert summary(st)["ResourceReady"] == resource
    if resource[0] == "False":
        assert message(st, "ResourceReady") == error.message


def test_spec_error_before_sizing_reports_no_nodes() -> None:
    """Without a node count ever decided, a SpecError reports no node conditions."""
    st = status(target=0, error=SizingError("too small"), observed=healthy(nodes=[], claims=[]))
    assert summary(st) == {
        "InferenceReady": ("False", "WorkspaceInferenceStatusPending"),
        "ResourceReady": ("False", "SizingFailed"),
        "WorkspaceSucceeded": ("False", "SizingFailed"),
    }
    assert st.target_node_count is None


def test_notes_are_appended() -> None:
    """Notes reach the ResourceReady and InferenceReady messages, '; '-joined."""
    notes = ("float16 chosen: NVIDIA V100 (compute capability 7.0) has no bfloat16 support", "n2")
    st = status(notes=notes)
    assert message(st, "ResourceReady") == "workspace resource is ready; " + "; ".join(notes)
    assert message(st, "InferenceReady") == (
        "Inference has been deployed successfully; " + "; ".join(notes)
    )
    pending = status(observed=healthy(objects=[]), notes=notes[:1])
    assert message(pending, "InferenceReady") == f"Inference workload is not ready; {notes[0]}"
    assert message(pending, "WorkspaceSucceeded") == (
        "workspace is waiting for inference workload readiness"
    )


def test_byo_condition_set() -> None:
    """BYO reports NodesReady and ResourceReady only, and drops a stale NodeClaimReady."""
    ws = previous("Pending", ("NodeClaimReady", "False", "NodeClaimNotReady"))
    byo_node = kt.node("mine", labels={"apps": WS}, instance_type=None, gpus=None)
    st = status(ws, healthy(nodes=[byo_node], claims=[]), provisioner="byo")
    assert summary(st) == {k: v for k, v in ALL_READY.items() if k != "NodeClaimReady"}
    assert st.worker_nodes == ("mine",)


def test_v1alpha1_gets_the_same_status() -> None:
    """A v1alpha1 workspace gets the status its v1beta1 twin gets."""
    alpha = kt.workspace(WS, api_version="kaito.sh/v1alpha1")
    assert status(alpha) == status(kt.workspace(WS))


def test_generation_target_and_performance() -> None:
    """observedGeneration is metadata.generation; targetNodeCount the argument; performance kept."""
    perf = {"metrics": {"peakTokensPerMinute": {"value": "1000"}}}
    ws = kt.workspace(WS, generation=4)
    ws = attrs.evolve(ws, status=WorkspaceStatus(performance=perf))
    st = status(ws, target=1)
    assert {c.observed_generation for c in st.conditions or ()} == {4}
    assert st.target_node_count == 1
    assert st.performance == perf
    assert status(target=0).target_node_count is None


def test_worker_nodes_sorted_and_include_unready() -> None:
    """workerNodes lists every matching node by name, ready or not, and no foreign node."""
    nodes = [
        gpu_node("gpu-b", ready=False),
        gpu_node("gpu-a"),
        kt.node("other", labels={"apps": WS}),
    ]
    st = status(observed=healthy(nodes=nodes))
    assert st.worker_nodes == ("gpu-a", "gpu-b")


def test_compute_twice_is_equal_and_idempotent() -> None:
    """The same inputs give equal statuses; feeding the result back changes nothing."""
    observed = healthy(pods=[CRASHING_POD], nodes=[gpu_node(pressure=["DiskPressure"])])
    first = status(observed=observed, notes=("n",))
    assert first == status(observed=observed, notes=("n",))
    again = status(attrs.evolve(kt.workspace(WS), status=first), observed, now=LATER, notes=("n",))
    assert again == first


def test_last_transition_time_rules() -> None:
    """LTT is kept while a condition's status holds and moves to `now` when it flips."""
    first = status(observed=healthy(objects=[]))
    ws = attrs.evolve(kt.workspace(WS), status=first)
    second = status(ws, healthy(), now=LATER)
    before = {c.type: c.last_transition_time for c in first.conditions or ()}
    after = {c.type: c.last_transition_time for c in second.conditions or ()}
    assert after["ResourceReady"] == before["ResourceReady"] == NOW
    assert before["InferenceReady"] == NOW
    assert after["InferenceReady"] == LATER
    assert after["WorkspaceSucceeded"] == LATER


def test_message_change_keeps_last_transition_time() -> None:
    """A new reason with the same status updates the message but not the LTT."""
    first = status(observed=healthy(objects=[]))
    ws = attrs.evolve(kt.workspace(WS), status=first)
    second = status(ws, healthy(pods=[CRASHING_POD], objects=[]), now=LATER)
    cond = second.condition("InferenceReady")
    assert cond is not None
    assert cond.reason == "ContainerCrashLoopBackOff"
    assert cond.last_transition_time == NOW
