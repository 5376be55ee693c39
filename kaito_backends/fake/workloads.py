"""Simulated workload controllers: StatefulSets make ordinal pods, Jobs make one pod each.

StatefulSet: pods ``<name>-<i>`` for ``i < spec.replicas`` with the template's labels plus
``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
``controller-revision-hash`` (``<name>-<hash of the template>``), ``hostname``/``subdomain`` and a
controller ownerReference. ``podManagementPolicy: Parallel`` creates them all at once,
``OrderedReady`` one after the other is Ready. A template change rolls the pods as the real
controller does: the highest ordinal on the old revision is deleted and recreated, the next one
only once the previous is Ready (``partition`` honoured, ``OnDelete`` waits for deletions).
Status: replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas,
currentRevision, updateRevision, observedGeneration, collisionCount.
No ControllerRevision objects are written for StatefulSets, and no PVCs for volumeClaimTemplates.

Job: one pod ``<job>-<5 chars>`` (deterministic from the Job's uid) with the Job's labels; status
startTime, active, ready, succeeded / failed, completionTime and the conditions
SuccessCriteriaMet + Complete, or FailureTarget + Failed (BackoffLimitExceeded) when the pod
fails (restartPolicy Never) or restarts more than ``backoffLimit`` times (OnFailure).
"""

from __future__ import annotations

from typing import Any

from kaito_backends.fake.conditions import is_true, set_condition
from kaito_backends.fake.pods import template_hash
from kaito_backends.fake.sim import Sim
from kaito_backends.fake.store import StoreKey, suffix
from kaito_backends.objects import Manifest, clone

__all__ = ["JobController", "StatefulSetController"]


