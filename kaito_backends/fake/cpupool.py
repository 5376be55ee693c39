"""The fake cluster's default CPU node pool: a node for pods that need no GPU.

A real cluster always has nodes that are not KAITO's: AKS' system pool, a Karpenter default
NodePool. The fake starts with no node at all (GPU nodes come from NodeClaims), so without this
pool a pod that asks for no GPU (a CPU-only RAGEngine's RAG service, any plain Deployment)
would stay Unschedulable forever.

The pool works like a cluster autoscaler with one node: when a pod is Unschedulable, asks for
no extended resource (``nvidia.com/gpu``, ...), and its ``nodeSelector`` and required node
affinity accept the pool's node, the node ``<name>-0`` joins, Ready, when a NodeClaim of the
pool's instance type would have its Node Ready (`Sim.node_times`: the time-to-ready model, or
``Timings.initialize`` when given). It has the pool's instance type, no
taints, ``kubernetes.io/os=linux`` and the pool's labels; as the fake counts no CPU or memory,
every such pod fits on it. Pods that are pinned elsewhere (a Workspace's pods, with affinity to
its nodes' labels; anything asking for GPUs) never start it. The node is never scaled down, and
a deleted one is replaced on the next demand. ``FakeCluster(cpu_pool=None)`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kaito_backends.fake.conditions import find_condition
from kaito_backends.fake.scheduler import matches_node, pod_requests
from kaito_backends.fake.sim import Sim
from kaito_backends.objects import Manifest

__all__ = ["DEFAULT_CPU_POOL", "CpuPool", "CpuPoolController"]


def _sorted_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return dict(sorted(labels.items()))


@attrs.frozen(kw_only=True)
class CpuPool:
    """The shape of the default CPU node pool (see the module docstring)."""

    #: the node is ``<name>-0``
    name: str = "cpu-pool"
    instance_type: str = "Standard_D4s_v3"
    cpu: str = "4"
    memory: str = "16Gi"
    labels: Mapping[str, str] = attrs.field(
        factory=lambda: {"kubernetes.azure.com/mode": "system"}, converter=_sorted_labels
    )

    @property
    def node_name(self) -> str:
        return f"{self.name}-0"

    def node_labels(self) -> dict[str, str]:
        """Every label the pool's node carries."""
        return _sorted_labels(
            {
                "kubernetes.io/hostname": self.node_name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": self.instance_type,
                **self.labels,
            }
        )

    def template(self) -> Manifest:
        """The node the pool would add (what a pod's selector and affinity are checked on)."""
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": self.node_labels()},
        }


#: What `kaito_backends.fake.FakeCluster` runs unless told otherwise.
DEFAULT_CPU_POOL = CpuPool()


def _unschedulable(pod: Mapping[str, Any]) -> bool:
    if (pod.get("spec") or {}).get("nodeName"):
        return False
    cond = find_condition(pod, "PodScheduled")
    return cond is not None and cond.get("reason") == "Unschedulable"


class CpuPoolController:
    """Adds the pool's node when an Unschedulable pod could use it."""

    def __init__(self, sim: Sim, pool: CpuPool) -> None:
        self.sim = sim
        self.pool = pool
        self._launching = False

    def on_pod(self, pod: Mapping[str, Any]) -> None:
        """Called for every pod change: a pod the pool's node would take starts the node."""
        if self._launching or not _unschedulable(pod) or pod_requests(pod):
            return
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        if self.sim.store.find("v1", "Node", None, self.pool.node_name) is not None:
            return
        if not matches_node(pod, self.pool.template()):
            return
        self._launching = True
        self.sim.later(self.sim.node_times(self.pool.instance_type).initialize, self._launch)

    def _launch(self) -> None:
        self._launching = False
        store = self.sim.store
        if store.find("v1", "Node", None, self.pool.node_name) is not None:
            return
        capacity = {"cpu": self.pool.cpu, "memory": self.pool.memory, "pods": "110"}
        now = self.sim.now()
        node: Manifest = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.pool.node_name, "labels": self.pool.node_labels()},
            "spec": {},
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "addresses": [{"type": "InternalIP", "address": store.allocate_ip("10.224")}],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                ],
            },
        }
        store.create(node, keep_status=True)
