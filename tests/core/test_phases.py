"""``status.phase``: which phase a Workspace that is not ready is in, from observed state only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core import testing as kt
from kaito_core.api.types import WorkspacePhase, WorkspaceStatus
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest, Observed
from kaito_core.phases import (
    INITIALIZING_NODES,
    LOADING_WEIGHTS,
    PHASES,
    PROVISIONING_NODES,
    PULLING_IMAGE,
    WARMING_UP,
    observed_phase,
    pod_phase,
)
from kaito_core.status import compute_status

WS = "phi"
NOW = "2026-01-02T00:00:00Z"
LATER = "2026-01-02T00:05:00Z"


def running(name: str = "main", *, ready: bool = False, started: bool | None = None) -> Manifest:
    status = kt.container_status(name, ready=ready)
    if started is not None:
        status["started"] = started
    return status


def serving_pod(
    *,
    containers: Sequence[Manifest],
    probe: bool = True,
    init: Sequence[Manifest] = (),
    init_specs: Sequence[str] = (),
    node: str | None = "gpu-0",
    scheduled: bool | None = True,
    ready: bool | None = None,
    deleting: bool = False,
    name: str = f"{WS}-0",
) -> Manifest:
    """A pod of the Workspace's StatefulSet with a spec: its containers (named as the statuses,
    each with a startupProbe when `probe`), init containers `init_specs`, bound to `node`."""
    pod = kt.pod(
        name,
        workspace=WS,
        containers=containers,
        init_containers=init,
        ready=ready,
        deleting=deleting,
    )
    if scheduled is None:
        pod["status"]["conditions"] = [
            c for c in pod["status"]["conditions"] if c["type"] != "PodScheduled"
        ]
    elif not scheduled:
        pod["status"]["conditions"] = [
            kt.kube_condition("PodScheduled", False, "Unschedulable", "0/1 nodes are available"),
            kt.kube_condition("Ready", False),
        ]
    finished = {s["name"] for s in init if "terminated" in s["state"]}
    if init and finished >= set(init_specs):
        pod["status"]["conditions"].append(kt.kube_condition("Initialized", True))
    elif init:
        pod["status"]["conditions"].append(kt.kube_condition("Initialized", False))
    spec: dict[str, Any] = {
        "containers": [
            {"name": c["name"], **({"startupProbe": {"httpGet": {"port": 5000}}} if probe else {})}
            for c in containers
        ]
    }
    if node is not None:
        spec["nodeName"] = node
    if init_specs:
        spec["initContainers"] = [{"name": n} for n in init_specs]
    pod["spec"] = spec
    return pod


def done(name: str) -> Manifest:
    return kt.container_status(name, terminated=("Completed", 0, ""))


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (serving_pod(containers=[running(ready=True, started=True)]), None),
        (
            serving_pod(containers=[running()], node=None, scheduled=False),
            (PULLING_IMAGE, "waiting to be scheduled"),
        ),
        (
            serving_pod(containers=[running()], node=None, scheduled=None),
            (PULLING_IMAGE, "waiting to be scheduled"),
        ),
        (
            serving_pod(containers=[kt.waiting("main", "ContainerCreating")]),
            (PULLING_IMAGE, "container main ContainerCreating"),
        ),
        (
            serving_pod(containers=[kt.waiting("main", "ErrImagePull", "not found")]),
            (PULLING_IMAGE, "container main ErrImagePull"),
        ),
        (
            serving_pod(containers=[kt.waiting("main", "ImagePullBackOff")]),
            (PULLING_IMAGE, "container main ImagePullBackOff"),
        ),
        (
            serving_pod(containers=[kt.waiting("main", "CreateContainerConfigError")]),
            (PULLING_IMAGE, "container main CreateContainerConfigError"),
        ),
        (
            serving_pod(
                containers=[kt.waiting("main", "PodInitializing")],
                init=[kt.waiting("cuda", "PodInitializing")],
                init_specs=["cuda"],
            ),
            (PULLING_IMAGE, "init container cuda PodInitializing"),
        ),
        (
            serving_pod(
                containers=[kt.waiting("main", "PodInitializing")],
                init=[done("cuda"), running("adapter")],
                init_specs=["cuda", "adapter"],
            ),
            (PULLING_IMAGE, "init container adapter running"),
        ),
        (
            serving_pod(
                containers=[kt.waiting("main", "PodInitializing")],
                init=[done("cuda")],
                init_specs=["cuda", "adapter"],
            ),
            (PULLING_IMAGE, "init container adapter not started yet"),
        ),
        (
            serving_pod(containers=[running(started=False)]),
            (LOADING_WEIGHTS, "container main running, startup probe not passed yet"),
        ),
        (
            serving_pod(containers=[running(started=True)]),
            (WARMING_UP, "container main passed its startup probe, not ready yet"),
        ),
        (
            serving_pod(containers=[running(started=True)], probe=False),
            (LOADING_WEIGHTS, "container main running, not ready yet"),
        ),
        (
            serving_pod(containers=[kt.crash_looping("main")]),
            (LOADING_WEIGHTS, "container main restarting (CrashLoopBackOff)"),
        ),
        (
            serving_pod(containers=[kt.oom_killed("main", crash_loop=False)]),
            (LOADING_WEIGHTS, "container main running, startup probe not passed yet"),
        ),
        (
            serving_pod(
                containers=[kt.container_status("main", ready=False, terminated=("Error", 1, ""))]
            ),
            (LOADING_WEIGHTS, "container main restarting (terminated)"),
        ),
        (
            serving_pod(
                containers=[running(started=True), kt.waiting("side", "ContainerCreating")]
            ),
            (PULLING_IMAGE, "container side ContainerCreating"),
        ),
        (
            serving_pod(containers=[running(ready=True, started=True)], ready=False),
            (WARMING_UP, "containers ready, pod not Ready yet"),
        ),
        (serving_pod(containers=[running()], deleting=True), (PULLING_IMAGE, "being replaced")),
    ],
    ids=[
        "ready",
        "unschedulable",
        "not-bound",
        "container-creating",
        "err-image-pull",
        "image-pull-backoff",
        "config-error",
        "init-waiting",
        "init-running",
        "init-not-started",
        "startup-probe-pending",
        "startup-probe-passed",
        "no-startup-probe",
        "crash-loop",
        "oom-restarted-running",
        "terminated",
        "least-advanced-container-wins",
        "readiness-gate",
        "deleting",
    ],
)
def test_a_pod_holds_its_workspace_in_a_phase(
    pod: Manifest, expected: tuple[str, str] | None
) -> None:
    """The mapping from pod and container state to a phase (docs/status.md, Phase)."""
    assert pod_phase(pod) == expected


def test_without_a_spec_started_is_taken_at_its_word() -> None:
    """A status alone cannot tell whether a startupProbe exists: started says it."""
    warming = kt.pod(f"{WS}-0", containers=[running(started=True)])
    loading = kt.pod(f"{WS}-0", containers=[running(started=False)])
    assert pod_phase(warming) == (
        WARMING_UP,
        "container main passed its startup probe, not ready yet",
    )
    assert pod_phase(loading) == (
        LOADING_WEIGHTS,
        "container main running, startup probe not passed yet",
    )


def _nodes_phase(nodes: Sequence[Manifest], target: int = 2, provisioned: bool = True) -> Any:
    return observed_phase(
        workspace=kt.workspace(WS),
        observed=Observed(nodes=tuple(nodes)),
        target_nodes=target,
        provisioned=provisioned,
        resource_ready=False,
    )


def node(name: str, **kwargs: Any) -> Manifest:
    return kt.node(name, workspace=WS, labels={"apps": WS}, **kwargs)


@pytest.mark.parametrize(
    ("nodes", "target", "provisioned", "expected"),
    [
        ([], 2, True, (PROVISIONING_NODES, "0 of 2 nodes registered")),
        ([node("gpu-0")], 2, True, (PROVISIONING_NODES, "1 of 2 nodes registered")),
        (
            [node("gpu-0"), node("gpu-1", ready=False)],
            2,
            True,
            (INITIALIZING_NODES, "1 of 2 nodes ready; node gpu-1 is not Ready"),
        ),
        (
            [node("gpu-0"), node("gpu-1", gpus=None)],
            2,
            True,
            (INITIALIZING_NODES, "1 of 2 nodes ready; node gpu-1 has no GPU capacity yet"),
        ),
        (
            [node("gpu-0", gpus=None)],
            1,
            False,
            (INITIALIZING_NODES, "1 of 1 nodes ready"),
        ),
        (
            [node("gpu-0"), node("gpu-1", deleting=True)],
            2,
            True,
            (PROVISIONING_NODES, "1 of 2 nodes registered"),
        ),
        (
            [kt.node("other", labels={"apps": "else"})],
            1,
            True,
            (PROVISIONING_NODES, "0 of 1 nodes registered"),
        ),
    ],
    ids=[
        "none",
        "one-of-two",
        "registered-not-ready",
        "no-gpu-capacity",
        "byo-needs-no-gpu-capacity",
        "deleting-node-does-not-count",
        "other-workspace",
    ],
)
def test_nodes_that_are_not_ready_are_provisioning_or_initializing(
    nodes: Sequence[Manifest], target: int, provisioned: bool, expected: tuple[str, str]
) -> None:
    """ResourceReady not True: fewer Nodes than needed, or Nodes not Ready with GPUs."""
    assert _nodes_phase(nodes, target, provisioned) == expected


def _serving(pods: Sequence[Manifest], objects: Sequence[Manifest] = ()) -> Any:
    return observed_phase(
        workspace=kt.workspace(WS),
        observed=Observed(pods=tuple(pods), objects=tuple(objects)),
        target_nodes=1,
        provisioned=True,
        resource_ready=True,
    )


def test_the_least_advanced_pod_counts_and_missing_pods_are_pulling() -> None:
    """Across a StatefulSet's ordinals the earliest phase wins; a missing pod is PullingImage."""
    sts = kt.statefulset(WS, replicas=3, ready_replicas=1)
    warm = serving_pod(containers=[running(started=True)], name=f"{WS}-0")
    loading = serving_pod(containers=[running(started=False)], name=f"{WS}-1")
    assert _serving([warm, loading], [sts]) == (PULLING_IMAGE, f"pod {WS}-2 not created yet")
    third = serving_pod(containers=[running(started=True)], name=f"{WS}-2")
    assert _serving([warm, loading, third], [sts]) == (
        LOADING_WEIGHTS,
        f"pod {WS}-1: container main running, startup probe not passed yet",
    )


