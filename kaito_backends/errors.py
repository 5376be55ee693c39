"""Errors every backend raises, and what a caller does about each.

Tree::

    BackendError(Exception)       anything a backend could not do
    ├── NotFound                  the object (or its subresource) does not exist (HTTP 404)
    │   └── KindNotServed         the server serves no such kind at all (HTTP 404 ``404 page
    │                             not found``, plain text): its CRD is not installed
    ├── Conflict                  a precondition failed: stale resourceVersion or uid (HTTP 409)
    │   └── AlreadyExists         create of a name that is taken (HTTP 409, reason AlreadyExists)
    ├── Gone                      a watch's resourceVersion is older than the retained history
    │                             (HTTP 410): list again, then watch from the list's version
    ├── Invalid                   the server rejected the object: bad name, immutable field,
    │                             finalizer added while deleting (HTTP 422)
    ├── Forbidden                 the server refuses the request as such (HTTP 403); retrying
    │   │                         the same call fails too
    │   └── NamespaceTerminating  a create in a namespace being deleted (403 with the cause
    │                             ``NamespaceTerminating``): the object is going away with its
    │                             namespace; stop working on it
    ├── InsufficientCapacity      the provider cannot hand out the machines asked for (quota,
    │   │                         stock); the message is the provider's own, shown to the user
    │   └── QuotaExceeded         a quota pre-flight found the machines do not fit, before
    │                             asking for them; the message says which quota and where to
    │                             ask for more
    └── Transient                 throttled (429), server error (5xx), timeout: try again,
        │                         after ``delay`` seconds when the server said so (Retry-After)
        └── Unreachable           no answer at all (connection refused or reset): the server
                                  is down or restarting; try again soon, backing off spares
                                  nobody

Callers catch by class, never by message (an `InsufficientCapacity`'s ``reason`` is what
the Workspace shows). Every error keeps the server's message as ``str(e)``
(also ``e.message``), so it can be shown on a Workspace condition unchanged.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "BackendError",
    "Conflict",
    "Forbidden",
    "Gone",
    "InsufficientCapacity",
    "Invalid",
    "KindNotServed",
    "NamespaceTerminating",
    "NotFound",
    "QuotaExceeded",
    "Transient",
    "Unreachable",
]


class BackendError(Exception):
    """Base of every error a backend raises; ``message`` is the server's or provider's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BackendError):
    """The object does not exist. Reads: treat as absent. Deletes: already done."""


class KindNotServed(NotFound):
    """The API server does not serve the kind at all: a custom resource whose
    CustomResourceDefinition is not installed (a real server answers ``404 page not found`` as
    plain text, not a Status). Reads treat it as absent (a list is empty); a write cannot
    succeed until the CRD is installed.

    ``api_version`` and ``kind`` name it when known; `reason` (``NodeClaimCRDMissing``) is what
    an object waiting for it shows on its ResourceReady condition.
    """

    def __init__(self, message: str, *, api_version: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.api_version = api_version
        self.kind = kind

    @property
    def reason(self) -> str:
        return f"{self.kind}CRDMissing" if self.kind else "CRDMissing"


class Conflict(BackendError):
    """A precondition failed (stale ``resourceVersion`` or ``uid``): re-read and try again."""


class AlreadyExists(Conflict):
    """``create`` of a name that is taken. Use ``apply`` when "create or update" is meant."""


class Gone(BackendError):
    """The watch's ``resource_version`` is no longer retained (HTTP 410): relist, then rewatch."""


class Invalid(BackendError):
    """The server rejected the object (HTTP 422). Retrying the same object fails the same way."""


class Forbidden(BackendError):
    """The server refuses the request (HTTP 403), e.g. new content in a namespace that is being
    terminated. Retrying the same call fails the same way until the cause is gone."""


class NamespaceTerminating(Forbidden):
    """New content in a namespace that is being deleted (HTTP 403 ``unable to create new content
    in namespace X because it is being terminated``, cause ``NamespaceTerminating``). Everything
    in the namespace is going away: stop working on objects there instead of retrying.

    ``namespace`` is the namespace's name (``""`` when the message did not say)."""

    def __init__(self, message: str, *, namespace: str = "") -> None:
        super().__init__(message)
        self.namespace = namespace


class InsufficientCapacity(BackendError):
    """Machines cannot be had (quota, stock); the message is the provider's, for the user."""

    #: the ResourceReady reason a Workspace shows the refusal with
    reason = "InsufficientCapacity"


class QuotaExceeded(InsufficientCapacity):
    """The machines do not fit the quota (checked before asking for them): nothing was made.

    The message names the quota, the amount needed, used and allowed, and where to request more.
    """

    reason = "QuotaExceeded"


class Transient(BackendError):
    """Throttling (429), server errors (5xx) and timeouts: retry with backoff.

    ``delay`` is the server's Retry-After in seconds, when it sent one; otherwise ``None`` and the
    caller picks its own backoff.
    """

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class Unreachable(Transient):
    """Nothing answered: the connection was refused or dropped before a response.

    A server that is restarting answers again within seconds; waiting longer and longer (as for
    an overloaded server's 429s and 5xx) would only leave the caller blind after it is back.
    """
