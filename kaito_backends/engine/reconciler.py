"""One level-triggered reconcile of one object of a registered kind: read, decide (the core),
write what differs. The kind's `kaito_core.kinds.KindSpec` (looked up by ``key.kind``) says how
to read, plan and judge it; nothing here names a kind.

`Reconciler.reconcile(key)` does, in order (controller-runtime's contract: the result says
when to look again; an exception means "retry with backoff"):

1. Read the object: from the cache the controller passes (its informer: an object the cache
   does not hold is gone, and nothing is read from the server), else ``client.get``. Gone:
   done. A stale cached copy of an object whose finalizer this reconciler removed: done.
2. Being deleted: for kinds that make NodeClaims, release the machines
   (``provisioner.release``) and wait until its NodeClaims are gone; then remove the finalizer;
   children go by owner-reference garbage collection. After ``finalizer_timeout`` seconds the
   finalizer is removed anyway and a Warning Event (and the status the planner writes for a
   deleting object, ``WorkspaceDeleting``) says what was stuck. Absent objects and kinds are fine.
3. Add the kind's finalizer (``workspace.finalizer.kaito.sh``) if it is missing.
   (Any step refused with `NamespaceTerminating`: the object is going away with its namespace;
   it and the namespace's other objects are left alone until their deletion is seen:
   `kaito_backends.engine.terminating`. State ``Deleting``, nothing retried, one debug line
   ``namespace.terminating`` per namespace.)
4. Observe (`kaito_backends.engine.observer`), then the kind's planner
   (``planner(obj, observed=..., catalog=..., now=..., settings=...)``). When the plan would
   apply an object whose name is taken by an object that is not this one's (a Workspace's
   Service ``x`` for a RAGEngine ``x``), that object joins ``Observed.objects`` and the plan is
   made again: the planner reports the conflict instead of writing over it.
5. A `SpecError` (``outcome.error``): write the False conditions and stop. Nothing is retried
   until the spec changes or a resync comes: the user must act. A spec that does not parse
   (or, given a ``validation`` context, that the kind's validation refuses) gets its overall
   condition False with reason ``InvalidSpec`` and the problems, and an Event, before any
   planning (`kaito_backends.engine.spec_check`).
6. ``provisioner.provision(key, outcome.node_claims)`` when the observed claims differ from the
   desired ones; `InsufficientCapacity` is shown on ResourceReady with its ``reason`` and
   retried every ``capacity_retry`` seconds; `KindNotServed` (Karpenter's CRD not installed)
   likewise, reason ``NodeClaimCRDMissing``, retried every ``missing_kind_retry`` seconds (as
   the informers look for a missing kind) and logged once; a `NoticeSource` provisioner's
   notices become Events.
7. Server-side apply ``outcome.apply`` (field manager ``kaito``), delete ``outcome.delete``.
8. Write the status only when it differs from the stored one (``resourceVersion`` precondition:
   a `Conflict` means our view was stale, so requeue), then record ``outcome.events``.

Every write is idempotent or guarded by a precondition, so a reconcile may be interrupted at any
point (an engine restart) and simply run again: names are deterministic and the provisioner
creates NodeClaims by name, so nothing is ever duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kaito_backends.clock import Clock, rfc3339
from kaito_backends.engine.events import EventRecorder
from kaito_backends.engine.finalization import Finalization
from kaito_backends.engine.informers import MISSING_KIND_RETRY
from kaito_backends.engine.memory import ReconcileMemory, fingerprint
from kaito_backends.engine.observer import Observer
from kaito_backends.engine.results import ReconcileResult, Writes, workspace_state
from kaito_backends.engine.spec_check import SpecCheck, status_patch
from kaito_backends.engine.terminating import Members, TerminatingNamespaces
from kaito_backends.errors import (
    InsufficientCapacity,
    KindNotServed,
    NamespaceTerminating,
    NotFound,
)
from kaito_backends.objects import Key, Manifest, ObjectRef, clone
from kaito_backends.protocols import ClusterClient, NodeProvisioner, NoticeSource
from kaito_core.api import ManifestError
from kaito_core.kinds import KindPlanner, KindSpec, Registry
from kaito_core.observed import Observed
from kaito_core.outcome import ObjectKey, Outcome
from kaito_core.registry import default_registry
from kaito_core.validation import ValidationContext
from kaito_core.workspace_kind import WORKSPACE_FINALIZER

__all__ = [
    "FINALIZER",
    "ObjectCache",
    "Planner",
    "ReconcileResult",
    "Reconciler",
    "WorkspaceCache",
    "workspace_state",
]

#: The Workspace's finalizer (each kind names its own: `KindSpec.finalizer`).
FINALIZER = WORKSPACE_FINALIZER

#: What the engine calls to plan: a `kaito_core.kinds.KindPlanner` (``kaito_core.plan.plan``'s
#: signature, ``(obj, *, observed, catalog, now, settings) -> Outcome``).
Planner = KindPlanner[Any, Any]

#: Why the provisioner made no machines: no capacity, or a kind (Karpenter's CRD) not served.
Refusal = InsufficientCapacity | KindNotServed

#: Looks an object's manifest up in a cache: key -> manifest, or None when it is gone.
ObjectCache = Callable[[Key], "Manifest | None"]
#: The former name of `ObjectCache`.
WorkspaceCache = ObjectCache


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _with(objects: tuple[Manifest, ...], more: tuple[Manifest, ...]) -> tuple[Manifest, ...]:
    """Observed children plus objects that only bear their names, by kind and name."""
    return tuple(
        sorted((*objects, *more), key=lambda o: (o.get("kind", ""), str(_meta(o).get("name"))))
    )


class Reconciler(Finalization):
    """Reconciles one object at a time (the controller guarantees one worker per key).

    ``registry`` holds the kinds it reconciles (default: `default_registry`); ``planner``
    replaces the planner of the registry's first kind and ``planners`` those of any kind, by
    name (default: each kind's own ``plan``).
    """

    def __init__(
        self,
        client: ClusterClient,
        provisioner: NodeProvisioner,
        *,
        observer: Observer,
        planner: Planner | None = None,
        catalog: Any,
        settings: Any,
        clock: Clock,
        registry: Registry | None = None,
        planners: Mapping[str, Planner] | None = None,
        recorder: EventRecorder | None = None,
        cache: ObjectCache | None = None,
        field_manager: str = "kaito",
        finalizer_timeout: float = 600.0,
        failure_grace: float = 600.0,
        deletion_poll: float = 5.0,
        capacity_retry: float = 60.0,
        missing_kind_retry: float = MISSING_KIND_RETRY,
        log: Any = None,
        on_write: Callable[[str], None] | None = None,
        memoize: bool = True,
        validation: ValidationContext | None = None,
        namespace_members: Members | None = None,
    ) -> None:
        self.client = client
        #: invalid specs: validation when `validation` is given, the InvalidSpec status
        self.spec_check = SpecCheck(catalog=catalog, validation=validation)
        self.provisioner = provisioner
        self.observer = observer
        self.registry = registry if registry is not None else default_registry()
        self.planners: dict[str, Planner] = {spec.kind: spec.plan for spec in self.registry}
        if planner is not None:
            self.planners[self.registry.kinds[0].kind] = planner
        self.planners.update(planners or {})
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.recorder = recorder
        self.cache = cache
        self.field_manager = field_manager
        self.finalizer_timeout = finalizer_timeout
        self.failure_grace = failure_grace
        self.deletion_poll = deletion_poll
        self.capacity_retry = capacity_retry
        self.missing_kind_retry = missing_kind_retry
        self.log = log
        self.on_write = on_write
        self._provision_errors: dict[Key, Refusal] = {}
        self._notice_source = provisioner if isinstance(provisioner, NoticeSource) else None
        #: skip planning when every input is the same version as last time (resyncs)
        self.memoize = memoize
        self.memory = ReconcileMemory()
        #: objects going away with their namespace (see `kaito_backends.engine.terminating`)
        self.terminating = TerminatingNamespaces(namespace_members)
        #: wall seconds spent in the planner (benchmarks read it)
        self.plan_seconds = 0.0
        self.plans = 0

    # -- the step --------------------------------------------------------------------------------
    async def reconcile(self, key: Key, *, log: Any = None) -> ReconcileResult:
        """Run one reconcile of ``key``; raises `BackendError`s for the caller to back off."""
        log = log if log is not None else self.log
        spec = self.registry[key.kind]
        if self.cache is not None:
            cached = self.cache(key)
            if cached is None:  # the informer saw it go (or never saw it): nothing to read
                self.forget(key)
                return ReconcileResult(key=key, state="Gone")
            manifest = self.memory.read(key, cached)
        else:
            try:
                manifest = await self.client.get(
                    ObjectRef(spec.api_version, spec.kind, key.name, key.namespace)
                )
            except NotFound:
                self.forget(key)
                return ReconcileResult(key=key, state="Gone")
        if self.memory.is_finalized(key, manifest):
            return ReconcileResult(key=key, state="Gone")  # a stale copy of what we let go
        writes = Writes(self.on_write)
        meta = _meta(manifest)
        if meta.get("deletionTimestamp"):
            return await self._finalize(spec, key, manifest, writes, log)
        if self.terminating.doomed(key, manifest):
            return _going_away(key, "its namespace is being deleted", writes)
        try:
            return await self._live(spec, key, manifest, writes, log)
        except NamespaceTerminating as error:
            if self.terminating.refused(key, manifest) and log is not None:
                log.debug(
                    "namespace.terminating",
                    namespace=key.namespace,
                    objects=self.terminating.in_namespace(key.namespace),
                )
            return _going_away(key, str(error), writes)

    async def _live(
        self, spec: KindSpec[Any, Any], key: Key, manifest: Manifest, writes: Writes, log: Any
    ) -> ReconcileResult:
        """Steps 3 to 8 of the module docstring: an object that is not being deleted."""
        meta = _meta(manifest)
        if spec.finalizer not in (meta.get("finalizers") or ()):
            manifest = await self._add_finalizer(spec, manifest, writes)
        try:
            obj = self.memory.parsed(key, manifest, spec.parse)
        except ManifestError as error:
            if log is not None:
                log.warning(f"{spec.singular}.unreadable", error=str(error))
            return await self._invalid(spec, key, manifest, str(error), writes)
        if invalid := self.spec_check.problems(spec, key, manifest, obj):
            return await self._invalid(spec, key, manifest, invalid, writes)
        now = self.clock.now()
        observed = _refused(
            await self.observer.observe(key, manifest), self._provision_errors.get(key)
        )
        previous = (
            self.memory.recall(key, fingerprint(manifest, observed)) if self.memoize else None
        )
        if previous is not None:
            # every input is the version we planned from last time: same outcome, nothing to do
            state, reason, message = spec.state(
                previous.status, now=now, failure_grace=self.failure_grace
            )
            if previous.spec_error:
                state, reason, message = "Failed", previous.reason, previous.message
            return attrs.evolve(previous, state=state, reason=reason, message=message, writes=0)
        outcome = self._plan(spec, obj, observed, rfc3339(now))
        if outcome.error is None and outcome.apply:
            # an object of that name that is not ours: the planner decides (a conflict)
            occupied = await self.observer.occupants(key, outcome.apply)
            if occupied:
                observed = attrs.evolve(observed, objects=_with(observed.objects, occupied))
                outcome = self._plan(spec, obj, observed, rfc3339(now))
        if outcome.error is not None:
            await self._write_status(spec, manifest, obj, outcome.status, writes)
            await self._events(manifest, outcome)
            spec_error = outcome.error
            if log is not None:
                log.info(
                    f"{spec.singular}.spec_error",
                    reason=spec_error.reason,
                    path=spec_error.path,
                    message=spec_error.message,
                )
            result = ReconcileResult(
                key=key,
                state="Failed",
                reason=spec_error.reason,
                message=spec_error.message,
                writes=writes.n,
                spec_error=True,
                status=outcome.status,
                outcome=outcome,
            )
            self._remember(key, manifest, observed, result, writes)
            return result
        capacity_error = await self._provision(spec, key, outcome, observed, writes, log)
        await self._notices(key, manifest)
        if _refused(observed, capacity_error) is not observed:
            observed = _refused(observed, capacity_error)
            outcome = self._plan(spec, obj, observed, rfc3339(now))
        for child in outcome.apply:
            await self.client.apply(child, field_manager=self.field_manager)
            writes.add("apply")
        for ref in outcome.delete:
            await self._delete_child(ref, writes)
        await self._write_status(spec, manifest, obj, outcome.status, writes)
        await self._events(manifest, outcome)
        state, reason, message = spec.state(
            outcome.status, now=now, failure_grace=self.failure_grace
        )
        requeue_after = outcome.requeue_after
        if isinstance(capacity_error, KindNotServed):
            requeue_after = _earliest(requeue_after, self.missing_kind_retry)
        elif capacity_error is not None:
            requeue_after = _earliest(requeue_after, self.capacity_retry)
        if state == "Pending" and self._persisting_failure(spec, outcome.status):
            requeue_after = _earliest(requeue_after, self.failure_grace)
        if log is not None:
            log.debug(
                f"{spec.singular}.reconciled",
                state=state,
                applied=len(outcome.apply),
                deleted=len(outcome.delete),
                writes=writes.n,
            )
        result = ReconcileResult(
            key=key,
            state=state,
            reason=reason,
            message=message,
            requeue_after=requeue_after,
            writes=writes.n,
            status=outcome.status,
            outcome=outcome,
        )
        if capacity_error is None and outcome.requeue_after is None:
            self._remember(key, manifest, observed, result, writes)
        return result

    def _remember(
        self,
        key: Key,
        manifest: Manifest,
        observed: Observed,
        result: ReconcileResult,
        writes: Writes,
    ) -> None:
        """Memoize a finished reconcile under the versions it will see next time.

        Only when it wrote nothing but (maybe) the status: the status write's new version is
        known (``writes.stored``), so the next pass over unchanged inputs is recognised.
        """
        if not self.memoize:
            return
        if writes.n - writes.status > 0:
            return  # children changed: the next observation differs anyway
        current = writes.stored if writes.stored is not None else manifest
        self.memory.remember(key, fingerprint(current, observed), result)

    @property
    def memo_hits(self) -> int:
        """Passes that reused the last result instead of planning."""
        return self.memory.hits

    def forget(self, key: Key) -> None:
        """Drop what the reconciler remembers about an object that is gone."""
        self._provision_errors.pop(key, None)
        self.memory.forget(key)
        self.spec_check.forget(key)
        self.terminating.forget(key)
        if self.recorder is not None:
            self.recorder.forget(key)

    # -- pieces ----------------------------------------------------------------------------------
    def _plan(
        self, spec: KindSpec[Any, Any], obj: Any, observed: Observed, now: str
    ) -> Outcome[Any]:
        started = time.perf_counter()
        try:
            return self.planners[spec.kind](
                obj, observed=observed, catalog=self.catalog, now=now, settings=self.settings
            )
        finally:
            self.plan_seconds += time.perf_counter() - started
            self.plans += 1

    def _persisting_failure(self, spec: KindSpec[Any, Any], status: Any) -> bool:
        reasons = spec.persistent_failure_reasons
        if not reasons:
            return False
        return any(
            c.status == "False" and c.reason in reasons
            for c in getattr(status, "conditions", None) or ()
        )

    async def _add_finalizer(
        self, spec: KindSpec[Any, Any], manifest: Manifest, writes: Writes
    ) -> Manifest:
        updated = clone(manifest)
        meta = updated["metadata"]
        meta["finalizers"] = [*(meta.get("finalizers") or ()), spec.finalizer]
        # resourceVersion stays in: a stale cache gives a Conflict, never a lost update
        result = await self.client.update(updated)
        writes.add("update")
        self.memory.wrote(manifest, result)
        return result

    async def _provision(
        self,
        spec: KindSpec[Any, Any],
        key: Key,
        outcome: Outcome[Any],
        observed: Observed,
        writes: Writes,
        log: Any,
    ) -> Refusal | None:
        if not _claims_differ(outcome.node_claims, observed.node_claims):
            self._provision_errors.pop(key, None)
            return None
        try:
            await self.provisioner.provision(key, outcome.node_claims)
        except (InsufficientCapacity, KindNotServed) as error:
            previous = self._provision_errors.get(key)
            self._provision_errors[key] = error
            new = previous is None or previous.message != error.message
            if isinstance(error, KindNotServed) and log is not None and new:
                log.warning(f"{spec.singular}.kind_not_served", message=error.message)
            return error
        writes.add("provision")
        self._provision_errors.pop(key, None)
        return None

    async def _delete_child(self, ref: ObjectKey, writes: Writes) -> None:
        try:
            await self.client.delete(
                ObjectRef(ref.api_version, ref.kind, ref.name, ref.namespace),
                propagation="Background",
            )
            writes.add("delete")
        except NotFound:
            pass

    async def _write_status(
        self,
        spec: KindSpec[Any, Any],
        manifest: Manifest,
        obj: Any,
        status: Any,
        writes: Writes,
    ) -> None:
        if spec.status_of(obj) == status:
            return
        body = status_patch(spec, manifest, status)
        stored = await self.client.apply_status(body)
        writes.add("apply_status")
        writes.status += 1
        writes.stored = stored
        self.memory.wrote(manifest, stored)
        # the stored object is ours plus the new status: keep its parse for the next pass
        self.memory.status_written(obj, status, stored)

    async def _invalid(
        self, spec: KindSpec[Any, Any], key: Key, manifest: Manifest, message: str, writes: Writes
    ) -> ReconcileResult:
        """A spec that does not parse or validate: a False ``InvalidSpec`` condition (written
        once), an Event, and nothing else until the spec changes (`SpecCheck`)."""
        body = self.spec_check.status_body(spec, manifest, message, rfc3339(self.clock.now()))
        if body is not None:
            stored = await self.client.apply_status(body)
            writes.add("apply_status")
            writes.status += 1
            writes.stored = stored
            self.memory.wrote(manifest, stored)
            await self._event(manifest, "Warning", "InvalidSpec", message)
        return ReconcileResult(
            key=key, state="Failed", reason="InvalidSpec", message=message, spec_error=True
        )

    async def _events(self, manifest: Manifest, outcome: Outcome[Any]) -> None:
        for event in outcome.events:
            await self._event(manifest, event.type, event.reason, event.message)

    async def _notices(self, key: Key, manifest: Manifest) -> None:
        for notice in self._notice_source.take_notices(key) if self._notice_source else ():
            await self._event(manifest, notice.type, notice.reason, notice.message)

    async def _event(self, manifest: Manifest, type_: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            await self.recorder.record(manifest, type_, reason, message)


def _going_away(key: Key, message: str, writes: Writes) -> ReconcileResult:
    """The result of a pass over an object whose namespace is being deleted: nothing more to
    do until it is being deleted itself (its deletion event wakes it)."""
    return ReconcileResult(
        key=key, state="Deleting", reason="NamespaceTerminating", message=message, writes=writes.n
    )


def _claim_names(claims: tuple[Manifest, ...], *, live_only: bool) -> set[str]:
    names = set()
    for claim in claims:
        meta = _meta(claim)
        if live_only and meta.get("deletionTimestamp"):
            continue
        names.add(str(meta.get("name", "")))
    return names


def _claims_differ(desired: tuple[Manifest, ...], observed: tuple[Manifest, ...]) -> bool:
    """Whether the provisioner has work to do: a desired claim missing, or an extra one."""
    if not desired and not observed:
        return False
    return _claim_names(desired, live_only=False) != _claim_names(observed, live_only=True)


def _refused(observed: Observed, refusal: Refusal | None) -> Observed:
    """`observed` carrying the provisioner's refusal (message and reason), if there is one."""
    if refusal is None:
        return observed
    if (observed.provision_error, observed.provision_reason) == (refusal.message, refusal.reason):
        return observed
    return attrs.evolve(observed, provision_error=refusal.message, provision_reason=refusal.reason)


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
