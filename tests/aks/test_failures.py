"""Azure's errors as the backend error tree: the table in kaito_backends/aks/failures.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kaito_backends.aks import classify
from kaito_backends.aks.failures import error_codes, is_capacity, parse_retry_after
from kaito_backends.errors import (
    BackendError,
    Conflict,
    InsufficientCapacity,
    Invalid,
    NotFound,
    Transient,
)


@pytest.mark.parametrize(
    ("status", "codes", "message", "expected"),
    [
        (409, ["OperationNotAllowed"], "exceeding approved Cores quota", InsufficientCapacity),
        (400, ["QuotaExceeded"], "quota", InsufficientCapacity),
        (400, ["ErrCode_InsufficientVCPUQuota"], "vcpu", InsufficientCapacity),
        (200, ["AllocationFailed"], "no capacity", InsufficientCapacity),
        (200, ["ZonalAllocationFailed"], "zone", InsufficientCapacity),
        (409, ["SkuNotAvailable"], "size", InsufficientCapacity),
        (400, ["DeploymentFailed", "OverconstrainedAllocationRequest"], "x", InsufficientCapacity),
        (429, ["TooManyRequests"], "slow down", Transient),
        (500, ["InternalServerError"], "oops", Transient),
        (503, [], "unavailable", Transient),
        (None, [], "connection reset", Transient),
        (404, ["NotFound"], "gone", NotFound),
        (409, ["OperationNotAllowed"], "another operation is in progress", Conflict),
        (412, ["PreconditionFailed"], "etag", Conflict),
        (400, ["InvalidParameter"], "bad name", Invalid),
        (403, ["AuthorizationFailed"], "no permission", BackendError),
    ],
    ids=lambda v: str(v) if not isinstance(v, list | type) else None,
)
def test_classify(
    status: int | None, codes: list[str], message: str, expected: type[BackendError]
) -> None:
    error = classify(status=status, codes=codes, message=message, retry_after=None)
    assert type(error) is expected
    assert error.message == message


def test_a_failed_operation_without_a_capacity_code_is_a_plain_backend_error() -> None:
    error = classify(status=200, codes=["Failed"], message="x", operation_failed=True)
    assert type(error) is BackendError


def test_transient_carries_retry_after() -> None:
    error = classify(status=429, codes=[], message="x", retry_after=12.0)
    assert isinstance(error, Transient)
    assert error.delay == 12.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        (" 2.5 ", 2.5),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
    ids=["seconds", "zero", "float", "http-date", "empty", "absent", "garbage"],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_codes_are_read_from_nested_details() -> None:
    body = {
        "code": "DeploymentFailed",
        "details": [{"code": "Conflict", "details": [{"code": "AllocationFailed"}]}],
    }
    assert error_codes(body) == ["DeploymentFailed", "Conflict", "AllocationFailed"]
    assert is_capacity(error_codes(body), "")


def test_sdk_exceptions_map_too() -> None:
    """Connection failures from azure-core are Transient; our own errors pass through."""
    pytest.importorskip("azure.core", reason="the 'aks' extra is not installed")
    from azure.core.exceptions import ServiceRequestError

    from kaito_backends.aks import backend_error

    assert isinstance(backend_error(ServiceRequestError("refused")), Transient)
    own = NotFound("x")
    assert backend_error(own) is own
    assert type(backend_error(RuntimeError("boom"))) is BackendError
