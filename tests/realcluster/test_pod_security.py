"""The operator's pods in a namespace that enforces the Pod Security Standards' "restricted"
profile (issue #10, defect 7): the API server admits them (a pod that is not restricted is
refused there), so the examples come up as anywhere else."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.kubectl import Kubectl
from tests.realcluster.workspaces import documents, final_state, pods_of, wait_state

#: An inference pod, one with init containers (the adapter pullers) and the tuning Job.
EXAMPLE_FILES = [
    EXAMPLES / "workspace-phi-4-mini.yaml",
    EXAMPLES / "workspace-adapters.yaml",
    EXAMPLES / "workspace-tuning-phi-3.yaml",
]
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.fixture
async def restricted(kubectl: Kubectl) -> AsyncIterator[str]:
    """A fresh namespace labelled to enforce "restricted" (latest), deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    await kubectl("create", "namespace", name)
    await kubectl("label", "namespace", name, f"{ENFORCE}=restricted", f"{ENFORCE}-version=latest")
    yield name
    await kubectl("delete", "namespace", name, "--wait=false", check=False)


async def test_the_namespace_refuses_a_pod_that_is_not_restricted(
    kubectl: Kubectl, restricted: str
) -> None:
    """The control: a plain pod (root allowed, no seccomp profile) is refused in it."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain"},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/x:1"}]},
    }
    code, _, err = await kubectl.run("apply", "-n", restricted, "-f", "-", stdin=json.dumps(pod))
    assert code != 0
    assert 'violates PodSecurity "restricted:latest"' in err, err


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
async def test_an_example_runs_where_restricted_is_enforced(
    kubectl: Kubectl, restricted: str, path: Path
) -> None:
    """Its pods are admitted and run; the Workspace reaches its end state."""
    (workspace,) = [d for d in documents(path) if d["kind"] == "Workspace"]
    name = workspace["metadata"]["name"]
    await kubectl("apply", "-n", restricted, "-f", str(path))
    await wait_state(kubectl, restricted, name, final_state(workspace), timeout=240)
    pods = await pods_of(kubectl, restricted, name)
    assert pods
    for pod in pods:
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    await kubectl("delete", "-n", restricted, "-f", str(path), "--wait=true", "--timeout=120s")
