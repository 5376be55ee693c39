"""AksProvisioner against a fake ARM on loopback, through the real azure-mgmt async clients."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("azure.mgmt.containerservice", reason="the 'aks' extra is not installed")

from kaito_backends.aks import AksProvisioner, pool_name
from kaito_backends.errors import Conflict, InsufficientCapacity, Invalid, Transient
from kaito_backends.objects import Key, WorkspaceKey
from kaito_backends.protocols import NodeProvisioner
from tests.aks.conftest import (
    A100,
    KEY,
    T4,
    V100,
    ProvisionerFactory,
    condition,
    names,
    rendered_claims,
)
from tests.aks.fake_arm import FakeArm

POOL = pool_name(KEY)
QUOTA_MESSAGE = (
    "Operation could not be completed as it results in exceeding approved "
    "standardNCADSA100v4Family Cores quota. Additional details - Deployment Model: Resource "
    "Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 24, "
    "(Minimum) New Limit Required: 24. Submit a request for Quota increase at "
    "https://aka.ms/ProdportalCRP"
)


def test_it_is_a_node_provisioner(provisioner: AksProvisioner) -> None:
    """Static conformance: the protocol, and the provisioner name the core plans for."""
    assert isinstance(provisioner, NodeProvisioner)
    assert provisioner.name == "aks"


async def test_provision_creates_one_gpu_pool_shaped_by_the_claims(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """vmSize, count, node labels, the GPU taint, OS disk, osSKU and ownership tags."""
    claims = rendered_claims(count=2)
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    pool = arm.pool(POOL)
    assert pool is not None
    props = pool["properties"]
    assert props["provisioningState"] == "Succeeded"
    assert (props["vmSize"], props["count"], props["mode"]) == (A100, 2, "User")
    assert props["osDiskSizeGB"] == 87
    assert props["osSKU"] == "Ubuntu"
    assert props["nodeTaints"] == ["sku=gpu:NoSchedule"]
    assert props["nodeLabels"] == {
        "apps": "phi",
        "kaito.sh/workspace": "phi",
        "kaito.sh/workspacenamespace": "default",
    }
    assert props["tags"]["kaito-workspace"] == "phi"
    assert props["tags"]["kaito-workspace-namespace"] == "default"
    assert arm.creates == {POOL: 1}


async def test_observe_reports_the_claims_by_name_and_ready_with_nodes(
    provisioner: AksProvisioner,
) -> None:
    """One NodeClaim per node, named as the planner named them, bound to the pool's Nodes."""
    claims = rendered_claims(count=2)
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    observed = await provisioner.observe(KEY)
    assert names(observed) == names(claims)
    for claim in observed:
        assert {condition(claim, t)["status"] for t in ("Launched", "Registered", "Ready")} == {
            "True"
        }
        assert claim["status"]["nodeName"].startswith(f"aks-{POOL}-")
        assert claim["metadata"]["labels"]["kaito.sh/workspace"] == "phi"
        assert claim["spec"]["resources"]["requests"]["storage"] == "87Gi"
    assert len({c["status"]["nodeName"] for c in observed}) == 2


