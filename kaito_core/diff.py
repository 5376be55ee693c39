"""Deciding whether an observed object already is what we want, or must be recreated.

Pure: no I/O, no clock, no logging.

The API server adds fields we never set (defaults, uid, resourceVersion, status, managedFields),
so "equal" would always be false. An observed object *satisfies* a desired one when every field
the desired object sets has the same value in the observed one:

- maps are compared key by key; a key the desired object sets to a zero value (``{}``, ``[]``,
  ``""``, ``0``, ``false``, ``null``) may be missing, because the API server drops such values
  (``omitempty``);
- lists item by item, and must have the same length (the server never adds list items to the
  fields we render);
- resource quantities (under ``limits``, ``requests``, ``capacity`` and ``sizeLimit``) by value,
  as the server canonicalises them (``0.5`` is stored as ``500m``, ``1024Mi`` as ``1Gi``);
- other scalars by equality.

This is what server-side apply with one field manager converges to, so applying exactly the
unsatisfied objects is enough. A *removed* map key is not seen by this comparison; the workloads
carry the hash of their whole rendered form (``kaito.sh/template-hash``), so any change there,
removals included, changes one annotation.

`needs_replace` says when an update cannot be made in place (`IMMUTABLE_FIELDS`): the object is
deleted and created again on a later step. `changes` puts it together for one Workspace: what to
apply, what to delete, and whether something waits to be recreated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from kaito_core.api.types import Workspace
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest
from kaito_core.outcome import ObjectKey
from kaito_core.render.revision import ANNOTATION_TEMPLATE_HASH

__all__ = [
    "IMMUTABLE_FIELDS",
    "OWNED_KINDS",
    "Changes",
    "changes",
    "check_ownership",
    "controlled_by",
    "needs_replace",
    "parse_quantity",
    "satisfies",
]

#: Fields the API server refuses to change in place, with the value the server stores when the
#: field is left out (``None``: the server generates one, so leaving it out never conflicts).
IMMUTABLE_FIELDS: Mapping[str, tuple[tuple[tuple[str, ...], Any], ...]] = {
    "StatefulSet": (
        (("spec", "selector"), None),
        (("spec", "volumeClaimTemplates"), []),
        (("spec", "serviceName"), ""),
        (("spec", "podManagementPolicy"), "OrderedReady"),
    ),
    "Job": (
        (("spec", "selector"), None),
        (("spec", "template"), None),
        (("spec", "completionMode"), "NonIndexed"),
    ),
    "ControllerRevision": ((("data",), None),),
    "Service": ((("spec", "clusterIP"), None),),
}

#: Kinds whose rendered template cannot change in place: a different template hash means
#: delete and recreate (a Job's pod template is immutable).
_REPLACE_ON_TEMPLATE_CHANGE = frozenset({"Job"})

#: Map keys whose values are resource quantities.
_QUANTITY_KEYS = frozenset({"limits", "requests", "capacity", "allocatable", "sizeLimit"})
_ZERO_VALUES: tuple[Any, ...] = ({}, [], "", None, False)  # 0 == False
_MISSING: Any = object()

_QUANTITY_RE = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_KIBI = Decimal(1024)
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Decimal | None:
    """The numeric value of a Kubernetes quantity (``"500m"``, ``"1Gi"``, ``2``), else None.

    Pure: no I/O, no clock, no logging.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if match is None:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        return None
    suffix = match.group(2) or ""
    if suffix in _BINARY:
        return number * (_KIBI ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number


def _same_quantity(observed: Any, desired: Any) -> bool:
    want = parse_quantity(desired)
    return want is not None and parse_quantity(observed) == want


def _satisfies(observed: Any, desired: Any, quantities: bool) -> bool:
    # The exact-type checks first: rendered manifests and decoded objects are plain dicts and
    # lists, and `isinstance` against the ABCs is several times slower.
    kind = type(desired)
    if kind is dict or (kind is not list and isinstance(desired, Mapping)):
        if type(observed) is not dict and not isinstance(observed, Mapping):
            return False
        get = observed.get
        for key, value in desired.items():
            current = get(key, _MISSING)
            if current is _MISSING:
                if value in _ZERO_VALUES:
                    continue  # the server leaves zero values out
                return False
            if current == value and type(current) is type(value):
                continue
            if not _satisfies(current, value, quantities or key in _QUANTITY_KEYS):
                return False
        return True
    if kind is list or (kind is not str and isinstance(desired, Sequence)):
        observed_kind = type(observed)
        if observed_kind is not list and (
            observed_kind is str or not isinstance(observed, Sequence)
        ):
            return False
        if len(observed) != len(desired):
            return False
        for current, value in zip(observed, desired, strict=True):
            if current == value and type(current) is type(value):
                continue
            if not _satisfies(current, value, quantities):
                return False
        return True
    if type(observed) is kind:
        if observed == desired:
            return True
    elif observed == desired and not isinstance(observed, bool) and kind is not bool:
        return True  # 1 and 1.0 are one JSON number; True and 1 are not the same value
    return quantities and _same_quantity(observed, desired)


def satisfies(observed: Any, desired: Any) -> bool:
    """True when every field set in `desired` has the same value in `observed`.

    Pure: no I/O, no clock, no logging.
    """
    return _satisfies(observed, desired, False)


def _get(obj: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = obj
    for part in path:
        if (type(node) is not dict and not isinstance(node, Mapping)) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _template_hash(obj: Mapping[str, Any]) -> Any:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ANNOTATION_TEMPLATE_HASH)


def needs_replace(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when `desired` differs from `observed` in a field that cannot be updated in place.

    Pure: no I/O, no clock, no logging.

    A field the desired object leaves out counts as the server's default for it: leaving out
    ``podManagementPolicy`` of a StatefulSet created ``Parallel`` is a change to
    ``OrderedReady``. For a Job, a different ``kaito.sh/template-hash`` also means a different
    pod template, including a removed field the comparison cannot see.
    """
    kind = str(desired.get("kind"))
    for path, default in IMMUTABLE_FIELDS.get(kind, ()):
        present, want = _get(desired, path)
        if not present or want is None:
            if default is None:
                continue  # the server generates it
            want = default
        found, current = _get(observed, path)
        if not found or current is None:
            current = default  # stored objects carry the default; a bare one may not
        if want in _ZERO_VALUES:
            if current not in _ZERO_VALUES:
                return True
            continue
        if current is None or not satisfies(current, want):
            return True
    if kind in _REPLACE_ON_TEMPLATE_CHANGE:
        observed_hash, desired_hash = _template_hash(observed), _template_hash(desired)
        if observed_hash and desired_hash and observed_hash != desired_hash:
            return True
    return False


# --- what to apply and delete -----------------------------------------------------------------

#: Kinds of children that are deleted when their Workspace no longer wants them.
OWNED_KINDS = frozenset(
    {"StatefulSet", "Service", "ConfigMap", "Job", "Deployment", "ControllerRevision"}
)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def controlled_by(obj: Mapping[str, Any], workspace: Workspace) -> bool:
    """True when `obj` has a controller owner reference to `workspace` (the uid must match
    when both are known). A ``kaito.sh/workspace`` label alone is not enough: users copy labels
    onto their own objects.

    Pure: no I/O, no clock, no logging.
    """
    uid = workspace.metadata.uid
    for ref in _meta(obj).get("ownerReferences") or ():
        if (
            ref.get("kind") == "Workspace"
            and ref.get("name") == workspace.name
            and ref.get("controller")
            and (not uid or not ref.get("uid") or ref.get("uid") == uid)
        ):
            return True
    return False


def _controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            found: Mapping[str, Any] = ref
            return found
    return None


def check_ownership(
    desired: Sequence[Manifest], observed: Sequence[Manifest], *, workspace: Workspace
) -> None:
    """Raise a `SpecError` (reason ``ObjectConflict``) when a desired child's name is taken by
    an observed object another object controls (a RAGEngine's Service of the same name).

    Objects with no controller, or controlled by this Workspace (any uid: a previous
    Workspace of the name, which garbage collection is taking), are adopted as before.

    Pure: no I/O, no clock, no logging.
    """
    by_key = {(o.get("kind"), _meta(o).get("name")): o for o in observed}
    for obj in desired:
        current = by_key.get((obj["kind"], obj["metadata"]["name"]))
        ref = _controller_ref(current) if current is not None else None
        if ref is None or (ref.get("kind"), ref.get("name")) == ("Workspace", workspace.name):
            continue
        raise SpecError(
            f"{obj['kind']} {workspace.namespace}/{obj['metadata']['name']} already exists and "
            f"belongs to {ref.get('kind')} {ref.get('name')}; rename the Workspace, or delete "
            f"or rename the {ref.get('kind')}",
            path="metadata.name",
            reason="ObjectConflict",
        )


@attrs.frozen(kw_only=True)
class Changes:
    """What one step must write to move the observed children towards the desired ones."""

    #: Desired objects that are missing or differ (create or update, in desired order).
    apply: tuple[Manifest, ...] = ()
    #: Observed objects to delete, sorted.
    delete: tuple[ObjectKey, ...] = ()
    #: A desired object waits for its old self to disappear (deleted here, or still deleting).
    waiting: bool = False
    #: A legacy Deployment ``<ws>`` is deleted (upstream's migration to a StatefulSet).
    migrating: bool = False


def changes(
    desired: Sequence[Manifest],
    observed: Sequence[Manifest],
    *,
    workspace: Workspace,
    stale_revisions: Sequence[str] = (),
) -> Changes:
    """Compare the desired children of `workspace` with the `observed` ones (matched by kind
    and name).

    Pure: no I/O, no clock, no logging.

    - missing → apply; deleting → wait (create it again once it is gone);
    - an immutable field differs (`needs_replace`) → delete, and wait;
    - otherwise not `satisfies` → apply.
    Observed objects of `OWNED_KINDS` that no desired object names and that `workspace` controls
    are deleted, except ControllerRevisions, which go only when named in `stale_revisions`.
    """
    by_key: dict[tuple[Any, Any], Manifest] = {}
    for obj in observed:
        by_key[(obj.get("kind"), _meta(obj).get("name"))] = obj
    apply: list[Manifest] = []
    delete: set[ObjectKey] = set()
    waiting = migrating = False
    wanted: set[tuple[Any, Any]] = set()
    for obj in desired:
        key = (obj["kind"], obj["metadata"]["name"])
        wanted.add(key)
        current = by_key.get(key)
        if current is None:
            apply.append(obj)
        elif _deleting(current):
            waiting = True
        elif needs_replace(current, obj):
            delete.add(ObjectKey.of(current))
            waiting = True
        elif not satisfies(current, obj):
            apply.append(obj)
    stale = frozenset(stale_revisions)
    for key, current in by_key.items():
        kind, name = key
        if kind not in OWNED_KINDS or key in wanted or _deleting(current):
            continue
        if kind == "ControllerRevision" and name not in stale:
            continue
        if not controlled_by(current, workspace):
            continue
        delete.add(ObjectKey.of(current))
        migrating = migrating or (kind == "Deployment" and name == workspace.name)
    return Changes(
        apply=tuple(apply), delete=tuple(sorted(delete)), waiting=waiting, migrating=migrating
    )
