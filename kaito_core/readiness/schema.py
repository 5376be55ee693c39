"""The figures file: its schema, its validation and how it overrides the defaults.

Pure: no I/O, no clock, no logging (the defaults are package data, read with
`importlib.resources`; a user's file is read by the CLI, which hands the parsed value here).

A figures file is a map (YAML or JSON) of the shape of the shipped ``figures.json``; every key
is optional::

    version: 1                       # the only version
    nodes:                           # by cloud and VM family ("*": any)
    - {cloud: azure, family: NCads_A100_v4, provisionSeconds: 284, initializeSeconds: 126}
    images:                          # compressed sizes ("*": any other image)
    - {image: kaito-base:0.5.0, bytes: 5600000000}
    pull: {bytesPerSecond: 55445545, schedulingSeconds: 7, containerStartSeconds: 3}
    weights:
      download: {bytesPerSecond: 896228055}
      stream: {bytesPerSecond: 2147483648}
    runtimes:                        # vllm, transformers, template, tuning
    - {runtime: vllm, startSeconds: 95, warmUpSeconds: 195, benchmarkSeconds: 92}
    readiness: {seconds: 1}
    multiNode: {startSeconds: 30, secondsPerExtraNode: 10}

Each group may carry a ``source`` (a string). What a file names replaces the default, field by
field: list entries by their key (``cloud`` + ``family``, ``image``, ``runtime``); a new list
entry must give every figure. A group or entry that changes without a ``source`` of its own
gets the `origin` the caller names (the file). Seconds are numbers from 0 to 1,000,000, sizes
from 0 to 10^14 bytes, rates above 0 up to 10^13 bytes per second. Every problem is reported
with its field path (``nodes[0].provisionSeconds: expected a number, got a string``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import attrs

from kaito_core.errors import FieldError
from kaito_core.readiness.figures import (
    ImageFigures,
    MultiNodeFigures,
    NodeFigures,
    PullFigures,
    RateFigures,
    ReadinessFigures,
    RuntimeFigures,
    StepFigures,
    WeightsFigures,
)

__all__ = ["RUNTIMES", "FiguresError", "default_figures", "parse_figures"]

#: The runtimes a figures file may name.
RUNTIMES = ("template", "transformers", "tuning", "vllm")
_VERSION = 1
_MAX_SECONDS = 1_000_000.0
_MAX_BYTES = 1e14
_MAX_RATE = 1e13
_MAX_TEXT = 1024
_MAX_ENTRIES = 1000


class FiguresError(ValueError):
    """A figures file that does not fit the schema; `errors` names each problem by path."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a map"
    return type(value).__name__


#: (wire name, attribute, kind) of each figure; kinds: seconds, bytes, rate, text, key.
_Field = tuple[str, str, str]
_NODE: tuple[_Field, ...] = (
    ("cloud", "cloud", "key"),
    ("family", "family", "key"),
    ("provisionSeconds", "provision_seconds", "seconds"),
    ("initializeSeconds", "initialize_seconds", "seconds"),
)
_IMAGE: tuple[_Field, ...] = (("image", "image", "key"), ("bytes", "bytes", "bytes"))
_RUNTIME: tuple[_Field, ...] = (
    ("runtime", "runtime", "key"),
    ("startSeconds", "start_seconds", "seconds"),
    ("warmUpSeconds", "warm_up_seconds", "seconds"),
    ("benchmarkSeconds", "benchmark_seconds", "seconds"),
)
_PULL: tuple[_Field, ...] = (
    ("bytesPerSecond", "bytes_per_second", "rate"),
    ("schedulingSeconds", "scheduling_seconds", "seconds"),
    ("containerStartSeconds", "container_start_seconds", "seconds"),
)
_RATE: tuple[_Field, ...] = (("bytesPerSecond", "bytes_per_second", "rate"),)
_STEP: tuple[_Field, ...] = (("seconds", "seconds", "seconds"),)
_MULTI_NODE: tuple[_Field, ...] = (
    ("startSeconds", "start_seconds", "seconds"),
    ("secondsPerExtraNode", "seconds_per_extra_node", "seconds"),
)
_TOP = ("version", "nodes", "images", "pull", "weights", "runtimes", "readiness", "multiNode")


