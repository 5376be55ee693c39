"""The API server's audit log as request counts: one user's requests between two positions,
by verb and resource.

`Audit` reads the plane's audit log (``Metadata`` level, one JSON line per stage of a request;
the policy leaves out ``RequestReceived``) between marks: `Audit.mark` is the position after the
last complete line, so consecutive windows neither lose nor repeat a request. `counted` keeps one
entry per request: a watch when its response starts (it may last for minutes), any other request
when it completes. `resource_of` names the resource as kubectl does
(``workspaces.kaito.sh/status``). Lease requests (leader election, `BOOKKEEPING`) are counted
but kept apart from the per-Workspace figures by `requests` and `writes`.
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

from tests.realcluster.cluster import WRITE_VERBS, AuditEvent

__all__ = ["BOOKKEEPING", "Audit", "counted", "requests", "resource_of", "writes"]

#: Requests that are not about Workspaces: the leader-election Lease.
BOOKKEEPING = frozenset({"leases.coordination.k8s.io"})


def counted(event: AuditEvent) -> bool:
    """Whether this audit entry stands for a request (each request once: a watch's entry when
    its response starts, any other request's when it completes)."""
    if event.stage == "ResponseStarted":
        return True
    if event.stage not in ("ResponseComplete", "Panic"):
        return False
    return not (event.verb == "watch" and event.code == 200)


def resource_of(event: AuditEvent) -> str:
    """``resource.group/subresource`` as kubectl spells it (``leases.coordination.k8s.io``)."""
    if not event.resource:
        return f"(non-resource) {event.uri.split('?', 1)[0]}"
    name = f"{event.resource}.{event.group}" if event.group else event.resource
    return f"{name}/{event.subresource}" if event.subresource else name


class Audit:
    """The plane's audit log, read between positions (marks), one user's requests."""

    def __init__(self, log: Path, user: str) -> None:
        self.log = log
        self.user = user
        self._needle = json.dumps(user).encode()

    def mark(self) -> int:
        """The position after the last complete line written so far."""
        try:
            with self.log.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - 65536))
                tail = f.read()
        except FileNotFoundError:
            return 0
        return size - len(tail) + tail.rfind(b"\n") + 1

    def events(self, start: int, end: int | None = None) -> list[AuditEvent]:
        """The user's counted requests between two marks."""
        with self.log.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
        found = []
        for line in data.splitlines():
            if self._needle not in line:
                continue
            try:
                event = AuditEvent.of(json.loads(line))
            except (ValueError, TypeError):
                continue
            if event.user == self.user and counted(event):
                found.append(event)
        return found

    def tally(self, start: int, end: int) -> dict[str, int]:
        """``"<verb> <resource>"`` -> requests between two marks."""
        counts = collections.Counter(f"{e.verb} {resource_of(e)}" for e in self.events(start, end))
        return dict(sorted(counts.items()))


def writes(tally: dict[str, int], *, bookkeeping: bool = False) -> int:
    """The writes of a tally: Workspace work, or (``bookkeeping``) Lease writes only."""
    return sum(
        n
        for key, n in tally.items()
        if key.split(" ", 1)[0] in WRITE_VERBS
        and (key.split(" ", 1)[1] in BOOKKEEPING) == bookkeeping
    )


def requests(tally: dict[str, int], *, bookkeeping: bool = False) -> int:
    """The requests of a tally: Workspace work, or (``bookkeeping``) Lease requests only."""
    return sum(
        n for key, n in tally.items() if (key.split(" ", 1)[1] in BOOKKEEPING) == bookkeeping
    )