def test_a_pod_of_an_older_revision_is_being_replaced() -> None:
    """During a rollout, a pod on another revision than the update revision is PullingImage."""
    sts = kt.statefulset(WS, update_revision="new")
    old = serving_pod(containers=[running(ready=True, started=True)])
    old["metadata"]["labels"]["controller-revision-hash"] = "old"
    assert _serving([old], [sts]) == (PULLING_IMAGE, f"pod {WS}-0 being replaced")


def test_ready_pods_of_a_workspace_that_is_not_ready_are_warming_up() -> None:
    """Every pod Ready while the Workspace is not (the StatefulSet catching up): WarmingUp."""
    ready = serving_pod(containers=[running(ready=True, started=True)])
    assert _serving([ready], [kt.statefulset(WS)]) == (
        WARMING_UP,
        f"waiting for the StatefulSet {WS} to roll out",
    )


def _tuning(pods: Sequence[Manifest]) -> Any:
    return observed_phase(
        workspace=kt.workspace(WS, tuning=True),
        observed=Observed(pods=tuple(pods)),
        target_nodes=1,
        provisioned=True,
        resource_ready=True,
    )


def test_a_tuning_workspace_has_a_phase_until_its_jobs_pod_runs() -> None:
    """No pod or a pulling pod: PullingImage; a running pod: no phase (state says Running)."""
    assert _tuning([]) == (PULLING_IMAGE, f"the pod of Job {WS} is not created yet")
    pulling = serving_pod(containers=[kt.waiting("main", "ContainerCreating")], name=f"{WS}-x7k2p")
    assert _tuning([pulling]) == (
        PULLING_IMAGE,
        f"pod {WS}-x7k2p: container main ContainerCreating",
    )
    runs = serving_pod(containers=[running(ready=True)], probe=False, name=f"{WS}-x7k2p")
    assert _tuning([runs]) is None


