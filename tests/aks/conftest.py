"""Fixtures of the AKS backend tests: a fake ARM on loopback and the real SDK clients against it.

The azure packages are the ``aks`` extra; test modules that need them skip with a reason when
they are absent (``pytest.importorskip``), so nothing here imports them at module level.

Transport: the fake ARM serves TLS with a throwaway self-signed certificate and the clients are
built with ``connection_verify=False``. azure-core's bearer-token policy refuses plain http
unless every call passes ``enforce_https=False``; TLS on loopback keeps the production code
path (and its https check) exactly as it runs against Azure.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from kaito_backends.objects import Manifest, WorkspaceKey

if TYPE_CHECKING:
    from kaito_backends.aks import AksConfig, AksProvisioner
    from tests.aks.fake_arm import FakeArm

A100 = "Standard_NC24ads_A100_v4"
T4 = "Standard_NC16as_T4_v3"
V100 = "Standard_NC6s_v3"
#: The vCPU quota family of `A100`, as Azure names it.
A100_FAMILY = "standardNCADSA100v4Family"
KEY = WorkspaceKey("default", "phi")


class StaticCredential:
    """An async token credential that hands out one fixed test token."""

    def __init__(self) -> None:
        self.requests = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.requests += 1
        return AccessToken("kaito-test-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None


def default_skus() -> list[dict[str, Any]]:
    from tests.aks.fake_arm import gpu_sku

    return [
        gpu_sku(A100, gpus=1, vcpus=24, memory_gb=220, family=A100_FAMILY),
        gpu_sku(T4, gpus=1, vcpus=16, memory_gb=110, family="standardNCASv3_T4Family"),
        gpu_sku(
            V100,
            gpus=1,
            vcpus=6,
            memory_gb=112,
            restricted="NotAvailableForSubscription",
            family="standardNCSv3Family",
        ),
        gpu_sku("Standard_D4s_v5", gpus=0, vcpus=4, memory_gb=16, family="standardDSv5Family"),
        gpu_sku("Standard_NC99_future_v9", gpus=8, vcpus=99, memory_gb=999),
    ]


def rendered_claims(
    key: WorkspaceKey = KEY, *, instance_type: str = A100, count: int | None = None
) -> list[Manifest]:
    """The NodeClaims the planner renders for a phi-4-mini Workspace at `key` (`count` copies
    of the first one, named like the planner names them, when given)."""
    from kaito_core import testing as kt
    from kaito_core.observed import Observed
    from kaito_core.plan import PlanSettings, plan
    from kaito_presets import default_catalog

    ws = kt.workspace(key.name, namespace=key.namespace, instance_type=instance_type)
    outcome = plan(
        ws,
        observed=Observed(),
        catalog=default_catalog(),
        now=kt.TIMESTAMP,
        settings=PlanSettings(provisioner="aks"),
    )
    claims = [copy.deepcopy(c) for c in outcome.node_claims]
    if count is None:
        return claims
    stem = claims[0]["metadata"]["name"].rpartition("-")[0]
    result = []
    for index in range(count):
        claim = copy.deepcopy(claims[0])
        claim["metadata"]["name"] = f"{stem}-{index}"
        result.append(claim)
    return result


def names(claims: Sequence[Manifest]) -> list[str]:
    return sorted(c["metadata"]["name"] for c in claims)


def condition(claim: Manifest, type_: str) -> dict[str, Any]:
    for item in claim["status"]["conditions"]:
        if item["type"] == type_:
            return dict(item)
    raise KeyError(type_)


@pytest.fixture
async def arm() -> AsyncIterator[FakeArm]:
    """A fake ARM on a random loopback port, with a few GPU SKUs in ``eastus``."""
    pytest.importorskip("aiohttp", reason="the AKS tests need aiohttp (the 'aks' extra)")
    from tests.aks.fake_arm import FakeArm

    fake = FakeArm(skus=default_skus())
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def config(arm: FakeArm) -> AksConfig:
    from kaito_backends.aks import AksConfig

    return AksConfig(
        subscription_id=arm.subscription,
        resource_group=arm.resource_group,
        cluster=arm.cluster,
        location=None,
        arm_endpoint=arm.base_url,
        polling_interval=0.01,
    )


ProvisionerFactory = Callable[..., Awaitable["AksProvisioner"]]


@pytest.fixture
async def make_provisioner(arm: FakeArm, config: AksConfig) -> AsyncIterator[ProvisionerFactory]:
    """Builds `AksProvisioner`s on the real SDK clients pointed at the fake (closed at the end).

    ``with_nodes=True`` (default) lists the pool's Nodes from the fake ARM; ``nodes=`` another
    lister (e.g. ``nodes_via(cluster client)``).
    """
    pytest.importorskip("azure.mgmt.containerservice", reason="the 'aks' extra is not installed")
    from kaito_backends.aks import AksProvisioner

    made: list[AksProvisioner] = []

    async def list_nodes(pool: str) -> list[Manifest]:
        return arm.nodes_of(pool)

    async def factory(
        *, with_nodes: bool = True, nodes: Any = None, **kwargs: Any
    ) -> AksProvisioner:
        if nodes is None and with_nodes:
            nodes = list_nodes
        provisioner = AksProvisioner.from_config(
            kwargs.pop("config", config),
            credential=StaticCredential(),
            nodes=nodes,
            connection_verify=False,
            **kwargs,
        )
        made.append(provisioner)
        return provisioner

    yield factory
    for provisioner in made:
        await provisioner.close()


@pytest.fixture
async def provisioner(make_provisioner: ProvisionerFactory) -> AksProvisioner:
    return await make_provisioner()
