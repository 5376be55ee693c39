"""A cluster without Karpenter's NodeClaim CRD (issue #10, defect 3): the real API server answers
``404 page not found``; the Workspace shows ResourceReady False, reason NodeClaimCRDMissing, with
what to install; installing the CRD recovers without touching the Workspace."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import RealCluster, eventually
from tests.realcluster.test_deletion import NOISE, _log_lines
from tests.realcluster.workspaces import manifest, wait_state, workspace_json
from tools.cluster.operator import Operator

CRD = "nodeclaims.karpenter.sh"


def _resource_ready(workspace: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (workspace.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "ResourceReady":
            return dict(condition)
    return None


async def test_a_missing_nodeclaim_crd_is_a_condition_and_installing_it_recovers(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """Karpenter stopped and its NodeClaim CRD deleted: the condition names the CRD and how to
    install it, logged once and never as a failure; the CRD applied again and Karpenter started:
    the Workspace becomes Ready on its own (the operator looks again every 15 s)."""
    plane = real_cluster.plane
    (crd_file,) = [p for p in plane.karpenter_crds() if p.name == "karpenter.sh_nodeclaims.yaml"]

    left: list[str] = []

    async def no_nodeclaims() -> bool:  # deleting the CRD would delete other tests' claims
        items = json.loads(await kubectl("get", "nodeclaims", "-o", "json"))["items"]
        left[:] = [
            f"{i['metadata']['name']} {sorted((i['metadata'].get('labels') or {}).items())}"
            for i in items
        ]
        return not items

    try:
        await eventually(no_nodeclaims, timeout=240, what="the NodeClaims of earlier tests gone")
    except AssertionError as error:
        raise AssertionError(f"{error}; left: {left}") from None
    log_mark = operator.log.stat().st_size
    plane.stop("karpenter")
    try:
        await kubectl("delete", "crd", CRD, "--wait=true", "--timeout=60s")
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("no-crd")))

        async def refused() -> dict[str, Any] | None:
            condition = _resource_ready(await workspace_json(kubectl, namespace, "no-crd"))
            return condition if condition and condition.get("status") == "False" else None

        condition = await eventually(refused, timeout=120, what="ResourceReady False")
        assert condition["reason"] == "NodeClaimCRDMissing"
        assert f"{CRD} is not installed" in condition["message"]
        assert "Install Karpenter" in condition["message"]
        columns = await kubectl("get", "workspace", "no-crd", "-n", namespace)
        assert "False" in columns.splitlines()[1], "kubectl get shows the condition"
    finally:
        await kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_file))
        plane.wait_established(CRD)
        plane.start("karpenter")
    await wait_state(kubectl, namespace, "no-crd", "Ready", timeout=240)
    lines = [
        line
        for line in _log_lines(operator.log, log_mark)
        if line.get("workspace") == f"{namespace}/no-crd"
    ]
    assert [line["event"] for line in lines].count("workspace.kind_not_served") == 1, lines
    assert [line["event"] for line in lines if line["event"] in NOISE] == []
    await kubectl("delete", "workspace", "no-crd", "-n", namespace, "--wait=true")
