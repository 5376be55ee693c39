"""What a field expected and what it found, in words a manifest's author reads.

Pure: no I/O, no clock, no logging.

The strict converter (`kaito_core.api.serde`) refuses a value of the wrong type with
`WrongType`, whose message says both sides: ``expected an object with 'name', found the string
"phi-4-mini-instruct"``, ``expected a list of objects with 'source', found the string "x"``,
``expected an integer, found the boolean true``. The hooks here guard what cattrs would
otherwise run on the wrong type and answer in Python's words (``'str' object has no attribute
'keys'``, ``argument of type 'int' is not iterable``) or, worse, accept (a string read as a list
of its characters):

- `object_hook`: an attrs class structured from anything but a map;
- `sequence_hook_factory`: a ``tuple[X, ...]`` of anything but a list, its items structured one
  by one with their indexes (``spec.inference.adapters[1].source``).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from cattrs.errors import IterableValidationError, IterableValidationNote

__all__ = [
    "WrongType",
    "described",
    "expected_object",
    "is_object_sequence",
    "object_hook",
    "sequence_hook_factory",
]

#: A string found where something else was expected is shown up to this many characters.
_SHOWN_CHARS = 60


class WrongType(TypeError):
    """A value of the wrong type; the message says what was expected and what was found."""


def _quoted(text: str) -> str:
    cut = len(text) > _SHOWN_CHARS
    shown = json.dumps(text[:_SHOWN_CHARS], ensure_ascii=False)
    return f'{shown[:-1]}..."' if cut else shown


def described(value: object) -> str:
    """`value` as a message names it: ``the string "x"``, ``the integer 5``, ``the boolean
    true``, ``the number 1.5``, ``a list``, ``an object``, ``null``.

    Pure: no I/O, no clock, no logging.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        if value.bit_length() > 63:
            return "an integer beyond 64 bits"
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_quoted(value)}"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else f"a list of {len(value)} items"
    if isinstance(value, Mapping):
        return "an object"
    return "a value of another type"


def _wire(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def expected_object(cls: type, *, wire: Callable[[type, str], str] | None = None) -> str:
    """``an object with 'name'`` (the required fields, by wire name), or, when every field is
    optional, ``an object with fields such as 'count', 'instanceType', 'labelSelector'`` (the
    first three, alphabetically). `wire` maps an attribute to its wire name (default:
    camelCase).

    Pure: no I/O, no clock, no logging.
    """
    fields = attrs.fields(cls)
    required = [a.name for a in fields if a.default is attrs.NOTHING]
    if required:
        names = [f"'{wire(cls, n) if wire else _wire(n)}'" for n in required]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"an object with {listed}"
    known = sorted(wire(cls, a.name) if wire else _wire(a.name) for a in fields)
    if not known:
        return "an object"
    return "an object with fields such as " + ", ".join(f"'{n}'" for n in known[:3])


def object_hook(
    cls: type, inner: Callable[[Any, type], Any], *, expected: str | None = None
) -> Callable[[Any, type], Any]:
    """`inner` (cattrs' generated hook for attrs class `cls`) behind a check that the value is
    a map."""
    want = expected or expected_object(cls)

    def structure(value: Any, target: type) -> Any:
        if not isinstance(value, Mapping):
            raise WrongType(f"expected {want}, found {described(value)}")
        return inner(value, target)

    return structure


def is_object_sequence(target: Any) -> bool:
    """``tuple[X, ...]`` (or ``list[X]``) of an attrs class `X`."""
    origin = typing.get_origin(target)
    args = typing.get_args(target)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return attrs.has(args[0])
    return origin is list and len(args) == 1 and attrs.has(args[0])


def sequence_hook_factory(target: Any, converter: Any) -> Callable[[Any, type], Any]:
    """The hook of a ``tuple[X, ...]`` of attrs class `X` on `converter`: a list is required
    (a string is not a list of its characters, a map not a list of its keys), and each item
    that does not fit is reported at its index."""
    item_type = typing.get_args(target)[0]
    items = expected_object(item_type).replace("an object", "objects", 1)
    as_tuple = typing.get_origin(target) is tuple

    def structure(value: Any, _: type) -> Any:
        if not isinstance(value, list):
            raise WrongType(f"expected a list of {items}, found {described(value)}")
        out: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                out.append(converter.structure(item, item_type))
            except Exception as exc:  # collected with its index, as cattrs does
                note = IterableValidationNote(f"Structuring item @ index {index}", index, item_type)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {target!r}", errors, target)
        return tuple(out) if as_tuple else out

    return structure
