"""Label and field selectors, as ``?labelSelector=`` and ``?fieldSelector=`` spell them.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a`` (exists),
``!a`` (does not exist), comma-separated (all must hold). Field selectors: ``path=value``,
``path==value``, ``path!=value`` where ``path`` is a dotted field path (``metadata.name``,
``metadata.namespace``, ``spec.nodeName``, ``status.phase``, ``involvedObject.name``, ...);
a missing field compares as the empty string, as the API server does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kaito_backends.objects import field_value

__all__ = [
    "Requirement",
    "Selector",
    "SelectorError",
    "parse_field_selector",
    "parse_label_selector",
]

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")
_SET = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")


class SelectorError(ValueError):
    """A selector that does not parse (the server answers 400 Bad Request)."""


@attrs.frozen
class Requirement:
    """One term: ``key op values``."""

    key: str
    op: Operator
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        """Whether a label (None: absent) or field value satisfies the term."""
        if self.op == "exists":
            return value is not None
        if self.op == "!":
            return value is None
        if self.op == "=":
            return value == self.values[0]
        if self.op == "!=":
            return value != self.values[0]
        if self.op == "in":
            return value is not None and value in self.values
        return value is None or value not in self.values  # notin


@attrs.frozen
class Selector:
    """Requirements that must all hold; empty matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels.get(r.key)) for r in self.requirements)

    def matches_fields(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(field_value(obj, r.key)) for r in self.requirements)

    def equalities(self) -> dict[str, str]:
        """The ``key=value`` terms (for an indexed pre-filter; the rest is checked afterwards)."""
        return {r.key: r.values[0] for r in self.requirements if r.op == "="}


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
        if char == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
    terms.append("".join(current).strip())
    return [t for t in terms if t]


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise SelectorError(f"invalid label key {key!r} in selector {text!r}")
    return key


def parse_label_selector(text: str | None) -> Selector:
    """Parse ``?labelSelector=``; raises `SelectorError`."""
    if not text or not text.strip():
        return Selector()
    requirements: list[Requirement] = []
    for term in _split(text):
        if term.startswith("!"):
            requirements.append(Requirement(_check_key(term[1:].strip(), text), "!"))
            continue
        match = _SET.match(term)
        if match is not None:
            values = tuple(sorted({v.strip() for v in match["values"].split(",") if v.strip()}))
            op: Operator = "in" if match["op"] == "in" else "notin"
            requirements.append(Requirement(_check_key(match["key"], text), op, values))
            continue
        match = _EQ.match(term)
        if match is not None:
            op = "!=" if match["op"] == "!=" else "="
            requirements.append(Requirement(_check_key(match["key"], text), op, (match["value"],)))
            continue
        if _KEY.match(term):
            requirements.append(Requirement(term, "exists"))
            continue
        raise SelectorError(f"unable to parse requirement {term!r} in selector {text!r}")
    return Selector(tuple(requirements))


def parse_field_selector(text: str | None) -> Selector:
    """Parse ``?fieldSelector=`` (equality and inequality only); raises `SelectorError`."""
    if not text or not text.strip():
        return Selector()
    requirements: list[Requirement] = []
    for term in _split(text):
        match = _EQ.match(term)
        if match is None:
            raise SelectorError(
                f"invalid field selector term {term!r}: use field=value or field!=value"
            )
        op: Operator = "!=" if match["op"] == "!=" else "="
        requirements.append(Requirement(match["key"], op, (match["value"],)))
    return Selector(tuple(requirements))
