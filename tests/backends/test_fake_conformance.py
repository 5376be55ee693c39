"""The conformance suite against the fake cluster (with and without background faults)."""

from __future__ import annotations

import pytest

from kaito_backends.fake import FakeCluster
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from tests.backends.conformance import Backend, ClusterClientContract, NodeProvisionerContract

HISTORY = 50


@pytest.fixture
def backend() -> Backend:
    cluster = FakeCluster(watch_history=HISTORY)
    return Backend(
        client=cluster.client(),
        provisioner=cluster.provisioner(),
        advance=cluster.advance,
        instance_type="Standard_NC24ads_A100_v4",
        watch_history=HISTORY,
    )


def test_the_fake_implements_both_protocols() -> None:
    """FakeClient is a ClusterClient and FakeProvisioner a NodeProvisioner (static + runtime)."""
    cluster = FakeCluster()
    client: ClusterClient = cluster.client()
    provisioner: NodeProvisioner = cluster.provisioner()
    assert isinstance(client, ClusterClient)
    assert isinstance(provisioner, NodeProvisioner)
    assert provisioner.name == "fake"


class TestFakeClusterClient(ClusterClientContract):
    """ClusterClient contract on FakeClient."""


class TestFakeNodeProvisioner(NodeProvisionerContract):
    """NodeProvisioner contract on FakeProvisioner."""
