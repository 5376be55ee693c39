"""Simulated node lifecycle: NodeClaims launch into Nodes of the SKU they ask for.

A new NodeClaim (``karpenter.sh/v1``) gets the finalizer ``karpenter.sh/termination`` and the
conditions Launched, Registered, Initialized and Ready as Unknown. Then, in virtual time (the
time-to-ready model's node provisioning and initialisation for the claim's instance type, unless
`Timings` gives numbers):

- ``launch``: Launched=True, ``status.providerID``, capacity and allocatable from the SKU, and
  Karpenter's launch labels (`launch_labels`: instance type, ``karpenter.sh/capacity-type``,
  zone and region, which the Node inherits);
- ``register``: a Node named like the claim appears (NotReady, tainted not-ready, no GPUs yet),
  Registered=True, ``status.nodeName``;
- ``initialize``: the Node is Ready with ``nvidia.com/gpu`` capacity, GPU feature-discovery
  labels; the claim is Initialized=True and Ready=True.

An instance type the catalog does not know fails at launch (Launched=False, reason
LaunchFailed); an injected launch failure fails with reason InsufficientCapacity and Azure's
quota message; like Karpenter, the fake deletes such a claim ``failed_claim_ttl`` seconds later
(the condition stays visible until then), so the provisioner creates it again and a new launch
is drawn. A claim for an unknown instance type stays failed. Deleting a NodeClaim
evicts its pods (they are deleted), deletes its Node and drops the finalizer after ``terminate``.
A Node deleted by anyone takes its pods with it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from kaito_backends.fake.conditions import find_condition, set_condition
from kaito_backends.fake.scheduler import Scheduler
from kaito_backends.fake.sim import Sim
from kaito_backends.fake.store import StoreKey
from kaito_backends.fake.watches import ChangeType
from kaito_backends.objects import Manifest

if TYPE_CHECKING:
    from kaito_presets import GpuSku

__all__ = [
    "NODECLAIM_API",
    "TERMINATION_FINALIZER",
    "NodeController",
    "instance_type_of",
    "launch_labels",
    "quota_message",
]

NODECLAIM_API = "karpenter.sh/v1"
TERMINATION_FINALIZER = "karpenter.sh/termination"
_STAGES = ("Launched", "Registered", "Initialized", "Ready")
_AWAITING = ("AwaitingReconciliation", "object is awaiting reconciliation")
_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
_CAPACITY_TYPE = "karpenter.sh/capacity-type"
_ZONE = "topology.kubernetes.io/zone"
_REGION = "topology.kubernetes.io/region"


def instance_type_of(claim: Manifest) -> str:
    """The instance type a NodeClaim asks for (requirement, else label), ``""`` if none."""
    for req in (claim.get("spec") or {}).get("requirements") or ():
        if req.get("key") in (_INSTANCE_TYPE, "karpenter.azure.com/sku-name") and req.get("values"):
            return str(req["values"][0])
    return str(((claim.get("metadata") or {}).get("labels") or {}).get(_INSTANCE_TYPE, ""))


def quota_message(instance_type: str, gpus: int, cloud: str = "azure") -> str:
    """The cloud's text when a machine cannot be had: Azure's when a VM family's quota is
    exhausted, EC2's ``InsufficientInstanceCapacity`` on AWS."""
    if cloud == "aws":
        return (
            "creating instance: insufficient capacity: InsufficientInstanceCapacity: We "
            f"currently do not have sufficient {instance_type} capacity in the Availability Zone "
            "you requested (fakeregion-1a). Our system will be working on provisioning "
            f"additional capacity. You can currently get {instance_type} capacity by not "
            "specifying an Availability Zone in your request or choosing fakeregion-1b."
        )
    family = re.sub(r"^Standard_", "", instance_type)
    family = re.sub(r"\d+", "", family.split("_")[0]) or family
    cores = max(1, gpus) * 12
    return (
        f"creating instance: insufficient capacity: Operation could not be completed as it "
        f"results in exceeding approved standard{family}Family Cores quota. Additional details "
        f"- Deployment Model: Resource Manager, Location: fakeregion, Current Limit: 0, Current "
        f"Usage: 0, Additional Required: {cores}, (Minimum) New Limit Required: {cores}. "
        f"Submit a request for Quota increase at https://aka.ms/ProdportalCRP"
    )


