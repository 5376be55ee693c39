"""``kaito plan --summary --check-quota``: would the planned nodes fit the Azure vCPU quota?

Read-only: two GETs to Azure Resource Manager with ``DefaultAzureCredential`` (the location's
resource SKUs, for each VM size's quota family and vCPUs, and its compute usages); nothing is
created. The subscription, location and ARM endpoint come from the flags ``kaito operator
--backend aks`` takes, else from the same environment variables
(`kaito_backends.aks.config.ENVIRONMENT`); the location is required here, as there is no cluster
to ask. After the summary table, one line per Workspace::

    quota: default/phi: fits: 1 x Standard_NC24ads_A100_v4 (family ...) need 24 vCPUs; eastus: ...
    quota: default/big: QuotaExceeded: <the message the Workspace would show on ResourceReady>

Workspaces are checked in the order given, each after the ones above it took their vCPUs (as
the operator would create them); a Workspace that would fit alone says so. A throttled read is
retried after Retry-After (at most `ATTEMPTS` reads, `MAX_WAIT` seconds per wait).

Exit codes: 0 every Workspace fits, 1 one does not (or its VM size is not offered there), 2 the
check could not be made (settings, credentials, permissions, Azure unreachable or throttled).
Importing this module imports neither asyncio, Azure nor the AKS backend: ``kaito plan`` stays
light.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from kaito_core.api import WorkspaceStatus
from kaito_core.outcome import Outcome

__all__ = ["ATTEMPTS", "MAX_WAIT", "add_quota_arguments", "check_quota_of"]

#: Reads of one listing before a throttled check gives up.
ATTEMPTS = 4
#: Longest wait between two reads (a longer Retry-After is cut to this).
MAX_WAIT = 30.0
T = TypeVar("T")


class _CannotCheck(Exception):
    """The check could not be made; the message is one line for the user."""


def add_quota_arguments(parser: argparse.ArgumentParser) -> None:
    """``--check-quota`` and the Azure settings it reads (an argument group of ``kaito plan``)."""
    group = parser.add_argument_group(
        "quota check (--check-quota)",
        "With --summary: read the Azure subscription's compute quota (read-only, "
        "DefaultAzureCredential) and say per Workspace whether its nodes fit.",
    )
    group.add_argument(
        "--check-quota",
        action="store_true",
        help="check the planned nodes against the vCPU quota of --aks-location (needs --summary)",
    )
    group.add_argument(
        "--aks-subscription", metavar="UUID", help="Azure subscription id (AZURE_SUBSCRIPTION_ID)"
    )
    group.add_argument("--aks-location", metavar="REGION", help="Azure region (AZURE_LOCATION)")
    group.add_argument(
        "--aks-arm-endpoint",
        metavar="URL",
        help="Azure Resource Manager URL for sovereign clouds (AZURE_RESOURCE_MANAGER_ENDPOINT)",
    )


def _setting(args: argparse.Namespace, flag: str, field: str, environ: Mapping[str, str]) -> str:
    from kaito_backends.aks.config import ENVIRONMENT

    value = getattr(args, flag, None) or next(
        (environ[n] for n in ENVIRONMENT[field] if environ.get(n)), ""
    )
    return str(value).strip()


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str, str]:
    """(subscription, location, ARM endpoint or ""); raises `_CannotCheck` naming what to set."""
    from kaito_backends.aks.config import setting_problems

    subscription = _setting(args, "aks_subscription", "subscription_id", environ)
    location = _setting(args, "aks_location", "location", environ).lower()
    endpoint = _setting(args, "aks_arm_endpoint", "arm_endpoint", environ)
    problems = setting_problems(
        subscription_id=subscription, arm_endpoint=endpoint, location=location
    )
    if not subscription:
        problems.append(
            "subscription id is not set (--aks-subscription or AZURE_SUBSCRIPTION_ID / "
            "ARM_SUBSCRIPTION_ID)"
        )
    if not location:
        problems.append("location is not set (--aks-location or AZURE_LOCATION / LOCATION)")
    if problems:
        raise _CannotCheck("; ".join(problems))
    return subscription, location, endpoint.rstrip("/")


def _wanted(outcome: Outcome[WorkspaceStatus]) -> tuple[str, str, int]:
    """(workspace, VM size, node count) of a planned Workspace; count 0 when none."""
    from kaito_backends.aks.pools import instance_type

    label = outcome.summary.workspace if outcome.summary is not None else "?"
    sizes = sorted({instance_type(c) for c in outcome.node_claims})
    return label, (sizes[0] if sizes else ""), len(outcome.node_claims)


async def _read(what: str, read: Callable[[], Awaitable[T]]) -> T:
    """`read` (raising `BackendError`s), retried while Azure throttles; `_CannotCheck` if not."""
    import asyncio

    from kaito_backends.errors import BackendError, Transient

    attempt = 1
    while True:
        try:
            return await read()
        except Transient as error:
            if attempt >= ATTEMPTS:
                raise _CannotCheck(f"cannot read {what}: {error.message}") from error
            wait = error.delay if error.delay is not None else 2.0**attempt
            await asyncio.sleep(min(wait, MAX_WAIT))
            attempt += 1
        except BackendError as error:
            raise _CannotCheck(f"cannot read {what}: {error.message}") from error


async def _check(
    wanted: Sequence[tuple[str, str, int]],
    *,
    subscription: str,
    location: str,
    endpoint: str,
    credential: Any,
    client_kwargs: Mapping[str, Any],
) -> tuple[list[str], int]:
    from azure.mgmt.compute.aio import ComputeManagementClient

    from kaito_backends.aks.quota import AzureQuota, check_quota
    from kaito_backends.aks.skus import AzureSkus
    from kaito_backends.errors import BackendError
    from kaito_presets import default_catalog

    closing: list[Any] = []
    if credential is None:
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        closing.append(credential)
    options: dict[str, Any] = {"retry_total": 0}  # throttling is retried here, after Retry-After
    if endpoint:
        options.update(base_url=endpoint, credential_scopes=[f"{endpoint}/.default"])
    options.update(client_kwargs)
    compute = ComputeManagementClient(credential, subscription, **options)
    closing.insert(0, compute)

    async def where() -> str:
        return location

    skus = AzureSkus(compute, location=where, catalog=default_catalog(), error_ttl=0.0)
    quota = AzureQuota(compute, location=where, ttl=float("inf"))

    async def usages() -> Any:
        found = await quota.usages()
        if found is None:
            raise BackendError(quota.unreadable or "unknown error")
        return found

    try:
        facts = await _read("the VM sizes (Microsoft.Compute/skus)", skus.facts)
        alone = await _read("the compute quota (Microsoft.Compute/locations/usages)", usages)
        lines: list[str] = []
        status = 0
        for label, vm_size, nodes in wanted:
            fact = facts.get(vm_size.lower())
            if nodes <= 0:
                lines.append(f"quota: {label}: no nodes to provision")
                continue
            if fact is None or not fact.available:
                lines.append(f"quota: {label}: {vm_size} is not offered in {location}")
                status = 1
                continue
            check = check_quota(facts=fact, nodes=nodes, usages=await usages(), location=location)
            message = check.message(subscription_id=subscription)
            if check.fits:
                quota.reserve(check)
                lines.append(f"quota: {label}: fits: {message}")
                continue
            status = 1
            if check_quota(facts=fact, nodes=nodes, usages=alone, location=location).fits:
                message += " (it would fit without the Workspaces above)"
            lines.append(f"quota: {label}: QuotaExceeded: {message}")
        return lines, status
    finally:
        for resource in closing:
            await resource.close()


def check_quota_of(
    args: argparse.Namespace,
    outcomes: Sequence[Outcome[WorkspaceStatus]],
    *,
    environ: Mapping[str, str] | None = None,
    credential: Any = None,
    **client_kwargs: Any,
) -> int:
    """Print one quota line per planned Workspace (stdout) or why it cannot (stderr); the exit
    code (module docstring). `credential` and ``client_kwargs`` are for tests and embedders."""
    import asyncio

    try:
        subscription, location, endpoint = _settings(
            args, os.environ if environ is None else environ
        )
        try:
            import azure.identity.aio
            import azure.mgmt.compute.aio  # noqa: F401
        except ImportError as exc:
            raise _CannotCheck(
                "needs the 'aks' extra (pip install -e '.[aks]' in a kaito-py clone; not on "
                f"PyPI yet): {exc}"
            ) from exc
        lines, status = asyncio.run(
            _check(
                [_wanted(o) for o in outcomes],
                subscription=subscription,
                location=location,
                endpoint=endpoint,
                credential=credential,
                client_kwargs=client_kwargs,
            )
        )
    except _CannotCheck as error:
        print(f"kaito plan: --check-quota: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return status
