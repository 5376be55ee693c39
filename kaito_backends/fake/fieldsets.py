"""Which fields one field manager applied, so a later apply can remove the ones it dropped.

Server-side apply remembers, per field manager, the set of fields its last apply set. When the
next apply from the same manager omits one of them, the field is removed from the object; fields
set by anyone else are kept. A `FieldSet` is the key structure of the applied object: maps are
followed key by key; anything else (scalars, lists: lists are atomic here) is a leaf (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SYSTEM_METADATA", "FieldSet", "field_set", "prune"]

FieldSet = dict[str, "FieldSet | None"]

#: Metadata the server owns: never part of what a manager applied.
SYSTEM_METADATA = frozenset(
    {
        "creationTimestamp",
        "deletionGracePeriodSeconds",
        "deletionTimestamp",
        "generation",
        "managedFields",
        "resourceVersion",
        "selfLink",
        "uid",
    }
)


def field_set(obj: Mapping[str, Any]) -> FieldSet:
    """The fields an applied object sets (``status`` and server-owned metadata excluded)."""
    result: FieldSet = {}
    for key, value in obj.items():
        if key == "status":
            continue
        if key == "metadata" and isinstance(value, dict):
            result[key] = _keys({k: v for k, v in value.items() if k not in SYSTEM_METADATA})
        else:
            result[key] = _keys(value) if isinstance(value, dict) else None
    return result


def _keys(value: Mapping[str, Any]) -> FieldSet:
    return {k: (_keys(v) if isinstance(v, dict) else None) for k, v in value.items()}


def prune(obj: dict[str, Any], previous: FieldSet, current: FieldSet) -> dict[str, Any]:
    """``obj`` without the fields in ``previous`` that are not in ``current``.

    Copies only the maps on the way to a removed field; ``obj`` itself is not changed.
    """
    result: dict[str, Any] | None = None
    for key, before in previous.items():
        if key not in obj:
            continue
        if key not in current:
            result = dict(obj) if result is None else result
            del result[key]
            continue
        after = current[key]
        value = obj[key]
        if before is not None and after is not None and isinstance(value, dict):
            pruned = prune(value, before, after)
            if pruned is not value:
                result = dict(obj) if result is None else result
                result[key] = pruned
    return obj if result is None else result