def launch_labels(sku: GpuSku) -> dict[str, str]:
    """The labels Karpenter puts on a NodeClaim once its machine is launched (and the Node
    inherits): instance type, capacity type, zone and region, as the ``kubectl get nodeclaims``
    columns TYPE, CAPACITY and ZONE read them. The fake's machines are on-demand, in the
    fake region's first zone (``fakeregion-1``; AWS names zones ``fakeregion-1a``)."""
    zone = "fakeregion-1a" if sku.cloud == "aws" else "fakeregion-1"
    return {
        _CAPACITY_TYPE: "on-demand",
        _INSTANCE_TYPE: sku.instance_type,
        _REGION: "fakeregion",
        _ZONE: zone,
    }


def _vcpus(instance_type: str, gpus: int) -> int:
    match = re.match(r"^Standard_[A-Za-z]+?(\d+)", instance_type)
    return int(match.group(1)) if match else max(1, gpus) * 8


def _capacity(sku: GpuSku, storage: str) -> dict[str, str]:
    cpus = _vcpus(sku.instance_type, sku.gpu_count)
    resource = "amd.com/gpu" if sku.vendor == "amd" else "nvidia.com/gpu"
    return {
        "cpu": str(cpus),
        "ephemeral-storage": storage,
        "memory": f"{cpus * 8}Gi",
        resource: str(sku.gpu_count),
        "pods": "110",
    }


def _gpu_labels(sku: GpuSku) -> dict[str, str]:
    if sku.vendor != "nvidia":
        return {}
    labels = {
        "nvidia.com/gpu.count": str(sku.gpu_count),
        "nvidia.com/gpu.memory": str(int(sku.gpu_memory_gib * 1024 / max(1, sku.gpu_count))),
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": sku.gpu_model.replace(" ", "-"),
    }
    if sku.compute_capability is not None:
        major, _, minor = f"{sku.compute_capability:.1f}".partition(".")
        labels["nvidia.com/cuda.compute.major"] = major
        labels["nvidia.com/cuda.compute.minor"] = minor
    return labels


