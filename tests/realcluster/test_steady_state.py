"""The operator's writes, counted by the API server's audit log: none in a steady state, and every
one it makes attributed to field manager ``kaito``."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import OPERATOR_USER, RESYNC_SECONDS, RealCluster, eventually
from tests.realcluster.workspaces import manifest, wait_state
from tools.cluster.operator import Operator

#: Writes that are not about Workspaces: renewing the election Lease.
_BOOKKEEPING = {("coordination.k8s.io", "leases")}


def _reconciles(operator: Operator) -> float:
    """``kaito_reconcile_total`` summed over results, from the operator's /metrics."""
    with urllib.request.urlopen(f"http://{operator.metrics_address}/metrics", timeout=5) as page:
        text = page.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kaito_reconcile_total{")
    )


async def test_a_converged_cluster_costs_no_write_over_two_resyncs(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """Once Workspaces are Ready, two resync periods pass with reconciles but no write."""
    for name in ("steady-a", "steady-b"):
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest(name)))
    for name in ("steady-a", "steady-b"):
        await wait_state(kubectl, namespace, name, "Ready")
    await asyncio.sleep(RESYNC_SECONDS)  # let status writes of the last transitions land
    mark = real_cluster.audit_mark()
    before = _reconciles(operator)
    await asyncio.sleep(2 * RESYNC_SECONDS + 2)
    writes = [
        str(e)
        for e in real_cluster.audit(mark, user=OPERATOR_USER)
        if e.is_write and (e.group, e.resource) not in _BOOKKEEPING
    ]
    assert _reconciles(operator) >= before + 4, "no resync happened in the window"
    assert writes == []
    await kubectl("delete", "workspaces", "--all", "-n", namespace, "--wait=true")


async def test_every_write_of_the_operator_names_field_manager_kaito(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """Create, finalizer update, status patch, apply: each request says fieldManager=kaito, and
    the Workspace's managedFields name only kaito besides the client that created it."""
    mark = real_cluster.audit_mark()
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("managed")))
    await wait_state(kubectl, namespace, "managed", "Ready")
    await kubectl("delete", "workspace", "managed", "-n", namespace, "--wait=true")

    async def deletion_seen() -> bool:
        return any(
            e.resource == "workspaces" and e.verb == "update"
            for e in real_cluster.audit(mark, user=OPERATOR_USER)
        )

    await eventually(deletion_seen, timeout=30, what="the finalizer removal in the audit log")
    writes = [
        e
        for e in real_cluster.audit(mark, user=OPERATOR_USER)
        if e.verb in ("create", "update", "patch") and (e.group, e.resource) not in _BOOKKEEPING
    ]
    verbs = {(e.resource, e.subresource, e.verb) for e in writes}
    assert ("workspaces", "", "update") in verbs  # the finalizer
    assert ("workspaces", "status", "patch") in verbs
    assert ("statefulsets", "", "patch") in verbs
    unattributed = [str(e) for e in writes if e.field_manager != "kaito"]
    assert unattributed == []


async def test_managed_fields_name_kaito(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """managedFields of a Ready Workspace: the creator's (kubectl) and kaito's, nothing else."""
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("fields")))
    await wait_state(kubectl, namespace, "fields", "Ready")
    found = json.loads(
        await kubectl(
            "get", "workspace", "fields", "-n", namespace, "-o", "json", "--show-managed-fields"
        )
    )
    managers = {
        (f["manager"], f.get("subresource", "")) for f in found["metadata"]["managedFields"]
    }
    assert managers == {("kubectl-client-side-apply", ""), ("kaito", ""), ("kaito", "status")}
    sts = json.loads(
        await kubectl(
            "get", "statefulset", "fields", "-n", namespace, "-o", "json", "--show-managed-fields"
        )
    )
    assert {f["manager"] for f in sts["metadata"]["managedFields"]} <= {
        "kaito",
        "kube-controller-manager",
    }
    await kubectl("delete", "workspace", "fields", "-n", namespace, "--wait=true")