# --- in the status ------------------------------------------------------------------------------


def _status(
    observed: Observed,
    *,
    previous: WorkspaceStatus | None = None,
    now: str = NOW,
    error: SpecError | None = None,
    tuning: bool = False,
) -> WorkspaceStatus:
    ws = attrs.evolve(kt.workspace(WS, tuning=tuning), status=previous)
    return compute_status(
        workspace=ws, observed=observed, target_node_count=1, now=now, error=error
    )


def _ready_nodes() -> dict[str, Any]:
    return {
        "node_claims": (kt.node_claim("ws-0", workspace=WS, node_name="gpu-0"),),
        "nodes": (node("gpu-0"),),
    }


def test_the_status_says_the_phase_and_keeps_since_while_it_holds() -> None:
    """since is `now` on entering a phase, kept while it holds (even as the message changes),
    and moves when the phase does."""
    empty = Observed()
    first = _status(empty)
    assert first.phase == WorkspacePhase(
        name=PROVISIONING_NODES, since=NOW, message="0 of 1 nodes registered"
    )
    again = _status(empty, previous=first, now=LATER)
    assert again.phase == first.phase
    pulling = Observed(
        **_ready_nodes(),
        objects=(kt.statefulset(WS, ready_replicas=0),),
        pods=(serving_pod(containers=[kt.waiting("main", "ContainerCreating")]),),
    )
    moved = _status(pulling, previous=again, now=LATER)
    assert moved.phase is not None
    assert (moved.phase.name, moved.phase.since) == (PULLING_IMAGE, LATER)


