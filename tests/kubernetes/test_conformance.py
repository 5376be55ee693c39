"""The backend conformance suite through KubernetesClient + KarpenterProvisioner, over HTTP.

The server is `kaito_backends.apiserver.FakeApiServer` on loopback; ``advance`` moves the fake
cluster's virtual time, so NodeClaims launch, register and become Ready on cue.
"""

from __future__ import annotations

import pytest

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.karpenter import ByoProvisioner, KarpenterProvisioner
from kaito_backends.kubernetes import KubernetesClient
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from tests.backends.conformance import Backend, ClusterClientContract, NodeProvisionerContract
from tests.kubernetes.conftest import WATCH_HISTORY


@pytest.fixture
async def backend(fake_apiserver: FakeApiServer, kube: KubernetesClient) -> Backend:
    return Backend(
        client=kube,
        provisioner=KarpenterProvisioner(kube),
        advance=fake_apiserver.cluster.advance,
        instance_type="Standard_NC24ads_A100_v4",
        watch_history=WATCH_HISTORY,
    )


def test_the_backends_implement_the_protocols(kube: KubernetesClient) -> None:
    """Static and runtime conformance: a ClusterClient and three NodeProvisioners."""
    client: ClusterClient = kube
    claims: NodeProvisioner = KarpenterProvisioner(kube)
    pools: NodeProvisioner = KarpenterProvisioner(kube, mode="nodepool")
    byo: NodeProvisioner = ByoProvisioner(kube)
    assert isinstance(client, ClusterClient)
    for provisioner in (claims, pools, byo):
        assert isinstance(provisioner, NodeProvisioner)
    assert (claims.name, byo.name) == ("karpenter", "byo")


class TestKubernetesClusterClient(ClusterClientContract):
    """ClusterClient contract on KubernetesClient against the fake API server."""


class TestKarpenterNodeProvisioner(NodeProvisionerContract):
    """NodeProvisioner contract on KarpenterProvisioner (NodeClaim mode) over HTTP."""
