"""kaito on a `ControlPlane`: its manifests installed as a user would, the operator run from the
working tree as its ServiceAccount.

`install` renders ``kaito manifests --no-cert-manager --ca-bundle <cluster CA>`` (the CLI, in a
subprocess, from this checkout) and applies it with kubectl, with two changes a local cluster
needs: the Deployment and its PodDisruptionBudget are left out (the operator runs as a process on
this machine instead), and the ValidatingWebhookConfiguration calls
``https://127.0.0.1:<port>/validate/...`` (``clientConfig.url`` and the CA bundle) instead of a
Service: the API server cannot reach a ClusterIP on loopback. The CRD, the namespace, the
ServiceAccount and the RBAC are exactly what the command printed.

`Operator` starts ``kaito operator`` with a kubeconfig holding a TokenRequest token of that
ServiceAccount (so the requests are authorised by the rendered RBAC, nothing more), all its
endpoints on 127.0.0.1, the webhook's serving certificate signed by the cluster CA, and
Karpenter-kwok's node class (``--karpenter-node-class karpenter.kwok.sh/KWOKNodeClass/default``).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kaito_backends.operator.manifests import InstallOptions
from kaito_backends.operator.settings import DEFAULT_NAMESPACE, WEBHOOK_PATH
from tools.cluster import processes
from tools.cluster.controlplane import ControlPlane
from tools.cluster.ports import free_ports
from tools.cluster.rest import HttpError, Rest

__all__ = [
    "NAMESPACE",
    "NODE_CLASS",
    "SERVICE_ACCOUNT",
    "Operator",
    "for_loopback",
    "install",
    "kaito_command",
    "service_account_token",
    "webhook_ready",
]

NAMESPACE = DEFAULT_NAMESPACE
SERVICE_ACCOUNT = InstallOptions().name
NODE_CLASS = "karpenter.kwok.sh/KWOKNodeClass/default"
#: The checkout this file belongs to: the operator runs from its working tree.
ROOT = Path(__file__).resolve().parents[2]
_LEFT_OUT = ("Deployment", "PodDisruptionBudget")


def kaito_command(*args: str) -> list[str]:
    """``kaito ARGS`` run from the working tree with this interpreter."""
    code = "from kaito_backends.cli import main; raise SystemExit(main())"
    return [sys.executable, "-c", code, *args]


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _manifests(plane: ControlPlane, backend: str) -> list[dict[str, Any]]:
    command = kaito_command(
        "manifests",
        f"--backend={backend}",
        "--no-cert-manager",
        f"--ca-bundle={plane.pki.ca}",
        "--output=yaml",
    )
    rendered = subprocess.run(
        command, capture_output=True, text=True, env=_env(), check=False, timeout=120
    )
    if rendered.returncode != 0:
        raise RuntimeError(f"kaito manifests failed: {rendered.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def for_loopback(objects: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
    """``kaito manifests`` for an operator run on this machine: no Deployment or
    PodDisruptionBudget, the webhook called at ``https://127.0.0.1:<port>`` with the CA bundle
    the manifests carry (see the module docstring). The other objects are unchanged."""
    kept = []
    for obj in objects:
        if obj["kind"] in _LEFT_OUT:
            continue
        if obj["kind"] == "ValidatingWebhookConfiguration":
            obj = copy.deepcopy(obj)
            for hook in obj["webhooks"]:
                bundle = hook["clientConfig"].get("caBundle")
                if not bundle:
                    raise ValueError("the webhook configuration has no caBundle")
                # each kind's webhook keeps its own path (/validate/<singular>.<group>)
                path = (hook["clientConfig"].get("service") or {}).get("path") or WEBHOOK_PATH
                hook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{port}{path}",
                    "caBundle": bundle,
                }
        kept.append(obj)
    return kept


def install(plane: ControlPlane, *, backend: str = "karpenter") -> int:
    """Apply kaito's manifests (see the module docstring); the webhook's port, chosen here."""
    port = plane.layout.ports.get("webhook") or free_ports(1)[0]
    plane.layout.ports["webhook"] = port
    plane._save()
    objects = for_loopback(_manifests(plane, backend), port)
    documents = {"apiVersion": "v1", "kind": "List", "items": objects}
    plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(documents))
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            plane.wait_established(obj["metadata"]["name"])
    return port


def service_account_token(
    plane: ControlPlane, *, namespace: str = NAMESPACE, name: str = SERVICE_ACCOUNT
) -> str:
    """A fresh TokenRequest token (24 h) of the ServiceAccount."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 86400},
    }
    answer = plane.rest().post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request
    )
    return str(answer["status"]["token"])


