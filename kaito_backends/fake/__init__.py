"""An in-memory Kubernetes cluster with simulated GPU nodes: the embedded backend and test double.

    cluster = FakeCluster()                      # VirtualClock, shipped catalog, no faults
    client, nodes = cluster.client(), cluster.provisioner()
    await nodes.provision(key, [node_claim])     # NodeClaims launch into Ready GPU Nodes
    await client.apply(statefulset)              # StatefulSets make Pods, Pods become Ready
    cluster.run_until_idle()                     # run virtual time until nothing is pending

What it models: an API server (resourceVersion, uid, generation, creationTimestamp, finalizers,
deletionTimestamp, owner-reference garbage collection with Background/Foreground/Orphan, label
selectors, server-side apply with one field set per manager, status subresources, immutable
fields, watches with bounded history and 410 Gone; Events are not garbage-collected with their
owner, as kube-controller-manager's collector ignores them; namespace termination: a deleted
Namespace stays Terminating while anything is left in it, and a client's create in it is
refused with 403, see `kaito_backends.fake.namespaces`); Karpenter-like NodeClaims that launch into
Nodes of the SKU asked for; a scheduler (taints, nodeSelector, required node affinity, GPU
capacity); StatefulSet, Deployment (without ReplicaSets: `kaito_backends.fake.deployments`) and
Job controllers; a default CPU node pool whose one node joins when a pod that needs no GPU cannot
be scheduled (`kaito_backends.fake.cpupool`); pods that pull, load their model and become Ready;
seeded faults (API conflicts, 429/500, watch drops, launch failures, ImagePullBackOff, OOMKilled,
CrashLoopBackOff); recorded calls and counters.

What it does NOT model:
- namespaces as a requirement (a namespace with no Namespace object exists and is never
  terminating), RBAC, admission webhooks, quotas, LimitRanges; Event expiry (``--event-ttl``);
- OpenAPI schema validation (any fields are stored), conversion webhooks (Workspace versions
  share storage: the stored object is returned with the apiVersion asked for, unconverted);
- managedFields in metadata, field ownership conflicts between managers, list merge keys
  (lists are atomic in apply);
- graceful pod termination (pods vanish at once), PodDisruptionBudgets, preemption, priorities;
- CPU, memory and ephemeral-storage accounting (only extended resources such as nvidia.com/gpu);
- probes (Ready follows the model-load timeline), logs, exec, events, Endpoints/EndpointSlices,
  load balancers, DNS, PersistentVolumeClaims, ControllerRevisions of StatefulSets;
- ReplicaSets (Deployments make their pods directly), DaemonSets, NodePools (stored but not
  acted on); scaling the CPU pool beyond one node, or down;
- Karpenter consolidation, drift, disruption, or replacing failed NodeClaims (they stay failed);
- pagination (limit/continue), field selectors, watch bookmarks.
"""

from kaito_backends.fake.client import Call, FakeClient, Recorder
from kaito_backends.fake.cluster import FakeCluster
from kaito_backends.fake.conditions import Timings
from kaito_backends.fake.cpupool import CpuPool
from kaito_backends.fake.faults import FaultKind, FaultPlan, FiredFault, OneShot
from kaito_backends.fake.provisioner import FakeProvisioner

__all__ = [
    "Call",
    "CpuPool",
    "FakeClient",
    "FakeCluster",
    "FakeProvisioner",
    "FaultKind",
    "FaultPlan",
    "FiredFault",
    "OneShot",
    "Recorder",
    "Timings",
]