def test_a_ready_workspace_has_no_phase() -> None:
    """InferenceReady True: state Ready and no phase, whatever the previous status had."""
    ready = Observed(
        **_ready_nodes(),
        objects=(kt.statefulset(WS),),
        pods=(serving_pod(containers=[running(ready=True, started=True)]),),
    )
    previous = WorkspaceStatus(phase=WorkspacePhase(name=WARMING_UP, since=NOW))
    status = _status(ready, previous=previous, now=LATER)
    assert (status.state, status.phase) == ("Ready", None)


def test_a_failed_workspace_has_no_phase() -> None:
    """A SpecError makes the Workspace Failed: nothing is on its way."""
    status = _status(Observed(), error=SpecError("no", reason="Nope"))
    assert (status.state, status.phase) == ("Failed", None)


def test_a_deleting_workspace_keeps_its_status_phase_included() -> None:
    """Deletion changes nothing but WorkspaceDeleting, as for state and conditions."""
    previous = WorkspaceStatus(phase=WorkspacePhase(name=LOADING_WEIGHTS, since=NOW))
    ws = attrs.evolve(kt.workspace(WS, deleting=True), status=previous)
    status = compute_status(workspace=ws, observed=Observed(), target_node_count=1, now=LATER)
    assert status.phase == previous.phase


def test_the_upstream_conditions_do_not_change_with_the_phase() -> None:
    """The same observed state gives the same conditions with or without a previous phase."""
    pulling = Observed(
        **_ready_nodes(),
        objects=(kt.statefulset(WS, ready_replicas=0),),
        pods=(serving_pod(containers=[kt.waiting("main", "ContainerCreating")]),),
    )
    plain = _status(pulling)
    with_phase = _status(
        pulling, previous=WorkspaceStatus(phase=WorkspacePhase(name=WARMING_UP, since=NOW))
    )
    assert plain.conditions == with_phase.conditions
    assert plain.state == with_phase.state


_CONTAINER_STATES = st.sampled_from(
    [
        running(ready=True, started=True),
        running(started=True),
        running(started=False),
        kt.waiting("main", "ContainerCreating"),
        kt.waiting("main", "ImagePullBackOff"),
        kt.crash_looping("main"),
    ]
)


@given(
    states=st.lists(_CONTAINER_STATES, min_size=1, max_size=4), now=st.sampled_from([NOW, LATER])
)
def test_the_phase_is_a_fixed_point(states: list[Manifest], now: str) -> None:
    """Computing again from the result, at any later time, gives the same status."""
    pods = tuple(serving_pod(containers=[dict(s)], name=f"{WS}-{i}") for i, s in enumerate(states))
    observed = Observed(
        **_ready_nodes(),
        objects=(kt.statefulset(WS, replicas=len(pods), ready_replicas=0),),
        pods=pods,
    )
    first = _status(observed)
    assert first.phase is None or first.phase.name in PHASES
    assert _status(observed, previous=first, now=now) == first
