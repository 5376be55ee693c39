"""The Kubernetes backend: `ClusterClient` over a real API server, with kubernetes-asyncio.

    from kaito_backends.kubernetes import Informer, from_kubeconfig

    async with await from_kubeconfig() as client:          # or in_cluster() inside a pod
        await client.apply(manifest)                         # server-side apply, manager "kaito"
        pods = Informer(client, "v1", "Pod", namespace="default")
        pods.start()
        await pods.wait_synced()

Modules: `client` (`KubernetesClient`: the verbs, SSA, ``/status`` writes, watches),
`failures` (HTTP status -> `kaito_backends.errors`), `resources` (kind -> REST resource and
URL), `cache` (`Informer`: list + watch caches with relist, bookmarks and backoff),
`ownership` (owner references, finalizers), `config` (kubeconfig / in-cluster). Needs the
``kubernetes`` extra (``pip install -e '.[kubernetes]'`` in a clone). See docs/kubernetes.md.
"""

from kaito_backends.kubernetes.cache import Change, Informer, workspace_keys
from kaito_backends.kubernetes.client import (
    APPLY_PATCH,
    JSON_PATCH,
    KubernetesClient,
    field_selector,
    label_selector,
)
from kaito_backends.kubernetes.config import (
    connect,
    from_kubeconfig,
    in_cluster,
    in_cluster_available,
)
from kaito_backends.kubernetes.failures import ApiError, error_from_status
from kaito_backends.kubernetes.ownership import (
    add_finalizer,
    owner_reference,
    remove_finalizer,
    with_owner,
)
from kaito_backends.kubernetes.resources import DEFAULT_RESOURCES, Resource, ResourceMap

__all__ = [
    "APPLY_PATCH",
    "DEFAULT_RESOURCES",
    "JSON_PATCH",
    "ApiError",
    "Change",
    "Informer",
    "KubernetesClient",
    "Resource",
    "ResourceMap",
    "add_finalizer",
    "connect",
    "error_from_status",
    "field_selector",
    "from_kubeconfig",
    "in_cluster",
    "in_cluster_available",
    "label_selector",
    "owner_reference",
    "remove_finalizer",
    "with_owner",
    "workspace_keys",
]
