"""`classify_pod_failure` (upstream's TestDetectInferencePodFailure, and more)."""

from __future__ import annotations

import pytest

from kaito_core import testing as kt
from kaito_core.conditions import MAX_MESSAGE_LENGTH
from kaito_core.observed import Manifest
from kaito_core.pod_failures import (
    CONTAINER_START_ERROR_REASONS,
    IMAGE_PULL_ERROR_REASONS,
    classify_pod_failure,
)

MAIN = "ws"


def _pod(
    *containers: Manifest,
    name: str = "ws-0",
    phase: str = "Running",
    reason: str | None = None,
    message: str | None = None,
    unschedulable: str | None = None,
    init_containers: tuple[Manifest, ...] | list[Manifest] = (),
) -> Manifest:
    return kt.pod(
        name,
        workspace="ws",
        containers=containers,
        phase=phase,
        reason=reason,
        message=message,
        unschedulable=unschedulable,
        init_containers=init_containers,
    )


def _sas(exit_code: int = 1) -> Manifest:
    return kt.container_status(
        "fetch-sas", ready=False, terminated=("Error", exit_code, "token mint failed")
    )


@pytest.mark.parametrize(
    ("pods", "reason", "message"),
    [
        pytest.param([], None, None, id="no pods"),
        pytest.param([_pod(kt.container_status(MAIN))], None, None, id="healthy pod"),
        pytest.param(
            [_pod(kt.container_status(MAIN, ready=False))],
            None,
            None,
            id="starting pod is not a failure",
        ),
        pytest.param(
            [_pod(kt.waiting(MAIN, "ContainerCreating"))],
            None,
            None,
            id="container creating is not a failure",
        ),
        pytest.param(
            [_pod(kt.crash_looping(MAIN), init_containers=[_sas()])],
            "SASTokenFetchFailed",
            "SAS token fetch failed: the streaming init container could not obtain a SAS token; "
            "check the fetch-sas init container logs",
            id="sas fetch failure beats everything",
        ),
        pytest.param(
            [
                _pod(
                    kt.container_status(MAIN, ready=False),
                    init_containers=[kt.crash_looping("fetch-sas")],
                )
            ],
            "SASTokenFetchFailed",
            None,
            id="sas fetch crash loop",
        ),
        pytest.param(
            [_pod(kt.container_status(MAIN, ready=False), init_containers=[_sas(exit_code=0)])],
            None,
            None,
            id="sas fetch exited 0 is fine",
        ),
        pytest.param(
            [_pod(kt.crash_looping(MAIN)), _pod(kt.oom_killed(MAIN), name="ws-1")],
            "ContainerOOMKilled",
            'container "ws" was OOMKilled (exit code 137); reduce memory usage or use a '
            "larger instance type",
            id="oom takes precedence over crash loop",
        ),
        pytest.param(
            [_pod(kt.container_status(MAIN, ready=False, terminated=("OOMKilled", 137, "")))],
            "ContainerOOMKilled",
            None,
            id="oom in current state",
        ),
        pytest.param(
            [_pod(kt.waiting(MAIN, "ImagePullBackOff", "Back-off pulling image"))],
            "ImagePullError",
            'container "ws" image pull failed (ImagePullBackOff): Back-off pulling image',
            id="image pull back-off",
        ),
        pytest.param(
            [
                _pod(kt.crash_looping(MAIN)),
                _pod(kt.waiting(MAIN, "ErrImagePull", "not found"), name="ws-1"),
            ],
            "ImagePullError",
            None,
            id="image pull beats crash loop across pods",
        ),
        pytest.param(
            [_pod(kt.waiting(MAIN, "CreateContainerConfigError", 'secret "hf" not found'))],
            "ContainerStartError",
            'container "ws" failed to start (CreateContainerConfigError): secret "hf" not found',
            id="config error",
        ),
        pytest.param(
            [_pod(kt.crash_looping(MAIN, exit_code=3))],
            "ContainerCrashLoopBackOff",
            'container "ws" is in CrashLoopBackOff; last termination: exit code 3',
            id="crash loop with exit code",
        ),
        pytest.param(
            [_pod(kt.crash_looping(MAIN, message="CUDA error: no kernel image"))],
            "ContainerCrashLoopBackOff",
            'container "ws" is in CrashLoopBackOff; last termination: CUDA error: no kernel image',
            id="crash loop with termination message",
        ),
        pytest.param(
            [_pod(kt.waiting(MAIN, "CrashLoopBackOff"))],
            "ContainerCrashLoopBackOff",
            'container "ws" is in CrashLoopBackOff',
            id="crash loop without last state",
        ),
        pytest.param(
            [
                _pod(
                    phase="Failed",
                    reason="Evicted",
                    message="The node was low on resource: ephemeral-storage.",
                )
            ],
            "NodeDiskPressure",
            'pod "ws-0" evicted due to node disk pressure: The node was low on resource: '
            "ephemeral-storage.",
            id="disk pressure",
        ),
        pytest.param(
            [
                _pod(
                    phase="Failed",
                    reason="Evicted",
                    message="The node had condition: [DiskPressure].",
                )
            ],
            "NodeDiskPressure",
            None,
            id="disk pressure by condition name",
        ),
        pytest.param(
            [
                _pod(
                    phase="Failed",
                    reason="Evicted",
                    message="The node was low on resource: memory.",
                )
            ],
            "NodeMemoryPressure",
            'pod "ws-0" evicted due to node memory pressure: The node was low on resource: memory.',
            id="memory pressure",
        ),
        pytest.param(
            [_pod(phase="Failed", reason="Evicted", message="Pod was preempted")],
            "PodEvicted",
            'pod "ws-0" was evicted: Pod was preempted',
            id="other eviction",
        ),
        pytest.param(
            [
                _pod(phase="Failed", reason="Evicted", message="low on memory"),
                _pod(kt.crash_looping(MAIN), name="ws-1"),
            ],
            "ContainerCrashLoopBackOff",
            None,
            id="crash loop beats eviction",
        ),
        pytest.param(
            [_pod(unschedulable="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")],
            "Unschedulable",
            'pod "ws-0" is unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
            id="unschedulable",
        ),
        pytest.param(
            [
                _pod(unschedulable="no nodes", name="ws-0"),
                _pod(phase="Failed", reason="Evicted", message="memory", name="ws-1"),
            ],
            "NodeMemoryPressure",
            None,
            id="eviction beats unschedulable",
        ),
    ],
)
def test_classify_pod_failure(
    pods: list[Manifest], reason: str | None, message: str | None
) -> None:
    """Pods map to upstream's reason in priority order, with its message."""
    got = classify_pod_failure(pods)
    if reason is None:
        assert got is None
        return
    assert got is not None
    assert got[0] == reason
    if message is not None:
        assert got[1] == message