class NodeController:
    """Drives NodeClaims through launch and termination, and owns the Nodes it makes."""

    def __init__(self, sim: Sim, scheduler: Scheduler) -> None:
        self.sim = sim
        self.scheduler = scheduler
        self._seen: set[str] = set()
        self._terminating: set[str] = set()

    def on_claim(self, change: ChangeType, obj: Manifest) -> None:
        if change == "DELETED":
            uid = obj["metadata"]["uid"]
            self._seen.discard(uid)
            self._terminating.discard(uid)
            return
        self.sim.enqueue("nodeclaim", self.sim.store.key_of(obj))

    def on_node(self, change: ChangeType, obj: Manifest) -> None:
        self.sim.enqueue("node", self.sim.store.key_of(obj))

    def reconcile_node(self, key: StoreKey) -> None:
        """A Node changed: pods of a vanished Node are deleted; waiting pods get another try."""
        node = self.sim.store.find_key(key)
        if node is None:
            self.evict(key[3])
            return  # a node going away never makes room for anyone
        for namespace, name in self.scheduler.waiting_for(node):
            self.sim.enqueue("pod", ("", "Pod", namespace, name))

    def evict(self, node_name: str) -> None:
        """Delete every pod bound to the node (drain, or pod GC of a vanished node)."""
        for namespace, name in self.scheduler.pods_on(node_name):
            if self.sim.store.find("v1", "Pod", namespace, name) is not None:
                self.sim.store.delete("v1", "Pod", namespace, name)

    def reconcile(self, key: StoreKey) -> None:
        claim = self.sim.store.find_key(key)
        if claim is None:
            return
        meta = claim["metadata"]
        uid = meta["uid"]
        if meta.get("deletionTimestamp"):
            if uid not in self._terminating:
                self._terminating.add(uid)
                self.sim.later(self.sim.timings.terminate, lambda: self._terminate(key, uid))
            return
        if uid in self._seen:
            return
        self._seen.add(uid)
        now = self.sim.now()
        conditions: list[Manifest] = list((claim.get("status") or {}).get("conditions") or ())
        for stage in _STAGES:
            if find_condition(claim, stage) is None:
                conditions = set_condition(conditions, stage, "Unknown", *_AWAITING, now)
        new_meta = dict(meta)
        finalizers = list(meta.get("finalizers") or ())
        if TERMINATION_FINALIZER not in finalizers:
            new_meta["finalizers"] = [*finalizers, TERMINATION_FINALIZER]
        status = dict(claim.get("status") or {})
        status["conditions"] = conditions
        self.sim.store.put({**claim, "metadata": new_meta, "status": status})
        times = self.sim.node_times(instance_type_of(claim))
        for stage, delay in (
            ("launch", min(self.sim.timings.launch, times.register)),
            ("register", times.register),
            ("initialize", times.initialize),
        ):
            self.sim.later(delay, functools.partial(self._stage, key, uid, stage))

    # -- stages ----------------------------------------------------------------------------------
    def _current(self, key: StoreKey, uid: str) -> Manifest | None:
        claim = self.sim.store.find_key(key)
        if (
            claim is None
            or claim["metadata"]["uid"] != uid
            or claim["metadata"].get("deletionTimestamp")
        ):
            return None
        launched = find_condition(claim, "Launched")
        if launched is not None and launched.get("status") == "False":
            return None
        return claim

    def _stage(self, key: StoreKey, uid: str, stage: str) -> None:
        claim = self._current(key, uid)
        if claim is None:
            return
        sku = self.sim.sku(instance_type_of(claim))
        if stage == "launch":
            self._launch(claim, sku)
        elif sku is not None and stage == "register":
            self._register(claim, sku)
        elif sku is not None and stage == "initialize":
            self._initialize(claim, sku)

    def _write_status(self, claim: Manifest, status: dict[str, Any]) -> None:
        self.sim.store.put({**claim, "status": status})

    def _launch(self, claim: Manifest, sku: GpuSku | None) -> None:
        now = self.sim.now()
        status = dict(claim.get("status") or {})
        conds = status.get("conditions") or []
        name = claim["metadata"]["name"]
        failure: tuple[str, str] | None = None
        instance_type = instance_type_of(claim)
        if sku is None:
            failure = (
                "LaunchFailed",
                f"creating instance: SkuNotAvailable: The requested VM size '{instance_type}' is "
                "not available in the current region",
            )
        elif self.sim.faults.launch_fails(claim["metadata"]["uid"], name):
            failure = (
                "InsufficientCapacity",
                quota_message(instance_type, sku.gpu_count, sku.cloud),
            )
        if failure is not None:
            conds = set_condition(conds, "Launched", "False", *failure, now)
            conds = set_condition(conds, "Ready", "False", *failure, now)
            status["conditions"] = conds
            self._write_status(claim, status)
            if failure[0] == "InsufficientCapacity":
                key, uid = self.sim.store.key_of(claim), claim["metadata"]["uid"]
                self.sim.later(
                    self.sim.timings.failed_claim_ttl, lambda: self._delete_failed(key, uid)
                )
            return
        assert sku is not None
        storage = str(
            ((claim.get("spec") or {}).get("resources") or {})
            .get("requests", {})
            .get("storage", "1024Gi")
        )
        capacity = _capacity(sku, storage)
        status["providerID"] = f"fake:///fakeregion/{name}"
        status["imageID"] = "fake-image-ubuntu-2204"
        status["capacity"] = capacity
        status["allocatable"] = dict(capacity)
        status["conditions"] = set_condition(conds, "Launched", "True", "Launched", "", now)
        meta = claim["metadata"]
        labels = {**(meta.get("labels") or {}), **launch_labels(sku)}
        launched = {**claim, "metadata": {**meta, "labels": dict(sorted(labels.items()))}}
        self._write_status(launched, status)

    def _delete_failed(self, key: StoreKey, uid: str) -> None:
        """Karpenter's answer to a launch that found no capacity: delete the claim."""
        claim = self.sim.store.find_key(key)
        if claim is None or claim["metadata"]["uid"] != uid:
            return
        if claim["metadata"].get("deletionTimestamp"):
            return
        self.sim.store.delete(claim["apiVersion"], claim["kind"], None, claim["metadata"]["name"])

    def _node(self, claim: Manifest, sku: GpuSku) -> Manifest:
        meta = claim["metadata"]
        name = meta["name"]
        labels = dict(meta.get("labels") or {})
        labels.setdefault("karpenter.sh/nodepool", "kaito")
        labels.update(
            {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                _INSTANCE_TYPE: sku.instance_type,
                "karpenter.sh/registered": "true",
            }
        )
        taints = list((claim.get("spec") or {}).get("taints") or ())
        taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
        status = claim.get("status") or {}
        capacity = {k: v for k, v in status.get("capacity", {}).items() if not k.endswith("/gpu")}
        now = self.sim.now()
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": dict(sorted(labels.items())),
                "ownerReferences": [
                    {
                        "apiVersion": claim["apiVersion"],
                        "kind": "NodeClaim",
                        "name": name,
                        "uid": meta["uid"],
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"providerID": status.get("providerID", ""), "taints": taints},
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "addresses": [
                    {"type": "InternalIP", "address": self.sim.store.allocate_ip("10.224")},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [
                    _node_condition("MemoryPressure", "False", "KubeletHasSufficientMemory", now),
                    _node_condition("DiskPressure", "False", "KubeletHasNoDiskPressure", now),
                    _node_condition("PIDPressure", "False", "KubeletHasSufficientPID", now),
                    _node_condition("Ready", "False", "KubeletNotReady", now),
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "containerRuntimeVersion": "containerd://1.7.20",
                    "kubeletVersion": "v1.31.1",
                    "operatingSystem": "linux",
                    "osImage": "Ubuntu 22.04.5 LTS",
                },
            },
        }

    def _register(self, claim: Manifest, sku: GpuSku) -> None:
        name = claim["metadata"]["name"]
        if self.sim.store.find("v1", "Node", None, name) is None:
            self.sim.store.create(self._node(claim, sku), keep_status=True)
        status = dict(claim.get("status") or {})
        status["nodeName"] = name
        status["conditions"] = set_condition(
            status.get("conditions") or [], "Registered", "True", "Registered", "", self.sim.now()
        )
        self._write_status(claim, status)

    def _initialize(self, claim: Manifest, sku: GpuSku) -> None:
        name = claim["metadata"]["name"]
        now = self.sim.now()
        node = self.sim.store.find("v1", "Node", None, name)
        if node is not None:
            labels = {
                **node["metadata"].get("labels", {}),
                **_gpu_labels(sku),
                "karpenter.sh/initialized": "true",
            }
            capacity = dict((claim.get("status") or {}).get("capacity") or {})
            taints = [
                t
                for t in (node.get("spec") or {}).get("taints") or ()
                if t.get("key") != "node.kubernetes.io/not-ready"
            ]
            nstatus = dict(node.get("status") or {})
            nstatus["capacity"] = capacity
            nstatus["allocatable"] = dict(capacity)
            nstatus["conditions"] = [
                _node_condition(
                    "Ready", "True", "KubeletReady", now, "kubelet is posting ready status"
                )
                if c.get("type") == "Ready"
                else c
                for c in nstatus.get("conditions") or ()
            ]
            self.sim.store.put(
                {
                    **node,
                    "metadata": {**node["metadata"], "labels": dict(sorted(labels.items()))},
                    "spec": {**node.get("spec", {}), "taints": taints},
                    "status": nstatus,
                }
            )
        status = dict(claim.get("status") or {})
        conds = set_condition(
            status.get("conditions") or [], "Initialized", "True", "Initialized", "", now
        )
        status["conditions"] = set_condition(conds, "Ready", "True", "Ready", "", now)
        self._write_status(claim, status)

    def _terminate(self, key: StoreKey, uid: str) -> None:
        store = self.sim.store
        claim = store.find_key(key)
        if claim is None or claim["metadata"]["uid"] != uid:
            return
        name = (claim.get("status") or {}).get("nodeName") or claim["metadata"]["name"]
        node = store.find("v1", "Node", None, name)
        if node is not None and any(
            r.get("uid") == uid for r in node["metadata"].get("ownerReferences") or ()
        ):
            self.evict(name)
            store.delete("v1", "Node", None, name)
        meta = dict(claim["metadata"])
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != TERMINATION_FINALIZER]
        store.put({**claim, "metadata": meta})


def _node_condition(kind: str, status: str, reason: str, now: str, message: str = "") -> Manifest:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message or reason,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
