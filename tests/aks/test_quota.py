"""The quota pre-flight: compute usages read through the real SDK from the fake ARM, and the check.

Each scenario asserts on the fake ARM's request log: the quota read comes before any PUT, and a
plan that does not fit sends no PUT at all.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("azure.mgmt.compute", reason="the 'aks' extra is not installed")

from kaito_backends.aks import (
    AksProvisioner,
    QuotaCheck,
    SkuFacts,
    Usage,
    check_quota,
    pool_name,
    usages_of,
)
from kaito_backends.aks.quota import QUOTA_PORTAL
from kaito_backends.clock import VirtualClock
from kaito_backends.engine.retry import RetryPolicy, retrying
from kaito_backends.errors import QuotaExceeded, Transient
from kaito_backends.objects import WorkspaceKey
from kaito_backends.protocols import NoticeSource
from tests.aks.conftest import A100, A100_FAMILY, KEY, ProvisionerFactory, rendered_claims
from tests.aks.fake_arm import FakeArm

POOL = pool_name(KEY)
OTHER = WorkspaceKey("default", "mistral")
USAGES = "/providers/Microsoft.Compute/locations/eastus/usages"
DENIED = (
    "The client 'kaito' with object id '0000' does not have authorization to perform action "
    "'Microsoft.Compute/locations/usages/read' over scope '/subscriptions/0000' or the scope is "
    "invalid."
)
A100_FACTS = SkuFacts(name=A100, gpus=1, vcpus=24, memory_gb=220, zones=("1",), family=A100_FAMILY)


def _usage(name: str, current: int, limit: int, label: str = "") -> dict[str, Any]:
    return {
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": label or f"{name} vCPUs"},
    }


def _check(nodes: int, *rows: dict[str, Any], facts: SkuFacts = A100_FACTS) -> QuotaCheck:
    return check_quota(facts=facts, nodes=nodes, usages=usages_of(rows), location="eastus")


def _put_index(arm: FakeArm) -> int:
    return next(i for i, (m, p) in enumerate(arm.requests) if m == "PUT")


def _usage_reads(arm: FakeArm) -> int:
    return arm.count("GET", USAGES)


async def _clocked(make_provisioner: ProvisionerFactory) -> tuple[AksProvisioner, VirtualClock]:
    clock = VirtualClock()
    return await make_provisioner(clock=clock), clock


# -- the check (pure) -------------------------------------------------------------------------


def test_usages_are_read_in_arms_shape_by_lower_cased_name() -> None:
    """name.value / localizedValue, currentValue, limit; rows without a name are skipped."""
    usages = usages_of(
        [
            _usage("cores", 10, 100, "Total Regional vCPUs"),
            _usage("StandardNCADSA100v4Family", 24, 48, "Standard NCADS_A100_v4 Family vCPUs"),
            {"unit": "Count", "currentValue": 1, "limit": 2, "name": {}},
        ]
    )
    assert sorted(usages) == ["cores", "standardncadsa100v4family"]
    family = usages["standardncadsa100v4family"]
    assert (family.name, family.label, family.current, family.limit, family.free) == (
        "StandardNCADSA100v4Family",
        "Standard NCADS_A100_v4 Family vCPUs",
        24,
        48,
        24,
    )
    assert Usage(name="x", label="x", current=9, limit=4).free == 0


@pytest.mark.parametrize(
    ("nodes", "rows", "short"),
    [
        pytest.param(2, [_usage(A100_FAMILY, 0, 48), _usage("cores", 0, 100)], None, id="fits"),
        pytest.param(
            2, [_usage(A100_FAMILY, 24, 48), _usage("cores", 0, 100)], A100_FAMILY, id="family"
        ),
        pytest.param(
            1, [_usage(A100_FAMILY, 0, 48), _usage("cores", 90, 100)], "cores", id="regional"
        ),
        pytest.param(
            1, [_usage(A100_FAMILY.upper(), 0, 0)], A100_FAMILY.upper(), id="family-any-case"
        ),
        pytest.param(1, [_usage("cores", 0, 10)], "cores", id="family-not-listed"),
        pytest.param(1, [], None, id="nothing-listed"),
        pytest.param(2, [_usage(A100_FAMILY, 0, 48), _usage("cores", 0, 48)], None, id="exact"),
    ],
)
def test_nodes_fit_when_the_family_and_the_regional_quota_have_room(
    nodes: int, rows: list[dict[str, Any]], short: str | None
) -> None:
    """vCPUs needed = nodes x vCPUs per VM, against limit - current of both quotas."""
    check = _check(nodes, *rows)
    assert check.needed == nodes * 24
    assert (check.short.name if check.short else None) == short
    assert check.fits is (short is None)


def test_the_message_names_family_vcpus_used_allowed_and_where_to_ask() -> None:
    """Everything a user needs to act: the quota, the numbers, the portal and an az command."""
    check = _check(
        2,
        _usage(A100_FAMILY, 24, 48, "Standard NCADS_A100_v4 Family vCPUs"),
        _usage("cores", 24, 100),
    )
    message = check.message(subscription_id="1111")
    assert message == (
        f"2 x {A100} (family {A100_FAMILY}) need 48 vCPUs; quota {A100_FAMILY} (Standard "
        "NCADS_A100_v4 Family vCPUs) in eastus has 24 used of 48 allowed. Request a limit of at "
        f"least 72 on the Azure portal's quota page ({QUOTA_PORTAL}) or with: az quota update "
        f"--resource-name {A100_FAMILY} --scope "
        "/subscriptions/1111/providers/Microsoft.Compute/locations/eastus "
        "--resource-type dedicated --limit-object value=72"
    )
    fits = _check(1, _usage(A100_FAMILY, 0, 48), _usage("cores", 3, 100))
    assert fits.message(subscription_id="1111") == (
        f"1 x {A100} (family {A100_FAMILY}) need 24 vCPUs; eastus: {A100_FAMILY} 0 used of 48, "
        "cores 3 used of 100"
    )


# -- the provisioner against the fake ARM ------------------------------------------------------


async def test_enough_quota_reads_usages_before_creating(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """The usages GET goes before the PUT; the pool is created as before."""
    arm.quota_limits[A100_FAMILY] = 48
    await provisioner.provision(KEY, rendered_claims(count=2))
    await provisioner.wait()
    assert arm.creates == {POOL: 1}
    reads = [i for i, (m, p) in enumerate(arm.requests) if m == "GET" and p.endswith(USAGES)]
    assert reads
    assert reads[0] < _put_index(arm)
    assert provisioner.take_notices(KEY) == ()


@pytest.mark.parametrize(
    ("limits", "used", "short"),
    [
        pytest.param({A100_FAMILY: 24}, {}, A100_FAMILY, id="family-limit"),
        pytest.param({A100_FAMILY: 48}, {A100_FAMILY: 48}, A100_FAMILY, id="family-used"),
        pytest.param({"cores": 40}, {}, "cores", id="regional"),
        pytest.param({A100_FAMILY: 0}, {}, A100_FAMILY, id="no-gpu-quota"),
    ],
)
async def test_too_little_quota_creates_nothing(
    arm: FakeArm,
    provisioner: AksProvisioner,
    limits: dict[str, int],
    used: dict[str, int],
    short: str,
) -> None:
    """QuotaExceeded naming the quota and the numbers; no PUT in the request log."""
    arm.quota_limits.update(limits)
    arm.quota_used.update(used)
    with pytest.raises(QuotaExceeded) as refused:
        await provisioner.provision(KEY, rendered_claims(count=2))
    assert arm.count("PUT") == 0
    assert _usage_reads(arm) == 1
    assert arm.pools == {}
    message = refused.value.message
    assert f"quota {short} " in message
    assert "need 48 vCPUs" in message
    assert f"family {A100_FAMILY}" in message
    assert QUOTA_PORTAL in message
    assert f"--resource-name {short} " in message
    assert refused.value.reason == "QuotaExceeded"


async def test_raising_the_quota_recovers_once_the_cache_expires(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """The usages are cached for quota_ttl seconds: refused, quota raised, provisioned."""
    provisioner, clock = await _clocked(make_provisioner)
    arm.quota_limits[A100_FAMILY] = 0
    for _ in range(2):
        with pytest.raises(QuotaExceeded):
            await provisioner.provision(KEY, rendered_claims())
    assert _usage_reads(arm) == 1, "cached"
    arm.quota_limits[A100_FAMILY] = 24
    clock.advance(provisioner.config.quota_ttl)
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    assert _usage_reads(arm) == 2
    assert arm.creates == {POOL: 1}


async def test_pools_we_create_count_against_the_cached_quota(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """A second Workspace within the TTL sees the first one's vCPUs, and so does Azure later."""
    provisioner, clock = await _clocked(make_provisioner)
    arm.quota_limits[A100_FAMILY] = 48
    await provisioner.provision(KEY, rendered_claims(count=1))
    await provisioner.provision(OTHER, rendered_claims(OTHER, count=1))
    with pytest.raises(QuotaExceeded, match="has 48 used of 48 allowed"):
        await provisioner.provision(
            WorkspaceKey("default", "third"), rendered_claims(WorkspaceKey("default", "third"))
        )
    assert _usage_reads(arm) == 1
    assert arm.count("PUT") == 2
    await provisioner.wait()
    clock.advance(provisioner.config.quota_ttl)
    with pytest.raises(QuotaExceeded, match="has 48 used of 48 allowed"):
        await provisioner.provision(
            WorkspaceKey("default", "third"), rendered_claims(WorkspaceKey("default", "third"))
        )
    assert _usage_reads(arm) == 2  # read again: now Azure itself counts the two pools


