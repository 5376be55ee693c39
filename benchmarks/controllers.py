"""The controller a real-cluster benchmark measures: kaito's operator, or any command.

`KaitoOperator` is this checkout's ``kaito operator --backend karpenter``, started by the tier's
`tools.cluster.operator.Operator` as its ServiceAccount (a TokenRequest token, so the RBAC
``kaito manifests`` renders is what authorises it).

`CommandController` runs any command line, so a controller that is not ours (upstream KAITO's
workspace controller, once a binary of it can be had) is measured and compared the same way. The
command is a template: split like a shell would (`shlex`, never run by a shell), then each
argument's placeholders filled in:

=================  ==============================================================================
``{kubeconfig}``   a kubeconfig with a fresh token of the ServiceAccount (``--service-account``)
``{health_port}``  a free port for its health endpoints (``ready_url`` polls it)
``{metrics_port}`` a free port for its metrics
``{webhook_port}`` the port ``kaito manifests``' webhook configuration calls (0 when none)
``{webhook_cert}`` ``{webhook_key}``: a serving certificate for 127.0.0.1 signed by the cluster CA
``{node_class}``   Karpenter-kwok's node class, ``karpenter.kwok.sh/KWOKNodeClass/default``
``{name}``         the process' name (its log is ``<state>/logs/<name>.log``)
``{python}``       this interpreter; ``{root}`` this checkout
=================  ==============================================================================

An unknown placeholder, or anything but a plain name in braces, is refused before anything
starts. The process is started detached and stopped by PID (`tools.cluster.processes`), its
requests are the ones the API server's audit log attributes to the ServiceAccount, and its
resident memory is read from ``/proc`` (the process and its descendants).
"""

from __future__ import annotations

import os
import shlex
import string
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tools.cluster import processes
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import (
    NAMESPACE,
    NODE_CLASS,
    ROOT,
    SERVICE_ACCOUNT,
    Operator,
    service_account_token,
)
from tools.cluster.ports import free_ports
from tools.cluster.rest import Rest

__all__ = [
    "PLACEHOLDERS",
    "CommandController",
    "Controller",
    "KaitoOperator",
    "TemplateError",
    "render",
    "rss_kib",
    "service_account_user",
]

PLACEHOLDERS = (
    "health_port",
    "kubeconfig",
    "metrics_port",
    "name",
    "node_class",
    "python",
    "root",
    "webhook_cert",
    "webhook_key",
    "webhook_port",
)


class TemplateError(ValueError):
    """A command template that cannot be filled in (the message says why)."""


class Controller(Protocol):
    """What the benchmark needs of the controller it measures."""

    #: the user the API server's audit log names for its requests
    user: str
    #: one line saying what runs
    description: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def pid(self) -> int | None: ...


def service_account_user(namespace: str, name: str) -> str:
    """The user name of a ServiceAccount's token in the audit log."""
    return f"system:serviceaccount:{namespace}:{name}"


def render(template: str, values: dict[str, str]) -> list[str]:
    """The argument list of ``template`` with its placeholders filled in (module docstring)."""
    try:
        words = shlex.split(template)
    except ValueError as error:
        raise TemplateError(f"--controller-command: {error}") from None
    if not words:
        raise TemplateError("--controller-command is empty")
    argv = []
    for word in words:
        out = []
        try:
            parsed = list(string.Formatter().parse(word))
        except ValueError as error:
            raise TemplateError(f"--controller-command: {word!r}: {error}") from None
        for literal, name, spec, conversion in parsed:
            out.append(literal)
            if name is None:
                continue
            if name not in PLACEHOLDERS or spec or conversion:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise TemplateError(
                    f"--controller-command: unknown placeholder {{{name}}} in {word!r}; "
                    f"known: {known}"
                )
            out.append(values[name])
        argv.append("".join(out))
    return argv


def rss_kib(pid: int) -> tuple[int, int]:
    """(resident, peak resident) KiB of ``pid`` and its descendants, from ``/proc``."""
    rss = peak = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak += int(line.split()[1])
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(c) for c in task.read_text().split()]
            except (OSError, ValueError):
                continue
    return rss, peak


