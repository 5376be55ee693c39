"""The AKS backend: GPU nodes for Workspaces as AKS agent pools, through the Azure SDK.

    config = AksConfig.resolve(flags, os.environ)          # subscription, group, cluster, ...
    async with AksProvisioner.from_config(config, nodes=nodes_via(client)) as provisioner:
        await provisioner.provision(key, outcome.node_claims)   # starts the LRO, returns
        claims = await provisioner.observe(key)                 # NodeClaim-shaped, with conditions

One agent pool per Workspace (`pool_name`: deterministic, within AKS's rules); SKU facts from
Compute resource SKUs with the static catalog as fallback (`AzureSkus`); Azure's errors as the
backend error tree (`backend_error`); a quota pre-flight (`QuotaPreflight` over `AzureQuota`,
`check_quota`) refuses pools beyond the subscription's vCPU quota before any create. Workloads
go to the cluster through the kubernetes backend; ``kaito operator --backend aks`` wires both
(``kaito_backends.cli.aks_options``).
Needs the ``aks`` extra (azure-mgmt-containerservice, azure-mgmt-compute, azure-identity).
See docs/aks.md.
"""

from kaito_backends.aks.claims import node_claims_of_pool
from kaito_backends.aks.config import AksConfig, AksConfigError
from kaito_backends.aks.failures import backend_error, classify
from kaito_backends.aks.naming import pool_name
from kaito_backends.aks.pools import PoolSpec, desired_pool
from kaito_backends.aks.preflight import QuotaPreflight
from kaito_backends.aks.provisioner import AksProvisioner, NodeLister, nodes_via
from kaito_backends.aks.quota import AzureQuota, QuotaCheck, Usage, check_quota, usages_of
from kaito_backends.aks.skus import AzureSkus, SkuFacts

__all__ = [
    "AksConfig",
    "AksConfigError",
    "AksProvisioner",
    "AzureQuota",
    "AzureSkus",
    "NodeLister",
    "PoolSpec",
    "QuotaCheck",
    "QuotaPreflight",
    "SkuFacts",
    "Usage",
    "backend_error",
    "check_quota",
    "classify",
    "desired_pool",
    "node_claims_of_pool",
    "nodes_via",
    "pool_name",
    "usages_of",
]
