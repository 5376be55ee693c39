"""The backend conformance suite's NodeProvisioner contract, on AKS agent pools.

The provisioner is the real `AksProvisioner` on the real azure-mgmt clients, against the fake ARM
on loopback; the pool's Nodes come from the fake ARM. Workloads on AKS go through the kubernetes
backend, whose ClusterClient contract runs elsewhere: the suite's ``client`` here is the fake
cluster's, only because `Backend` needs one. ``advance`` is a short real sleep (ARM operations
finish on the fake's own clock; the suite steps 5-15 "seconds" at a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("azure.mgmt.containerservice", reason="the 'aks' extra is not installed")

from kaito_backends.aks import AksProvisioner
from kaito_backends.fake import FakeCluster
from kaito_backends.protocols import NodeProvisioner
from tests.aks.conftest import A100, ProvisionerFactory
from tests.backends.conformance import Backend, NodeProvisionerContract


async def _advance(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 15.0) / 300.0)


@pytest.fixture
async def backend(make_provisioner: ProvisionerFactory) -> AsyncIterator[Backend]:
    provisioner = await make_provisioner()
    yield Backend(
        client=FakeCluster().client(),
        provisioner=provisioner,
        advance=_advance,
        instance_type=A100,
    )
    await provisioner.wait()


def test_the_aks_provisioner_is_a_node_provisioner() -> None:
    """Static conformance line: the class satisfies the protocol."""
    provisioner: type[NodeProvisioner] = AksProvisioner
    assert provisioner.name == "aks"


class TestAksNodeProvisioner(NodeProvisionerContract):
    """NodeProvisioner contract on AksProvisioner (agent pools on the fake ARM)."""
