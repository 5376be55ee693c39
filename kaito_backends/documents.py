"""Untrusted request documents: decoded with bounds, checked to be plain JSON data.

What the fake API server and the admission webhook read from the network goes through here, so
a hostile body gets a clear refusal (a `DocumentError`, which the callers turn into a 400 or a
413) instead of a crash, a hang or unbounded memory:

- **size**: at most ``max_bytes`` (the callers pass their own limit, see `MAX_REQUEST_BYTES`);
- **depth**: at most `MAX_DEPTH` nested objects/arrays (kube-apiserver's JSON decoder stops at
  10,000; the fake and the webhook are Python, whose recursion limit is about 1,000, and every
  Kubernetes object we know nests fewer than 50 levels);
- **numbers**: finite only. ``NaN``, ``Infinity`` and ``1e999`` (which Python reads as infinity)
  are refused, as Go's ``encoding/json`` refuses them; once stored they would make every later
  response invalid JSON;
- **shape** (`check_tree`, for data that came from YAML or another decoder): only dicts with
  string keys, lists, strings, integers, finite floats, booleans and ``None``;
- **expansion** (`check_tree` with ``max_bytes``): YAML aliases are counted as expanded, so a
  short document that expands to gigabytes (a "billion laughs") is refused.

`load_json` does all of it for JSON bodies. Checks are iterative (no recursion), so a document
too deep to check is never walked recursively.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_OBJECT_BYTES",
    "MAX_REQUEST_BYTES",
    "DocumentError",
    "check_tree",
    "depth_of",
    "encoded_size",
    "load_json",
]

#: Largest request body kube-apiserver decodes (``MaxRequestBodyBytes``: 3 MiB).
MAX_REQUEST_BYTES = 3 * 1024 * 1024
#: Largest object etcd stores by default (``--max-request-bytes``: 1.5 MiB).
MAX_OBJECT_BYTES = 3 * 512 * 1024
#: Deepest nesting of objects and arrays accepted in a document.
MAX_DEPTH = 100


class DocumentError(ValueError):
    """The document is refused; ``str(error)`` says why, in one line, quoting nothing of it.

    ``reason`` is one of ``size`` (the raw document is over the limit: HTTP 413 rather than
    400), ``syntax`` (not JSON, not UTF-8), ``depth``, ``number``, ``type`` or ``expansion``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def too_large(self) -> bool:
        return self.reason == "size"


def _no_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a valid JSON number", reason="number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"the number {text[:32]} is out of range", reason="number")
    return value


def load_json(raw: bytes | str, *, max_bytes: int = MAX_REQUEST_BYTES) -> Any:
    """Decode a JSON document within the bounds of the module docstring.

    Raises `DocumentError` (``too_large`` for the size limit) for anything refused, including
    text that is not JSON or not UTF-8.
    """
    size = len(raw)
    if size > max_bytes:
        raise DocumentError(
            f"the document is {size} bytes; the limit is {max_bytes}", reason="size"
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # as Go: UTF-8 only
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except DocumentError:
        raise
    except RecursionError:
        raise DocumentError(
            f"the document nests deeper than {MAX_DEPTH} levels", reason="depth"
        ) from None
    except UnicodeDecodeError:
        raise DocumentError("the document is not UTF-8 text", reason="syntax") from None
    except ValueError as exc:
        raise DocumentError(
            f"the document is not valid JSON: {_first_line(exc)}", reason="syntax"
        ) from None
    check_tree(value, json_only=True)
    return value


def check_tree(
    value: Any,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int | None = None,
    json_only: bool = False,
) -> None:
    """Raise `DocumentError` unless ``value`` is plain JSON data no deeper than ``max_depth``.

    With ``max_bytes``, the value's expanded size (every string and key counted with its length,
    every other node as one byte, a node reached twice counted twice) must stay within it: this
    is what bounds YAML aliases (a billion laughs, one long string repeated through thousands of
    aliases), and an alias cycle fails the depth check. The walk stops at the first excess, so
    checking a hostile value costs no more than the limits. ``json_only`` skips the type checks
    (what `json.loads` returns is JSON data by construction).
    """
    budget = max_bytes if max_bytes is not None else -1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if budget >= 0:
            budget -= len(node) + 1 if isinstance(node, str) else 1
            if budget < 0:
                raise DocumentError(
                    f"the document expands past {max_bytes} bytes (excessive aliasing)",
                    reason="expansion",
                )
        if isinstance(node, dict):
            if depth > max_depth:
                raise DocumentError(
                    f"the document nests deeper than {max_depth} levels", reason="depth"
                )
            for key in node:
                if not json_only and not isinstance(key, str):
                    raise DocumentError(
                        f"a map key is a {type(key).__name__}, not a string", reason="type"
                    )
                if budget >= 0:
                    budget -= len(key) + 1 if isinstance(key, str) else 1
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            if depth > max_depth:
                raise DocumentError(
                    f"the document nests deeper than {max_depth} levels", reason="depth"
                )
            stack.extend((child, depth + 1) for child in node)
        elif json_only or node is None or isinstance(node, str | bool | int):
            continue
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise DocumentError(f"the number {node} is out of range", reason="number")
        else:
            raise DocumentError(f"a {type(node).__name__} value is not JSON data", reason="type")


def encoded_size(value: Any) -> int:
    """The size in bytes of ``value`` as compact UTF-8 JSON (what a write would store).

    ``value`` must already be within `MAX_DEPTH` (the C encoder recurses).
    """
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def depth_of(value: Any) -> int:
    """How deeply ``value`` nests objects and arrays (a scalar is 0), iteratively."""
    best = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            depth += 1
            stack.extend((child, depth) for child in node.values())
        elif isinstance(node, list):
            depth += 1
            stack.extend((child, depth) for child in node)
        best = max(best, depth)
    return best


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
