"""Reading an ``admission.k8s.io/v1`` AdmissionReview from an untrusted body.

`decode_review` returns the review's ``request`` only when every field the webhook reads has
the type the API server sends; anything else is a `ReviewError` (the webhook answers 400,
reason ``BadRequest``), so a malformed review is never allowed unjudged and never crashes the
judging:

- the body: JSON within `kaito_backends.documents` bounds (size, depth, finite numbers);
- ``apiVersion: admission.k8s.io/v1``, ``kind: AdmissionReview``, a ``request`` object;
- ``request.uid``: a non-empty string;
- ``request.operation``: one of `OPERATIONS` (a number, a list or any other string is refused);
- ``request.kind``: an object whose ``group``, ``version`` and ``kind`` are strings;
- ``request.name``, ``request.namespace``, ``request.subResource``: strings when present;
- ``request.object``, ``request.oldObject``: objects when present (``null`` is absent);
- ``request.dryRun``: a boolean when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.documents import DocumentError, load_json

__all__ = ["ADMISSION_API_VERSION", "OPERATIONS", "ReviewError", "decode_review"]

ADMISSION_API_VERSION = "admission.k8s.io/v1"
#: The operations an AdmissionReview can carry.
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
_STRINGS = ("name", "namespace", "subResource")
_OBJECTS = ("object", "oldObject")


class ReviewError(ValueError):
    """The body is not a well-formed AdmissionReview v1; ``str(error)`` says why (one line).

    ``uid`` is the request's uid when the body had a readable one (else ``""``), so the answer
    can still name the request.
    """

    def __init__(self, message: str, *, uid: str = "") -> None:
        super().__init__(message)
        self.uid = uid


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "string"


def decode_review(body: bytes | str, *, max_bytes: int) -> Mapping[str, Any]:
    """The review's ``request``; raises `ReviewError` (see the module docstring)."""
    try:
        review = load_json(body, max_bytes=max_bytes)
    except DocumentError as exc:
        raise ReviewError(f"the request body is not a JSON AdmissionReview: {exc}") from None
    if not isinstance(review, dict):
        raise ReviewError("the request body is not a JSON object")
    if review.get("apiVersion") != ADMISSION_API_VERSION or review.get("kind") != "AdmissionReview":
        raise ReviewError(f"expected an AdmissionReview of {ADMISSION_API_VERSION}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("the AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("the AdmissionReview request has no uid")
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        shown = repr(operation)[:40] if isinstance(operation, str) else _type(operation)
        raise ReviewError(
            f"request.operation must be one of CONNECT, CREATE, DELETE, UPDATE (got {shown})",
            uid=uid,
        )
    kind = request.get("kind")
    if not isinstance(kind, dict):
        raise ReviewError(f"request.kind must be an object (got {_type(kind)})", uid=uid)
    for field in ("group", "version", "kind"):
        if not isinstance(kind.get(field), str):
            raise ReviewError(
                f"request.kind.{field} must be a string (got {_type(kind.get(field))})", uid=uid
            )
    for field in _STRINGS:
        value = request.get(field)
        if value is not None and not isinstance(value, str):
            raise ReviewError(f"request.{field} must be a string (got {_type(value)})", uid=uid)
    for field in _OBJECTS:
        value = request.get(field)
        if value is not None and not isinstance(value, dict):
            raise ReviewError(f"request.{field} must be an object (got {_type(value)})", uid=uid)
    dry_run = request.get("dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise ReviewError(f"request.dryRun must be a boolean (got {_type(dry_run)})", uid=uid)
    return request
