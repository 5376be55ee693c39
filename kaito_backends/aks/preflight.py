"""`QuotaPreflight`: the AKS provisioner's quota check before a pool is created or grown.

`check` (key, VM size, N more VMs):

- finds the size's quota ``family`` and vCPUs in the resource-SKU facts (`AzureSkus`), reads the
  location's quotas (`AzureQuota`, cached) and, when the VMs do not fit the family's quota or the
  regional one, raises `QuotaExceeded` with `QuotaCheck.message`: the caller sends nothing;
- when they fit, returns the `QuotaCheck`; the caller `reserve`\\ s it once its PUT is accepted;
- when the quota cannot be read (403: the identity lacks
  ``Microsoft.Compute/locations/usages/read``) or the VM sizes cannot be read, returns None and
  leaves one Warning `Notice` (reason ``QuotaNotChecked``) for the Workspace, once per
  Workspace for the provisioner's life (the operator process), until the Workspace is
  forgotten (its pool released): the pool is made as before the pre-flight existed;
- a throttled quota read raises `Transient` (Retry-After): nothing is made, the engine's retry
  and backoff read again. A throttled SKU read skips the check (the SKU facts' own fallback).

Without a compute client or SKU facts (``compute=None``) it checks nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kaito_backends.aks.quota import AzureQuota, QuotaCheck, check_quota
from kaito_backends.aks.skus import AzureSkus
from kaito_backends.clock import Clock
from kaito_backends.errors import BackendError, QuotaExceeded, Transient
from kaito_backends.objects import Key
from kaito_backends.protocols import Notice

__all__ = ["REASON_QUOTA_NOT_CHECKED", "QuotaPreflight"]

#: Event reason: a Workspace's quota could not be checked; its pool is made without the check.
REASON_QUOTA_NOT_CHECKED = "QuotaNotChecked"


class QuotaPreflight:
    """The quota check of one provisioner (see the module docstring)."""

    def __init__(
        self,
        compute: Any,
        *,
        skus: AzureSkus | None,
        location: Callable[[], Awaitable[str]],
        subscription_id: str,
        clock: Clock | None = None,
        ttl: float = 60.0,
        log: Any = None,
    ) -> None:
        self.skus = skus if compute is not None else None
        self.quota: AzureQuota | None = None
        if compute is not None:
            self.quota = AzureQuota(compute, location=location, clock=clock, ttl=ttl, log=log)
        self._location = location
        self._subscription_id = subscription_id
        self._log = log
        self._notices: dict[Key, list[Notice]] = {}
        self._told: set[Key] = set()

    async def check(self, key: Key, vm_size: str, nodes: int) -> QuotaCheck | None:
        """Raise `QuotaExceeded` when `nodes` more VMs of `vm_size` do not fit; else the check
        made (None: nothing to check, or it could not be made)."""
        if self.quota is None or self.skus is None or nodes <= 0:
            return None
        try:
            facts = await self.skus.facts()
        except Transient:
            return None  # the SKU facts' own fallback: the PUT goes, Azure's answer shows
        except BackendError as error:
            self._not_checked(key, f"the VM sizes cannot be read (Azure: {error.message})")
            return None
        fact = facts.get(vm_size.lower())
        if fact is None or fact.vcpus <= 0:
            return None  # not offered (refused before this) or no vCPU count to size it by
        usages = await self.quota.usages()  # Transient: back off and read again
        if usages is None:
            self._not_checked(key, self.quota.unreadable or "the compute quota cannot be read")
            return None
        location = await self._location()
        result = check_quota(facts=fact, nodes=nodes, usages=usages, location=location)
        short = result.short
        if short is not None:
            if self._log is not None:
                self._log.info(
                    "aks.quota.exceeded",
                    workspace=str(key),
                    vm_size=fact.name,
                    needed=result.needed,
                    quota=short.name,
                    used=short.current,
                    limit=short.limit,
                )
            raise QuotaExceeded(result.message(subscription_id=self._subscription_id))
        return result

    def reserve(self, check: QuotaCheck | None) -> None:
        """Count VMs we just asked for against the cached quotas (None: nothing)."""
        if check is not None and self.quota is not None:
            self.quota.reserve(check)

    def take_notices(self, key: Key) -> tuple[Notice, ...]:
        """The notices about the Workspace not handed out yet; each is handed out once."""
        return tuple(self._notices.pop(key, ()))

    def forget(self, key: Key) -> None:
        """The Workspace's pool is gone: a Workspace of that name is told again."""
        self._notices.pop(key, None)
        self._told.discard(key)

    def _not_checked(self, key: Key, why: str) -> None:
        if key in self._told:
            return
        self._told.add(key)
        message = (
            f"{why}; its agent pool is made without the quota pre-flight (a quota shortfall "
            "shows only when Azure refuses the pool)"
        )
        notice = Notice(type="Warning", reason=REASON_QUOTA_NOT_CHECKED, message=message)
        self._notices.setdefault(key, []).append(notice)
