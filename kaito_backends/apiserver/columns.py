"""Table columns: what a column is, and the cells every table shares (name, age, created at).

`Column` pairs a ``meta.k8s.io`` column definition with the function that computes its cell
from an object at a given time; `human_duration` formats ages the way kubectl does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from kaito_backends.objects import Manifest

__all__ = [
    "AGE",
    "CREATED_AT",
    "CREATION_DESCRIPTION",
    "NAME",
    "NAME_DESCRIPTION",
    "NONE",
    "Cell",
    "Column",
    "age_cell",
    "column",
    "created_at_cell",
    "get_path",
    "human_duration",
    "meta_of",
    "name_cell",
    "or_none",
    "parse_time",
    "since",
]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
NONE = "<none>"
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
)
Cell = Callable[[Manifest, datetime], Any]


@attrs.frozen(kw_only=True)
class Column:
    """A table column and how to compute its cell from an object (at a given time)."""

    name: str
    type: str
    cell: Cell
    priority: int = 0
    format: str = ""
    description: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


# -- helpers -------------------------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """A duration the way kubectl writes ages: ``45s``, ``3m20s``, ``15m``, ``5h3m``, ``3d``."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def since(value: Any, now: datetime) -> str:
    """The age of a timestamp at ``now``, as kubectl writes it (``<unknown>`` when absent)."""
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration((now - moment).total_seconds())


def meta_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata`` of an object (empty when absent)."""
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def get_path(obj: Mapping[str, Any], *path: str) -> Any:
    """The value under nested keys, or None when any step is missing."""
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def name_cell(obj: Manifest, _now: datetime) -> Any:
    """The NAME cell."""
    return meta_of(obj).get("name", "")


def age_cell(obj: Manifest, now: datetime) -> Any:
    """The AGE cell: time since ``creationTimestamp``."""
    return since(meta_of(obj).get("creationTimestamp"), now)


def or_none(value: Any) -> Any:
    """``<none>`` for an empty value, as kubectl prints it."""
    return NONE if value in (None, "", []) else value


NAME = Column(
    name="Name", type="string", format="name", description=NAME_DESCRIPTION, cell=name_cell
)
AGE = Column(
    name="Age",
    type="string",
    description=CREATION_DESCRIPTION,
    cell=age_cell,
)


def column(name: str, cell: Cell, *, type_: str = "string", priority: int = 0) -> Column:
    """A column without format or description."""
    return Column(name=name, type=type_, cell=cell, priority=priority)


def created_at_cell(obj: Manifest, _now: datetime) -> Any:
    """The CREATED AT cell: ``creationTimestamp`` in RFC 3339."""
    moment = parse_time(meta_of(obj).get("creationTimestamp"))
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CREATED_AT = Column(
    name="Created At",
    type="date",
    description=CREATION_DESCRIPTION,
    cell=created_at_cell,
)
