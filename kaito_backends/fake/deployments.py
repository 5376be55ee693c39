"""The simulated Deployment controller, without ReplicaSets.

kube-controller-manager runs a Deployment through ReplicaSets, one per pod template; here the
Deployment makes its pods itself and nothing else is stored, so what a client sees differs in
three ways (everything else follows the real controller):

- no ``ReplicaSet`` objects; a pod's controller ownerReference names the Deployment;
- pods are named ``<deployment>-<pod-template-hash>-<5 chars>`` as real ones are, and labelled
  with the template's labels plus ``pod-template-hash`` (a hash of the template, 10 characters
  of Kubernetes' safe alphabet, not the real controller's FNV value);
- ``minReadySeconds`` is not waited for (a Ready pod is available at once), and
  ``revisionHistoryLimit``, ``collisionCount`` and the ``deployment.kubernetes.io/revision``
  annotation are not kept.

Scaling and rollouts: ``spec.replicas`` (default 1) pods of the current template. A template
change rolls the pods: ``Recreate`` deletes every old pod and makes the new ones once they are
gone; ``RollingUpdate`` (default, ``maxSurge``/``maxUnavailable`` default 25%, surge rounded up,
unavailable down, 1 unavailable when both are 0) makes new pods while the total stays within
``replicas + maxSurge`` and deletes old pods (unready ones first) while at least ``replicas -
maxUnavailable`` pods are ready, as the real controller's scale-up/scale-down does.
``spec.paused`` stops the rollout.

Status, as the real controller writes it (zero counts omitted, as the API's ``omitempty``):
``observedGeneration``, ``replicas``, ``updatedReplicas``, ``readyReplicas``,
``availableReplicas``, ``unavailableReplicas``, and the conditions ``Available``
(``MinimumReplicasAvailable`` / ``MinimumReplicasUnavailable``) and ``Progressing``
(``NewReplicaSetCreated``, ``ReplicaSetUpdated``, ``NewReplicaSetAvailable``, and False
``ProgressDeadlineExceeded`` when a rollout makes no progress for
``progressDeadlineSeconds``, default 600; ``DeploymentPaused`` Unknown while paused), each with
``lastUpdateTime`` and ``lastTransitionTime``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_backends.fake.conditions import is_true, set_condition
from kaito_backends.fake.pods import template_hash
from kaito_backends.fake.sim import Sim
from kaito_backends.fake.store import StoreKey, suffix
from kaito_backends.fake.workloads import _pod_from_template, _write_status
from kaito_backends.objects import Manifest

__all__ = ["LABEL_POD_TEMPLATE_HASH", "DeploymentController", "pod_template_hash"]

LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
_DEFAULT_DEADLINE = 600


def pod_template_hash(template: Mapping[str, Any]) -> str:
    """10 characters of Kubernetes' safe alphabet, stable for one pod template."""
    return suffix(template_hash(template), 10)


