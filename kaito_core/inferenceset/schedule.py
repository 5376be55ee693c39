"""The maintenance window's syntax: 5-field cron schedules and Go durations.

Pure: no I/O, no clock, no logging.

Upstream validates ``spec.autoUpgrade.maintenanceWindow`` with ``cron.ParseStandard``
(github.com/robfig/cron/v3) and decodes ``duration`` with Go's ``time.ParseDuration``; these
functions accept the same language and say what is wrong in their own words:

- a schedule is five fields (minute, hour, day of month, month, day of week), each a comma list
  of ``*``, ``?``, ``N`` or ``N-M``, optionally ``/step``; months and weekdays may be named
  (``jan``, ``mon``, case-insensitive); or one of ``@yearly``, ``@annually``, ``@monthly``,
  ``@weekly``, ``@daily``, ``@midnight``, ``@hourly``, ``@every <duration>``. A ``TZ=``/
  ``CRON_TZ=`` prefix is accepted only for ``UTC`` (the window is defined in UTC, and time-zone
  data is not something pure code reads);
- a duration is a sequence of decimal numbers with units ``ns``, ``us``, ``µs``, ``ms``, ``s``,
  ``m``, ``h`` (``4h``, ``1h30m``, ``-2.5s``), or ``0``.
"""

from __future__ import annotations

import re

__all__ = ["cron_problem", "parse_duration_seconds"]

_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = {
    name: index + 1
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DAYS = {
    name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
#: (name, minimum, maximum, names) of the five fields.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 MICRO SIGN
    "μs": 1e-6,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]+)")


def parse_duration_seconds(text: str) -> float | None:
    """`text` as Go's ``time.ParseDuration`` reads it, in seconds; None when it is not one.

    Pure: no I/O, no clock, no logging.
    """
    rest = text
    sign = 1.0
    if rest[:1] in ("+", "-"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        return None
    total = 0.0
    position = 0
    while position < len(rest):
        match = _DURATION_PART.match(rest, position)
        if match is None:
            return None
        number, unit = match.groups()
        if number in ("", ".") or unit not in _UNITS:
            return None
        total += float(number) * _UNITS[unit]
        position = match.end()
    return sign * total


def _value(text: str, low: int, high: int, names: dict[str, int], field: str) -> int | str:
    """A number or name of one field, or the problem with it."""
    if text.lower() in names:
        return names[text.lower()]
    if not text.isascii() or not text.isdigit():
        return f"{field}: {text!r} is not a number"
    value = int(text)
    if value < low or value > high:
        return f"{field}: {value} is outside {low}-{high}"
    return value


def _field_problem(text: str, field: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in text.split(","):
        span, _, step = item.partition("/")
        if "/" in item and (not step.isascii() or not step.isdigit() or int(step) == 0):
            return f"{field}: the step in {item!r} must be a positive number"
        if span in ("*", "?"):
            continue
        start_text, dash, end_text = span.partition("-")
        start = _value(start_text, low, high, names, field)
        if isinstance(start, str):
            return start
        if dash:
            end = _value(end_text, low, high, names, field)
            if isinstance(end, str):
                return end
            if start > end:
                return f"{field}: the range {span!r} starts after it ends"
    return None


def cron_problem(schedule: str) -> str | None:
    """Why `schedule` is not a standard cron schedule (see the module docstring), else None.

    Pure: no I/O, no clock, no logging.
    """
    spec = schedule.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, spec = spec.partition(" ")
        if zone.split("=", 1)[1] != "UTC":
            return f"time zone {zone.split('=', 1)[1]!r} is not supported: the window is in UTC"
        spec = spec.strip()
    if spec.startswith("@every "):
        seconds = parse_duration_seconds(spec[len("@every ") :].strip())
        if seconds is None:
            return f"{spec!r}: not a valid duration after @every"
        return None  # robfig/cron rounds anything under a second up to one
    if spec.startswith("@"):
        return None if spec in _DESCRIPTORS else f"unrecognized descriptor {spec!r}"
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        return (
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), "
            f"found {len(fields)}"
        )
    for text, (field, low, high, names) in zip(fields, _FIELDS, strict=True):
        problem = _field_problem(text, field, low, high, names)
        if problem is not None:
            return problem
    return None
