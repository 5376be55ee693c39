"""Owner references and finalizers over any `ClusterClient`.

- `owner_reference(owner)`: the ``ownerReferences`` entry that makes an object a dependent of
  ``owner`` (by default its controller, blocking the owner's foreground deletion), so the
  garbage collector deletes it with the owner. Owners must be in the dependent's namespace, or
  cluster-scoped; a namespaced owner of a cluster-scoped object is ignored by the collector
  (KAITO's NodeClaims and NodePools therefore have none: a finalizer releases them).
- `with_owner(obj, owner)`: a copy of ``obj`` with that reference (replacing one of the same uid).
- `add_finalizer` / `remove_finalizer`: read, change ``metadata.finalizers``, write back with
  the read ``resourceVersion`` as a precondition, and retry on `Conflict`. Both are idempotent;
  removing from an absent object is a no-op, and removing the last finalizer of an object being
  deleted lets the server delete it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.errors import Conflict, Invalid, NotFound
from kaito_backends.objects import Manifest, ObjectRef, clone
from kaito_backends.protocols import ClusterClient

__all__ = ["add_finalizer", "owner_reference", "remove_finalizer", "with_owner"]


def owner_reference(
    owner: Mapping[str, Any], *, controller: bool = True, block_owner_deletion: bool = True
) -> Manifest:
    """The ``ownerReferences`` entry pointing at ``owner`` (which must carry its uid)."""
    meta = owner.get("metadata") or {}
    uid = meta.get("uid")
    if not uid:
        what = f"{owner.get('kind')} {meta.get('name')!r}"
        raise Invalid(f"{what} has no uid: read the owner from the server first")
    return {
        "apiVersion": str(owner.get("apiVersion", "")),
        "kind": str(owner.get("kind", "")),
        "name": str(meta.get("name", "")),
        "uid": str(uid),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def with_owner(obj: Mapping[str, Any], owner: Mapping[str, Any], **options: bool) -> Manifest:
    """A copy of ``obj`` owned by ``owner`` (see `owner_reference` for ``options``)."""
    ref = owner_reference(owner, **options)
    copied: Manifest = clone(dict(obj))
    meta = copied.setdefault("metadata", {})
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != ref["uid"]]
    if ref["controller"]:
        refs = [r for r in refs if not r.get("controller")]
    meta["ownerReferences"] = [*refs, ref]
    return copied


async def add_finalizer(
    client: ClusterClient, ref: ObjectRef, finalizer: str, *, attempts: int = 5
) -> Manifest:
    """Ensure ``finalizer`` is on the object; returns it as stored.

    Raises `NotFound`; `Invalid` when the object is being deleted (the server refuses new
    finalizers then); `Conflict` after ``attempts`` lost races.
    """
    for attempt in range(attempts):
        obj = await client.get(ref)
        meta = obj.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or ())
        if finalizer in finalizers:
            return obj
        if meta.get("deletionTimestamp"):
            raise Invalid(f"{ref} is being deleted: finalizer {finalizer!r} cannot be added")
        meta["finalizers"] = [*finalizers, finalizer]
        try:
            return await client.update(obj)
        except Conflict:
            if attempt == attempts - 1:
                raise
    raise Conflict(f"{ref}: no attempts to add finalizer {finalizer!r}")


async def remove_finalizer(
    client: ClusterClient, ref: ObjectRef, finalizer: str, *, attempts: int = 5
) -> Manifest | None:
    """Ensure ``finalizer`` is not on the object; returns it as stored (None when it is gone).

    Raises `Conflict` after ``attempts`` lost races.
    """
    for attempt in range(attempts):
        try:
            obj = await client.get(ref)
        except NotFound:
            return None
        meta = obj.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or ())
        if finalizer not in finalizers:
            return obj
        meta["finalizers"] = [f for f in finalizers if f != finalizer]
        try:
            return await client.update(obj)
        except NotFound:
            return None
        except Conflict:
            if attempt == attempts - 1:
                raise
    raise Conflict(f"{ref}: no attempts to remove finalizer {finalizer!r}")