def _controller_ref(owner: Manifest) -> Manifest:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pod_from_template(owner: Manifest, name: str, labels: dict[str, str]) -> Manifest:
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    spec = clone(template.get("spec") or {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    meta: Manifest = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": dict(sorted({**(tmeta.get("labels") or {}), **labels}.items())),
        "ownerReferences": [_controller_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def _pod_ready(pod: Manifest) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_true(pod, "Ready")


def _write_status(sim: Sim, obj: Manifest, status: dict[str, Any]) -> None:
    if obj.get("status") != status:
        sim.store.put({**obj, "status": status})


class StatefulSetController:
    """Keeps each StatefulSet's pods and status in line with its spec."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self._revisions: dict[str, tuple[int, str]] = {}

    def _revision(self, sts: Manifest) -> str:
        """``<name>-<template hash>``, cached per (uid, generation): templates change with it."""
        meta = sts["metadata"]
        generation = int(meta.get("generation", 1))
        cached = self._revisions.get(meta["uid"])
        if cached is None or cached[0] != generation:
            template = (sts.get("spec") or {}).get("template") or {}
            cached = (generation, f"{meta['name']}-{template_hash(template)}")
            self._revisions[meta["uid"]] = cached
        return cached[1]

    def reconcile(self, key: StoreKey) -> None:
        store = self.sim.store
        sts = store.find_key(key)
        if sts is None:
            return
        if sts["metadata"].get("deletionTimestamp"):
            self._revisions.pop(sts["metadata"]["uid"], None)
            return
        meta, spec = sts["metadata"], sts.get("spec") or {}
        name, namespace = meta["name"], meta["namespace"]
        replicas = int(spec.get("replicas", 1))
        revision = self._revision(sts)
        pods: dict[int, Manifest] = {}
        for pod in store.dependents(meta["uid"]):
            if pod["kind"] != "Pod":
                continue
            index = (pod["metadata"].get("labels") or {}).get("apps.kubernetes.io/pod-index", "")
            if index.isdigit():
                pods[int(index)] = pod
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        for i in range(replicas):
            if i in pods:
                if ordered and not _pod_ready(pods[i]):
                    break
                continue
            pod_name = f"{name}-{i}"
            if store.find("v1", "Pod", namespace, pod_name) is not None:
                break  # the old pod of this ordinal is still going away
            labels = {
                "apps.kubernetes.io/pod-index": str(i),
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
            }
            pod = _pod_from_template(sts, pod_name, labels)
            pod["spec"]["hostname"] = pod_name
            if spec.get("serviceName"):
                pod["spec"]["subdomain"] = spec["serviceName"]
            pods[i] = store.create(pod, keep_status=True)
            if ordered:
                break
        for i in sorted((i for i in pods if i >= replicas), reverse=True):
            if not pods[i]["metadata"].get("deletionTimestamp"):
                store.delete("v1", "Pod", namespace, pods.pop(i)["metadata"]["name"])
        self._roll(sts, pods, revision, replicas)
        self._status(sts, pods, revision, replicas)

    def _roll(self, sts: Manifest, pods: dict[int, Manifest], revision: str, replicas: int) -> None:
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete" or len(pods) < replicas:
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0) or 0)
        for target in range(replicas - 1, partition - 1, -1):
            pod = pods.get(target)
            if pod is None:
                return
            rev = (pod["metadata"].get("labels") or {}).get("controller-revision-hash")
            if rev != revision and not pod["metadata"].get("deletionTimestamp"):
                self.sim.store.delete(
                    "v1", "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"]
                )
                del pods[target]
                return
            if not _pod_ready(pod):
                return

    def _status(
        self, sts: Manifest, pods: dict[int, Manifest], revision: str, replicas: int
    ) -> None:
        old = sts.get("status") or {}
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in live if _pod_ready(p))
        updated = sum(
            1
            for p in live
            if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision
        )
        current_rev = old.get("currentRevision") or revision
        if updated == replicas and ready == replicas:
            current_rev = revision
        current = sum(
            1
            for p in live
            if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == current_rev
        )
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        _write_status(self.sim, sts, status)


class JobController:
    """Runs each Job as one pod and reports its outcome."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def reconcile(self, key: StoreKey) -> None:
        store = self.sim.store
        job = store.find_key(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        status: dict[str, Any] = dict(job.get("status") or {})
        if is_true(job, "Complete") or is_true(job, "Failed"):
            return
        meta, spec = job["metadata"], job.get("spec") or {}
        if spec.get("suspend"):
            return
        now = self.sim.now()
        status.setdefault("startTime", now)
        pods = [p for p in store.dependents(meta["uid"]) if p["kind"] == "Pod"]
        if not pods:
            name = f"{meta['name']}-{suffix(meta['uid'])}"
            if store.find("v1", "Pod", meta["namespace"], name) is None:
                labels = {
                    "batch.kubernetes.io/controller-uid": meta["uid"],
                    "batch.kubernetes.io/job-name": meta["name"],
                    "controller-uid": meta["uid"],
                    "job-name": meta["name"],
                }
                pods = [store.create(_pod_from_template(job, name, labels), keep_status=True)]
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        restarts = max(
            (
                int(c.get("restartCount", 0))
                for p in pods
                for c in (p.get("status") or {}).get("containerStatuses") or ()
            ),
            default=0,
        )
        status["active"] = sum(1 for ph in phases if ph in ("Pending", "Running"))
        status["ready"] = sum(1 for p in pods if _pod_ready(p))
        status["terminating"] = 0
        conds = status.get("conditions") or []
        if "Succeeded" in phases:
            status.update(active=0, ready=0, succeeded=1, completionTime=now)
            conds = set_condition(
                conds,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
                lastProbeTime=now,
            )
            conds = set_condition(
                conds,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
                lastProbeTime=now,
            )
            status["conditions"] = conds
        elif "Failed" in phases or restarts > int(spec.get("backoffLimit", 6)):
            status.update(active=0, ready=0, failed=1)
            message = "Job has reached the specified backoff limit"
            conds = set_condition(
                conds,
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                message,
                now,
                lastProbeTime=now,
            )
            conds = set_condition(
                conds, "Failed", "True", "BackoffLimitExceeded", message, now, lastProbeTime=now
            )
            status["conditions"] = conds
            for pod in pods:  # a failed Job's running pods are killed
                if (pod.get("status") or {}).get("phase") in ("Pending", "Running"):
                    store.delete("v1", "Pod", meta["namespace"], pod["metadata"]["name"])
        _write_status(self.sim, job, status)
