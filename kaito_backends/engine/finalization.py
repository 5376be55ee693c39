"""Deleting an object: release its machines, wait for them, then let it go (time-boxed).

The `Reconciler` runs these steps when an object of a registered kind has a
``deletionTimestamp`` and still carries its kind's finalizer:

1. kinds that make NodeClaims: ``provisioner.release(key)`` (idempotent), then wait until
   ``provisioner.observe(key)`` reports none (polling every ``deletion_poll`` seconds and on
   every NodeClaim change), writing the status the planner gives a deleting object meanwhile;
2. delete the object's Events (`EventRecorder.purge`: a real cluster's garbage collector
   leaves them behind); a failure there is logged and does not hold the deletion up;
3. remove the finalizer (one ``update``). Children go by owner-reference garbage collection.

Absence is fine at every step (`NotFound`, a kind whose CRD is gone). After
``finalizer_timeout`` seconds the finalizer is removed anyway and a Warning Event
``FinalizerTimeout`` (without the object's uid, so it outlives the object) names the machines
left behind and why.

Deletion is quiet and cheap: one log line per step (``<kind>.deleting`` when the deletion is
first seen, ``<kind>.finalizer_removed`` with the Events deleted; ``<kind>.waiting_for_machines``
at debug while machines remain), and no read after the object is known gone: once the finalizer
write succeeded (or answered `NotFound`), a pass over the informer's stale copy of the same
version does nothing (`ReconcileMemory.finalized`) until the informer's delete event arrives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kaito_backends.clock import Clock, rfc3339
from kaito_backends.engine.results import ReconcileResult, Writes, parse_time
from kaito_backends.errors import BackendError, Conflict, NotFound
from kaito_backends.objects import Key, Manifest, clone
from kaito_backends.protocols import ClusterClient, NodeProvisioner
from kaito_core.kinds import KindSpec
from kaito_core.observed import Observed

if TYPE_CHECKING:
    from kaito_backends.engine.events import EventRecorder
    from kaito_backends.engine.memory import ReconcileMemory

__all__ = ["Finalization"]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


class Finalization:
    """The deletion steps of `kaito_backends.engine.Reconciler` (a base class of it, which
    provides ``forget``, ``_plan``, ``_write_status`` and ``_event``)."""

    client: ClusterClient
    provisioner: NodeProvisioner
    clock: Clock
    memory: ReconcileMemory
    recorder: EventRecorder | None
    finalizer_timeout: float
    deletion_poll: float

    async def _finalize(
        self, spec: KindSpec[Any, Any], key: Key, manifest: Manifest, writes: Writes, log: Any
    ) -> ReconcileResult:
        meta = _meta(manifest)
        if spec.finalizer not in (meta.get("finalizers") or ()):
            return ReconcileResult(key=key, state="Deleting")
        if log is not None and self.memory.deletion_seen(key):
            log.info(f"{spec.singular}.deleting")
        now = self.clock.now()
        started = parse_time(meta.get("deletionTimestamp")) or now
        overdue = (now - started).total_seconds() >= self.finalizer_timeout
        stuck: tuple[Manifest, ...] = ()
        problem = ""
        if spec.makes_node_claims:
            stuck, problem = await self._release(key, overdue)
        if stuck and not overdue:
            await self._deleting_status(spec, key, manifest, writes)
            if log is not None and self.memory.machines_changed(key, len(stuck)):
                log.debug(f"{spec.singular}.waiting_for_machines", remaining=len(stuck))
            remaining = self.finalizer_timeout - (now - started).total_seconds()
            return ReconcileResult(
                key=key,
                state="Deleting",
                requeue_after=max(0.001, min(self.deletion_poll, remaining)),
                writes=writes.n,
            )
        if stuck or problem:
            names = ", ".join(sorted(str(_meta(c).get("name", "")) for c in stuck)) or "unknown"
            message = (
                f"finalizer removed after {int(self.finalizer_timeout)}s with machines still "
                f"present: {names}{problem}; delete them by hand"
            )
            if log is not None:
                log.warning(f"{spec.singular}.finalizer_timeout", stuck=names)
            await self._event(_without_owner(manifest), "Warning", "FinalizerTimeout", message)
        events = await self._purge_events(spec, manifest, log)
        updated = clone(manifest)
        updated["metadata"]["finalizers"] = [
            f for f in meta.get("finalizers") or () if f != spec.finalizer
        ]
        stored: Manifest | None = None
        try:
            stored = await self.client.update(updated)
            writes.add("update")
        except NotFound:
            pass  # gone already: nothing to read back
        self.forget(key)
        # the informer may still hold the version we just replaced: a pass over it is a no-op
        self.memory.finalized(key, manifest, stored)
        if log is not None:
            log.info(f"{spec.singular}.finalizer_removed", events_deleted=events)
        return ReconcileResult(key=key, state="Gone", writes=writes.n)

    async def _purge_events(self, spec: KindSpec[Any, Any], manifest: Manifest, log: Any) -> int:
        """Delete the object's Events (see the module docstring); how many went."""
        if self.recorder is None:
            return 0
        try:
            return await self.recorder.purge(manifest)
        except BackendError as error:
            if log is not None:
                log.warning(
                    f"{spec.singular}.events_not_deleted",
                    error=type(error).__name__,
                    message=str(error),
                )
            return 0

    async def _release(self, key: Key, overdue: bool) -> tuple[tuple[Manifest, ...], str]:
        """Release the key's machines; (the NodeClaims still there, what went wrong)."""
        stuck: tuple[Manifest, ...] = ()
        problem = ""
        try:
            await self.provisioner.release(key)
        except NotFound:
            pass
        except Exception as error:
            if not overdue:
                raise  # back off and try again, until the time box is up
            problem = f"; releasing them failed: {error}"
        try:
            stuck = tuple(await self.provisioner.observe(key))
        except NotFound:
            stuck = ()
        except Exception as error:
            if not overdue:
                raise
            problem += f"; listing them failed: {error}"
        return stuck, problem

    async def _deleting_status(
        self, spec: KindSpec[Any, Any], key: Key, manifest: Manifest, writes: Writes
    ) -> None:
        try:
            obj = self.memory.parsed(key, manifest, spec.parse)
            outcome = self._plan(spec, obj, Observed(), rfc3339(self.clock.now()))
        except Exception:  # the status is a courtesy while deleting; never block on it
            return
        with contextlib.suppress(Conflict, NotFound):
            await self._write_status(spec, manifest, obj, outcome.status, writes)


def _without_owner(manifest: Manifest) -> Manifest:
    """The manifest minus its uid, so an Event about it outlives it (no owner reference)."""
    meta = dict(_meta(manifest))
    meta.pop("uid", None)
    return {**manifest, "metadata": meta}
