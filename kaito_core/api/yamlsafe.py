"""Reading YAML that an attacker may have written: bounded, acyclic, without duplicate keys.

Pure: no I/O, no clock, no logging.

`load_yaml_documents` (every document of a text) and `load_yaml` (exactly one) parse with
PyYAML's safe loader (libyaml when present), but check the composed node graph **before** any
Python object is built, so a small input can never become a large one:

==========================  =====================================================================
limit (`YamlLimits` field)  what it bounds (default)
==========================  =====================================================================
``input_bytes``             the UTF-8 text (`MAX_INPUT_BYTES`, 10 MiB)
``document_bytes``          one document **with every alias expanded** (`MAX_DOCUMENT_BYTES`,
                            3 MiB: the API server's limit on a request body, so a larger object
                            could never be applied anyway)
``total_bytes``             all documents together, aliases expanded (`MAX_EXPANDED_BYTES`,
                            32 MiB)
``depth``                   nested maps and lists, counted through aliases (`MAX_DEPTH`, 100)
``aliases``                 alias references (``*name``) in the whole text (`MAX_ALIASES`, 10,000)
==========================  =====================================================================

Sizes are measured in "expanded bytes": the characters of every scalar plus one per node, which is
about the size of the same data written as JSON. Measuring walks each node once (shared nodes are
memoised), so a billion-laughs document costs what its text costs, then is refused.

Also refused, each with the line it is on: a document that contains itself through an alias
(nothing built from it could be serialised), a key that appears twice in one mapping (both lines
are named; YAML's ``<<`` merge keys are not duplicates), a mapping key that is a map or a list,
tags whose values JSON cannot carry (``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, local
tags), ``.inf``/``.nan`` and integers outside the 64-bit range that Kubernetes objects hold.
Timestamps (``2024-01-01``) stay strings, as in Kubernetes (its YAML reader keeps them as
strings). Every refusal is a `ManifestLoadError` whose message is one line; a limit refusal is
its subclass `YamlLimitError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_INPUT_BYTES",
    "ManifestLoadError",
    "YamlDocument",
    "YamlLimitError",
    "YamlLimits",
    "load_yaml",
    "load_yaml_documents",
]

MiB = 1024 * 1024
#: The API server refuses request bodies over 3 MiB; a file of many documents may be larger,
#: but not without bound: a YAML parser on a huge input is a denial of service.
MAX_INPUT_BYTES = 10 * MiB
#: One document with its aliases expanded: the API server's request-body limit.
MAX_DOCUMENT_BYTES = 3 * MiB
#: All documents of one input together, aliases expanded.
MAX_EXPANDED_BYTES = 32 * MiB
#: Nested maps and lists in one document (a Workspace needs about 12; CRD schemas about 30).
MAX_DEPTH = 100
#: Alias references in one input.
MAX_ALIASES = 10_000

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SHOWN_CHARS = 60


class ManifestLoadError(ValueError):
    """The input cannot be read as YAML (or must not be): one line saying why and where.

    `line` is the 1-based line of the problem when one is known.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class YamlLimitError(ManifestLoadError):
    """The input is over one of the `YamlLimits` (`limit` names the field)."""

    def __init__(self, message: str, *, limit: str, line: int | None = None) -> None:
        super().__init__(message, line=line)
        self.limit = limit


@attrs.frozen(kw_only=True)
class YamlLimits:
    """Bounds on one input (see the module docstring); the defaults are the module constants."""

    input_bytes: int = MAX_INPUT_BYTES
    document_bytes: int = MAX_DOCUMENT_BYTES
    total_bytes: int = MAX_EXPANDED_BYTES
    depth: int = MAX_DEPTH
    aliases: int = MAX_ALIASES


@attrs.frozen(kw_only=True)
class YamlDocument:
    """One document of a stream: its value (None for an empty document), its 0-based `index`
    in the stream and the 1-based `line` it starts on."""

    index: int
    line: int
    value: Any


