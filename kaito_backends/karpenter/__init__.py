"""Node provisioners for any Kubernetes cluster: Karpenter NodeClaims or NodePools, or BYO nodes.

    from kaito_backends.karpenter import ByoProvisioner, KarpenterProvisioner

    nodes = KarpenterProvisioner(client)                    # one NodeClaim per GPU node
    nodes = KarpenterProvisioner(client, mode="nodepool")   # one NodePool per Workspace
                                                            # (or RAGEngine: `pool_name`)
    nodes = ByoProvisioner(client)                          # provisions nothing

``client`` is any `ClusterClient` (`kaito_backends.kubernetes.KubernetesClient` against a
cluster running Karpenter). Modules: `provisioner`, `nodepools` (the per-workspace NodePool),
`readiness` (claims + Node GPU capacity), `byo`. See docs/kubernetes.md.
"""

from kaito_backends.karpenter.byo import ByoProvisioner, gpu_config_from_nodes
from kaito_backends.karpenter.nodepools import NodeClass, node_pool_from_claims, pool_name
from kaito_backends.karpenter.provisioner import KarpenterProvisioner, Mode
from kaito_backends.karpenter.readiness import (
    Readiness,
    capacity_refusal,
    claim_problem,
    gpu_capacity,
)

__all__ = [
    "ByoProvisioner",
    "KarpenterProvisioner",
    "Mode",
    "NodeClass",
    "Readiness",
    "capacity_refusal",
    "claim_problem",
    "gpu_capacity",
    "gpu_config_from_nodes",
    "node_pool_from_claims",
    "pool_name",
]
