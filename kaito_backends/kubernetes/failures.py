"""HTTP failures of the Kubernetes API, as `kaito_backends.errors`.

The API server answers a failed request with a ``meta/v1 Status`` body (``code``, ``reason``,
``message``, ``details``). `error_from_status` maps it, by code first and reason second:

======  ==========================================  =====================================
code    reason                                      raised
======  ==========================================  =====================================
404     a Status                                    `NotFound`
404     no Status (``404 page not found``, text)    `KindNotServed` (a `NotFound`: no CRD)
409     ``AlreadyExists``                           `AlreadyExists`
409     anything else (``Conflict``)                `Conflict`
410     ``Expired`` / ``Gone``                      `Gone`
400     ``BadRequest``                              `Invalid` (the request cannot succeed)
422     ``Invalid``                                 `Invalid`
429     ``TooManyRequests``                         `Transient` (delay: Retry-After)
5xx     ``InternalError``, ``ServiceUnavailable``.. `Transient` (delay: Retry-After)
401     ``Unauthorized``                            `ApiError` (a `BackendError`)
403     cause ``NamespaceTerminating``              `NamespaceTerminating` (a `Forbidden`)
403     ``Forbidden``                               `ApiError` (missing RBAC: see docs)
other   any                                         `ApiError`
======  ==========================================  =====================================

A Retry-After header wins over ``details.retryAfterSeconds``. A request that got no answer is
`Unreachable` (refused, reset, dropped: a `Transient`) or, when it timed out, a `Transient`
(`transport_error`); neither has a delay. Every error keeps the
server's message, so it can be shown on a Workspace condition unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kaito_backends.errors import (
    AlreadyExists,
    BackendError,
    Conflict,
    Gone,
    Invalid,
    KindNotServed,
    NamespaceTerminating,
    NotFound,
    Transient,
    Unreachable,
)

__all__ = ["ApiError", "error_from_status", "parse_status", "retry_after", "transport_error"]


class ApiError(BackendError):
    """An HTTP failure with no class of its own in the tree (401, 403, 405, 415, ...).

    ``code`` is the HTTP status, ``reason`` the Status reason (``Forbidden``, ...).
    """

    def __init__(self, message: str, *, code: int, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def parse_status(body: bytes | str | None) -> dict[str, Any]:
    """The Status object of an error body; ``{}`` when the body is not a JSON object."""
    if not body:
        return {}
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def retry_after(headers: Mapping[str, str] | None, status: Mapping[str, Any]) -> float | None:
    """Seconds to wait before retrying: the Retry-After header, else the Status' details."""
    if headers:
        value = headers.get("Retry-After")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass  # an HTTP-date: fall through to the Status (the API server sends seconds)
    details = status.get("details")
    if isinstance(details, Mapping):
        seconds = details.get("retryAfterSeconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return max(0.0, float(seconds))
    return None


def error_from_status(
    code: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
) -> BackendError:
    """The `BackendError` for an HTTP error answer (see the table in the module docstring)."""
    status: Mapping[str, Any] = body if isinstance(body, Mapping) else parse_status(body)
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or "")
    if not message:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text.strip() if isinstance(text, str) and text.strip() else f"HTTP {code}"
        if reason:
            message = f"{reason}: {message}"
    if code == 404:
        if not isinstance(body, Mapping) and not status:
            return KindNotServed(message)  # the router's text: nothing serves the path
        return NotFound(message)
    if code == 409:
        return AlreadyExists(message) if reason == "AlreadyExists" else Conflict(message)
    if code == 410:
        return Gone(message)
    if code in (400, 422):
        return Invalid(message)
    if code == 429 or code >= 500:
        return Transient(message, delay=retry_after(headers, status))
    if code == 403:
        terminating = _namespace_terminating(status)
        if terminating is not None:
            return NamespaceTerminating(message, namespace=terminating)
    return ApiError(message, code=code, reason=reason)


def _namespace_terminating(status: Mapping[str, Any]) -> str | None:
    """The namespace named by a ``NamespaceTerminating`` cause of a Status (``""`` when the
    cause names none); None when there is no such cause. The NamespaceLifecycle admission puts
    it in ``details.causes`` (``{"reason": "NamespaceTerminating", "message": "namespace X is
    being terminated", "field": "metadata.namespace"}``), as client-go's
    ``HasStatusCause(err, NamespaceTerminatingCause)`` reads it."""
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, Mapping) else None
    for cause in causes if isinstance(causes, list) else ():
        if isinstance(cause, Mapping) and cause.get("reason") == "NamespaceTerminating":
            words = str(cause.get("message") or "").split()
            return words[1] if len(words) > 1 and words[0] == "namespace" else ""
    return None


def transport_error(error: BaseException, what: str) -> Transient:
    """The error of a request that got no answer: `Unreachable` when the connection failed
    (refused, reset, closed), a plain `Transient` when it timed out (the server may be busy)."""
    detail = str(error) or type(error).__name__
    if isinstance(error, TimeoutError):  # asyncio's, aiohttp's and socket timeouts
        return Transient(f"{what}: {detail}")
    return Unreachable(f"{what}: {detail}")
