"""The operator through what a real control plane does to it: an API server restart, a leader
handing over to another process, a SIGKILL in the middle of a reconcile."""

from __future__ import annotations

import asyncio
import datetime
import json
import signal

from kaito_backends.kubernetes import KubernetesClient
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import OPERATOR_FLAGS, OPERATOR_USER, RealCluster, eventually, now
from tests.realcluster.workspaces import claims_of, leftovers, manifest, wait_state
from tools.cluster.operator import NAMESPACE, Operator

LEASE = "kaito-workspace-leader"
#: How soon after the API server is ready again every informer must have listed or watched.
RESUME_WITHIN = datetime.timedelta(seconds=5)
#: How long the API server stays down after it died (then 2-7 s to start): away 18-23 s, so a
#: backoff doubling from 1 s (tries at 1, 3, 7, 15, 31 s) would look again 8-13 s after it is
#: back; well short of the tier operator's --renew-deadline (45 s).
DOWN_FOR = 16.0


async def _holder(kubectl: Kubectl) -> str:
    return await kubectl(
        "get", "lease", LEASE, "-n", NAMESPACE, "-o", "jsonpath={.spec.holderIdentity}"
    )


async def test_informers_resume_within_5s_of_an_api_server_restart(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """Every kind the operator watches is listed or watched again, successfully, within 5 s of
    kube-apiserver being ready after it was away for about 20 s (counted from the audit log); a
    Workspace made after the restart is reconciled."""
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("before")))
    await wait_state(kubectl, namespace, "before", "Ready")
    watched = {
        (e.group, e.resource)
        for e in real_cluster.audit(user=OPERATOR_USER)
        if e.verb == "watch" and e.code == 200
    }
    assert ("kaito.sh", "workspaces") in watched
    assert ("", "pods") in watched

    began = now()
    away, starting = await asyncio.to_thread(
        real_cluster.plane.restart, "kube-apiserver", down=DOWN_FOR, grace=3
    )
    ready = now()
    restarted = began + datetime.timedelta(seconds=away)  # the new process starts
    await asyncio.sleep(RESUME_WITHIN.total_seconds() + 1)
    # answered by the new process (which may serve a little before /readyz says ok)
    after = [e for e in real_cluster.audit(user=OPERATOR_USER) if e.received >= restarted]
    late = {}
    for kind in sorted(watched):
        resumed = [
            e.received - ready
            for e in after
            if (e.group, e.resource) == kind and e.verb in ("list", "watch") and e.code == 200
        ]
        if not resumed or min(resumed) > RESUME_WITHIN:
            late[kind] = min(resumed) if resumed else None
    restart = f"(the server was away {away:.1f} s, then {starting:.1f} s until ready)"
    assert not late, f"informers not resumed within {RESUME_WITHIN}: {late} {restart}"
    assert operator.running()

    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("after")))
    await wait_state(kubectl, namespace, "after", "Ready")
    await kubectl("delete", "workspaces", "--all", "-n", namespace, "--wait=true")


async def test_leadership_moves_to_a_second_operator_process(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """Two operator processes: the leader stops (SIGTERM releases the Lease), the other takes
    over and reconciles a create and a delete; the first comes back as a follower."""
    second = Operator(
        real_cluster.plane, name="kaito-operator-b", webhook=False, extra=OPERATOR_FLAGS
    )
    second.start()
    try:
        await eventually(
            lambda: _is(kubectl, operator.name), timeout=30, what="the first operator leads"
        )
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("one")))
        await wait_state(kubectl, namespace, "one", "Ready")

        operator.stop()
        await eventually(
            lambda: _is(kubectl, second.name), timeout=30, what="the second operator leads"
        )
        real_cluster.ensure_operator()  # back, as a follower, serving the webhook
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest("two")))
        await wait_state(kubectl, namespace, "two", "Ready")
        await kubectl("delete", "workspace", "one", "-n", namespace, "--wait=true")
        assert await _holder(kubectl) == second.name
    finally:
        second.stop()
    await eventually(lambda: _is(kubectl, operator.name), timeout=60, what="the first leads again")
    await kubectl("delete", "workspaces", "--all", "-n", namespace, "--wait=true")
    await eventually(
        lambda: _nothing_left(kubectl, namespace), timeout=120, what="the namespace emptied"
    )


async def _is(kubectl: Kubectl, identity: str) -> bool:
    return await _holder(kubectl) == identity


async def _nothing_left(kubectl: Kubectl, namespace: str) -> bool:
    return not await leftovers(kubectl, namespace)


async def test_a_sigkill_mid_reconcile_makes_no_duplicate_nodeclaims(
    real_cluster: RealCluster,
    operator: Operator,
    kubectl: Kubectl,
    kube: KubernetesClient,
    namespace: str,
) -> None:
    """SIGKILL the operator as soon as the first NodeClaim of a 3-node Workspace appears; after
    a restart the Workspace is Ready with exactly its three NodeClaims, none made twice."""
    name = "crash"
    await kubectl(
        "create", "secret", "generic", "hf-token", "-n", namespace, "--from-literal=HF_TOKEN=x"
    )
    listed = await kube.list("karpenter.sh/v1", "NodeClaim")
    events = aiter(
        kube.watch("karpenter.sh/v1", "NodeClaim", resource_version=listed.resource_version)
    )
    try:
        await kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            stdin=json.dumps(manifest(name, "llama-3.3-70b-instruct", count=3, secret="hf-token")),
        )
        async with asyncio.timeout(60):
            while True:
                event = await anext(events)
                labels = event.object["metadata"].get("labels") or {}
                if event.type == "ADDED" and labels.get("kaito.sh/workspacenamespace") == namespace:
                    break
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    operator.stop(sig=signal.SIGKILL)
    first = {
        c["metadata"]["name"]: c["metadata"]["uid"]
        for c in await claims_of(kubectl, namespace, name)
    }
    assert 1 <= len(first) <= 3

    real_cluster.ensure_operator()
    await wait_state(kubectl, namespace, name, "Ready", timeout=240)
    claims = await claims_of(kubectl, namespace, name)
    assert len(claims) == 3
    names = {c["metadata"]["name"]: c["metadata"]["uid"] for c in claims}
    assert len(names) == 3
    for claim_name, uid in first.items():
        assert names[claim_name] == uid, f"{claim_name} was made again"
    deletes = [
        str(e)
        for e in real_cluster.audit(user=OPERATOR_USER)
        if e.resource == "nodeclaims" and e.verb == "delete" and e.name in names
    ]
    assert deletes == [], "a claim was deleted (to be made again)"
    await kubectl("delete", "workspace", name, "-n", namespace, "--wait=true", "--timeout=120s")
