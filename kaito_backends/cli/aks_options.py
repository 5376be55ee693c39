"""Command-line options of the AKS backend, for ``kaito operator --backend aks``.

The ``operator`` command calls `add_aks_arguments` on its parser, and `aks_provisioner_from_args`
when ``--backend aks`` is chosen, passing the kubernetes backend's cluster client so the
provisioner can read the Nodes of each agent pool::

    kaito operator --backend aks --aks-subscription 1111...  --aks-resource-group rg \\
        --aks-cluster my-aks [--aks-location eastus]

Every flag falls back to its environment variable (`kaito_backends.aks.config`), so in a pod the
flags can be left out. Credentials come from ``DefaultAzureCredential`` (workload identity,
managed identity, ``az login``, ...), never from flags. Importing this module needs no Azure
package; building the provisioner needs the ``aks`` extra.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaito_backends.aks import AksConfig, AksProvisioner
    from kaito_backends.protocols import ClusterClient

__all__ = ["add_aks_arguments", "aks_config_from_args", "aks_provisioner_from_args"]

_DEFAULT_POLLING_INTERVAL = 10.0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def add_aks_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--aks-*`` options (an argument group) to `parser`."""
    group = parser.add_argument_group(
        "AKS backend (--backend aks)",
        "GPU nodes as AKS agent pools. Each option falls back to the environment variable "
        "named; credentials come from DefaultAzureCredential.",
    )
    group.add_argument(
        "--aks-subscription",
        metavar="UUID",
        help="Azure subscription id (AZURE_SUBSCRIPTION_ID)",
    )
    group.add_argument(
        "--aks-resource-group",
        metavar="NAME",
        help="resource group of the AKS cluster (AKS_RESOURCE_GROUP, AZURE_RESOURCE_GROUP)",
    )
    group.add_argument(
        "--aks-cluster",
        metavar="NAME",
        help="name of the AKS cluster (AKS_CLUSTER_NAME)",
    )
    group.add_argument(
        "--aks-location",
        metavar="REGION",
        help="Azure region for SKU facts (AZURE_LOCATION; default: the cluster's)",
    )
    group.add_argument(
        "--aks-arm-endpoint",
        metavar="URL",
        help="Azure Resource Manager URL for sovereign clouds (AZURE_RESOURCE_MANAGER_ENDPOINT)",
    )
    group.add_argument(
        "--aks-polling-interval",
        metavar="SECONDS",
        type=_positive,
        default=_DEFAULT_POLLING_INTERVAL,
        help="seconds between polls of a running agent-pool operation when Azure sends no "
        f"Retry-After (default {_DEFAULT_POLLING_INTERVAL:g})",
    )


def aks_config_from_args(
    args: argparse.Namespace, *, environ: Mapping[str, str] | None = None
) -> AksConfig:
    """The `AksConfig` from parsed flags and the environment; raises `AksConfigError`."""
    from kaito_backends.aks.config import AksConfig

    flags = {
        "subscription_id": getattr(args, "aks_subscription", None),
        "resource_group": getattr(args, "aks_resource_group", None),
        "cluster": getattr(args, "aks_cluster", None),
        "location": getattr(args, "aks_location", None),
        "arm_endpoint": getattr(args, "aks_arm_endpoint", None),
    }
    return AksConfig.resolve(
        flags,
        os.environ if environ is None else environ,
        polling_interval=getattr(args, "aks_polling_interval", _DEFAULT_POLLING_INTERVAL),
    )


def aks_provisioner_from_args(
    args: argparse.Namespace,
    *,
    nodes: ClusterClient | None = None,
    environ: Mapping[str, str] | None = None,
    credential: Any = None,
    **client_kwargs: Any,
) -> AksProvisioner:
    """The AKS provisioner `args` describe, with ``DefaultAzureCredential`` unless `credential`.

    `nodes`: the cluster client workloads go through (the kubernetes backend's); the
    provisioner lists each pool's Nodes with it to report readiness. Raises `AksConfigError`
    (a `ValueError`) when a setting is missing or the Azure packages are not installed. Call it
    inside the running event loop; close the provisioner (``async with``) when done.
    """
    from kaito_backends.aks.config import AksConfigError

    config = aks_config_from_args(args, environ=environ)
    try:
        import azure.identity.aio
        import azure.mgmt.compute.aio
        import azure.mgmt.containerservice.aio  # noqa: F401
    except ImportError as exc:
        raise AksConfigError(
            "the AKS backend needs the 'aks' extra (pip install -e '.[aks]' in a kaito-py "
            f"clone; not on PyPI yet): {exc}"
        ) from exc
    from kaito_backends.aks.provisioner import AksProvisioner, nodes_via

    return AksProvisioner.from_config(
        config,
        credential=credential,
        nodes=nodes_via(nodes) if nodes is not None else None,
        **client_kwargs,
    )
