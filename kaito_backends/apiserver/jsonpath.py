"""The JSONPath subset of CRD ``additionalPrinterColumns``.

Supported: ``.field`` (dots inside a name escaped as ``\\.``), ``['field']``, ``[N]``, ``[*]``
and filters ``[?(@.a.b=="value")]`` / ``!=`` (single or double quotes), optionally wrapped in
``{...}``. That covers every printer column of the Workspace, NodeClaim and NodePool CRDs::

    .status.conditions[?(@.type=="Ready")].status
    .metadata.labels.node\\.kubernetes\\.io/instance-type
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["JsonPath", "JsonPathError", "compile_path"]

_FILTER = re.compile(
    r"""^\?\(@(?P<path>(?:\.[^=!]+)+?)\s*(?P<op>==|!=)\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s)]+))\s*\)$"""
)


class JsonPathError(ValueError):
    """An expression outside the supported subset."""


@attrs.frozen
class _Field:
    name: str


@attrs.frozen
class _Index:
    index: int | None  # None: every item


@attrs.frozen
class _Filter:
    path: tuple[str, ...]
    op: str
    value: str


_Step = _Field | _Index | _Filter


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(_split_fields(text))


def _split_fields(text: str) -> list[str]:
    """``a.b\\.c`` -> ``["a", "b.c"]`` (a leading dot is optional)."""
    parts: list[str] = []
    current: list[str] = []
    i = 1 if text.startswith(".") else 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return [p for p in parts if p]


def _parse(expression: str) -> tuple[_Step, ...]:
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            j = i + 1
            buffer: list[str] = []
            while j < len(text) and text[j] not in ".[":
                if text[j] == "\\" and j + 1 < len(text):
                    buffer.append(text[j + 1])
                    j += 2
                    continue
                buffer.append(text[j])
                j += 1
            if not buffer:
                raise JsonPathError(f"empty field name in {expression!r}")
            steps.append(_Field("".join(buffer)))
            i = j
        elif char == "[":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise JsonPathError(f"unclosed '[' in {expression!r}")
            steps.append(_bracket(text[i + 1 : j].strip(), expression))
            i = j + 1
        else:
            raise JsonPathError(f"unexpected {char!r} in {expression!r}")
    return tuple(steps)


def _bracket(inner: str, expression: str) -> _Step:
    if inner == "*":
        return _Index(None)
    if inner.lstrip("-").isdigit():
        return _Index(int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    match = _FILTER.match(inner)
    if match is None:
        raise JsonPathError(f"unsupported expression [{inner}] in {expression!r}")
    value = (
        match["dq"]
        if match["dq"] is not None
        else match["sq"]
        if match["sq"] is not None
        else match["bare"]
    )
    return _Filter(_dotted(match["path"]), match["op"], value)


def _lookup(node: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@attrs.frozen
class JsonPath:
    """A compiled expression; `find` returns every match, `first` the first (or None)."""

    expression: str
    steps: tuple[_Step, ...]

    def find(self, document: Any) -> list[Any]:
        nodes = [document]
        for step in self.steps:
            found: list[Any] = []
            for node in nodes:
                if isinstance(step, _Field):
                    if isinstance(node, Mapping) and step.name in node:
                        found.append(node[step.name])
                elif isinstance(step, _Index):
                    if isinstance(node, list):
                        if step.index is None:
                            found.extend(node)
                        elif -len(node) <= step.index < len(node):
                            found.append(node[step.index])
                elif isinstance(node, list):
                    for item in node:
                        value = _lookup(item, step.path)
                        same = value is not None and _as_text(value) == step.value
                        if same == (step.op == "=="):
                            found.append(item)
            nodes = found
        return nodes

    def first(self, document: Any) -> Any:
        found = self.find(document)
        return found[0] if found else None


def compile_path(expression: str) -> JsonPath:
    """Compile a printer-column expression; raises `JsonPathError`."""
    return JsonPath(expression, _parse(expression))
