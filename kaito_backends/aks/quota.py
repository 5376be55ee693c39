"""Quota pre-flight: do the VMs of an agent pool fit the subscription's vCPU quota in the region?

Azure limits a subscription's vCPUs per region twice: per VM family (``standardNCADSA100v4Family``)
and in total (``cores``, "Total Regional vCPUs"). A VM can be had only when both have room.
``ComputeManagementClient.usage.list(location)`` gives each quota's ``currentValue`` and
``limit``; the resource SKUs (`kaito_backends.aks.skus`) give each VM size's ``family`` and
``vCPUs``. So, before a pool is created or grown by N VMs:

- `usages_of`: the listing as `Usage` per quota, by lower-cased name (pure);
- `check_quota`: the `QuotaCheck` for N VMs of one size (pure): the quotas that apply, the one
  that is short, if any, and the message a Workspace shows (the family, the vCPUs needed, used
  and allowed, and where to request more: the portal's quota page and an ``az quota update``
  command for exactly the limit needed);
- `AzureQuota`: the listing read at most once per ``ttl`` seconds (injected clock), with our own
  creates since the read counted on top (`AzureQuota.reserve`), so a burst of Workspaces does
  not overshoot within one TTL. A read Azure refuses (403: the identity lacks
  ``Microsoft.Compute/locations/usages/read``; or any other non-retryable answer) leaves the
  quota unknown for ``ttl`` seconds (`AzureQuota.unreadable` says why). A throttled read (429)
  or a server error raises `Transient` (``delay`` = Retry-After) and is not remembered: the
  caller backs off and reads again, it never mistakes throttling for "no quota".

The check is a pre-flight, not a reservation: another client may take the quota between the check
and the PUT, and Azure's answer to the PUT stays the authority (`kaito_backends.aks.failures`).
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs

from kaito_backends.aks.failures import backend_error
from kaito_backends.aks.skus import SkuFacts
from kaito_backends.clock import Clock, SystemClock
from kaito_backends.errors import Transient

__all__ = [
    "QUOTA_PERMISSION",
    "QUOTA_PORTAL",
    "REGIONAL_QUOTA",
    "AzureQuota",
    "QuotaCheck",
    "Usage",
    "check_quota",
    "usages_of",
]

#: The Azure portal's page of the subscription's quotas (where an increase is requested).
QUOTA_PORTAL = "https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas"
#: The quota on all of a region's vCPUs, whatever the family.
REGIONAL_QUOTA = "cores"
#: The Azure RBAC action the quota read needs.
QUOTA_PERMISSION = "Microsoft.Compute/locations/usages/read"


@attrs.frozen(kw_only=True)
class Usage:
    """One quota of the subscription in a region: how much is used of how much is allowed."""

    #: ``name.value`` (``standardNCADSA100v4Family``, ``cores``)
    name: str
    #: ``name.localizedValue`` (``Standard NCADS_A100_v4 Family vCPUs``)
    label: str
    current: int
    limit: int

    @property
    def free(self) -> int:
        """What is left under the limit (never negative)."""
        return max(0, self.limit - self.current)


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def usages_of(items: Iterable[Mapping[str, Any]]) -> dict[str, Usage]:
    """The ``usages`` listing (wire shape) as `Usage` by lower-cased name. Pure."""
    usages: dict[str, Usage] = {}
    for item in items:
        name = item.get("name") or {}
        value = str(name.get("value") or "")
        if not value:
            continue
        usages[value.lower()] = Usage(
            name=value,
            label=str(name.get("localizedValue") or value),
            current=_count(item.get("currentValue")),
            limit=_count(item.get("limit")),
        )
    return usages


@attrs.frozen(kw_only=True)
class QuotaCheck:
    """Whether `nodes` more VMs of `vm_size` fit the quotas of `location`."""

    vm_size: str
    nodes: int
    vcpus_per_vm: int
    family: str | None
    location: str
    #: the quotas that apply and were listed: the family's first, then the regional one
    quotas: tuple[Usage, ...]

    @property
    def needed(self) -> int:
        """vCPUs the VMs take: nodes x vCPUs per VM."""
        return self.nodes * self.vcpus_per_vm

    @property
    def short(self) -> Usage | None:
        """The first quota without room for `needed` vCPUs, or None."""
        return next((q for q in self.quotas if self.needed > q.free), None)

    @property
    def fits(self) -> bool:
        return self.short is None

    def message(self, *, subscription_id: str) -> str:
        """What a Workspace (or ``kaito plan --check-quota``) says: fits, or which quota is short,
        by how much, and where to request more."""
        family = f" (family {self.family})" if self.family else ""
        wanted = f"{self.nodes} x {self.vm_size}{family} need {self.needed} vCPUs"
        short = self.short
        if short is None:
            room = ", ".join(f"{q.name} {q.current} used of {q.limit}" for q in self.quotas)
            return f"{wanted}; {self.location}: {room or 'no quota listed'}"
        limit = short.current + self.needed
        scope = f"/subscriptions/{subscription_id}/providers/Microsoft.Compute/locations/"
        command = shlex.join(
            [
                *("az", "quota", "update", "--resource-name", short.name),
                *("--scope", scope + self.location, "--resource-type", "dedicated"),
                *("--limit-object", f"value={limit}"),
            ]
        )
        return (
            f"{wanted}; quota {short.name} ({short.label}) in {self.location} has "
            f"{short.current} used of {short.limit} allowed. Request a limit of at least {limit} "
            f"on the Azure portal's quota page ({QUOTA_PORTAL}) or with: {command}"
        )


def check_quota(
    *, facts: SkuFacts, nodes: int, usages: Mapping[str, Usage], location: str
) -> QuotaCheck:
    """The `QuotaCheck` for `nodes` VMs of the size `facts` describes. Pure.

    Quotas the listing lacks are not checked (an unknown family: the regional quota alone).
    """
    quotas = []
    if facts.family and facts.family.lower() in usages:
        quotas.append(usages[facts.family.lower()])
    if REGIONAL_QUOTA in usages:
        quotas.append(usages[REGIONAL_QUOTA])
    return QuotaCheck(
        vm_size=facts.name,
        nodes=max(0, nodes),
        vcpus_per_vm=max(0, facts.vcpus),
        family=facts.family,
        location=location,
        quotas=tuple(quotas),
    )


class AzureQuota:
    """The compute quotas of one location, read at most once per ``ttl`` seconds."""

    def __init__(
        self,
        compute: Any,
        *,
        location: Callable[[], Awaitable[str]],
        clock: Clock | None = None,
        ttl: float = 60.0,
        log: Any = None,
    ) -> None:
        self._compute = compute
        self._location = location
        self._clock = clock or SystemClock()
        self._ttl = ttl
        self._log = log
        self._usages: dict[str, Usage] | None = None
        self._until = float("-inf")
        #: vCPUs our own creates took since the last read, per lower-cased quota name
        self._reserved: Counter[str] = Counter()
        #: why the quota is unknown (None when the last read succeeded)
        self.unreadable: str | None = None
        #: reads sent to Azure
        self.reads = 0

    async def usages(self) -> dict[str, Usage] | None:
        """The quotas with our reservations counted, or None when they cannot be read
        (`unreadable` says why). Raises `Transient` when Azure throttles or fails."""
        now = self._clock.monotonic()
        if now >= self._until:
            await self._read(now)
        if self._usages is None:
            return None
        return {
            name: attrs.evolve(u, current=u.current + self._reserved[name])
            if self._reserved[name]
            else u
            for name, u in self._usages.items()
        }

    def reserve(self, check: QuotaCheck) -> None:
        """Count a create or scale we just sent against the quotas until the next read."""
        for quota in check.quotas:
            self._reserved[quota.name.lower()] += check.needed

    async def _read(self, now: float) -> None:
        location = "the cluster's location"
        try:
            location = await self._location()
            self.reads += 1
            listed = [usage.as_dict() async for usage in self._compute.usage.list(location)]
        except Exception as exc:
            error = backend_error(exc)
            if isinstance(error, Transient):
                raise error from exc  # throttled or failing: back off, ask again, keep nothing
            self._usages, self._until = None, now + self._ttl
            self.unreadable = _unreadable(exc, error.message, location)
            if self._log is not None:
                self._log.warning("aks.quota.unreadable", location=location, error=error.message)
            return
        self._usages, self.unreadable = usages_of(listed), None
        self._reserved.clear()
        self._until = now + self._ttl


def _unreadable(exc: BaseException, message: str, location: str) -> str:
    if getattr(exc, "status_code", None) == 403:
        return (
            f"the compute quota of {location} cannot be read: the identity lacks "
            f"{QUOTA_PERMISSION} (Azure: {message})"
        )
    return f"the compute quota of {location} cannot be read (Azure: {message})"