@pytest.mark.parametrize("waiting_reason", sorted(IMAGE_PULL_ERROR_REASONS))
def test_every_image_pull_error(waiting_reason: str) -> None:
    """Each kubelet image-pull waiting reason is an ImagePullError."""
    got = classify_pod_failure([_pod(kt.waiting(MAIN, waiting_reason, "boom"))])
    assert got == ("ImagePullError", f'container "ws" image pull failed ({waiting_reason}): boom')


@pytest.mark.parametrize("waiting_reason", sorted(CONTAINER_START_ERROR_REASONS))
def test_every_start_error(waiting_reason: str) -> None:
    """Each kubelet create/start waiting reason is a ContainerStartError."""
    got = classify_pod_failure([_pod(kt.waiting(MAIN, waiting_reason, "boom"))])
    assert got == (
        "ContainerStartError",
        f'container "ws" failed to start ({waiting_reason}): boom',
    )


def test_init_container_failure_is_seen() -> None:
    """Init containers are inspected too (model download init containers pull images)."""
    pod = _pod(
        kt.container_status(MAIN, ready=False),
        init_containers=[kt.waiting("puller", "ErrImagePull", "denied")],
    )
    assert classify_pod_failure([pod]) == (
        "ImagePullError",
        'container "puller" image pull failed (ErrImagePull): denied',
    )


def test_pods_are_visited_by_name() -> None:
    """The answer does not depend on the order pods are listed in."""
    first = _pod(kt.waiting(MAIN, "ImagePullBackOff", "a"), name="ws-0")
    second = _pod(kt.waiting(MAIN, "ErrImagePull", "b"), name="ws-1")
    assert classify_pod_failure([second, first]) == classify_pod_failure([first, second])
    assert classify_pod_failure([second, first]) == (
        "ImagePullError",
        'container "ws" image pull failed (ImagePullBackOff): a',
    )


def test_message_is_capped() -> None:
    """A huge kubelet message keeps its first 256 characters and ends in '...', as upstream."""
    got = classify_pod_failure([_pod(kt.waiting(MAIN, "ImagePullBackOff", "x" * 5000))])
    assert got is not None
    assert len(got[1]) == MAX_MESSAGE_LENGTH + 3 == 259
    assert got[1].endswith("x...")