async def test_growing_a_pool_checks_only_the_new_nodes(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Scale 1 -> 2 fits 48; 2 -> 3 does not (needs 24 more): the pool stays at 2."""
    arm.quota_limits[A100_FAMILY] = 48
    await provisioner.provision(KEY, rendered_claims(count=1))
    await provisioner.wait()
    await provisioner.provision(KEY, rendered_claims(count=2))
    await provisioner.wait()
    with pytest.raises(QuotaExceeded, match=r"1 x Standard_NC24ads_A100_v4 .*need 24 vCPUs"):
        await provisioner.provision(KEY, rendered_claims(count=3))
    pool = arm.pool(POOL)
    assert pool is not None
    assert pool["properties"]["count"] == 2
    assert arm.count("PUT") == 2
    await provisioner.provision(KEY, rendered_claims(count=1))  # shrinking needs no quota
    await provisioner.wait()
    assert arm.count("PUT") == 3


async def test_no_permission_tells_each_workspace_once_and_provisions(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """403 AuthorizationFailed: one QuotaNotChecked notice per Workspace; pools are made."""
    provisioner, clock = await _clocked(make_provisioner)
    assert isinstance(provisioner, NoticeSource)
    arm.inject(403, code="AuthorizationFailed", message=DENIED, times=99, path_contains=USAGES)
    await provisioner.provision(KEY, rendered_claims())
    notices = provisioner.take_notices(KEY)
    assert [(n.type, n.reason) for n in notices] == [("Warning", "QuotaNotChecked")]
    assert "Microsoft.Compute/locations/usages/read" in notices[0].message
    assert "without the quota pre-flight" in notices[0].message
    assert provisioner.take_notices(KEY) == ()
    await provisioner.provision(OTHER, rendered_claims(OTHER))
    assert len(provisioner.take_notices(OTHER)) == 1
    await provisioner.wait()
    assert set(arm.creates) == {POOL, pool_name(OTHER)}
    clock.advance(provisioner.config.quota_ttl)
    await provisioner.provision(KEY, rendered_claims(count=2))  # grows: reads again, 403 again
    assert provisioner.take_notices(KEY) == ()
    assert _usage_reads(arm) == 2, "the 403 is remembered for the TTL, not asked per call"


async def test_a_released_workspace_is_told_again(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """Once per Workspace while its pool lives: a Workspace made again hears it again."""
    arm.inject(403, code="AuthorizationFailed", message=DENIED, times=99, path_contains=USAGES)
    await provisioner.provision(KEY, rendered_claims())
    assert len(provisioner.take_notices(KEY)) == 1
    await provisioner.wait()
    await provisioner.release(KEY)
    await provisioner.wait()
    await provisioner.release(KEY)  # the pool is gone: the Workspace is forgotten
    await provisioner.provision(KEY, rendered_claims())
    assert len(provisioner.take_notices(KEY)) == 1


async def test_a_throttled_read_backs_off_and_is_not_taken_for_no_quota(
    arm: FakeArm, provisioner: AksProvisioner
) -> None:
    """429 with Retry-After: Transient(delay), nothing created, no notice; then it goes."""
    arm.quota_limits[A100_FAMILY] = 24
    arm.inject(429, retry_after="7", times=1, path_contains=USAGES)
    with pytest.raises(Transient) as throttled:
        await provisioner.provision(KEY, rendered_claims())
    assert throttled.value.delay == 7.0
    assert arm.count("PUT") == 0
    assert provisioner.take_notices(KEY) == ()
    await provisioner.provision(KEY, rendered_claims())
    await provisioner.wait()
    assert arm.creates == {POOL: 1}
    assert _usage_reads(arm) == 2


async def test_the_engines_retry_waits_retry_after_then_provisions(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """Through `retrying`: one call, the server's 7 s waited (virtual), the pool made."""
    provisioner, clock = await _clocked(make_provisioner)
    arm.inject(429, retry_after="7", times=1, path_contains=USAGES)
    wrapped = retrying(provisioner, policy=RetryPolicy(attempts=3), clock=clock)
    await wrapped.provision(KEY, rendered_claims())
    assert clock.monotonic() == 7.0
    assert wrapped.retries == 1
    await provisioner.wait()
    assert arm.creates == {POOL: 1}


async def test_the_check_can_be_turned_off(
    arm: FakeArm, make_provisioner: ProvisionerFactory
) -> None:
    """``check_quota=False``: no usages read; Azure's PUT decides, as before."""
    unchecked = await make_provisioner(check_quota=False)
    arm.quota_limits[A100_FAMILY] = 0
    await unchecked.provision(KEY, rendered_claims())
    await unchecked.wait()
    assert _usage_reads(arm) == 0
    assert arm.creates == {POOL: 1}
