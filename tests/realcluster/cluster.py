"""What the real-cluster tests share: the running control plane, its audit log, waiting.

`RealCluster` is what the session fixture ``real_cluster`` yields: the `ControlPlane`
(``tools.cluster``), the operator process, kubectl and kubernetes-asyncio clients, and the
audit log read as `AuditEvent` values. Adding a test to the tier: take the fixtures of
``conftest.py`` (``real_cluster``, ``kubectl``, ``kube``, ``namespace``, ``operator``), make
your objects in your own ``namespace``, wait with `eventually`, and leave the cluster as you
found it (the operator running, cluster-scoped objects you made deleted).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kaito_backends.kubernetes import KubernetesClient
from tests.e2e.kubectl import Kubectl
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import NAMESPACE, SERVICE_ACCOUNT, Operator

__all__ = [
    "OPERATOR_FLAGS",
    "OPERATOR_USER",
    "RESYNC_SECONDS",
    "WRITE_VERBS",
    "AuditEvent",
    "RealCluster",
    "close_tls_client",
    "eventually",
    "now",
]

#: The operator's identity on the API server (its ServiceAccount).
OPERATOR_USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
#: How often the tier's operator resyncs (the steady-state test waits for two).
RESYNC_SECONDS = 10
#: The tier's operator: frequent resyncs, and a renew deadline longer than an API server
#: restart takes on a busy machine (a leader that cannot renew for --renew-deadline exits, as
#: client-go's do; the restart test checks the informers, not that).
OPERATOR_FLAGS = (
    f"--resync-period={RESYNC_SECONDS}",
    "--lease-duration=60",
    "--renew-deadline=45",
    "--retry-period=2",
)
T = TypeVar("T")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class AuditEvent:
    """One audit log entry (``Metadata`` level, stage ResponseComplete or ResponseStarted)."""

    user: str
    verb: str
    uri: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    received: datetime.datetime
    stage: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> AuditEvent:
        ref = entry.get("objectRef") or {}
        return cls(
            user=str((entry.get("user") or {}).get("username") or ""),
            verb=str(entry.get("verb") or ""),
            uri=str(entry.get("requestURI") or ""),
            group=str(ref.get("apiGroup") or ""),
            resource=str(ref.get("resource") or ""),
            subresource=str(ref.get("subresource") or ""),
            namespace=str(ref.get("namespace") or ""),
            name=str(ref.get("name") or ""),
            code=int((entry.get("responseStatus") or {}).get("code") or 0),
            received=_time(str(entry.get("requestReceivedTimestamp"))),
            stage=str(entry.get("stage") or ""),
        )

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def field_manager(self) -> str | None:
        """The ``fieldManager`` query parameter of the request, if any."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.uri).query)
        values = query.get("fieldManager")
        return values[0] if values else None

    def __str__(self) -> str:
        return f"{self.received:%H:%M:%S.%f} {self.user} {self.verb} {self.uri} -> {self.code}"


@dataclass
class RealCluster:
    """The tier's control plane with kaito installed and its operator running."""

    plane: ControlPlane
    operator: Operator

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    def kubectl(self, cache: Path) -> Kubectl:
        return Kubectl(self.kubeconfig, cache, binary=self.plane.binary("kubectl"))

    # -- the audit log ---------------------------------------------------------------------------
    def audit_mark(self) -> int:
        """A position in the audit log: `audit` after it sees only later requests."""
        try:
            return self.plane.audit_log.stat().st_size
        except FileNotFoundError:
            return 0

    def audit(self, after: int = 0, *, user: str | None = None) -> list[AuditEvent]:
        """The audit events written after position ``after`` (of ``user`` only, when given)."""
        with self.plane.audit_log.open("rb") as log:
            log.seek(after)
            data = log.read()
        events = []
        for line in data.splitlines():
            try:
                event = AuditEvent.of(json.loads(line))
            except (ValueError, TypeError):
                continue  # a line being written
            if user is None or event.user == user:
                events.append(event)
        return events

    def ensure_operator(self) -> None:
        """Start the session's operator again if a test stopped it."""
        if not self.operator.running():
            self.operator.start()


async def close_tls_client(client: KubernetesClient) -> None:
    """Close a client and give its TLS connections the loop iterations their shutdown takes
    (aiohttp closes them asynchronously; a test's event loop ends right after its fixtures)."""
    await client.close()
    await asyncio.sleep(0.25)


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 120.0,
    interval: float = 0.5,
    what: str = "condition",
) -> T:
    """Poll ``check()`` until it returns something truthy; that value. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s (last: {last!r})")
        await asyncio.sleep(interval)
