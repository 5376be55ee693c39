"""``kaito up --kubeconfig PATH FILE...``: bring the objects up on a cluster where an operator runs.

The files are read and validated as for the embedded run (except that ConfigMaps the files do
not hold may exist on the cluster). Then, on the cluster the kubeconfig names (``--context``
picks another context):

1. the ConfigMaps and Secrets, then the objects of registered kinds, are server-side applied
   (field manager ``kaito-up``), in file order. A refusal (the operator's admission webhook, a
   namespace that does not exist, RBAC) prints ``error: <Kind>/<namespace>/<name>: <the
   server's message>`` and exits 1 before anything else is applied;
2. they are followed, as the embedded run follows them, with informers on the cluster
   (`ClusterWatch`: the registered kinds, NodeClaims, Nodes, Pods, and the Events about the
   objects, whose Warnings become progress lines) until every object applied is terminal
   (its kind's ``state`` from the status alone, once the operator has seen this generation:
   every condition's ``observedGeneration``) or ``--timeout`` minutes of wall time pass;
3. the same table (or ``-o json``), time-to-ready report, ``error:`` lines and exit codes as
   the embedded run (`kaito_backends.cli.up.report`): 0 every object succeeded, 1 one failed,
   was refused or the timeout passed, 2 the files or the kubeconfig cannot be read. Progress
   lines are stamped with the wall time since the objects were applied; ``virtualSeconds`` in
   the JSON is that time too.

The objects are left on the cluster (``kubectl delete -f FILE`` removes them). ``--faults`` and
``--load`` belong to the embedded fake cluster and are refused here (exit 2). Needs the
``kubernetes`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from kaito_backends.cli import readiness
from kaito_backends.cli.inputs import Inputs, registry_of
from kaito_backends.cli.progress import Names, Progress
from kaito_backends.clock import Clock, SystemClock
from kaito_backends.engine.events import RecordedEvent
from kaito_backends.engine.informers import Informer
from kaito_backends.engine.results import ReconcileResult, Settled
from kaito_backends.errors import BackendError
from kaito_backends.objects import Key, Manifest, ObjectRef, clone
from kaito_core.kinds import KindSpec, Registry

__all__ = ["FIELD_MANAGER", "ClusterWatch", "add_remote_arguments", "run_remote", "state_of"]

#: The field manager of what ``kaito up --kubeconfig`` applies.
FIELD_MANAGER = "kaito-up"
#: Seconds between two looks at the objects' states (a failure grace can run out unobserved).
_POLL = 1.0
#: Seconds the informers of the applied kinds may take to list before giving up.
_SYNC_TIMEOUT = 60.0
#: How long a persistent failure lasts before it counts as failed (the operator's default).
_FAILURE_GRACE = 600.0


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig PATH`` and ``--context NAME``."""
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="apply to the cluster this kubeconfig names (where a kaito operator runs) and "
        "follow the objects there, instead of an embedded fake cluster",
    )
    parser.add_argument("--context", metavar="NAME", help="with --kubeconfig: the context to use")


class _Sinks:
    """The part of an `EventRecorder` `Progress` uses: sinks that see every Event."""

    def __init__(self) -> None:
        self.sinks: list[Callable[[RecordedEvent], None]] = []

    def add_sink(self, sink: Callable[[RecordedEvent], None]) -> None:
        self.sinks.append(sink)

    def __call__(self, event: RecordedEvent) -> None:
        for sink in self.sinks:
            sink(event)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


