"""Deciding whether an observed object already is what we want.

Pure: no I/O, no clock, no logging.

The API server adds fields we never set (defaults, uid, resourceVersion, status, managedFields),
so "equal" would always be false. An observed object *satisfies* a desired one when every field
the desired object sets has the same value in the observed one: maps are compared key by key,
lists item by item (same length), scalars by equality. This is what server-side apply with one
field manager converges to, so applying exactly the unsatisfied objects is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["IMMUTABLE_FIELDS", "needs_replace", "satisfies"]

#: Fields the API server refuses to change in place: a difference there means delete + recreate.
IMMUTABLE_FIELDS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "StatefulSet": (
        ("spec", "selector"),
        ("spec", "volumeClaimTemplates"),
        ("spec", "serviceName"),
        ("spec", "podManagementPolicy"),
    ),
    "Job": (("spec", "template"), ("spec", "selector")),
    "ControllerRevision": (("data",), ("revision",)),
}


def satisfies(observed: Any, desired: Any) -> bool:
    """True when every field set in `desired` has the same value in `observed`."""
    if isinstance(desired, Mapping):
        if not isinstance(observed, Mapping):
            return False
        for key, value in desired.items():
            if key not in observed:
                if value in ({}, [], None):
                    continue
                return False
            if not satisfies(observed[key], value):
                return False
        return True
    if isinstance(desired, Sequence) and not isinstance(desired, str):
        if not isinstance(observed, Sequence) or isinstance(observed, str):
            return False
        if len(observed) != len(desired):
            return False
        return all(satisfies(o, d) for o, d in zip(observed, desired, strict=True))
    return bool(observed == desired)


def _get(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def needs_replace(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when `desired` differs from `observed` in a field that cannot be updated in place."""
    for path in IMMUTABLE_FIELDS.get(str(desired.get("kind")), ()):
        want = _get(desired, path)
        if want is not None and not satisfies(_get(observed, path), want):
            return True
    return False
