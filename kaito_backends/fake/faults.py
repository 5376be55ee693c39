"""Seeded, reproducible fault injection for the fake cluster.

A `FaultPlan` says what goes wrong, as rates (probabilities per call, event, machine or pod) and
as one-shot faults (`FaultPlan.once`, `FakeCluster.inject`). The same plan and the same calls in
the same order give the same faults.

Where each fault strikes:

================  ========================================================================
fault             effect
================  ========================================================================
conflict          `Conflict` from apply / update / apply_status (before any change)
throttle          `Transient` with ``delay`` = Retry-After (429), from any verb
server_error      `Transient` without delay (500), from any verb
watch_drop        a watch iterator ends early (the connection dropped)
watch_gone        a watch iterator raises `Gone` (410), as after an etcd compaction
launch_failure    a NodeClaim never launches: Launched=False reason InsufficientCapacity with
                  Azure's quota text; `FakeProvisioner.provision` raises InsufficientCapacity
image_pull        the pod's first container waits in ErrImagePull / ImagePullBackOff
oom               the first container is OOMKilled when the model is loaded, then backs off
crashloop         the first container exits with an error shortly after start, then backs off
================  ========================================================================

API and watch faults draw from seeded random streams (one per call site kind), so they depend
on the order of calls. Machine and pod faults are a pure function of the seed and the object:
a NodeClaim's fate depends on its uid; a pod's on its namespace, name and pod-template hash.
Pod faults are **sticky per template**: a pod recreated from the same template fails the same
way; a new template (the user changed the spec) draws again, so recovery can be seen. A one-shot
pod fault may set ``recover_after`` restarts (or image pull retries) to be transient instead.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Literal

import attrs

from kaito_backends.errors import Conflict, Gone, Transient

__all__ = ["FaultKind", "FaultPlan", "Faults", "FiredFault", "OneShot", "PodFault"]

FaultKind = Literal[
    "conflict",
    "throttle",
    "server_error",
    "watch_drop",
    "watch_gone",
    "launch_failure",
    "image_pull",
    "oom",
    "crashloop",
]
_POD_FAULTS: tuple[FaultKind, ...] = ("image_pull", "crashloop", "oom")
_WRITES = frozenset({"apply", "update", "apply_status"})


@attrs.frozen(kw_only=True)
class OneShot:
    """A fault that fires ``times`` times at the next calls / objects that match.

    ``verb`` (API faults), ``kind`` and ``name`` narrow where it strikes (None matches all); for
    pod faults ``name`` is the pod's name or its owner's (the Workspace's StatefulSet or Job).
    ``delay`` is the Retry-After of a throttle. ``recover_after`` makes a pod fault transient:
    the container recovers after that many restarts (or image pull retries).
    """

    fault: FaultKind
    verb: str | None = None
    kind: str | None = None
    name: str | None = None
    times: int = 1
    delay: float | None = None
    recover_after: int | None = None


@attrs.frozen
class FaultPlan:
    """What goes wrong, and how often. ``FaultPlan(7, throttle_rate=0.1)``."""

    seed: int = 0
    conflict_rate: float = attrs.field(default=0.0, kw_only=True)
    throttle_rate: float = attrs.field(default=0.0, kw_only=True)
    server_error_rate: float = attrs.field(default=0.0, kw_only=True)
    watch_drop_rate: float = attrs.field(default=0.0, kw_only=True)
    launch_failure_rate: float = attrs.field(default=0.0, kw_only=True)
    image_pull_rate: float = attrs.field(default=0.0, kw_only=True)
    oom_rate: float = attrs.field(default=0.0, kw_only=True)
    crashloop_rate: float = attrs.field(default=0.0, kw_only=True)
    #: Retry-After of throttling faults, seconds.
    retry_after: float = attrs.field(default=1.0, kw_only=True)
    one_shots: tuple[OneShot, ...] = attrs.field(default=(), kw_only=True)

    @classmethod
    def once(
        cls,
        fault: FaultKind,
        *,
        verb: str | None = None,
        kind: str | None = None,
        name: str | None = None,
        times: int = 1,
        delay: float | None = None,
        recover_after: int | None = None,
        seed: int = 0,
    ) -> FaultPlan:
        """A plan with no rates and one one-shot fault."""
        shot = OneShot(
            fault=fault,
            verb=verb,
            kind=kind,
            name=name,
            times=times,
            delay=delay,
            recover_after=recover_after,
        )
        return cls(seed, one_shots=(shot,))

    def and_once(self, fault: FaultKind, **match: object) -> FaultPlan:
        """This plan plus one more one-shot fault (same keywords as `once`)."""
        shot = OneShot(fault=fault, **match)  # type: ignore[arg-type]
        return attrs.evolve(self, one_shots=(*self.one_shots, shot))


@attrs.frozen(kw_only=True)
class FiredFault:
    """A fault that struck: what, where, and when (virtual seconds)."""

    fault: FaultKind
    kind: str
    name: str
    verb: str = ""
    at: float = 0.0
    #: the index, in the recorded calls, of the latest call when it struck (the failed call
    #: itself for an API fault); -1 when calls are not recorded
    call: int = -1


@attrs.frozen(kw_only=True)
class PodFault:
    """The fault a pod carries: which, and after how many restarts it recovers (None: never)."""

    fault: FaultKind
    recover_after: int | None = None


@attrs.define
class _Pending:
    shot: OneShot
    remaining: int


def _uniform(*parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Faults:
    """The running state of a plan: random streams, remaining one-shots, what fired."""

    def __init__(
        self,
        plan: FaultPlan | None = None,
        *,
        now: Callable[[], float] | None = None,
        calls: Callable[[], int] | None = None,
    ) -> None:
        self.plan = plan or FaultPlan()
        self._now = now or (lambda: 0.0)
        self._calls = calls or (lambda: 0)
        self._api = random.Random(f"{self.plan.seed}:api")
        self._watches = 0
        self._pending: list[_Pending] = []
        for shot in self.plan.one_shots:
            self.inject(shot)
        self._launch: dict[str, str | None] = {}
        self._pods: dict[tuple[str, str], tuple[str, PodFault | None]] = {}
        self.fired: list[FiredFault] = []

    # -- one-shots -------------------------------------------------------------------------------
    def inject(self, shot: OneShot) -> None:
        """Queue a one-shot fault."""
        if shot.times > 0:
            self._pending.append(_Pending(shot, shot.times))

    def _take(
        self, faults: tuple[FaultKind, ...], verb: str | None, kind: str, names: tuple[str, ...]
    ) -> OneShot | None:
        """The first pending one-shot that matches (``verb`` None: verbs do not apply)."""
        for entry in self._pending:
            shot = entry.shot
            if shot.fault not in faults:
                continue
            if verb is not None and shot.verb is not None and shot.verb != verb:
                continue
            if shot.kind is not None and shot.kind != kind:
                continue
            if shot.name is not None and shot.name not in names:
                continue
            entry.remaining -= 1
            if entry.remaining <= 0:
                self._pending.remove(entry)
            return shot
        return None

    def _fire(
        self, fault: FaultKind, kind: str, name: str, verb: str = "", call: int | None = None
    ) -> None:
        at = self._calls() - 1 if call is None else call
        self.fired.append(
            FiredFault(fault=fault, kind=kind, name=name, verb=verb, at=self._now(), call=at)
        )

    # -- API calls -------------------------------------------------------------------------------
    def api(self, verb: str, kind: str, name: str = "", *, call: int | None = None) -> None:
        """Raise the API fault this call draws, if any (before the call has any effect);
        `call` is the call's index among the recorded calls (`FiredFault.call`)."""
        plan = self.plan
        throttle, server, conflict = self._api.random(), self._api.random(), self._api.random()
        allowed: tuple[FaultKind, ...] = ("throttle", "server_error")
        if verb in _WRITES:
            allowed = (*allowed, "conflict")
        shot = self._take(allowed, verb, kind, (name,))
        fault: FaultKind | None = shot.fault if shot is not None else None
        if fault is None:
            if throttle < plan.throttle_rate:
                fault = "throttle"
            elif server < plan.server_error_rate:
                fault = "server_error"
            elif verb in _WRITES and conflict < plan.conflict_rate:
                fault = "conflict"
        if fault is None:
            return
        self._fire(fault, kind, name, verb, call)
        if fault == "throttle":
            delay = shot.delay if shot is not None and shot.delay is not None else plan.retry_after
            raise Transient(
                "the server has received too many requests and has asked us to try again later",
                delay=delay,
            )
        if fault == "server_error":
            raise Transient(
                "an error on the server has prevented the request from succeeding (500)"
            )
        raise Conflict(
            f'Operation cannot be fulfilled on {kind.lower()} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        )

    # -- watches ---------------------------------------------------------------------------------
    def watch_stream(self) -> random.Random:
        """The random stream of one new watch (its own, so watches do not disturb each other)."""
        self._watches += 1
        return random.Random(f"{self.plan.seed}:watch:{self._watches}")

    def watch_event(self, stream: random.Random, kind: str) -> Literal["end", "gone"] | None:
        """Whether the watch breaks before delivering its next event, and how."""
        drop, how = stream.random(), stream.random()
        shot = self._take(("watch_drop", "watch_gone"), "watch", kind, ("",))
        if shot is not None:
            self._fire(shot.fault, kind, "", "watch")
            return "gone" if shot.fault == "watch_gone" else "end"
        if drop < self.plan.watch_drop_rate:
            gone = how < 0.5
            self._fire("watch_gone" if gone else "watch_drop", kind, "", "watch")
            return "gone" if gone else "end"
        return None

    def watches_faulty(self, kind: str) -> bool:
        """Whether `watch_event` could break a watch of ``kind`` now (a drop rate, or a pending
        watch one-shot); when not, callers may skip it: it would draw nothing that matters."""
        if self.plan.watch_drop_rate > 0:
            return True
        return any(
            entry.shot.fault in ("watch_drop", "watch_gone")
            and (entry.shot.kind is None or entry.shot.kind == kind)
            for entry in self._pending
        )

    @staticmethod
    def watch_error() -> Gone:
        """The error a broken watch raises."""
        return Gone("too old resource version (the watch was compacted); relist")

    # -- machines and pods -----------------------------------------------------------------------
    def launch_fails(self, uid: str, name: str) -> bool:
        """Whether the NodeClaim with this uid fails to launch (decided once, then remembered)."""
        if uid not in self._launch:
            shot = self._take(("launch_failure",), None, "NodeClaim", (name,))
            fails = (
                shot is not None
                or _uniform(self.plan.seed, "launch", uid) < self.plan.launch_failure_rate
            )
            self._launch[uid] = name if fails else None
            if fails:
                self._fire("launch_failure", "NodeClaim", name)
        return self._launch[uid] is not None

    def pod_fault(
        self, namespace: str, pod: str, owner: str, template_hash: str
    ) -> PodFault | None:
        """The fault of a new pod: sticky per (pod, template hash), drawn for a new template."""
        known = self._pods.get((namespace, pod))
        if known is not None and known[0] == template_hash:
            return known[1]
        shot = self._take(_POD_FAULTS, None, "Pod", (pod, owner))
        result: PodFault | None = None
        if shot is not None:
            result = PodFault(fault=shot.fault, recover_after=shot.recover_after)
        else:
            rates = {
                "image_pull": self.plan.image_pull_rate,
                "crashloop": self.plan.crashloop_rate,
                "oom": self.plan.oom_rate,
            }
            for fault in _POD_FAULTS:
                if _uniform(self.plan.seed, fault, namespace, pod, template_hash) < rates[fault]:
                    result = PodFault(fault=fault)
                    break
        self._pods[(namespace, pod)] = (template_hash, result)
        if result is not None:
            self._fire(result.fault, "Pod", f"{namespace}/{pod}")
        return result
