"""GPU instance types as Azure offers them in one location, through Compute resource SKUs.

``ResourceSkusOperations.list(filter="location eq '<location>'")`` says which VM sizes exist
there, their quota ``family``, capabilities (``GPUs``, ``vCPUs``, ``MemoryGB``) and
restrictions (a ``Location`` restriction such as ``NotAvailableForSubscription`` means
unusable; ``Zone`` restrictions only narrow the zones). Azure does not say which GPU a size
has, how much GPU memory or which CUDA compute capability: the static catalog
(`kaito_presets`) does. So:

- `sku_facts`: the listing reduced to `SkuFacts` per VM size (pure);
- `offered_skus`: catalog SKUs Azure lists in the location without a location restriction
  (pure); GPU sizes the catalog does not know are left out (sizing needs their GPU memory);
- `AzureSkus`: the listing fetched once per ``ttl`` seconds (an error is remembered for
  ``error_ttl`` seconds); ``instance_types()`` falls back to the static catalog when Azure
  cannot be asked, ``problem(vm_size)`` explains why a size cannot be had (None when it can,
  or when Azure cannot be asked: the agent-pool PUT will say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.aks.failures import backend_error
from kaito_backends.clock import Clock, SystemClock
from kaito_backends.errors import BackendError

if TYPE_CHECKING:
    from kaito_presets import Catalog, GpuSku

__all__ = ["AzureSkus", "SkuFacts", "offered_skus", "sku_facts"]


@attrs.frozen(kw_only=True)
class SkuFacts:
    """What Azure says of one VM size in one location."""

    name: str
    gpus: int
    vcpus: int
    memory_gb: float
    zones: tuple[str, ...]
    #: reasonCode of a restriction on the whole location (e.g. ``NotAvailableForSubscription``)
    restriction: str | None = None
    #: the vCPU quota the size counts against (``standardNCADSA100v4Family``), when Azure says
    family: str | None = None

    @property
    def available(self) -> bool:
        """True when nothing keeps the subscription from this size in the location."""
        return self.restriction is None


def _number(value: Any) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _in_location(items: Iterable[Any], location: str) -> bool:
    return any(str(item).lower() == location for item in items or ())


def sku_facts(skus: Iterable[Mapping[str, Any]], *, location: str) -> dict[str, SkuFacts]:
    """``virtualMachines`` resource SKUs offered in `location`, by lower-cased name. Pure."""
    location = location.lower()
    facts: dict[str, SkuFacts] = {}
    for sku in skus:
        if str(sku.get("resourceType", "")).lower() != "virtualmachines" or not sku.get("name"):
            continue
        if not _in_location(sku.get("locations") or (), location):
            continue
        caps = {str(c.get("name")): c.get("value") for c in sku.get("capabilities") or ()}
        zones: tuple[str, ...] = ()
        for info in sku.get("locationInfo") or ():
            if str(info.get("location", "")).lower() == location:
                zones = tuple(sorted(str(z) for z in info.get("zones") or ()))
        restriction = None
        for item in sku.get("restrictions") or ():
            info = item.get("restrictionInfo") or {}
            where = list(item.get("values") or ()) + list(info.get("locations") or ())
            if str(item.get("type", "")).lower() == "location" and _in_location(where, location):
                restriction = str(item.get("reasonCode") or "Restricted")
        name = str(sku["name"])
        facts[name.lower()] = SkuFacts(
            name=name,
            gpus=int(_number(caps.get("GPUs"))),
            vcpus=int(_number(caps.get("vCPUs"))),
            memory_gb=_number(caps.get("MemoryGB")),
            zones=zones,
            restriction=restriction,
            family=str(sku["family"]) if sku.get("family") else None,
        )
    return facts


def offered_skus(facts: Mapping[str, SkuFacts], catalog: Catalog) -> tuple[GpuSku, ...]:
    """The catalog's Azure SKUs that Azure offers here without restriction. Pure."""
    offered = []
    for sku in catalog.skus(cloud="azure"):
        fact = facts.get(sku.instance_type.lower())
        if fact is not None and fact.available:
            offered.append(sku)
    return tuple(offered)


class AzureSkus:
    """Resource-SKU facts of one location, cached; the static catalog when Azure fails."""

    def __init__(
        self,
        compute: Any,
        *,
        location: Callable[[], Awaitable[str]],
        catalog: Catalog,
        clock: Clock | None = None,
        ttl: float = 3600.0,
        error_ttl: float = 60.0,
        log: Any = None,
    ) -> None:
        self._compute = compute
        self._location = location
        self._catalog = catalog
        self._clock = clock or SystemClock()
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._log = log
        self._facts: dict[str, SkuFacts] | None = None
        self._error: BackendError | None = None
        self._until = float("-inf")
        self.fetches = 0

    async def facts(self) -> dict[str, SkuFacts]:
        """The facts, from cache or Azure. Raises `BackendError` (cached ``error_ttl`` seconds)."""
        now = self._clock.monotonic()
        if now < self._until:
            if self._error is not None:
                raise self._error
            assert self._facts is not None
            return self._facts
        try:
            location = await self._location()
            self.fetches += 1
            pager = self._compute.resource_skus.list(filter=f"location eq '{location}'")
            listed = [sku.as_dict() async for sku in pager]
        except Exception as exc:
            self._error, self._facts = backend_error(exc), None
            self._until = now + self._error_ttl
            if self._log is not None:
                self._log.warning("aks.skus.unavailable", error=self._error.message)
            raise self._error from exc
        self._facts, self._error = sku_facts(listed, location=location), None
        self._until = now + self._ttl
        return self._facts

    async def instance_types(self) -> tuple[GpuSku, ...]:
        """Catalog SKUs offered in the location; every Azure catalog SKU if Azure cannot say."""
        try:
            facts = await self.facts()
        except BackendError:
            return self._catalog.skus(cloud="azure")
        return offered_skus(facts, self._catalog)

    async def problem(self, vm_size: str) -> str | None:
        """Why `vm_size` cannot be had here (Azure's restriction), or None."""
        try:
            facts = await self.facts()
            location = await self._location()
        except BackendError:
            return None
        fact = facts.get(vm_size.lower())
        if fact is None:
            return f"VM size {vm_size} is not offered in location {location}"
        if fact.restriction is not None:
            return (
                f"VM size {vm_size} is not available in location {location} for this "
                f"subscription ({fact.restriction})"
            )
        return None
