"""`ControlPlane`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
Karpenter's kwok provider on 127.0.0.1, on free ports, with their state in one directory.

    plane = ControlPlane.create(Path(".cluster/up"), binaries=build.ensure())
    plane.up()                       # starts everything, waits until each is ready
    plane.kubeconfig                 # the admin kubeconfig (static token, the cluster CA)
    plane.restart("kube-apiserver")  # stop and start one component (same flags, same port)
    plane.down()                     # stops every process it started, by PID

What runs (docs/testing.md has the why of each flag):

- etcd, plain HTTP on loopback, ``--unsafe-no-fsync`` (a throw-away test store);
- kube-apiserver: TLS with the cluster CA (`tools.cluster.pki`), RBAC, a static token file
  (admin, the controller manager, the scheduler, kwok, Karpenter), ServiceAccount token signing
  keys, ``OwnerReferencesPermissionEnforcement``, an audit log of every request at ``Metadata``
  level (``audit.log``: who, verb, URI with its ``fieldManager``), and
  ``--endpoint-reconciler-type=none`` (loopback is not a valid Service endpoint);
- kube-controller-manager with every default controller (garbage collector, namespace,
  StatefulSet, Job, node lifecycle, ...) and ``--use-service-account-credentials``; kwok keeps
  its Nodes' Leases fresh, so node lifecycle keeps them Ready;
- kube-scheduler;
- kwok, managing the Nodes annotated ``kwok.x-k8s.io/node=fake`` with the stages of
  ``tools/cluster/kwok-stages.yaml`` (Nodes Ready with their GPUs, Pods Running, Job Pods
  Succeeded);
- Karpenter's kwok provider, its instance types one per GPU SKU of the catalog
  (`tools.cluster.instance_types`), its CRDs read from the Go module cache (``go list -m``)
  and a Ready ``KWOKNodeClass/default``.

The ports, paths and versions of a running plane are in ``<state>/cluster.json`` (`load`).
Several checkouts each run their own (free ports; state under each checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.cluster import processes
from tools.cluster.build import SOURCES, module_version
from tools.cluster.instance_types import instance_types_json
from tools.cluster.pki import CLIENTS, Pki
from tools.cluster.ports import free_ports
from tools.cluster.rest import HttpError, Rest

__all__ = ["COMPONENTS", "HAND_RUN_WORKSPACE", "ControlPlane", "Layout"]

#: Start order (stop order is the reverse).
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "karpenter",
)
#: kwok's stages (``kwok-stages.yaml``) leave the Nodes and Pods of Workspaces of this name
#: alone (but for Leases and deletes): a test plays their kubelet, one status at a time.
HAND_RUN_WORKSPACE = "kubelet-by-hand"
_PORTS = (
    "etcd",
    "etcd_peer",
    "apiserver",
    "controller_manager",
    "scheduler",
    "kwok",
    "karpenter_metrics",
    "karpenter_health",
)
_AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/openapi*", "/api*"]
- level: Metadata
"""
_SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_KWOK_NODE_CLASS = {
    "apiVersion": "karpenter.kwok.sh/v1alpha1",
    "kind": "KWOKNodeClass",
    "metadata": {"name": "default"},
}


@dataclass
class Layout:
    """What `ControlPlane` persists in ``cluster.json``: ports and binaries."""

    ports: dict[str, int]
    binaries: dict[str, str]
    versions: dict[str, str] = field(default_factory=dict)