def _resolve(value: Any, replicas: int, *, up: bool) -> int:
    """An IntOrString (``1``, ``"25%"``) against ``replicas``, as intstr does."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            return 0
        scaled = percent * replicas / 100
        return max(0, math.ceil(scaled) if up else math.floor(scaled))
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _ready(pod: Manifest) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_true(pod, "Ready")


def _hash_of(pod: Manifest) -> str | None:
    labels: Mapping[str, str] = pod["metadata"].get("labels") or {}
    return labels.get(LABEL_POD_TEMPLATE_HASH)


def _doomed_first(pods: Sequence[Manifest]) -> list[Manifest]:
    """Which pods to delete first: unready ones, then by name (for determinism)."""
    return sorted(pods, key=lambda p: (_ready(p), p["metadata"]["name"]))


class DeploymentController:
    """Keeps each Deployment's pods and status in line with its spec (module docstring)."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self._serial: dict[str, int] = {}
        #: uid -> (what the last progress looked like, when it was seen: monotonic seconds)
        self._progress: dict[str, tuple[tuple[Any, ...], float]] = {}

    def reconcile(self, key: StoreKey) -> None:
        store = self.sim.store
        deployment = store.find_key(key)
        if deployment is None:
            return
        meta = deployment["metadata"]
        if meta.get("deletionTimestamp"):
            self._serial.pop(meta["uid"], None)
            self._progress.pop(meta["uid"], None)
            return
        spec = deployment.get("spec") or {}
        replicas = max(0, int(spec.get("replicas", 1)))
        current = pod_template_hash(spec.get("template") or {})
        pods = [
            p
            for p in store.dependents(meta["uid"])
            if p["kind"] == "Pod" and not p["metadata"].get("deletionTimestamp")
        ]
        surge, unavailable = self._budget(spec, replicas)
        if not spec.get("paused"):
            pods = self._rollout(deployment, pods, current, replicas, surge, unavailable)
        self._status(deployment, pods, current, replicas, unavailable)

    # -- rollout ---------------------------------------------------------------------------------
    @staticmethod
    def _budget(spec: Mapping[str, Any], replicas: int) -> tuple[int, int]:
        """(maxSurge, maxUnavailable) as numbers; (0, 0) for Recreate, whose Available then
        needs every replica (kube's ``MaxUnavailable`` is 0 for it)."""
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return 0, 0
        rolling = strategy.get("rollingUpdate") or {}
        surge = _resolve(rolling.get("maxSurge", "25%"), replicas, up=True)
        unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def _rollout(
        self,
        deployment: Manifest,
        pods: list[Manifest],
        current: str,
        replicas: int,
        surge: int,
        unavailable: int,
    ) -> list[Manifest]:
        new = [p for p in pods if _hash_of(p) == current]
        old = [p for p in pods if _hash_of(p) != current]
        recreate = ((deployment.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate"
        if recreate and old:
            for pod in old:
                self._delete(pod)
            return new  # the new pods come once the old ones are gone
        if len(new) > replicas:
            for pod in _doomed_first(new)[: len(new) - replicas]:
                self._delete(pod)
                new.remove(pod)
        room = (replicas + surge) - (len(new) + len(old))
        for _ in range(max(0, min(replicas - len(new), room))):
            new.append(self._create(deployment, current))
        if old:
            new_unavailable = sum(1 for p in new if not _ready(p))
            allowed = (len(new) + len(old)) - (replicas - unavailable) - new_unavailable
            for pod in _doomed_first(old)[: max(0, allowed)]:
                self._delete(pod)
                old.remove(pod)
        return new + old

    def _create(self, deployment: Manifest, current: str) -> Manifest:
        store = self.sim.store
        meta = deployment["metadata"]
        uid = meta["uid"]
        serial = self._serial.get(uid, 0)
        while True:
            name = f"{meta['name']}-{current}-{suffix(f'{uid}/{current}/{serial}')}"
            serial += 1
            if store.find("v1", "Pod", meta["namespace"], name) is None:
                break
        self._serial[meta["uid"]] = serial
        pod = _pod_from_template(deployment, name, {LABEL_POD_TEMPLATE_HASH: current})
        created: Manifest = store.create(pod, keep_status=True)
        return created

    def _delete(self, pod: Manifest) -> None:
        meta = pod["metadata"]
        self.sim.store.delete("v1", "Pod", meta["namespace"], meta["name"])

    # -- status ----------------------------------------------------------------------------------
    def _status(
        self,
        deployment: Manifest,
        pods: list[Manifest],
        current: str,
        replicas: int,
        unavailable: int,
    ) -> None:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        updated = sum(1 for p in pods if _hash_of(p) == current)
        ready = sum(1 for p in pods if _ready(p))
        counts = {
            "replicas": len(pods),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, replicas - ready),
        }
        status: dict[str, Any] = {"observedGeneration": meta.get("generation", 1)}
        status.update({k: v for k, v in counts.items() if v})
        now = self.sim.now()
        old_status = deployment.get("status") or {}
        conditions = list(old_status.get("conditions") or ())
        if ready >= replicas - unavailable:
            conditions = _set(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        else:
            conditions = _set(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        conditions = self._progressing(
            deployment, conditions, counts, current, replicas, bool(spec.get("paused")), now
        )
        status["conditions"] = sorted(conditions, key=lambda c: c["type"] != "Available")
        _write_status(self.sim, deployment, status)

    def _progressing(
        self,
        deployment: Manifest,
        conditions: list[Manifest],
        counts: Mapping[str, int],
        current: str,
        replicas: int,
        paused: bool,
        now: str,
    ) -> list[Manifest]:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        uid, replica_set = meta["uid"], f"{meta['name']}-{current}"
        if paused:
            return _set(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
            )
        if (
            counts["updatedReplicas"] == replicas
            and counts["availableReplicas"] == replicas
            and counts["replicas"] == replicas
        ):
            self._progress[uid] = ((current, "complete"), self.sim.clock.monotonic())
            return _set(
                conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{replica_set}" has successfully progressed.',
                now,
            )
        signature = (current, *sorted(counts.items()))
        seen = self._progress.get(uid)
        deadline = int(spec.get("progressDeadlineSeconds", _DEFAULT_DEADLINE))
        if seen is None or seen[0] != signature:
            new_set = seen is None or seen[0][0] != current
            self._progress[uid] = (signature, self.sim.clock.monotonic())
            key = self.sim.store.key_of(deployment)
            self.sim.later(deadline + 1.0, lambda: self.sim.enqueue("deployment", key))
            if new_set:
                reason, message = "NewReplicaSetCreated", f'Created new replica set "{replica_set}"'
            else:
                reason, message = "ReplicaSetUpdated", f'ReplicaSet "{replica_set}" is progressing.'
            return _set(conditions, "Progressing", "True", reason, message, now, progress=True)
        if self.sim.clock.monotonic() - seen[1] > deadline:
            return _set(
                conditions,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{replica_set}" has timed out progressing.',
                now,
            )
        return conditions


def _set(
    conditions: list[Manifest],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    progress: bool = False,
) -> list[Manifest]:
    """`set_condition` with ``lastUpdateTime``: kept while status, reason and message stay
    (unless ``progress`` was made), else ``now``."""
    previous = next((c for c in conditions if c.get("type") == kind), None)
    same = previous is not None and (
        previous.get("status"),
        previous.get("reason"),
        previous.get("message"),
    ) == (status, reason, message)
    updated = now
    if previous is not None and same and not progress:
        updated = previous.get("lastUpdateTime", now)
    return set_condition(conditions, kind, status, reason, message, now, lastUpdateTime=updated)
