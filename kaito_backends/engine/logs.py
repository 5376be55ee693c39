"""Structured logs for the engine (structlog): console or JSON, one line per event.

- A library configures no logging and prints nothing: every logger kaito-py's backends use comes
  from `library_logger`, which writes nothing until *someone* configures structlog (the ``kaito``
  command calls `configure_logging`; an embedding application calls `configure_logging` or its
  own ``structlog.configure``). structlog's own unconfigured default would print every event to
  standard output, so we never hand out a plain ``structlog.get_logger()``.
- `configure_logging` sets structlog up once for the process: ``format="console"`` (coloured
  when the stream is a terminal) or ``"json"`` (one JSON object per line, for log shippers), a
  minimum ``level``, ISO timestamps, and the `redact` processor.
- `engine_logger` is the logger the engine binds per reconcile: every line of one reconcile
  carries ``workspace`` (``namespace/name``) and ``reconcile_id``; a `structlog.contextvars`
  binding made by an embedding application is merged in too.
- Secrets are never logged. The engine logs keys, kinds, names, reasons and counts, never a
  manifest; `redact` is the safety net for anything that slips through: values under ``env``,
  ``data``, ``stringData``, ``binaryData`` and keys that look like credentials (``token``,
  ``password``, ``secret``, ``apiKey``, ...) are replaced by ``"[redacted]"``, at any depth.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog

__all__ = [
    "REDACTED",
    "LogFormat",
    "configure_logging",
    "engine_logger",
    "library_logger",
    "redact",
]

LogFormat = Literal["console", "json"]
REDACTED = "[redacted]"

#: Keys whose whole value is withheld (Pod env lists, Secret and ConfigMap payloads).
_WITHHELD = frozenset({"env", "envFrom", "data", "stringData", "binaryData"})
#: Key fragments that mark a credential, compared case-insensitively.
_CREDENTIAL_MARKERS = ("token", "password", "passwd", "secret", "apikey", "api_key", "credential")
#: Keys the engine itself binds, never redacted even if they contain a marker.
_SAFE_KEYS = frozenset({"event", "workspace", "reconcile_id", "level", "timestamp", "logger"})


def _sensitive(key: str) -> bool:
    if key in _WITHHELD:
        return True
    lower = key.lower()
    return any(marker in lower for marker in _CREDENTIAL_MARKERS)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 32:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _sensitive(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: withhold secret-looking values anywhere in the event."""
    for key in list(event_dict):
        if key in _SAFE_KEYS:
            continue
        value = event_dict[key]
        if _sensitive(key):
            event_dict[key] = REDACTED
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = _scrub(value)
    return event_dict


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class _Stderr:
    """Standard error as it is *when a line is written*: a program (or a test harness) that swaps
    ``sys.stderr`` after logging was configured must not leave loggers on a closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_STDERR = _Stderr()


def configure_logging(
    *,
    format: LogFormat = "console",
    level: str = "info",
    stream: TextIO | None = None,
    colors: bool | None = None,
) -> None:
    """Configure structlog for the whole process (call once, at start-up).

    ``stream`` defaults to standard error; ``colors`` defaults to "is the stream a terminal".
    """
    if format not in ("console", "json"):
        raise ValueError(f"unknown log format {format!r}: use 'console' or 'json'")
    try:
        threshold = _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}") from None
    out = stream if stream is not None else _STDERR
    renderer: Any
    if format == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        use_colors = colors if colors is not None else bool(getattr(out, "isatty", lambda: False)())
        renderer = structlog.dev.ConsoleRenderer(colors=use_colors)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
        structlog.processors.format_exc_info if format == "json" else _passthrough,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def _passthrough(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return event_dict


class _QuietUntilConfigured:
    """A structlog-shaped logger that drops every event while structlog is unconfigured.

    It asks `structlog.is_configured` on every call, so an application that configures logging
    after building a Controller still gets the lines; once configured, `bind` and friends hand
    out the real structlog logger (no per-call cost on the configured path).
    """

    __slots__ = ("_context", "_name")

    def __init__(self, name: str, context: dict[str, Any]) -> None:
        self._name = name
        self._context = context

    def _real(self) -> Any:
        return structlog.get_logger(self._name).bind(**self._context)

    def bind(self, **values: Any) -> Any:
        if structlog.is_configured():
            return self._real().bind(**values)
        return _QuietUntilConfigured(self._name, {**self._context, **values})

    def new(self, **values: Any) -> Any:
        return _QuietUntilConfigured(self._name, {}).bind(**values)

    def unbind(self, *keys: str) -> Any:
        missing = [k for k in keys if k not in self._context]
        if missing:
            raise KeyError(missing[0])
        return self.try_unbind(*keys)

    def try_unbind(self, *keys: str) -> Any:
        kept = {k: v for k, v in self._context.items() if k not in keys}
        return _QuietUntilConfigured(self._name, kept).bind()

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def log(*args: Any, **kwargs: Any) -> Any:
            if not structlog.is_configured():
                return None
            return getattr(self._real(), method)(*args, **kwargs)

        return log


def library_logger(name: str, **bound: Any) -> Any:
    """The logger library code uses: ``logger=name`` and ``bound`` on every line, and silent
    (nothing printed, nothing formatted) until structlog is configured by the application."""
    return _QuietUntilConfigured(name, {"logger": name, **bound}).bind()


def engine_logger(**bound: Any) -> Any:
    """The engine's logger (``logger="kaito.engine"``) with ``bound`` key/values on every line;
    silent until structlog is configured (see `library_logger`)."""
    return library_logger("kaito.engine", **bound)
