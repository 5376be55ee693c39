"""Object-by-object differences between two normalised runs (`benchmarks.snapshot.Snapshot`).

`diff` compares two snapshots, left and right, and lists every `Difference`: an object only one
side made (path ``""``), or a field whose value differs (its path, each side's value as compact
JSON, ``(absent)`` where a side has no such field). Lists whose items are all mappings with a
unique ``name`` (containers, env, ports, volumes) or ``type`` (conditions) are compared by that
key, so one added env var is one difference, not a shifted list; other lists are compared by
position. `table` prints the differences and `summary` counts them. Pure: no I/O, no clock, no
logging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ABSENT", "Difference", "diff", "summary", "table"]

#: The value shown for the side that lacks an object or a field.
ABSENT = "(absent)"


@dataclass(frozen=True, order=True)
class Difference:
    """One object or field that differs between the left and the right run."""

    key: str
    path: str
    left: str
    right: str


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _keyed_by(left: list[Any], right: list[Any]) -> str | None:
    """``name`` or ``type`` when every item of both lists is a mapping with a value of it that
    is unique in its list."""
    for field in ("name", "type"):
        if all(
            all(isinstance(i, Mapping) and isinstance(i.get(field), str) for i in items)
            and len({i[field] for i in items}) == len(items)
            for items in (left, right)
        ):
            return field
    return None


def _fields(left: Any, right: Any, path: str) -> list[tuple[str, str, str]]:
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        out = []
        for key in sorted(set(left) | set(right)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in left:
                out.append((sub, ABSENT, _show(right[key])))
            elif key not in right:
                out.append((sub, _show(left[key]), ABSENT))
            else:
                out += _fields(left[key], right[key], sub)
        return out
    if isinstance(left, list) and isinstance(right, list):
        field = _keyed_by(left, right) if left and right else None
        if field is not None:
            by_left = {i[field]: i for i in left}
            by_right = {i[field]: i for i in right}
            out = []
            for k in sorted(set(by_left) | set(by_right)):
                sub, a, b = f"{path}[{field}={k}]", by_left.get(k), by_right.get(k)
                if a is None:
                    out.append((sub, ABSENT, _show(b)))
                elif b is None:
                    out.append((sub, _show(a), ABSENT))
                else:
                    out += _fields(a, b, sub)
            order_left = [i[field] for i in left if i[field] in by_right]
            order_right = [i[field] for i in right if i[field] in by_left]
            if order_left != order_right:
                out.append((f"{path}(order)", _show(order_left), _show(order_right)))
            return out
        out = []
        for i in range(max(len(left), len(right))):
            sub = f"{path}[{i}]"
            if i >= len(left):
                out.append((sub, ABSENT, _show(right[i])))
            elif i >= len(right):
                out.append((sub, _show(left[i]), ABSENT))
            else:
                out += _fields(left[i], right[i], sub)
        return out
    if left != right or type(left) is not type(right):
        return [(path, _show(left), _show(right))]
    return []


def diff(
    left: Mapping[str, Mapping[str, Any]], right: Mapping[str, Mapping[str, Any]]
) -> list[Difference]:
    """Every difference between two snapshots, sorted. Pure: no I/O, no clock, no logging."""
    out = []
    for key in sorted(set(left) | set(right)):
        if key not in right:
            out.append(Difference(key, "", "present", ABSENT))
        elif key not in left:
            out.append(Difference(key, "", ABSENT, "present"))
        else:
            out += [Difference(key, *field) for field in _fields(left[key], right[key], "")]
    return out


def summary(
    left: Mapping[str, Any], right: Mapping[str, Any], differences: list[Difference]
) -> dict[str, int]:
    """Counts: objects on each side, in both, only left, only right, differing, fields."""
    only_left = sum(1 for d in differences if d.path == "" and d.right == ABSENT)
    only_right = sum(1 for d in differences if d.path == "" and d.left == ABSENT)
    fields = [d for d in differences if d.path != ""]
    return {
        "left": len(left),
        "right": len(right),
        "both": len(set(left) & set(right)),
        "only_left": only_left,
        "only_right": only_right,
        "objects_differing": len({d.key for d in fields}),
        "fields_differing": len(fields),
    }


def table(differences: list[Difference], *, left: str = "left", right: str = "right") -> str:
    """The differences as a table (values cut at 60 characters); ``no differences`` if none."""
    from kaito_backends.cli.output import table as render

    if not differences:
        return "no differences"

    def cut(text: str) -> str:
        return text if len(text) <= 60 else text[:57] + "..."

    rows = [[d.key, d.path or "(object)", cut(d.left), cut(d.right)] for d in differences]
    return render(["object", "field", left, right], rows)
