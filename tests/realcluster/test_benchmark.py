"""The real-cluster benchmark (``nox -s bench -- --realcluster``), small, on the tier's cluster,
so it cannot rot: it counts the operator's requests per converged Workspace and over a steady
state from the audit log and reads its memory; and its side-by-side machinery runs two
controllers one at a time on the same Workspaces (the session's operator, then the same operator
started from a ``--controller-command`` template, as another controller would be plugged in):
their objects normalise to the same snapshot, and a changed object shows up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from benchmarks.audit import requests, writes
from benchmarks.controllers import CommandController, KaitoOperator
from benchmarks.objectdiff import diff
from benchmarks.snapshot import capture, normalise
from benchmarks.workload import apply_and_wait, delete_and_wait, measure
from tests.conftest import EXAMPLES
from tests.realcluster.cluster import OPERATOR_FLAGS, RESYNC_SECONDS, RealCluster
from tools.cluster.operator import Operator

#: The session operator's command as a template: what someone with another controller's binary
#: would pass to --controller-command.
TEMPLATE = " ".join(
    (
        "{python} -c 'from kaito_backends.cli import main; raise SystemExit(main())'",
        "operator --backend=karpenter --kubeconfig={kubeconfig}",
        "--metrics-bind-address=127.0.0.1:{metrics_port}",
        "--health-probe-bind-address=127.0.0.1:{health_port}",
        "--webhook-port={webhook_port} --webhook-host=127.0.0.1",
        "--webhook-cert={webhook_cert} --webhook-key={webhook_key}",
        "--leader-elect --leader-election-identity={name}",
        "--karpenter-node-class={node_class} --log-format=json",
        *OPERATOR_FLAGS,
    )
)
FILES = [EXAMPLES / "workspace-phi-4-mini.yaml", EXAMPLES / "workspace-custom-config.yaml"]


@pytest.fixture
def run(real_cluster: RealCluster) -> Iterator[str]:
    """A name for this test's Workspaces and namespaces; the namespaces deleted afterwards."""
    name = f"b{uuid.uuid4().hex[:6]}"
    yield name
    real_cluster.ensure_operator()  # deleting needs an operator to remove the finalizers
    for ns in (f"{name}-00", f"{name}-01", f"{name}-a", f"{name}-b"):
        delete_and_wait(real_cluster.plane, ns)


def test_the_benchmark_counts_requests_per_workspace_and_over_a_steady_state(
    real_cluster: RealCluster, operator: Operator, run: str
) -> None:
    """2 then 4 Workspaces: each converged with one finalizer update and one StatefulSet and
    NodeClaim apply apiece; a steady window of two resyncs without a write; memory read."""
    stages = measure(
        real_cluster.plane,
        KaitoOperator(operator),
        sizes=[2, 4],
        window=2 * RESYNC_SECONDS + 2,
        run=run,
        namespaces=2,
        quiet=5,
    )
    assert [s["stage"] for s in stages] == ["start", "+2", "+2"]
    assert stages[0]["rss_kib"] > 20 * 1024
    for stage in stages[1:]:
        converge, steady = stage["converge"], stage["steady"]
        assert stage["ready_s"] > 0
        assert converge["patch statefulsets.apps"] == 2
        assert converge["patch nodeclaims.karpenter.sh"] == 2
        assert converge["update workspaces.kaito.sh"] >= 2  # the finalizer
        assert converge["patch workspaces.kaito.sh/status"] >= 2
        assert writes(converge) >= 10
        assert writes(steady["requests"]) == 0, steady["requests"]
        assert requests(steady["requests"], bookkeeping=True) > 0  # the Lease was renewed
        assert steady["rss_kib"] > 20 * 1024


def test_two_controllers_one_at_a_time_make_the_same_objects_and_a_change_shows(
    real_cluster: RealCluster, operator: Operator, run: str
) -> None:
    """The session's operator, then the same operator from a command template, on the same
    examples: no difference after normalisation; an annotation added to one Service is the one
    difference."""
    plane = real_cluster.plane
    left_ns, right_ns = f"{run}-a", f"{run}-b"
    applied = apply_and_wait(plane, FILES, left_ns, controller=KaitoOperator(operator))
    left = normalise(capture(plane.rest(), left_ns, exclude=applied), namespace=left_ns)
    delete_and_wait(plane, left_ns)
    kinds = sorted(key.split(" ")[1] for key in left)
    assert kinds == [
        "ControllerRevision",
        "ControllerRevision",
        "NodeClaim",
        "NodeClaim",
        "Service",
        "Service",
        "Service",
        "Service",
        "StatefulSet",
        "StatefulSet",
        "Workspace",
        "Workspace",
    ]

    operator.stop()
    other = CommandController(plane, TEMPLATE, name="bench-command")
    try:
        other.start()
        applied = apply_and_wait(plane, FILES, right_ns, controller=other)
        right = normalise(capture(plane.rest(), right_ns, exclude=applied), namespace=right_ns)
        assert diff(left, right) == []

        plane.kubectl(
            "annotate", "service", "workspace-phi-4-mini", "-n", right_ns, "bench/changed=yes"
        )
        changed = normalise(capture(plane.rest(), right_ns, exclude=applied), namespace=right_ns)
        (difference,) = diff(left, changed)
        assert difference.key == "v1 Service <namespace>/workspace-phi-4-mini"
        assert difference.path.startswith("metadata.annotations")
        assert "bench/changed" in difference.path + difference.right
        delete_and_wait(plane, right_ns)
    finally:
        other.stop()