@dataclass
class KaitoOperator:
    """This checkout's operator, run by the tier's `Operator` (or one already running)."""

    operator: Operator
    user: str = service_account_user(NAMESPACE, SERVICE_ACCOUNT)

    @classmethod
    def on(cls, plane: ControlPlane, *, extra: tuple[str, ...] = ()) -> KaitoOperator:
        return cls(Operator(plane, extra=extra))

    @property
    def description(self) -> str:
        extra = " ".join(self.operator.extra)
        return f"kaito operator --backend {self.operator.backend} (this checkout) {extra}".strip()

    def start(self) -> None:
        if not self.operator.running():
            self.operator.start()

    def stop(self) -> None:
        self.operator.stop()

    def pid(self) -> int | None:
        record = self.operator.record()
        return record.pid if record is not None and processes.alive(record) else None


@dataclass
class CommandController:
    """Any controller, started from a command template (see the module docstring)."""

    plane: ControlPlane
    template: str
    service_account: tuple[str, str] = (NAMESPACE, SERVICE_ACCOUNT)
    name: str = "bench-controller"
    #: polled until it answers ``ok`` (placeholders allowed); None: wait ``settle`` seconds
    ready_url: str | None = "http://127.0.0.1:{health_port}/healthz"
    settle: float = 5.0
    timeout: float = 90.0
    argv: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # refuse a bad template before anything starts
        render(self.template, dict.fromkeys(PLACEHOLDERS, ""))
        if self.ready_url is not None:
            render(self.ready_url, dict.fromkeys(PLACEHOLDERS, ""))

    @property
    def user(self) -> str:
        return service_account_user(*self.service_account)

    @property
    def description(self) -> str:
        return self.template

    def _values(self) -> dict[str, str]:
        plane = self.plane
        kubeconfig = plane.state / "kubeconfigs" / f"{self.name}.kubeconfig"
        namespace, account = self.service_account
        token = service_account_token(plane, namespace=namespace, name=account)
        plane.write_kubeconfig(kubeconfig, user=self.user, token=token)
        health, metrics = free_ports(2)
        return {
            "health_port": str(health),
            "kubeconfig": str(kubeconfig),
            "metrics_port": str(metrics),
            "name": self.name,
            "node_class": NODE_CLASS,
            "python": sys.executable,
            "root": str(ROOT),
            "webhook_cert": str(plane.pki.cert("webhook")),
            "webhook_key": str(plane.pki.key("webhook")),
            "webhook_port": str(plane.layout.ports.get("webhook", 0)),
        }

    def start(self) -> None:
        values = self._values()
        self.argv = render(self.template, values)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}
        record = processes.start(self.plane.state, self.name, self.argv, env=env, cwd=ROOT)
        ready = self._ready(values)
        deadline = time.monotonic() + (self.settle if ready is None else self.timeout)
        while processes.alive(record) and time.monotonic() < deadline:
            if ready is not None and ready():
                return
            time.sleep(0.2)
        if not processes.alive(record):
            tail = self.plane.log(self.name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited during start-up; its log ends:\n{tail}")
        if ready is not None:
            self.stop()
            raise TimeoutError(f"{self.name} not ready after {self.timeout:.0f} s")

    def _ready(self, values: dict[str, str]) -> Callable[[], bool] | None:
        """A check of `ready_url`, or None when there is none."""
        if self.ready_url is None:
            return None
        url = urllib.parse.urlsplit(render(self.ready_url, values)[0])
        rest = Rest(f"{url.scheme}://{url.netloc}", token=None, ca=None)
        return lambda: rest.ok(url.path or "/")

    def _record(self) -> processes.Record | None:
        return next((r for r in processes.records(self.plane.state) if r.name == self.name), None)

    def stop(self) -> None:
        record = self._record()
        if record is not None:
            processes.stop(self.plane.state, record, grace=20.0)

    def pid(self) -> int | None:
        record = self._record()
        return record.pid if record is not None and processes.alive(record) else None