async def test_provision_does_not_block_and_a_second_call_while_running_does_nothing(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """The LRO is polled in the background; a call meanwhile sends nothing, and its claims are
    applied when the running operation ends."""
    arm.hold()
    claims = rendered_claims()
    await asyncio.wait_for(provisioner.provision(KEY, claims), timeout=2)
    assert provisioner.in_flight(KEY) == "put"
    sent = len(arm.requests)
    await provisioner.provision(KEY, rendered_claims(count=3))
    assert arm.count("PUT") == 1
    assert all(m == "GET" for m, _ in arm.requests[sent:])  # only the background polls
    observed = await provisioner.observe(KEY)
    assert [condition(c, "Launched")["status"] for c in observed] == ["Unknown"]
    assert "Creating" in condition(observed[0], "Launched")["message"]
    arm.finish()
    await provisioner.wait()
    assert provisioner.in_flight(KEY) is None
    pool = arm.pool(POOL)  # the latest wish was applied when the create ended
    assert pool is not None
    assert pool["properties"]["count"] == 3
    assert arm.count("PUT") == 2


async def test_provision_is_idempotent(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """Provisioning the same claims again sends no PUT."""
    claims = rendered_claims(count=2)
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    for _ in range(3):
        await provisioner.provision(KEY, claims)
    assert arm.count("PUT") == 1


async def test_a_count_change_scales_the_pool(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """Up and down: the same pool, a new count, the claim names follow."""
    await provisioner.provision(KEY, rendered_claims(count=1))
    await provisioner.wait()
    for count in (3, 2):
        claims = rendered_claims(count=count)
        await provisioner.provision(KEY, claims)
        await provisioner.wait()
        pool = arm.pool(POOL)
        assert pool is not None
        assert pool["properties"]["count"] == count
        assert pool["properties"]["osDiskSizeGB"] == 87
        assert names(await provisioner.observe(KEY)) == names(claims)
    assert arm.creates == {POOL: 1}


async def test_release_deletes_the_pool_and_is_idempotent(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Claims show a deletionTimestamp while the pool is deleted, then nothing is left."""
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    arm.hold()
    await provisioner.release(KEY)
    await provisioner.release(KEY)
    assert arm.count("DELETE") == 1
    deleting = await provisioner.observe(KEY)
    assert deleting
    assert all(c["metadata"].get("deletionTimestamp") for c in deleting)
    arm.finish()
    await provisioner.wait()
    assert await provisioner.observe(KEY) == ()
    await provisioner.release(KEY)
    await provisioner.release(WorkspaceKey("default", "never-provisioned"))
    assert arm.pools == {}


async def test_empty_claims_delete_the_pool(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """``provision(key, [])``: the workspace wants no machines."""
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    await provisioner.provision(KEY, [])
    await provisioner.wait()
    assert arm.pools == {}
    await provisioner.provision(KEY, [])
    assert arm.count("DELETE") == 1


async def test_a_failed_lro_shows_azures_message_on_launched(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """AllocationFailed inside the operation: Launched False, InsufficientCapacity, Azure's text."""
    message = "Allocation failed. We do not have sufficient capacity for the requested VM size."
    arm.fail_next_operation("AllocationFailed", message)
    claims = rendered_claims()
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    observed = await provisioner.observe(KEY)
    assert names(observed) == names(claims)
    launched = condition(observed[0], "Launched")
    assert (launched["status"], launched["reason"], launched["message"]) == (
        "False",
        "InsufficientCapacity",
        message,
    )
    assert condition(observed[0], "Ready")["status"] == "False"


async def test_a_failed_pool_is_put_again_on_the_next_provision(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """A non-capacity failure reads LaunchFailed; provisioning again retries the same pool."""
    arm.fail_next_operation("VMExtensionProvisioningError", "The GPU driver extension failed.")
    claims = rendered_claims()
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    launched = condition((await provisioner.observe(KEY))[0], "Launched")
    assert (launched["reason"], launched["message"]) == (
        "LaunchFailed",
        "The GPU driver extension failed.",
    )
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    assert condition((await provisioner.observe(KEY))[0], "Ready")["status"] == "True"
    assert arm.count("PUT") == 2
    assert arm.creates == {POOL: 1}


async def test_a_restarted_engine_reads_the_failure_from_the_pool(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """Without our memory of the operation, the pool's provisioningError gives the message."""
    arm.fail_next_operation("ZonalAllocationFailed", "Allocation failed in zone 2.")
    first = await make_provisioner()
    await first.provision(KEY, rendered_claims())
    await first.wait()
    await first.close()
    second = await make_provisioner()
    launched = condition((await second.observe(KEY))[0], "Launched")
    assert (launched["reason"], launched["message"]) == (
        "InsufficientCapacity",
        "Allocation failed in zone 2.",
    )


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (409, "OperationNotAllowed", QUOTA_MESSAGE),
        (400, "QuotaExceeded", "Operation results in exceeding quota limits of Core."),
        (400, "ErrCode_InsufficientVCPUQuota", "Insufficient vcpu quota requested 24."),
        (409, "SkuNotAvailable", "The requested VM size is currently not available in eastus."),
    ],
    ids=["operation-not-allowed-quota", "quota-exceeded", "vcpu-quota", "sku-not-available"],
)
async def test_quota_refusals_are_insufficient_capacity_with_azures_message(
    arm: FakeArm, provisioner: AksProvisioner, status: int, code: str, message: str
) -> None:
    """A PUT refused for quota or stock raises InsufficientCapacity carrying Azure's message."""
    arm.refuse_next_put(status, code, message)
    with pytest.raises(InsufficientCapacity) as caught:
        await provisioner.provision(KEY, rendered_claims())
    assert caught.value.message == message
    assert arm.pools == {}
    assert provisioner.in_flight(KEY) is None


async def test_throttling_is_transient_with_the_retry_after_delay(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """429 with Retry-After: Transient(delay); once the throttling ends, the call goes through."""
    arm.inject(429, retry_after="7", times=1)
    with pytest.raises(Transient) as caught:
        await provisioner.provision(KEY, rendered_claims())
    assert caught.value.delay == 7
    assert "throttled" in caught.value.message

    arm.inject(429, retry_after="3", times=2)
    delays = []
    for _ in range(3):  # what a caller's retry loop does: wait delay, call again
        try:
            await provisioner.provision(KEY, rendered_claims())
            break
        except Transient as error:
            delays.append(error.delay)
    await provisioner.wait()
    assert delays == [3, 3]
    assert arm.creates == {POOL: 1}


async def test_server_errors_are_transient(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """A 503 on observe is Transient (no Retry-After: the caller picks the backoff)."""
    arm.inject(503, code="ServiceUnavailable", message="Try again later.", method="GET")
    with pytest.raises(Transient) as caught:
        await provisioner.observe(KEY)
    assert caught.value.delay is None


async def test_a_pool_deleted_behind_our_back_is_recreated(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Observe shows no claims; the engine then provisions, and the pool comes back."""
    claims = rendered_claims(count=2)
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    arm.delete_pool_behind_our_back(POOL)
    assert await provisioner.observe(KEY) == ()
    await provisioner.provision(KEY, claims)
    await provisioner.wait()
    assert names(await provisioner.observe(KEY)) == names(claims)
    assert arm.creates == {POOL: 2}


async def test_a_pool_deleted_while_its_lro_runs(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """The background poll ends without taking the provisioner down; the next call recreates."""
    arm.hold()
    await provisioner.provision(KEY, rendered_claims())
    arm.delete_pool_behind_our_back(POOL)
    arm.finish()
    await provisioner.wait()
    assert await provisioner.observe(KEY) == ()
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    assert arm.creates == {POOL: 2}


async def test_an_engine_restart_mid_create_does_not_create_a_second_pool(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """The new engine finds the pool (deterministic name) still Creating and leaves it be."""
    arm.hold()
    claims = rendered_claims(count=2)
    before = await make_provisioner()
    await before.provision(KEY, claims)
    await before.close()  # the engine dies; Azure carries on
    after = await make_provisioner()
    await after.provision(KEY, claims)
    await after.provision(KEY, claims)
    assert arm.count("PUT") == 1
    assert names(await after.observe(KEY)) == names(claims)
    arm.finish()
    await after.provision(KEY, claims)
    assert arm.creates == {POOL: 1}
    assert arm.count("PUT") == 1
    observed = await after.observe(KEY)
    assert {condition(c, "Ready")["status"] for c in observed} == {"True"}


async def test_readiness_follows_the_pools_nodes(
    arm: FakeArm, provisioner: AksProvisioner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nodes not Ready yet: Registered True, Initialized and Ready False, bound by nodeName."""
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    real = arm.nodes_of
    monkeypatch.setattr(arm, "nodes_of", lambda pool: real(pool, ready=False))
    claim = (await provisioner.observe(KEY))[0]
    assert condition(claim, "Registered")["status"] == "True"
    assert condition(claim, "Initialized")["status"] == "False"
    assert condition(claim, "Ready")["reason"] == "NodeNotReady"
    assert claim["status"]["nodeName"] == f"aks-{POOL}-12345678-vmss000000"
    monkeypatch.setattr(arm, "nodes_of", lambda pool: [])
    claim = (await provisioner.observe(KEY))[0]
    assert condition(claim, "Launched")["status"] == "True"
    assert condition(claim, "Registered")["status"] == "Unknown"
    assert "nodeName" not in claim["status"]


async def test_without_a_node_lister_readiness_is_the_pools(
    make_provisioner: ProvisionerFactory,
) -> None:
    """A Succeeded pool reads as Ready claims when nobody lists Nodes."""
    provisioner = await make_provisioner(with_nodes=False)
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    claim = (await provisioner.observe(KEY))[0]
    assert condition(claim, "Ready")["status"] == "True"
    assert "nodeName" not in claim["status"]


async def test_another_vm_size_replaces_the_pool(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """vmSize is immutable: the pool is deleted, then made again with the new size."""
    await provisioner.provision(KEY, rendered_claims(instance_type=A100))
    await provisioner.wait()
    await provisioner.provision(KEY, rendered_claims(instance_type=T4))
    await provisioner.wait()
    pool = arm.pool(POOL)
    assert pool is not None
    assert pool["properties"]["vmSize"] == T4
    assert arm.creates == {POOL: 2}
    assert arm.count("DELETE") == 1


async def test_a_pool_of_someone_else_is_never_touched(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Same name, other tags: provision raises Conflict, observe sees nothing, release leaves it."""
    arm.pools[POOL] = {
        "name": POOL,
        "properties": {"vmSize": A100, "count": 1, "provisioningState": "Succeeded", "tags": {}},
    }
    with pytest.raises(Conflict, match="belongs to no kaito object"):
        await provisioner.provision(KEY, rendered_claims())
    assert await provisioner.observe(KEY) == ()
    await provisioner.release(KEY)
    assert POOL in arm.pools
    assert arm.count("PUT") == arm.count("DELETE") == 0


async def test_a_workspace_and_a_ragengine_of_one_name_get_a_pool_each(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Pools are keyed by kind too: each observes and releases its own machines only."""
    rag = Key("RAGEngine", KEY.namespace, KEY.name)
    rag_claims = rendered_claims()
    rag_claims[0]["metadata"]["name"] = "rag0123456789"
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.provision(rag, rag_claims)
    await provisioner.wait()
    assert set(arm.pools) == {POOL, pool_name(rag)}
    assert names(await provisioner.observe(rag)) == ["rag0123456789"]
    assert names(await provisioner.observe(KEY)) == names(rendered_claims())
    await provisioner.release(rag)
    await provisioner.wait()
    assert set(arm.pools) == {POOL}
    assert names(await provisioner.observe(KEY)) == names(rendered_claims())


async def test_a_size_azure_restricts_is_refused_before_any_put(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """The resource-SKU restriction (NotAvailableForSubscription) is InsufficientCapacity."""
    with pytest.raises(InsufficientCapacity, match="NotAvailableForSubscription"):
        await provisioner.provision(KEY, rendered_claims(instance_type=V100))
    assert arm.count("PUT") == 0


async def test_claims_of_mixed_instance_types_are_invalid(provisioner: AksProvisioner) -> None:
    """One pool has one VM size."""
    claims = rendered_claims() + rendered_claims(instance_type=T4, count=2)[1:]
    with pytest.raises(Invalid, match="one VM size"):
        await provisioner.provision(KEY, claims)


async def test_workspaces_get_separate_pools(arm: FakeArm, provisioner: AksProvisioner) -> None:
    """Two Workspaces, two pools, each observed apart."""
    other = WorkspaceKey("team-b", "phi")
    await provisioner.provision(KEY, rendered_claims(KEY))
    await provisioner.provision(other, rendered_claims(other, count=2))
    await provisioner.wait()
    assert set(arm.pools) == {POOL, pool_name(other)}
    assert len(await provisioner.observe(KEY)) == 1
    assert len(await provisioner.observe(other)) == 2


async def test_the_location_comes_from_the_cluster_once(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """No location configured: one managedClusters GET, then cached."""
    assert await provisioner.location() == "eastus"
    assert await provisioner.location() == "eastus"
    assert arm.count("GET", "/managedClusters/aks-kaito") - arm.count("GET", "/agentPools") == 1