class ControlPlane:
    """A local control plane (see the module docstring)."""

    def __init__(self, state: Path, layout: Layout) -> None:
        self.state = state.resolve()
        self.layout = layout
        self.pki = Pki(self.state / "pki")

    # -- creating and loading -------------------------------------------------------------------
    @classmethod
    def create(cls, state: Path, *, binaries: Mapping[str, Path]) -> ControlPlane:
        """A new plane in ``state`` on free ports. A previous plane's state there is removed
        first (stop it before); a non-empty directory that is not a plane's is refused."""
        state = state.resolve()
        if state.exists():
            if any(state.iterdir()) and not (state / "cluster.json").exists():
                raise RuntimeError(f"{state} is not empty and holds no cluster: not touching it")
            shutil.rmtree(state)
        state.mkdir(parents=True)
        (state / ".gitignore").write_text("*\n")
        ports = dict(zip(_PORTS, free_ports(len(_PORTS)), strict=True))
        versions = {
            "kubernetes": module_version("kubernetes", "k8s.io/kubernetes"),
            "etcd": module_version("etcd", "go.etcd.io/etcd/server/v3"),
            "kwok": module_version("kwok", "sigs.k8s.io/kwok"),
            "karpenter": module_version("karpenter", "sigs.k8s.io/karpenter"),
        }
        layout = Layout(
            ports=ports, binaries={k: str(v) for k, v in binaries.items()}, versions=versions
        )
        plane = cls(state, layout)
        Pki.create(plane.pki.directory)
        plane._save()
        plane._write_config()
        return plane

    @classmethod
    def load(cls, state: Path) -> ControlPlane:
        """The plane recorded in ``state/cluster.json`` (FileNotFoundError when none)."""
        data = json.loads((state / "cluster.json").read_text())
        return cls(state, Layout(**data))

    def _save(self) -> None:
        (self.state / "cluster.json").write_text(json.dumps(asdict(self.layout), indent=1) + "\n")

    # -- addresses and credentials ----------------------------------------------------------------
    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.layout.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (what ``export KUBECONFIG=`` names)."""
        return self.state / "kubeconfig"

    def kubeconfig_of(self, client: str) -> Path:
        return self.state / "kubeconfigs" / f"{client}.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.state / "audit.log"

    def log(self, component: str) -> Path:
        return self.state / "logs" / f"{component}.log"

    def binary(self, name: str) -> str:
        return self.layout.binaries[name]

    def rest(self, client: str = "admin") -> Rest:
        return Rest(self.server, token=self.pki.token(client), ca=self.pki.ca)

    def write_kubeconfig(self, path: Path, *, user: str, token: str) -> Path:
        """A kubeconfig for this cluster authenticating with ``token`` (mode 0600)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kaito-local",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.pki.ca),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [
                {"name": user, "context": {"cluster": "kaito-local", "user": user}},
            ],
            "current-context": user,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=1) + "\n")
        path.chmod(0o600)
        return path

    def _write_config(self) -> None:
        for client in CLIENTS:
            self.write_kubeconfig(
                self.kubeconfig_of(client), user=client, token=self.pki.token(client)
            )
        shutil.copy(self.kubeconfig_of("admin"), self.kubeconfig)
        self.kubeconfig.chmod(0o600)
        (self.state / "audit-policy.yaml").write_text(_AUDIT_POLICY)
        (self.state / "instance-types.json").write_text(instance_types_json())

    # -- commands -------------------------------------------------------------------------------
    def _command(self, name: str) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment of a component."""
        ports, pki, state = self.layout.ports, self.pki, self.state
        etcd = f"http://127.0.0.1:{ports['etcd']}"
        if name == "etcd":
            peer = f"http://127.0.0.1:{ports['etcd_peer']}"
            return [
                self.binary("etcd"),
                "--name=kaito",
                f"--data-dir={state / 'etcd'}",
                f"--listen-client-urls={etcd}",
                f"--advertise-client-urls={etcd}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=kaito={peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ], {}
        if name == "kube-apiserver":
            return [
                self.binary("kube-apiserver"),
                f"--etcd-servers={etcd}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--cert-dir={state / 'apiserver'}",
                f"--tls-cert-file={pki.cert('apiserver')}",
                f"--tls-private-key-file={pki.key('apiserver')}",
                f"--client-ca-file={pki.ca}",
                # the requestheader CA the controller manager and scheduler read at start-up
                # (no front proxy exists: nothing holds a client certificate of that name)
                f"--requestheader-client-ca-file={pki.ca}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--token-auth-file={pki.token_file}",
                "--authorization-mode=RBAC",
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                f"--service-account-issuer={_SERVICE_ACCOUNT_ISSUER}",
                f"--api-audiences={_SERVICE_ACCOUNT_ISSUER}",
                # room for a ClusterIP Service per Workspace at 1,000 Workspaces (the benchmark)
                "--service-cluster-ip-range=10.0.0.0/16",
                "--endpoint-reconciler-type=none",
                # ConfigMap watches read etcd directly, so an etcd compaction makes an old
                # resourceVersion Gone (the conformance suite's 410 test)
                "--watch-cache-sizes=configmaps#0",
                f"--audit-policy-file={state / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-maxsize=0",
                "--audit-log-mode=blocking",
                "--profiling=false",
                "--v=1",
            ], {}
        if name in ("kube-controller-manager", "kube-scheduler"):
            kubeconfig = str(self.kubeconfig_of(name))
            port = ports["controller_manager" if name == "kube-controller-manager" else "scheduler"]
            common = [
                self.binary(name),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={state / name}",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ]
            if name == "kube-scheduler":
                return common, {}
            return [
                *common,
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca}",
                f"--cluster-signing-cert-file={pki.ca}",
                f"--cluster-signing-key-file={pki.ca_key}",
                "--controllers=*,-node-ipam-controller",
                "--concurrent-gc-syncs=5",
            ], {}
        if name == "kwok":
            return [
                self.binary("kwok"),
                f"--kubeconfig={self.kubeconfig_of('kwok')}",
                f"--config={SOURCES / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{ports['kwok']}",
                "--cidr=10.1.0.0/16",
                "--node-ip=10.2.0.1",
            ], {}
        if name == "karpenter":
            return [self.binary("karpenter-kwok")], {
                "KUBECONFIG": str(self.kubeconfig_of("karpenter")),
                "INSTANCE_TYPES_FILE_PATH": str(state / "instance-types.json"),
                "METRICS_PORT": str(ports["karpenter_metrics"]),
                "HEALTH_PROBE_PORT": str(ports["karpenter_health"]),
                "DISABLE_LEADER_ELECTION": "true",
                "SYSTEM_NAMESPACE": "kube-system",
                "LOG_LEVEL": "info",
                "BATCH_IDLE_DURATION": "100ms",
                "BATCH_MAX_DURATION": "1s",
            }
        raise KeyError(f"unknown component {name!r}; known: {COMPONENTS}")

    # -- readiness ------------------------------------------------------------------------------
    def _wait_ready(self, name: str, timeout: float) -> None:
        ports = self.layout.ports
        checks: dict[str, Callable[[], Rest]] = {
            "etcd": lambda: Rest(f"http://127.0.0.1:{ports['etcd']}", token=None, ca=None),
            "kube-apiserver": self.rest,
            "kube-controller-manager": lambda: Rest(
                f"https://127.0.0.1:{ports['controller_manager']}", token=None, ca=None
            ),
            "kube-scheduler": lambda: Rest(
                f"https://127.0.0.1:{ports['scheduler']}", token=None, ca=None
            ),
            "kwok": lambda: Rest(f"http://127.0.0.1:{ports['kwok']}", token=None, ca=None),
            "karpenter": lambda: Rest(
                f"http://127.0.0.1:{ports['karpenter_health']}", token=None, ca=None
            ),
        }
        rest = checks[name]()
        deadline = time.monotonic() + timeout
        while True:
            record = self._record(name)
            if record is None or not processes.alive(record):
                tail = self._tail(name)
                raise RuntimeError(f"{name} exited during start-up; its log ends:\n{tail}")
            if name == "etcd":
                try:
                    if rest.get("/health", timeout=2).get("health") == "true":
                        return
                except HttpError:
                    pass
            elif rest.ok("/healthz" if name == "kube-controller-manager" else "/readyz"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} not ready after {timeout:.0f} s; its log ends:\n{self._tail(name)}"
                )
            time.sleep(0.2)

    def _tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _record(self, name: str) -> processes.Record | None:
        return next((r for r in processes.records(self.state) if r.name == name), None)

    # -- running --------------------------------------------------------------------------------
    def start(self, name: str, *, timeout: float = 120.0) -> None:
        """Start one component (if it is not running) and wait until it is ready."""
        record = self._record(name)
        if record is None or not processes.alive(record):
            command, env = self._command(name)
            processes.start(self.state, name, command, env={**os.environ, **env})
        self._wait_ready(name, timeout)

    def stop(self, name: str, *, grace: float = 10.0) -> None:
        """Stop one component (by its recorded PID)."""
        record = self._record(name)
        if record is not None:
            processes.stop(self.state, record, grace=grace)

    def restart(self, name: str, *, down: float = 0.0, grace: float = 10.0) -> tuple[float, float]:
        """Stop one component (SIGTERM, SIGKILL after ``grace`` seconds), keep it down for
        ``down`` seconds, start it: (seconds until it was stopped, seconds until ready again)."""
        began = time.monotonic()
        self.stop(name, grace=grace)
        time.sleep(down)
        stopped = time.monotonic()
        self.start(name)
        return stopped - began, time.monotonic() - stopped

    def up(self, *, say: Callable[[str], None] = print) -> None:
        """Start every component in order, then install Karpenter's CRDs and node class."""
        for name in COMPONENTS:
            if name == "karpenter":
                self.install_karpenter_crds()
            started = time.monotonic()
            self.start(name)
            say(f"{name} ready in {time.monotonic() - started:.1f} s")
        self._ready_node_class()

    def down(self) -> list[str]:
        """Stop every process recorded in the state directory, last started first; their names."""
        stopped = []
        for record in sorted(
            processes.records(self.state), key=lambda r: _stop_order(r.name), reverse=True
        ):
            processes.stop(self.state, record)
            stopped.append(record.name)
        stopped += [f"pid {pid}" for pid in processes.stop_children()]
        return stopped

    def running(self) -> dict[str, bool]:
        """Each recorded process and whether it still runs."""
        return {r.name: processes.alive(r) for r in processes.records(self.state)}

    # -- kubectl and CRDs -----------------------------------------------------------------------
    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the cached kubectl with the admin kubeconfig."""
        result = subprocess.run(
            [
                self.binary("kubectl"),
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.state / 'kubectl-cache'}",
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def karpenter_crds(self) -> list[Path]:
        """Karpenter's CRD files, from the module cache (``go list -m -f {{.Dir}}``)."""
        directory = subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/karpenter"],
            cwd=SOURCES / "karpenter",
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        root = Path(directory) / "kwok"
        crds = sorted((root / "charts" / "crds").glob("*.yaml")) + sorted(
            (root / "apis" / "crds").glob("*.yaml")
        )
        if not crds:
            raise FileNotFoundError(f"no Karpenter CRDs under {root}")
        return crds

    def install_karpenter_crds(self) -> None:
        """Apply Karpenter's CRDs (server-side) and wait until each is Established."""
        crds = self.karpenter_crds()
        for path in crds:
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        for path in crds:
            group, plural = path.stem.split("_", 1)
            self.wait_established(f"{plural}.{group}")

    def wait_established(self, crd: str, *, timeout: float = 60.0) -> None:
        """Wait until the CRD ``crd`` (``<plural>.<group>``) is Established."""
        rest = self.rest()
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = rest.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
                conditions = (found.get("status") or {}).get("conditions") or []
                if any(
                    c.get("type") == "Established" and c.get("status") == "True" for c in conditions
                ):
                    return
            except HttpError as error:
                if error.code != 404:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {crd} not Established after {timeout:.0f} s")
            time.sleep(0.2)

    def _ready_node_class(self) -> None:
        """Create ``KWOKNodeClass/default`` and mark it Ready (no controller of Karpenter does)."""
        self.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(_KWOK_NODE_CLASS))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status: dict[str, Any] = {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Ready",
                        "message": "",
                        "lastTransitionTime": now,
                        "observedGeneration": 1,
                    }
                ]
            }
        }
        self.rest().patch(
            "/apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses/default/status",
            status,
            content_type="application/merge-patch+json",
        )


def _stop_order(name: str) -> int:
    """Components in start order; anything else (operators) after them, so stopped first."""
    return COMPONENTS.index(name) if name in COMPONENTS else len(COMPONENTS)
