"""Where the AKS backend works: subscription, resource group, cluster, location, ARM endpoint.

`AksConfig.resolve` takes each setting from a flag when given, else from the environment:

=====================  ======================================================  ============
setting                environment (first one set wins)                         required
=====================  ======================================================  ============
``subscription_id``    ``AZURE_SUBSCRIPTION_ID``, ``ARM_SUBSCRIPTION_ID``        yes
``resource_group``     ``AKS_RESOURCE_GROUP``, ``AZURE_RESOURCE_GROUP``,         yes
                       ``ARM_RESOURCE_GROUP``
``cluster``            ``AKS_CLUSTER_NAME``, ``AZURE_CLUSTER_NAME``              yes
``location``           ``AZURE_LOCATION``, ``LOCATION``                          no: the
                                                                                 cluster's
``arm_endpoint``       ``AZURE_RESOURCE_MANAGER_ENDPOINT``                      no: public
                                                                                 cloud
=====================  ======================================================  ============

Credentials are not settings: ``DefaultAzureCredential`` reads its own environment
(``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE``, ...) and we never
read, keep or log secrets. Nothing here does I/O but reading the mapping it is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = ["ENVIRONMENT", "AksConfig", "AksConfigError", "setting_problems"]

#: Environment variables per setting, in the order they are looked at.
ENVIRONMENT: Mapping[str, tuple[str, ...]] = {
    "subscription_id": ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"),
    "resource_group": ("AKS_RESOURCE_GROUP", "AZURE_RESOURCE_GROUP", "ARM_RESOURCE_GROUP"),
    "cluster": ("AKS_CLUSTER_NAME", "AZURE_CLUSTER_NAME"),
    "location": ("AZURE_LOCATION", "LOCATION"),
    "arm_endpoint": ("AZURE_RESOURCE_MANAGER_ENDPOINT",),
}
_FLAGS = {
    "subscription_id": "--aks-subscription",
    "resource_group": "--aks-resource-group",
    "cluster": "--aks-cluster",
    "location": "--aks-location",
    "arm_endpoint": "--aks-arm-endpoint",
}
_REQUIRED = ("subscription_id", "resource_group", "cluster")
_REGION = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{1,63}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def setting_problems(
    *, subscription_id: str | None, arm_endpoint: str | None, location: str | None = None
) -> list[str]:
    """What is wrong with a subscription id (not a UUID), an ARM endpoint (not https) or a
    location (not an Azure region name such as ``eastus2``)."""
    problems = []
    if subscription_id and not _UUID.match(subscription_id):
        problems.append(f"subscription id {subscription_id!r} is not a UUID")
    if location and not _REGION.match(location):
        problems.append(f"location {location!r} is not an Azure region name (e.g. eastus2)")
    if arm_endpoint and not arm_endpoint.startswith("https://"):
        problems.append(f"ARM endpoint {arm_endpoint!r} must be an https:// URL")
    return problems


class AksConfigError(ValueError):
    """The AKS backend is not configured well enough to start; the message says what to set."""


@attrs.frozen(kw_only=True)
class AksConfig:
    """The AKS cluster whose agent pools we manage."""

    subscription_id: str
    resource_group: str
    cluster: str
    #: Azure region (``eastus``); None: read from the cluster.
    location: str | None = None
    #: ARM base URL (sovereign clouds, tests); None: the public cloud.
    arm_endpoint: str | None = None
    #: Seconds between LRO status polls when Azure sends no Retry-After.
    polling_interval: float = 10.0
    #: Seconds the resource-SKU listing is trusted.
    sku_ttl: float = 3600.0
    #: Seconds the compute quota (usages) listing is trusted.
    quota_ttl: float = 60.0

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, str | None],
        environ: Mapping[str, str],
        *,
        polling_interval: float = 10.0,
        sku_ttl: float = 3600.0,
        quota_ttl: float = 60.0,
    ) -> AksConfig:
        """Each setting from `flags` (keys as the attribute names) or else `environ`.

        Raises `AksConfigError` naming every missing or malformed setting and how to set it.
        """
        values: dict[str, str | None] = {}
        for field, names in ENVIRONMENT.items():
            value = flags.get(field)
            if not value:
                value = next((environ[n] for n in names if environ.get(n)), None)
            values[field] = value.strip() if value else None
        problems = [
            f"{field.replace('_', ' ')} is not set ({_FLAGS[field]} or "
            f"{' / '.join(ENVIRONMENT[field])})"
            for field in _REQUIRED
            if not values[field]
        ]
        subscription, endpoint = values["subscription_id"], values["arm_endpoint"]
        problems += setting_problems(
            subscription_id=subscription, arm_endpoint=endpoint, location=values["location"]
        )
        if polling_interval <= 0:
            problems.append("the LRO polling interval must be positive")
        if quota_ttl <= 0:
            problems.append("the quota cache time must be positive")
        if problems:
            raise AksConfigError("AKS backend: " + "; ".join(problems))
        return cls(
            subscription_id=str(subscription),
            resource_group=str(values["resource_group"]),
            cluster=str(values["cluster"]),
            location=values["location"].lower() if values["location"] else None,
            arm_endpoint=endpoint.rstrip("/") if endpoint else None,
            polling_interval=polling_interval,
            sku_ttl=sku_ttl,
            quota_ttl=quota_ttl,
        )