@dataclass
class Operator:
    """One ``kaito operator`` process (see the module docstring)."""

    plane: ControlPlane
    name: str = "kaito-operator"
    backend: str = "karpenter"
    #: serve the webhook (on the port `install` registered); False: no webhook
    webhook: bool = True
    leader_elect: bool = True
    extra: Sequence[str] = ()

    metrics_port: int = 0
    health_port: int = 0

    @property
    def kubeconfig(self) -> Path:
        return self.plane.state / "kubeconfigs" / f"{self.name}.kubeconfig"

    @property
    def metrics_address(self) -> str:
        """``127.0.0.1:PORT`` of its ``/metrics`` (once started)."""
        return f"127.0.0.1:{self.metrics_port}"

    @property
    def log(self) -> Path:
        return self.plane.log(self.name)

    def command(self) -> list[str]:
        plane = self.plane
        token = service_account_token(plane)
        plane.write_kubeconfig(
            self.kubeconfig,
            user=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
            token=token,
        )
        metrics, health = free_ports(2)
        self.metrics_port, self.health_port = metrics, health
        port = plane.layout.ports["webhook"] if self.webhook else 0
        args = [
            "operator",
            f"--backend={self.backend}",
            f"--kubeconfig={self.kubeconfig}",
            f"--metrics-bind-address=127.0.0.1:{metrics}",
            f"--health-probe-bind-address=127.0.0.1:{health}",
            f"--webhook-port={port}",
            "--webhook-host=127.0.0.1",
            f"--webhook-cert={plane.pki.cert('webhook')}",
            f"--webhook-key={plane.pki.key('webhook')}",
            f"--leader-election-identity={self.name}",
            f"--leader-election-namespace={NAMESPACE}",
            "--log-format=json",
        ]
        if self.leader_elect:
            args.append("--leader-elect")
        if self.backend == "karpenter":
            args.append(f"--karpenter-node-class={NODE_CLASS}")
        return kaito_command(*args, *self.extra)

    def start(self, *, timeout: float = 60.0) -> processes.Record:
        """Start the operator and wait for its ``/healthz``; its process record."""
        record = processes.start(self.plane.state, self.name, self.command(), env=_env(), cwd=ROOT)
        rest = Rest(f"http://127.0.0.1:{self.health_port}", token=None, ca=None)
        deadline = time.monotonic() + timeout
        while not rest.ok("/healthz"):
            if not processes.alive(record):
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} exited during start-up; its log ends:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not healthy after {timeout:.0f} s")
            time.sleep(0.2)
        return record

    def record(self) -> processes.Record | None:
        return next((r for r in processes.records(self.plane.state) if r.name == self.name), None)

    def stop(self, *, grace: float = 20.0, sig: int | None = None) -> None:
        """Stop it by PID (SIGTERM, or ``sig``: SIGKILL for a crash)."""
        record = self.record()
        if record is not None:
            kwargs = {} if sig is None else {"sig": sig}
            processes.stop(self.plane.state, record, grace=grace, **kwargs)

    def running(self) -> bool:
        record = self.record()
        return record is not None and processes.alive(record)


def webhook_ready(plane: ControlPlane, *, timeout: float = 30.0) -> None:
    """Wait until the API server can call the webhook (a dry-run create it must answer)."""
    probe = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "webhook-probe", "namespace": "default"},
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            plane.rest().post(
                "/apis/kaito.sh/v1beta1/namespaces/default/workspaces?dryRun=All", probe
            )
            return  # a probe the webhook lets through is an answer too
        except HttpError as error:
            if "webhook" not in str(error) or "denied" in str(error):
                return  # the webhook answered (a denial is an answer)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the webhook does not answer: {error}") from None
        time.sleep(0.3)
