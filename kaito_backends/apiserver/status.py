"""``Status`` bodies, the way the Kubernetes API server words its errors.

`ApiError` is raised by the request handlers and turned into a response by the server; its
body is a ``meta/v1 Status``::

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "workspaces.kaito.sh \\"x\\" not found", "reason": "NotFound",
     "details": {"name": "x", "group": "kaito.sh", "kind": "workspaces"}, "code": 404}

`from_backend` maps the `kaito_backends.errors` tree onto HTTP: NotFound 404, AlreadyExists and
Conflict 409, Forbidden 403 (a `NamespaceTerminating` carries the ``NamespaceTerminating``
cause client-go looks for), Gone 410 (reason ``Expired``), Invalid 422,
Transient 429 (when the fake named a Retry-After) or 500.
"""

from __future__ import annotations

from typing import Any

from kaito_backends.apiserver.registry import Resource
from kaito_backends.errors import (
    AlreadyExists,
    BackendError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NamespaceTerminating,
    NotFound,
    Transient,
)

__all__ = ["PAGE_NOT_FOUND", "ApiError", "from_backend", "status_body", "success_body"]

#: The body of a 404 for a path nothing serves (Go's ``http.NotFound``).
PAGE_NOT_FOUND = "404 page not found\n"


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``Status`` object (``details`` is left out when empty)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code
    return body


def success_body(details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success ``Status`` (what a collection delete returns, for instance)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }
    if details:
        body["details"] = details
    return body


def _details(
    resource: Resource | None, name: str | None, *, kind: str | None = None
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource is not None:
        if resource.group:
            details["group"] = resource.group
        details["kind"] = kind or resource.plural
    return details


class ApiError(Exception):
    """An error response: HTTP ``code``, a Kubernetes ``reason`` and a message."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after
        #: answered as ``text/plain`` (the router's ``404 page not found``), not as a Status
        self.plain = plain

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)

    # -- the common ones -------------------------------------------------------------------------
    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def not_found(cls, resource: Resource | None, name: str | None) -> ApiError:
        """A missing object (a Status), or with no ``resource`` a path nothing serves: the
        router's plain-text ``404 page not found``, as kube-apiserver answers an unknown API
        group, version, resource or subresource."""
        if resource is None:
            return cls(404, "NotFound", PAGE_NOT_FOUND.strip(), plain=True)
        what = resource.qualified
        message = (
            f'{what} "{name}" not found'
            if name
            else "the server could not find the requested resource"
        )
        return cls(404, "NotFound", message, details=_details(resource, name))

    @classmethod
    def method_not_allowed(cls, verb: str, resource: Resource | None) -> ApiError:
        what = resource.qualified if resource is not None else "this resource"
        return cls(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({verb} {what})",
            details=_details(resource, None),
        )

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> ApiError:
        return cls(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format: {content_type}",
        )

    @classmethod
    def invalid(cls, resource: Resource | None, name: str | None, message: str) -> ApiError:
        kind = resource.kind if resource is not None else None
        return cls(422, "Invalid", message, details=_details(resource, name, kind=kind))


def from_backend(error: BackendError, resource: Resource | None, name: str | None) -> ApiError:
    """The response for an error the fake cluster raised."""
    message = str(error)
    if isinstance(error, NotFound):
        return ApiError(404, "NotFound", message, details=_details(resource, name))
    if isinstance(error, AlreadyExists):
        return ApiError(409, "AlreadyExists", message, details=_details(resource, name))
    if isinstance(error, Conflict):
        return ApiError(409, "Conflict", message, details=_details(resource, name))
    if isinstance(error, Forbidden):
        details = _details(resource, name)
        if isinstance(error, NamespaceTerminating):
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {error.namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
        return ApiError(403, "Forbidden", message, details=details)
    if isinstance(error, Gone):
        return ApiError(410, "Expired", message)
    if isinstance(error, Invalid):
        kind = resource.kind if resource is not None else None
        return ApiError(422, "Invalid", message, details=_details(resource, name, kind=kind))
    if isinstance(error, Transient):
        if error.delay is not None:
            details = {**_details(resource, name), "retryAfterSeconds": max(1, round(error.delay))}
            return ApiError(
                429, "TooManyRequests", message, details=details, retry_after=error.delay
            )
        return ApiError(500, "InternalError", message, details=_details(resource, name))
    return ApiError(500, "InternalError", message)