class ClusterWatch:
    """Informers on a cluster, shaped as `Progress` and `readiness.PhaseClock` read a
    `Controller`: ``registry``, ``clock``, ``informer(kind)`` and ``recorder.add_sink``.

    ``namespace``: watch namespaced kinds in that namespace only (None: every namespace).
    Events already on the cluster when the watch starts are not reported; later ones (new, or
    counted up) are, when they are about an object of a registered kind.
    """

    def __init__(
        self,
        client: Any,
        registry: Registry,
        *,
        clock: Clock,
        namespace: str | None,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.recorder = _Sinks()
        self._informers: dict[str, Informer] = {
            spec.kind: Informer(
                client, spec.api_version, spec.kind, clock=clock, namespace=namespace
            )
            for spec in registry
        }
        for api_version, kind, scoped in (
            ("karpenter.sh/v1", "NodeClaim", False),
            ("v1", "Node", False),
            ("v1", "Pod", True),
        ):
            self._informers[kind] = Informer(
                client, api_version, kind, clock=clock, namespace=namespace if scoped else None
            )
        self._events = Informer(client, "v1", "Event", clock=clock, namespace=namespace)
        self._events.add_handler(self._on_event)
        self._counts: dict[tuple[str, str], int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def informer(self, kind: str) -> Informer:
        return self._informers[kind]

    async def start(self, *, timeout: float = _SYNC_TIMEOUT) -> None:
        """Start every informer; wait (at most ``timeout`` seconds) for the registered kinds'
        and the Events' first lists. Raises TimeoutError."""
        for informer in [*self._informers.values(), self._events]:
            self._tasks.append(asyncio.create_task(informer.run(), name=f"watch-{informer.kind}"))
        waited = [self._informers[spec.kind].synced.wait() for spec in self.registry]
        await asyncio.wait_for(asyncio.gather(*waited, self._events.synced.wait()), timeout)
        self._counts = {
            (str(_meta(e).get("namespace")), str(_meta(e).get("name"))): _count(e)
            for e in self._events.values()
        }

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_event(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED" or self._counts is None:
            return  # the first list: what happened before this run is not news
        meta = _meta(obj)
        name = (str(meta.get("namespace")), str(meta.get("name")))
        count = _count(obj)
        if self._counts.get(name, 0) >= count:
            return
        self._counts[name] = count
        involved = obj.get("involvedObject") or {}
        kind = str(involved.get("kind") or "")
        if kind not in self.registry:
            return
        self.recorder(
            RecordedEvent(
                key=Key(
                    kind, str(involved.get("namespace") or "default"), str(involved.get("name"))
                ),
                type=str(obj.get("type") or ""),
                reason=str(obj.get("reason") or ""),
                message=str(obj.get("message") or ""),
                count=count,
                time=str(obj.get("lastTimestamp") or ""),
            )
        )


def _count(event: Mapping[str, Any]) -> int:
    count = event.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else 1


def state_of(
    spec: KindSpec[Any, Any], obj: Mapping[str, Any] | None, *, now: Any
) -> tuple[str, str, str]:
    """(state, reason, message) of an object on a cluster, from its status alone: ``Pending``
    while it is absent, unreadable, or the operator has not seen its current generation (a
    condition's ``observedGeneration`` is older)."""
    if obj is None:
        return "Pending", "", ""
    generation = _meta(obj).get("generation")
    for condition in (obj.get("status") or {}).get("conditions") or ():
        seen = condition.get("observedGeneration") if isinstance(condition, Mapping) else None
        if isinstance(seen, int) and isinstance(generation, int) and seen < generation:
            return "Pending", "", ""
    try:
        status = spec.read_status(obj)
    except Exception:  # a status the model cannot read: not ours to judge yet
        return "Pending", "", ""
    return spec.state(status, now=now, failure_grace=_FAILURE_GRACE)


def _label(obj: Mapping[str, Any]) -> str:
    meta = _meta(obj)
    return f"{obj.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}"


async def _apply_all(client: Any, manifests: Iterable[Manifest]) -> str | None:
    """Server-side apply each manifest; the first refusal's ``error:`` line, or None."""
    for manifest in manifests:
        try:
            await client.apply(manifest, field_manager=FIELD_MANAGER)
        except BackendError as error:
            return f"error: {_label(manifest)}: {' '.join(str(error).split())}"
    return None


def _manifests(inputs: Inputs) -> list[Manifest]:
    """What is applied, in order: ConfigMaps and Secrets, then the objects, in file order."""
    out: list[Manifest] = []
    for (namespace, _), manifest in [*inputs.config_maps.items(), *inputs.secrets.items()]:
        obj = clone(dict(manifest))
        obj.setdefault("metadata", {})["namespace"] = namespace
        out.append(obj)
    for item in inputs.objects:
        obj = clone(dict(item.document.manifest))
        obj.setdefault("metadata", {})["namespace"] = item.namespace
        obj.pop("status", None)
        out.append(obj)
    return out


async def _follow(
    watch: ClusterWatch, keys: list[Key], timeout: float
) -> tuple[dict[Key, ReconcileResult], bool]:
    """Look at the objects until all are terminal or ``timeout`` seconds pass."""
    clock = watch.clock
    deadline = clock.monotonic() + timeout
    changed = asyncio.Event()
    for spec in watch.registry:
        watch.informer(spec.kind).add_handler(lambda *_: changed.set())
    while True:
        now = clock.now()
        results = {}
        for key in keys:
            spec = watch.registry[key.kind]
            obj = watch.informer(key.kind).get(key.namespace, key.name)
            state, reason, message = state_of(spec, obj, now=now)
            results[key] = ReconcileResult(key=key, state=state, reason=reason, message=message)
        if all(r.state in ("Succeeded", "Failed") for r in results.values()):
            return results, True
        left = deadline - clock.monotonic()
        if left <= 0:
            return results, False
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), min(_POLL, left))


async def _remote(
    args: argparse.Namespace,
    inputs: Inputs,
    keys: list[Key],
    names: Names,
    progress_out: TextIO | None,
) -> tuple[int, Any]:
    """(exit code, None) on a setup failure, else (-1, what `report` needs)."""
    try:
        from kaito_backends.kubernetes import from_kubeconfig
    except ModuleNotFoundError as error:
        print(
            f"error: kaito up --kubeconfig needs the 'kubernetes' extra ({error})", file=sys.stderr
        )
        return 2, None
    try:
        client = await from_kubeconfig(args.kubeconfig, args.context)
    except Exception as error:  # ConfigException, OSError, a broken kubeconfig
        detail = " ".join(str(error).split()) or type(error).__name__
        print(f"error: cannot load --kubeconfig {args.kubeconfig}: {detail}", file=sys.stderr)
        return 2, None
    async with client:
        registry = registry_of(args)
        refused = await _apply_all(client, _manifests(inputs))
        if refused is not None:
            print(refused, file=sys.stderr)
            return 1, None
        spaces = {key.namespace for key in keys}
        clock = SystemClock()
        watch = ClusterWatch(
            client,
            registry,
            clock=clock,
            namespace=next(iter(spaces)) if len(spaces) == 1 else None,
        )
        if progress_out is not None:
            Progress(watch, progress_out, names=names)
        phases = readiness.PhaseClock(watch)  # type: ignore[arg-type]  # duck-typed
        started = clock.monotonic()
        try:
            try:
                await watch.start()
            except TimeoutError:
                print(
                    "error: the cluster's objects could not be listed within "
                    f"{int(_SYNC_TIMEOUT)}s (is the API server reachable, and may you list "
                    f"{', '.join(sorted(spec.plural for spec in registry))}?)",
                    file=sys.stderr,
                )
                return 1, None
            results, settled = await _follow(watch, keys, args.timeout * 60.0)
        finally:
            await watch.stop()
        objects: dict[Key, Mapping[str, Any] | None] = {}
        for key in keys:
            spec = registry[key.kind]
            try:
                objects[key] = await client.get(
                    ObjectRef(spec.api_version, spec.kind, key.name, key.namespace)
                )
            except BackendError:
                objects[key] = watch.informer(key.kind).get(key.namespace, key.name)
        outcome = Settled(
            results=results,
            settled=settled,
            elapsed=clock.monotonic() - started,
            reconciles=0,
        )
        return -1, (outcome, objects, clock.now(), phases)


def run_remote(
    args: argparse.Namespace,
    inputs: Inputs,
    keys: list[Key],
    names: Names,
    found: Mapping[str, Any],
    progress_out: TextIO | None,
) -> int:
    """``kaito up --kubeconfig``: the exit code (see the module docstring)."""
    from kaito_backends.cli.up import report

    for flag, given in (("--faults", args.faults), ("--load", getattr(args, "load", None))):
        if given is not None:
            print(
                f"kaito up: error: {flag} works on the embedded fake cluster; it cannot be used "
                "with --kubeconfig",
                file=sys.stderr,
            )
            return 2
    code, found_state = asyncio.run(_remote(args, inputs, keys, names, progress_out))
    if found_state is None:
        return int(code)
    settled, objects, now, phases = found_state
    return report(args, keys, names, settled, objects, now, found, phases)
