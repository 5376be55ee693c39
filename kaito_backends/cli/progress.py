"""``kaito up``'s progress lines and how it names objects.

`Progress` prints one line per interesting change, stamped with virtual time since the start::

    [00:01:30] workspace-phi-3-mini: node ws1a2b3c4d5-0 Ready (Standard_NC6s_v3)

NodeClaims, Nodes and Pods are reported for every registered object they belong to
(`kaito_backends.kinds.owner_keys`; not the Pods of an object being deleted: they come and go
as its machines are released), Warning Events as they are recorded, and each object once its kind's
``state`` reads ``Succeeded``. `Names` says how keys are printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO

import attrs

from kaito_backends.clock import Clock
from kaito_backends.engine.events import RecordedEvent
from kaito_backends.engine.informers import Informer
from kaito_backends.kinds import owner_keys
from kaito_backends.objects import Key, Manifest
from kaito_core.kinds import KindSpec, Registry

__all__ = ["Names", "Progress", "Watched", "condition_of", "kinds_reached"]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def condition_of(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    """The status condition of this type of a manifest, if any."""
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def _stamp(seconds: float) -> str:
    s = int(seconds)
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def _pod_phase(pod: Mapping[str, Any]) -> str:
    """A short description of where a pod is, for progress lines."""
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    if phase == "Succeeded":
        return "completed"
    if phase == "Failed":
        return "failed"
    scheduled = next(
        (c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None
    )
    if scheduled is not None and scheduled.get("status") == "False":
        return "waiting for a node"
    containers = status.get("containerStatuses") or ()
    first = containers[0] if containers else {}
    state = first.get("state") or {}
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ContainerCreating":
            return "pulling image"
        if reason == "CrashLoopBackOff":
            last = ((first.get("lastState") or {}).get("terminated") or {}).get("reason", "Error")
            return f"crash-looping ({last}, {first.get('restartCount', 0)} restarts)"
        return f"waiting ({reason})"
    if "running" in state:
        owners = (pod.get("metadata") or {}).get("ownerReferences") or ()
        if any(ref.get("kind") == "Job" for ref in owners):
            return "running"
        return "Ready" if first.get("ready") else "loading model"
    if not containers:
        return "scheduled" if scheduled is not None else "created"
    return "starting"


def _instance_type(claim: Mapping[str, Any]) -> str:
    for req in (claim.get("spec") or {}).get("requirements") or ():
        if req.get("key") == "node.kubernetes.io/instance-type" and req.get("values"):
            return str(req["values"][0])
    labels = _meta(claim).get("labels") or {}
    return str(labels.get("node.kubernetes.io/instance-type", "?"))


@attrs.frozen(kw_only=True)
class Names:
    """How keys are printed: ``name``, ``namespace/name`` when the objects span namespaces,
    with ``Kind/`` in front when more than one kind can appear."""

    namespaces: bool = False
    kinds: bool = False

    def __call__(self, key: Key) -> str:
        name = str(key) if self.namespaces else key.name
        return f"{key.kind}/{name}" if self.kinds else name


def kinds_reached(registry: Registry, kinds: set[str]) -> set[str]:
    """The kinds of the input and every registered kind they (transitively) make."""
    reached, todo = set(kinds), list(kinds)
    while todo:
        for ref in registry[todo.pop()].owns:
            if ref.kind in registry and ref.kind not in reached:
                reached.add(ref.kind)
                todo.append(ref.kind)
    return reached


class _Sinks(Protocol):
    def add_sink(self, sink: Callable[[RecordedEvent], None]) -> None: ...


class Watched(Protocol):
    """What `Progress` watches: a `kaito_backends.engine.controller.Controller` (the embedded
    run), or `kaito_backends.cli.up_remote.ClusterWatch` (a cluster)."""

    @property
    def registry(self) -> Registry: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def recorder(self) -> _Sinks: ...

    def informer(self, kind: str) -> Informer: ...


class Progress:
    """Prints one line per interesting change, stamped with the (virtual, on the embedded fake
    cluster) time since the start."""

    def __init__(self, controller: Watched, out: TextIO, *, names: Names) -> None:
        self.controller = controller
        self.registry = controller.registry
        self.out = out
        self.names = names
        self.start = controller.clock.monotonic()
        self._seen: dict[tuple[str, str], str] = {}
        controller.informer("NodeClaim").add_handler(self._on_claim)
        controller.informer("Node").add_handler(self._on_node)
        controller.informer("Pod").add_handler(self._on_pod)
        for spec in self.registry:
            controller.informer(spec.kind).add_handler(self._on_object(spec))
        controller.recorder.add_sink(self._on_event)

    def _say(self, key: Key, text: str, *, what: tuple[str, str] | None = None) -> None:
        if what is not None:
            if self._seen.get(what) == text:
                return
            self._seen[what] = text
        elapsed = self.controller.clock.monotonic() - self.start
        print(f"{_stamp(elapsed)} {self.names(key)}: {text}", file=self.out, flush=True)

    def _owners(self, obj: Manifest) -> list[Key]:
        return owner_keys(obj, self.registry)

    def _on_claim(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        name = str(_meta(obj).get("name"))
        itype = _instance_type(obj)
        for key in self._owners(obj):
            if change == "ADDED":
                self._say(key, f"node claim {name} requested ({itype})", what=("claim", name))
            launched = condition_of(obj, "Launched")
            if (
                launched is not None
                and launched.get("status") == "False"
                and launched.get("reason")
            ):
                self._say(
                    key,
                    f"node claim {name} not launched: {launched.get('reason')}",
                    what=("claim", name),
                )

    def _on_node(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        name = str(_meta(obj).get("name"))
        ready = condition_of(obj, "Ready")
        state = "Ready" if ready is not None and ready.get("status") == "True" else "registered"
        labels = _meta(obj).get("labels") or {}
        itype = labels.get("node.kubernetes.io/instance-type", "")
        suffix = f" ({itype})" if itype else ""
        for key in self._owners(obj):
            self._say(key, f"node {name} {state}{suffix}", what=("node", name))

    def _deleting(self, key: Key) -> bool:
        """The object is being deleted (its pods come and go as its machines are released)."""
        informer = self.controller.observer.kinds.get(key.kind)
        found = informer.get(key.namespace, key.name) if informer is not None else None
        return bool(found is not None and _meta(found).get("deletionTimestamp"))

    def _on_pod(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        name = str(_meta(obj).get("name"))
        phase = _pod_phase(obj)
        owners = self._owners(obj)
        if any(self._deleting(key) for key in owners):
            return
        for key in owners:
            self._say(
                key, f"pod {name} {phase}", what=("pod", f"{_meta(obj).get('namespace')}/{name}")
            )

    def _on_object(self, spec: KindSpec[Any, Any]) -> Callable[[str, Manifest, Any], None]:
        """An object that succeeds says so: its status' ``state`` (``Ready`` for a serving
        Workspace), else ``Succeeded``."""

        def handle(change: str, obj: Manifest, old: Manifest | None) -> None:
            if change == "DELETED":
                return
            try:
                status = spec.read_status(obj)
            except Exception:  # a status the model cannot read: nothing to report
                return
            now = self.controller.clock.now()
            if spec.state(status, now=now, failure_grace=0.0)[0] != "Succeeded":
                return
            meta = _meta(obj)
            key = Key(spec.kind, str(meta.get("namespace") or "default"), str(meta.get("name")))
            text = str(getattr(status, "state", None) or "Succeeded")
            self._say(key, text, what=("object", key.qualified))

        return handle

    def _on_event(self, event: RecordedEvent) -> None:
        # Unschedulable while the GPU node boots is expected: the pod lines say "waiting"
        if event.type == "Warning" and event.reason != "Unschedulable":
            self._say(
                event.key,
                f"warning: {event.reason}: {event.message}",
                what=("event", f"{event.key}/{event.reason}/{event.message}"),
            )
