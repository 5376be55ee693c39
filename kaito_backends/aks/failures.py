"""Azure errors as `kaito_backends.errors`: what a caller can do about each.

`classify` is the table (a pure function of the HTTP status, the ARM error codes, the message and
Retry-After); `backend_error` reads those out of an ``azure.core`` exception.

=========================================================  =====================================
ARM says                                                    we raise
=========================================================  =====================================
a capacity code (`CAPACITY_CODES`) anywhere in the error,   `InsufficientCapacity` (Azure's
or ``OperationNotAllowed`` whose message speaks of quota    message, shown on the Workspace)
429, 5xx, connection errors and timeouts                    `Transient` (``delay`` = Retry-After)
404                                                         `NotFound`
409 (another operation in progress), 412                    `Conflict`
400, 422                                                    `Invalid`
anything else (401/403: credentials or permissions)         `BackendError`
=========================================================  =====================================

A failed long-running operation arrives as the status poll's answer (HTTP 200 with
``{"status": "Failed", "error": {...}}``): its codes decide, as above, else `BackendError`.
Messages are Azure's ``error.message`` (never headers, tokens or request bodies).
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kaito_backends.errors import (
    BackendError,
    Conflict,
    InsufficientCapacity,
    Invalid,
    NotFound,
    Transient,
)

__all__ = [
    "CAPACITY_CODES",
    "backend_error",
    "classify",
    "error_codes",
    "is_capacity",
    "parse_retry_after",
]

#: ARM/CRP/AKS error codes meaning "the machines cannot be had" (compared case-insensitively).
CAPACITY_CODES = frozenset(
    code.lower()
    for code in (
        "QuotaExceeded",
        "OperationNotAllowedQuotaExceeded",
        "InsufficientVCPUQuota",
        "ErrCode_InsufficientVCPUQuota",
        "AllocationFailed",
        "ZonalAllocationFailed",
        "OverconstrainedAllocationRequest",
        "OverconstrainedZonalAllocationRequest",
        "SkuNotAvailable",
        "VMSizeNotAvailable",
        "ZonalAllocationFailedWithRetries",
        "AllocationFailedWithRetries",
    )
)
_QUOTA_WORDS = ("quota", "insufficient capacity", "sufficient capacity")


def is_capacity(codes: Iterable[str], message: str) -> bool:
    """True when the error says quota or stock ran out."""
    lowered = [c.lower() for c in codes]
    if any(c in CAPACITY_CODES for c in lowered):
        return True
    text = message.lower()
    return "operationnotallowed" in lowered and any(w in text for w in _QUOTA_WORDS)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(
    *,
    status: int | None,
    codes: Sequence[str],
    message: str,
    retry_after: float | None = None,
    operation_failed: bool = False,
) -> BackendError:
    """The `BackendError` for an ARM answer (see the module table). Pure."""
    if is_capacity(codes, message):
        return InsufficientCapacity(message)
    if operation_failed:
        return BackendError(message)
    if status is None or status == 429 or status >= 500:
        return Transient(message, delay=retry_after)
    if status == 404:
        return NotFound(message)
    if status in (409, 412):
        return Conflict(message)
    if status in (400, 422):
        return Invalid(message)
    return BackendError(message)


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def error_codes(error: Any) -> list[str]:
    """Every ``code`` of an ARM error and its nested ``details``, outermost first.

    `error` is an ``azure.core`` ODataV4 error object or the ``error`` body as a dict.
    """
    codes: list[str] = []
    pending = [error]
    while pending:
        item = pending.pop(0)
        if item is None:
            continue
        code = _field(item, "code")
        if code:
            codes.append(str(code))
        pending.extend(_field(item, "details") or ())
    return codes


def _message(error: Any, fallback: str) -> str:
    text = getattr(error, "message", None) if error is not None else None
    return str(text or fallback).strip()


def backend_error(exc: BaseException, *, operation_failed: bool = False) -> BackendError:
    """The `BackendError` for an exception raised by an azure-mgmt client call or poller.

    ``operation_failed``: the exception came out of an LRO poller, so an HTTP 200 means the
    operation itself failed.
    """
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ServiceRequestError | ServiceResponseError | TimeoutError):
        return Transient(f"Azure Resource Manager unreachable: {exc}")
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        status = exc.status_code
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        failed_poll = operation_failed and status is not None and status < 300
        return classify(
            status=status,
            codes=error_codes(error),
            message=_message(error, exc.message or str(exc)),
            retry_after=parse_retry_after(headers.get("Retry-After")),
            operation_failed=failed_poll,
        )
    if type(exc).__name__ == "CredentialUnavailableError":
        return BackendError(f"no Azure credential available: {exc}")
    return BackendError(f"{type(exc).__name__}: {exc}")