class _Reader:
    """Collects problems while reading one document."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path=path, message=message))

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a map, got {_type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    f"{path}.{key}" if path else str(key),
                    f"unknown field; expected one of {', '.join(allowed)}",
                )
        return value

    def figure(self, value: Any, path: str, kind: str) -> Any:
        """The checked value of one field, or None after reporting why it is wrong."""
        if kind in ("key", "text"):
            if not isinstance(value, str):
                self.fail(path, f"expected a string, got {_type_name(value)}")
                return None
            if kind == "key" and not value.strip():
                self.fail(path, "must not be empty")
                return None
            if len(value) > _MAX_TEXT:
                self.fail(path, f"must be at most {_MAX_TEXT} characters")
                return None
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {_type_name(value)}")
            return None
        number = float(value)
        low, high, strict = {
            "seconds": (0.0, _MAX_SECONDS, False),
            "bytes": (0.0, _MAX_BYTES, False),
            "rate": (0.0, _MAX_RATE, True),
        }[kind]
        if math.isnan(number) or number < low or (strict and number <= low) or number > high:
            above = "above" if strict else "from"
            self.fail(path, f"must be a number {above} {low:g} up to {high:g}, got {number:g}")
            return None
        return int(number) if kind == "bytes" else number


def _fields(
    reader: _Reader,
    raw: Mapping[str, Any],
    path: str,
    fields: tuple[_Field, ...],
    base: Any,
    build: Callable[..., Any],
) -> Any:
    """A group or entry: `base` with what `raw` names; the whole value when `base` is None."""
    values: dict[str, Any] = {}
    ok = True
    for wire, attr, kind in fields:
        if wire not in raw:
            if base is None:
                reader.fail(f"{path}.{wire}", "required field is missing")
                ok = False
            continue
        value = reader.figure(raw[wire], f"{path}.{wire}", kind)
        if value is None:
            ok = False
        else:
            values[attr] = value
    source = None
    if "source" in raw:
        source = reader.figure(raw["source"], f"{path}.source", "text")
        ok = ok and source is not None
    if not ok:
        return None
    if base is None:
        return build(**values, source=source or reader.origin)
    changed = any(getattr(base, attr) != value for attr, value in values.items())
    if source is None:
        source = reader.origin if changed else base.source
    return attrs.evolve(base, **values, source=source)


def _group(
    reader: _Reader,
    doc: Mapping[str, Any],
    key: str,
    fields: tuple[_Field, ...],
    base: Any,
    build: Callable[..., Any],
    path: str | None = None,
) -> Any:
    path = path or key
    if key not in doc:
        if base is None:
            reader.fail(path, "required field is missing")
        return base
    raw = reader.mapping(doc[key], path, (*(f[0] for f in fields), "source"))
    if raw is None:
        return base
    return _fields(reader, raw, path, fields, base, build)


def _entries(
    reader: _Reader,
    doc: Mapping[str, Any],
    key: str,
    fields: tuple[_Field, ...],
    base: tuple[Any, ...],
    build: Callable[..., Any],
    normalise: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    check: Callable[[Any, str], None] | None = None,
) -> tuple[Any, ...]:
    """A keyed list: base entries replaced field by field, new ones appended."""
    if key not in doc:
        return base
    items = doc[key]
    if not isinstance(items, list):
        reader.fail(key, f"expected a list, got {_type_name(items)}")
        return base
    if len(items) > _MAX_ENTRIES:
        reader.fail(key, f"at most {_MAX_ENTRIES} entries")
        return base
    keys = tuple(f for f in fields if f[2] == "key")
    result = list(base)
    seen: set[tuple[Any, ...]] = set()
    for index, item in enumerate(items):
        path = f"{key}[{index}]"
        raw = reader.mapping(item, path, (*(f[0] for f in fields), "source"))
        if raw is None:
            continue
        missing = [w for w, _, _ in keys if w not in raw]
        for wire in missing:
            reader.fail(f"{path}.{wire}", "required field is missing")
        if missing:
            continue
        ident = tuple(reader.figure(raw[w], f"{path}.{w}", "key") for w, _, _ in keys)
        if any(part is None for part in ident):
            continue
        ident = normalise(ident)
        if check is not None:
            check(ident, path)
        if ident in seen:
            reader.fail(path, f"{'/'.join(ident)} is given twice")
            continue
        seen.add(ident)
        at = next(
            (i for i, old in enumerate(result) if normalise(_key_of(old, keys)) == ident), None
        )
        entry = _fields(reader, raw, path, fields, None if at is None else result[at], build)
        if entry is None:
            continue
        if at is None:
            result.append(entry)
        else:
            result[at] = entry
    return tuple(result)


def _key_of(entry: Any, keys: tuple[_Field, ...]) -> tuple[Any, ...]:
    return tuple(getattr(entry, attr) for _, attr, _ in keys)


def _lower(ident: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(str(part).lower() for part in ident)


def _same(ident: tuple[Any, ...]) -> tuple[Any, ...]:
    return ident


def parse_figures(
    data: Any, *, base: ReadinessFigures | None = None, origin: str = "override"
) -> ReadinessFigures:
    """`base` (the shipped defaults when None) with what the figures document `data` names.

    Raises `FiguresError` listing every problem with its field path. `origin` (the file's
    name) becomes the source of what `data` changes without giving a source of its own.

    Pure: no I/O, no clock, no logging.
    """
    return _parse(data, base=default_figures() if base is None else base, origin=origin)


def _parse(data: Any, *, base: ReadinessFigures | None, origin: str) -> ReadinessFigures:
    """`parse_figures`; with ``base=None`` `data` must be a whole figures file."""
    reader = _Reader(origin)
    doc = reader.mapping(data, "", _TOP)
    if doc is None:
        raise FiguresError(reader.errors)
    if "version" in doc:
        version = doc["version"]
        if isinstance(version, bool) or version != _VERSION:
            reader.fail("version", f"unsupported version {version!r}; expected {_VERSION}")

    def check_runtime(ident: tuple[Any, ...], path: str) -> None:
        if ident[0] not in RUNTIMES:
            reader.fail(
                f"{path}.runtime", f"unknown runtime; expected one of {', '.join(RUNTIMES)}"
            )

    nodes = _entries(reader, doc, "nodes", _NODE, base.nodes if base else (), NodeFigures, _lower)
    images = _entries(
        reader, doc, "images", _IMAGE, base.images if base else (), ImageFigures, _same
    )
    runtimes = _entries(
        reader,
        doc,
        "runtimes",
        _RUNTIME,
        base.runtimes if base else (),
        RuntimeFigures,
        _same,
        check_runtime,
    )
    pull = _group(reader, doc, "pull", _PULL, base.pull if base else None, PullFigures)
    weights = _weights(reader, doc, base.weights if base else None)
    readiness = _group(
        reader, doc, "readiness", _STEP, base.readiness if base else None, StepFigures
    )
    multi_node = _group(
        reader, doc, "multiNode", _MULTI_NODE, base.multi_node if base else None, MultiNodeFigures
    )
    if base is None:
        _require_complete(reader, nodes, images, runtimes)
    if reader.errors:
        raise FiguresError(reader.errors)
    return ReadinessFigures(
        nodes=nodes,
        images=images,
        pull=pull,
        weights=weights,
        runtimes=runtimes,
        readiness=readiness,
        multi_node=multi_node,
    )


def _weights(reader: _Reader, doc: Mapping[str, Any], base: WeightsFigures | None) -> Any:
    if "weights" not in doc:
        if base is None:
            reader.fail("weights", "required field is missing")
        return base
    raw = reader.mapping(doc["weights"], "weights", ("download", "stream"))
    if raw is None:
        return base
    download = _group(
        reader,
        raw,
        "download",
        _RATE,
        base.download if base else None,
        RateFigures,
        "weights.download",
    )
    stream = _group(
        reader, raw, "stream", _RATE, base.stream if base else None, RateFigures, "weights.stream"
    )
    if download is None or stream is None:
        return base
    return WeightsFigures(download=download, stream=stream)


def _require_complete(
    reader: _Reader,
    nodes: tuple[NodeFigures, ...],
    images: tuple[ImageFigures, ...],
    runtimes: tuple[RuntimeFigures, ...],
) -> None:
    """A whole figures file has the fallbacks and every runtime."""
    if not any(n.cloud == "*" and n.family == "*" for n in nodes):
        reader.fail("nodes", "needs an entry with cloud '*' and family '*'")
    if not any(i.image == "*" for i in images):
        reader.fail("images", "needs an entry with image '*'")
    missing = sorted(set(RUNTIMES) - {r.runtime for r in runtimes})
    if missing:
        reader.fail("runtimes", f"needs an entry for each runtime; missing {', '.join(missing)}")


@functools.cache
def default_figures() -> ReadinessFigures:
    """The shipped figures (``kaito_core/readiness/figures.json``), parsed once."""
    text = (resources.files("kaito_core.readiness") / "figures.json").read_text(encoding="utf-8")
    return _parse(json.loads(text), base=None, origin="kaito_core/readiness/figures.json")
