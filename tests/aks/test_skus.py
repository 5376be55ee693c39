"""SKU facts from Compute resource SKUs, merged with the static catalog; the catalog as fallback."""

from __future__ import annotations

import pytest

pytest.importorskip("azure.mgmt.compute", reason="the 'aks' extra is not installed")

from kaito_backends.aks import AksProvisioner, SkuFacts
from kaito_backends.aks.skus import offered_skus, sku_facts
from kaito_presets import default_catalog
from tests.aks.conftest import A100, A100_FAMILY, T4, V100, default_skus
from tests.aks.fake_arm import FakeArm, gpu_sku


def test_facts_read_capabilities_zones_and_location_restrictions() -> None:
    """GPUs, vCPUs, MemoryGB, zones and the quota family as Azure lists them; a Location
    restriction's reason."""
    facts = sku_facts(default_skus(), location="EastUS")
    assert facts[A100.lower()] == SkuFacts(
        name=A100, gpus=1, vcpus=24, memory_gb=220.0, zones=("1", "2", "3"), family=A100_FAMILY
    )
    assert facts[V100.lower()].restriction == "NotAvailableForSubscription"
    assert not facts[V100.lower()].available
    assert facts["standard_d4s_v5"].gpus == 0


@pytest.mark.parametrize(
    ("sku", "offered"),
    [
        (gpu_sku(A100, gpus=1), True),
        (gpu_sku(A100, gpus=1, restricted="NotAvailableForSubscription"), False),
        (gpu_sku(A100, gpus=1, location="westeurope"), False),
        ({**gpu_sku(A100, gpus=1), "resourceType": "disks"}, False),
        (
            {
                **gpu_sku(A100, gpus=1),
                "restrictions": [{"type": "Zone", "values": ["eastus"], "reasonCode": "x"}],
            },
            True,
        ),
    ],
    ids=["listed", "restricted", "other-location", "not-a-vm", "zone-restriction-only"],
)
def test_which_catalog_skus_are_offered(sku: dict[str, object], offered: bool) -> None:
    """Listed in the location, a VM size, and not restricted location-wide."""
    skus = offered_skus(sku_facts([sku], location="eastus"), default_catalog())
    assert [s.instance_type for s in skus] == ([A100] if offered else [])


async def test_instance_types_are_the_offered_catalog_skus(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Catalog facts (GPU model, memory) for what Azure offers; unknown GPU sizes left out."""
    types = await provisioner.instance_types()
    assert sorted(s.instance_type for s in types) == sorted([A100, T4])
    a100 = next(s for s in types if s.instance_type == A100)
    assert a100.gpu_model == default_catalog().sku(A100).gpu_model
    assert arm.count("GET", "/Microsoft.Compute/skus") == 1
    await provisioner.instance_types()
    assert arm.count("GET", "/Microsoft.Compute/skus") == 1  # cached


async def test_the_static_catalog_is_the_fallback(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Azure failing (here 403) gives every Azure SKU of the catalog, and no exception."""
    arm.inject(
        403,
        code="AuthorizationFailed",
        message="The client does not have authorization to perform action "
        "'Microsoft.Compute/skus/read'.",
        path_contains="/Microsoft.Compute/skus",
    )
    types = await provisioner.instance_types()
    assert types == default_catalog().skus(cloud="azure")
    assert provisioner.skus is not None
    assert await provisioner.skus.problem(V100) is None  # unknown: the PUT will tell


async def test_the_location_filter_is_sent(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """Only the cluster's location is listed (``$filter=location eq 'eastus'``)."""
    arm.skus.append(gpu_sku("Standard_NC40ads_H100_v5", gpus=1, location="westus3"))
    types = await provisioner.instance_types()
    assert "Standard_NC40ads_H100_v5" not in {s.instance_type for s in types}


async def test_problem_explains_unlisted_and_restricted_sizes(
    provisioner: AksProvisioner,
) -> None:
    """Not offered here, or restricted for the subscription; None when fine."""
    assert provisioner.skus is not None
    assert await provisioner.skus.problem(A100) is None
    assert await provisioner.skus.problem("Standard_ND96isr_H200_v5") == (
        "VM size Standard_ND96isr_H200_v5 is not offered in location eastus"
    )
    restricted = await provisioner.skus.problem(V100)
    assert restricted is not None
    assert "NotAvailableForSubscription" in restricted