# --- messages ----------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size % MiB else f"{size // MiB} MiB"


def _shown(value: object) -> str:
    """`value` in double quotes for a message, cut **before** it is escaped (so the cost does not
    grow with the value) and kept on one line."""
    text = str(value)
    cut = len(text) > _SHOWN_CHARS
    text = text[:_SHOWN_CHARS]
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return f'"{escaped}..."' if cut else f'"{escaped}"'


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


# --- the loader --------------------------------------------------------------------------------


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refuse(node: Node, message: str) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, message, node.start_mark)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, restricted to values JSON (and so a Kubernetes object) can carry."""


def _construct_timestamp(loader: _Loader, node: Node) -> str:
    return str(loader.construct_scalar(node))


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    try:
        value = int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))
    except ValueError:
        raise _refuse(node, "integer is too large") from None
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _refuse(node, f"integer {_shown(node.value)} is outside the 64-bit range")
    return value


def _construct_float(loader: _Loader, node: ScalarNode) -> float:
    value = float(yaml.constructor.SafeConstructor.construct_yaml_float(loader, node))
    if not math.isfinite(value):
        raise _refuse(node, f"{_shown(node.value)} is not a finite number")
    return value


def _construct_unsupported(loader: _Loader, node: Node) -> None:
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    raise _refuse(node, f"tag {tag} is not supported: manifests hold JSON values")


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_unsupported)


# --- measuring the node graph ------------------------------------------------------------------


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _key_identity(loader: _Loader, key: Node) -> object:
    if not isinstance(key, ScalarNode):
        raise ManifestLoadError(
            f"line {_line(key)}: a mapping key must be a string or number, not a "
            f"{'map' if isinstance(key, MappingNode) else 'list'}",
            line=_line(key),
        )
    if key.tag == _STR_TAG:
        return key.value
    return loader.construct_object(key)


def _check_keys(loader: _Loader, node: MappingNode) -> None:
    """Refuse a key that appears twice in `node`, naming both lines."""
    seen: dict[object, Node] = {}
    for key, _ in node.value:
        if key.tag == _MERGE_TAG:
            continue
        identity = _key_identity(loader, key)
        first = seen.setdefault(identity, key)
        if first is not key:
            raise ManifestLoadError(
                f"line {_line(key)}: duplicate key {_shown(key.value)} (first at line "
                f"{_line(first)})",
                line=_line(key),
            )


@attrs.define
class _Measure:
    """What one document costs once expanded."""

    size: int
    references: int
    nodes: int


def _measure(loader: _Loader, root: Node, limits: YamlLimits) -> _Measure:
    """Expanded size, references and distinct nodes of the graph under `root`; refuses a cycle,
    a duplicate key and nesting deeper than the limit. Each node is visited once."""
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    active: set[int] = set()
    references = 0
    stack: list[tuple[Node, Iterator[Node]]] = []

    def leaf(node: Node) -> None:
        sizes[id(node)] = len(node.value) + 1
        heights[id(node)] = 0

    def enter(node: Node) -> None:
        if len(stack) >= limits.depth:
            raise _too_deep(node, limits)
        if isinstance(node, MappingNode):
            _check_keys(loader, node)
        active.add(id(node))
        stack.append((node, _children(node)))

    if isinstance(root, ScalarNode):
        leaf(root)
    else:
        enter(root)
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            active.discard(id(node))
            kids = [id(c) for c in _children(node)]
            sizes[id(node)] = 1 + sum(sizes[k] for k in kids)
            heights[id(node)] = 1 + max((heights[k] for k in kids), default=0)
            continue
        references += 1
        key = id(child)
        if key in active:
            raise ManifestLoadError(
                f"line {_line(child)}: recursive alias: the "
                f"{'map' if isinstance(child, MappingNode) else 'list'} anchored here contains "
                "itself",
                line=_line(child),
            )
        if key in sizes:
            if len(stack) + heights[key] > limits.depth:
                raise _too_deep(child, limits)
            continue
        if isinstance(child, ScalarNode):
            leaf(child)
        else:
            enter(child)
    return _Measure(size=sizes[id(root)], references=references, nodes=len(sizes))


def _too_deep(node: Node, limits: YamlLimits) -> YamlLimitError:
    return YamlLimitError(
        f"line {_line(node)}: nested more than {limits.depth} levels deep",
        limit="depth",
        line=_line(node),
    )


# --- entry points ------------------------------------------------------------------------------


def _text(text: str | bytes, limits: YamlLimits) -> str:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.input_bytes:
        raise YamlLimitError(
            f"input is {_mib(size)}; YAML inputs larger than {_mib(limits.input_bytes)} are "
            "refused",
            limit="input_bytes",
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestLoadError(f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise ManifestLoadError("binary data: the input contains NUL bytes")
    return text


def _parse_error(exc: BaseException) -> ManifestLoadError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(exc.problem or exc.context or exc).split())
        return ManifestLoadError(
            f"invalid YAML: {where}{problem}", line=mark.line + 1 if mark else None
        )
    if isinstance(exc, RecursionError):
        return YamlLimitError("invalid YAML: nested too deeply", limit="depth")
    return ManifestLoadError(f"invalid YAML: {' '.join(str(exc).split())}")


def _documents(text: str, limits: YamlLimits) -> Iterator[YamlDocument]:
    loader = _Loader(text)
    try:
        references = 0
        total = 0
        index = 0
        while loader.check_node():
            node = loader.get_node()
            line = _line(node)
            measure = _measure(loader, node, limits)
            references += measure.references - (measure.nodes - 1)
            if references > limits.aliases:
                raise YamlLimitError(
                    f"line {line}: more than {limits.aliases} aliases in one input",
                    limit="aliases",
                    line=line,
                )
            if measure.size > limits.document_bytes:
                raise YamlLimitError(
                    f"document {index + 1} (line {line}) expands to {_mib(measure.size)} "
                    f"through aliases; a document may expand to at most "
                    f"{_mib(limits.document_bytes)}",
                    limit="document_bytes",
                    line=line,
                )
            total += measure.size
            if total > limits.total_bytes:
                raise YamlLimitError(
                    f"the documents up to line {line} expand to {_mib(total)} through aliases; "
                    f"an input may expand to at most {_mib(limits.total_bytes)}",
                    limit="total_bytes",
                    line=line,
                )
            value = loader.construct_document(node)
            yield YamlDocument(index=index, line=line, value=value)
            index += 1
    finally:
        loader.dispose()


def load_yaml_documents(
    text: str | bytes, *, limits: YamlLimits | None = None
) -> tuple[YamlDocument, ...]:
    """Every document of `text` (UTF-8 bytes or str), within `limits` (default: the module's).

    Empty documents are kept (their value is None) so indexes match the stream. Raises
    `ManifestLoadError` (`YamlLimitError` for a limit) with a one-line message.

    Pure: no I/O, no clock, no logging.
    """
    bounds = limits if limits is not None else YamlLimits()
    source = _text(text, bounds)
    try:
        return tuple(_documents(source, bounds))
    except ManifestLoadError:
        raise
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise _parse_error(exc) from None


def load_yaml(text: str | bytes, *, limits: YamlLimits | None = None) -> Any:
    """The one document of `text` (None when it is empty), as `load_yaml_documents` reads it;
    more than one document is a `ManifestLoadError`.

    Pure: no I/O, no clock, no logging.
    """
    documents = load_yaml_documents(text, limits=limits)
    if len(documents) > 1:
        raise ManifestLoadError(
            f"line {documents[1].line}: expected one YAML document, found {len(documents)}",
            line=documents[1].line,
        )
    return documents[0].value if documents else None
