"""The backend conformance suite on the real API server: `KubernetesClient` (kubernetes-asyncio)
and `KarpenterProvisioner` over Karpenter-kwok, with no controller acting on the suite's
objects (`quiet_cluster`). The same suite runs on the fake in tests/backends."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest

from kaito_backends.karpenter import KarpenterProvisioner, NodeClass
from kaito_backends.kubernetes import KubernetesClient, from_kubeconfig
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from tests.backends.conformance import Backend, ClusterClientContract, NodeProvisionerContract
from tests.realcluster.cluster import RealCluster, close_tls_client
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import NAMESPACE, Operator

LEASE = "kaito-workspace-leader"
WORKSPACE_LABEL = "kaito.sh/workspace"
#: The Workspace names `tests.backends.contract_support.unique` gives the provisioner tests.
SUITE_WORKSPACE = re.compile(r"ws-\d+-\d+")

KWOK_NODE_CLASS = NodeClass(group="karpenter.kwok.sh", kind="KWOKNodeClass", name="default")


def _etcd(plane: ControlPlane, path: str, body: dict[str, object]) -> dict[str, object]:
    url = f"http://127.0.0.1:{plane.layout.ports['etcd']}{path}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: dict[str, object] = json.loads(answer.read())
    return found


def _compact(plane: ControlPlane) -> None:
    """Compact etcd to its current revision (ConfigMaps bypass the watch cache: see
    ControlPlane), so a watch from an older resourceVersion is answered 410 Gone."""
    header = _etcd(plane, "/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]
    revision = int(header["revision"])  # type: ignore[index]
    _etcd(plane, "/v3/kv/compaction", {"revision": str(revision), "physical": True})


def _hold_lease(plane: ControlPlane, holder: str) -> None:
    """Make ``holder`` the election Lease's holder for an hour ("" releases it)."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NAMESPACE},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 3600 if holder else 1,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(lease))


@pytest.fixture(scope="module")
def quiet_cluster(real_cluster: RealCluster) -> Iterator[RealCluster]:
    """The cluster with no controller acting: the operator is stopped and an operator that can
    never lead (the Lease is held for an hour by a name no process has) serves the webhook,
    so Workspaces can be created. The session's operator comes back afterwards."""
    plane = real_cluster.plane
    real_cluster.operator.stop()
    _hold_lease(plane, "conformance-suite")
    follower = Operator(plane, name="kaito-operator-follower")
    follower.start()
    try:
        yield real_cluster
    finally:
        follower.stop()
        _remove_suite_workspaces(plane)
        _hold_lease(plane, "")
        real_cluster.ensure_operator()


@pytest.fixture
async def backend(quiet_cluster: RealCluster) -> AsyncIterator[Backend]:
    client = await from_kubeconfig(quiet_cluster.kubeconfig)
    plane = quiet_cluster.plane

    async def advance(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.5))  # real time: poll often, the suite counts steps

    async def compact() -> None:
        await asyncio.to_thread(_compact, plane)

    try:
        yield Backend(
            client=client,
            provisioner=KarpenterProvisioner(client, node_class=KWOK_NODE_CLASS),
            advance=advance,
            instance_type="Standard_NC24ads_A100_v4",
            compact=compact,
        )
    finally:
        await close_tls_client(client)
        await asyncio.to_thread(_release_suite_claims, plane)


def _remove_suite_workspaces(plane: ControlPlane) -> None:
    """Delete the Workspaces the client tests made (``ws-RUN-N`` in ``default``), before an
    operator leads again: it would give each a NodeClaim and a Node."""
    listed = plane.kubectl("get", "workspaces.kaito.sh", "-n", "default", "-o", "json")
    names = [
        item["metadata"]["name"]
        for item in json.loads(listed.stdout)["items"]
        if SUITE_WORKSPACE.fullmatch(item["metadata"]["name"])
    ]
    if names:
        plane.kubectl(
            "delete",
            "workspaces.kaito.sh",
            "-n",
            "default",
            *names,
            "--wait=false",
            "--ignore-not-found",
        )


def _release_suite_claims(plane: ControlPlane) -> None:
    """Delete the NodeClaims the suite's provisioner tests made for their made-up Workspaces
    (``ws-RUN-N``, via `unique`) and did not release: on the fake they go with the fake; here
    they would outlive the test (and tests/realcluster/test_missing_crd.py waits for none)."""
    listed = plane.kubectl("get", "nodeclaims", "-o", "json")
    names = [
        item["metadata"]["name"]
        for item in json.loads(listed.stdout)["items"]
        if SUITE_WORKSPACE.fullmatch(
            (item["metadata"].get("labels") or {}).get(WORKSPACE_LABEL, "")
        )
    ]
    if names:
        plane.kubectl("delete", "nodeclaims", *names, "--wait=false", "--ignore-not-found")


async def test_the_real_backends_implement_both_protocols(backend: Backend) -> None:
    """KubernetesClient is a ClusterClient and KarpenterProvisioner a NodeProvisioner."""
    assert isinstance(backend.client, KubernetesClient)
    assert isinstance(backend.client, ClusterClient)
    assert isinstance(backend.provisioner, NodeProvisioner)


class TestRealClusterClient(ClusterClientContract):
    """ClusterClient contract on KubernetesClient against kube-apiserver."""


class TestRealNodeProvisioner(NodeProvisionerContract):
    """NodeProvisioner contract on KarpenterProvisioner against Karpenter's kwok provider."""
