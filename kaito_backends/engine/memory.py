"""What the reconciler remembers between passes over one object. Nothing here is a source of
truth: forgetting all of it (an engine restart) only costs extra work.

- **Parsed objects**, by uid and ``resourceVersion``: a manifest is parsed once per version
  (with its kind's ``parse``).
- **Our own writes** (read-your-writes): after we update an object (finalizer, status), the
  informer cache still holds the version we replaced until the watch delivers ours. Reading the
  stale copy would plan from an old status and write it again against an old
  ``resourceVersion`` (a `Conflict`). `ReconcileMemory.read` returns our write instead, until
  the cache has moved past the versions it replaced.
- **Deletion progress**: whether the deletion of an object was seen (so ``<kind>.deleting`` is
  logged once), how many machines it last waited for, and the versions of an object whose
  finalizer we removed (`ReconcileMemory.finalized`): the informer may deliver a pass over the
  version we replaced before its delete event, and that pass must neither read nor write.
- **The inputs of the last plan** (`fingerprint`: the object and every observed object, by
  uid and ``resourceVersion``). When a pass sees exactly those inputs again, the plan would be
  the same and nothing would be written: `ReconcileMemory.recall` returns the last result
  instead of planning. This is what makes a resync of converged objects cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kaito_backends.engine.results import ReconcileResult
from kaito_backends.objects import Key, Manifest
from kaito_core.observed import Observed

__all__ = ["ReconcileMemory", "fingerprint", "version_of"]

Fingerprint = tuple[Any, ...]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def version_of(obj: Mapping[str, Any]) -> str:
    """``metadata.resourceVersion``, ``""`` when absent."""
    return str(_meta(obj).get("resourceVersion") or "")


def fingerprint(manifest: Mapping[str, Any], observed: Observed) -> Fingerprint:
    """Every input of a plan, by identity and version: equal fingerprints plan equally."""
    meta = _meta(manifest)
    return (
        meta.get("uid"),
        meta.get("resourceVersion"),
        tuple((c.get("kind"), _meta(c).get("name"), version_of(c)) for c in observed.node_claims),
        tuple((_meta(n).get("name"), version_of(n)) for n in observed.nodes),
        tuple((_meta(p).get("name"), version_of(p)) for p in observed.pods),
        tuple((o.get("kind"), _meta(o).get("name"), version_of(o)) for o in observed.objects),
        tuple(sorted((name, version_of(cm)) for name, cm in observed.config_maps.items())),
        observed.secrets,
        observed.provision_error,
        observed.provision_reason,
        None
        if observed.references is None
        else tuple(
            (o.get("kind"), _meta(o).get("namespace"), _meta(o).get("name"), version_of(o))
            for o in observed.references
        ),
    )


def _key_of(obj: Mapping[str, Any]) -> Key:
    meta = _meta(obj)
    return Key(
        str(obj.get("kind") or ""),
        str(meta.get("namespace") or "default"),
        str(meta.get("name") or ""),
    )


class ReconcileMemory:
    """Per-object memory of one reconciler (see the module docstring)."""

    def __init__(self) -> None:
        self._parsed: dict[Key, tuple[str, str, Any]] = {}
        #: (the versions our writes replaced, the object as our last write stored it)
        self._written: dict[Key, tuple[frozenset[str], Manifest]] = {}
        self._last_plan: dict[Key, tuple[Fingerprint, ReconcileResult]] = {}
        #: objects whose deletion was seen -> machines they last waited for (-1: not yet)
        self._deleting: dict[Key, int] = {}
        #: objects whose finalizer we removed -> the versions that are stale since
        self._finalized: dict[Key, frozenset[str]] = {}
        #: passes that reused the last result instead of planning
        self.hits = 0

    # -- read your writes ------------------------------------------------------------------------
    def read(self, key: Key, cached: Manifest | None) -> Manifest | None:
        """The object to work from: the cached one, or our own newer write of it."""
        written = self._written.get(key)
        if written is None or cached is None:
            return cached
        if version_of(cached) in written[0]:
            return written[1]  # the cache has not seen our write yet
        del self._written[key]  # the cache caught up (or someone else wrote): trust it again
        return cached

    def wrote(self, before: Manifest, after: Manifest) -> None:
        """We replaced ``before`` (as we read it) with ``after`` (as the server stored it)."""
        key = _key_of(after)
        previous = self._written.get(key)
        replaced = frozenset({version_of(before)})
        if previous is not None and previous[1] is before:
            replaced |= previous[0]  # a second write in one pass: both versions are stale
        self._written[key] = (replaced, after)

    # -- deletion --------------------------------------------------------------------------------
    def deletion_seen(self, key: Key) -> bool:
        """True the first time it is asked about an object's deletion (until `forget`)."""
        if key in self._deleting:
            return False
        self._deleting[key] = -1
        return True

    def machines_changed(self, key: Key, remaining: int) -> bool:
        """Whether ``remaining`` differs from the count last noted for the deleting object."""
        changed = self._deleting.get(key, -1) != remaining
        self._deleting[key] = remaining
        return changed

    def finalized(self, key: Key, before: Manifest, after: Manifest | None) -> None:
        """We removed our finalizer from ``before`` (``after``: as stored, None when the server
        said it was gone already)."""
        versions = {version_of(before)} | ({version_of(after)} if after is not None else set())
        self._finalized[key] = frozenset(v for v in versions if v)

    def is_finalized(self, key: Key, manifest: Manifest) -> bool:
        """Whether ``manifest`` is a version of an object we already let go."""
        versions = self._finalized.get(key)
        return versions is not None and version_of(manifest) in versions

    # -- parsing ---------------------------------------------------------------------------------
    def parsed(self, key: Key, manifest: Manifest, parse: Callable[[Manifest], Any]) -> Any:
        """The object as its kind's ``parse`` reads it; raises `kaito_core.api.ManifestError`."""
        meta = _meta(manifest)
        uid, rv = str(meta.get("uid") or ""), version_of(manifest)
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == uid and cached[1] == rv and rv:
            return cached[2]
        obj = parse(manifest)
        self._parsed[key] = (uid, rv, obj)
        return obj

    def status_written(self, obj: Any, status: Any, stored: Manifest) -> None:
        """Our status write stored ``stored``: it parses as ``obj`` with ``status`` (parsed
        objects are attrs classes with ``metadata`` and ``status``)."""
        rv = version_of(stored)
        if not rv:
            return
        parsed = attrs.evolve(
            obj, status=status, metadata=attrs.evolve(obj.metadata, resource_version=rv)
        )
        self._parsed[_key_of(stored)] = (str(_meta(stored).get("uid") or ""), rv, parsed)

    # -- the last plan ---------------------------------------------------------------------------
    def recall(self, key: Key, inputs: Fingerprint) -> ReconcileResult | None:
        """The last result, when it was planned from exactly these inputs."""
        last = self._last_plan.get(key)
        if last is None or last[0] != inputs:
            self._last_plan.pop(key, None)
            return None
        self.hits += 1
        return last[1]

    def remember(self, key: Key, inputs: Fingerprint, result: ReconcileResult) -> None:
        self._last_plan[key] = (inputs, result.slim())

    def forget(self, key: Key) -> None:
        """Drop everything about an object that is gone."""
        self._parsed.pop(key, None)
        self._written.pop(key, None)
        self._last_plan.pop(key, None)
        self._deleting.pop(key, None)
        self._finalized.pop(key, None)
