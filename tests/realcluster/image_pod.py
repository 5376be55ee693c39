"""The operator image run as a kubelet would run one of its Deployment's pods, on this machine.

`ImagePod` starts the unpacked image (``umoci unpack``: ``bundle/rootfs`` and the runtime
``config.json`` umoci derives from the image config) through `tools.image.sandbox` under
``unshare --mount --pid --net --fork``:

- the process is the image's: its entrypoint (``kaito operator``) followed by the container's
  ``args`` from the installed Deployment (no ``command``: the chart relies on the entrypoint),
  as the image's user (65532), from its working directory, with a read-only root
  (``readOnlyRootFilesystem``) and a tmpfs on ``/tmp`` (the chart's emptyDir);
- its environment is the image's, then the container's ``env`` (``fieldRef`` to the pod's
  name and namespace resolved against the real Pod), then what the kubelet adds:
  ``KUBERNETES_SERVICE_HOST=127.0.0.1`` and ``KUBERNETES_SERVICE_PORT=<the API server's port>``;
- the ServiceAccount's token (a TokenRequest bound to that Pod, as a projected token is), the
  cluster CA and the namespace are bound read-only at
  ``/var/run/secrets/kubernetes.io/serviceaccount/``;
- it has its own network namespace, as a pod does: the API server's port is bridged in, and the
  container's ports (webhook 9443, health 8081, metrics 8080) are bridged out to free host ports
  on 127.0.0.1 (`ports`), so the real API server can call the webhook and the test can probe.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.image.sandbox import HostBridge, SandboxSpec

__all__ = ["CONTAINER_PORTS", "SERVICE_ACCOUNT_DIR", "ImagePod"]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: webhook, health, metrics: the Deployment's container ports.
CONTAINER_PORTS = (9443, 8081, 8080)
ROOT = Path(__file__).resolve().parents[2]


class ImagePod:
    """One operator process from the unpacked image (see the module docstring)."""

    def __init__(self, bundle: Path, work: Path, *, apiserver_port: int) -> None:
        self.bundle = bundle
        self.work = work
        self.apiserver_port = apiserver_port
        (work / "sockets").mkdir(parents=True, exist_ok=True)
        self.bridge = HostBridge(
            str(work / "sockets"), outbound=[apiserver_port], inbound=CONTAINER_PORTS
        )
        #: container port -> host port on 127.0.0.1
        self.ports = dict(self.bridge.ports)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = work / "operator.log"
        self.started = 0.0

    def image_process(self) -> dict[str, Any]:
        """The runtime spec's ``process`` umoci made from the image config."""
        found: dict[str, Any] = json.loads((self.bundle / "config.json").read_text())["process"]
        return found

    def start(
        self, container: Mapping[str, Any], pod: Mapping[str, Any], *, token: str, ca: Path
    ) -> None:
        """Run ``container`` (of the Deployment's pod template) as ``pod``'s."""
        image = self.image_process()
        account = self.work / "serviceaccount"
        account.mkdir(exist_ok=True)
        (account / "token").write_text(token)
        (account / "ca.crt").write_bytes(ca.read_bytes())
        (account / "namespace").write_text(pod["metadata"]["namespace"])
        env = dict(item.split("=", 1) for item in image["env"])
        for item in container.get("env") or ():
            env[item["name"]] = _env_value(item, pod)
        env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
        env["KUBERNETES_SERVICE_PORT"] = str(self.apiserver_port)
        assert "command" not in container, "the chart runs the image's entrypoint"
        spec = SandboxSpec(
            root=str(self.bundle / "rootfs"),
            argv=[*image["args"], *container.get("args", [])],
            env=env,
            uid=int(image["user"]["uid"]),
            gid=int(image["user"]["gid"]),
            cwd=image.get("cwd") or "/",
            read_only=bool(container["securityContext"]["readOnlyRootFilesystem"]),
            binds=[(str(account), SERVICE_ACCOUNT_DIR, True)],
            tmpfs=[m["mountPath"] for m in container.get("volumeMounts", ()) if m["name"] == "tmp"],
            socket_dir=str(self.work / "sockets"),
            outbound=[self.apiserver_port],
            inbound=list(CONTAINER_PORTS),
        )
        spec.dump(self.work / "spec.json")
        self.started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--pid",
                    "--net",
                    "--fork",
                    "--kill-child",
                    sys.executable,
                    "-m",
                    "tools.image.sandbox",
                    str(self.work / "spec.json"),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        """``/readyz`` answers 200 through the bridged health port."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.ports[8081]}/readyz", timeout=2
            ) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def wait_ready(self, *, timeout: float = 120.0) -> float:
        """Wait for ``/readyz``; the seconds from `start` (the start-up time)."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the operator exited during start-up:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.05)
        return time.monotonic() - self.started

    def tail(self, size: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""

    def operator_pid(self) -> int:
        """The host PID of the operator: unshare -> sandbox (PID 1 inside) -> the operator."""
        assert self.process is not None
        pid = self.process.pid
        for _ in range(2):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            assert len(children) == 1, children
            pid = int(children[0])
        return pid

    def rss_bytes(self) -> int:
        """The operator's resident set size now (VmRSS)."""
        for line in Path(f"/proc/{self.operator_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def runs_from_the_image(self) -> bool:
        """The operator's executable is the image's Python (the same file, seen from here)."""
        exe = Path(f"/proc/{self.operator_pid()}/exe")
        interpreter = (self.bundle / "rootfs" / "usr" / "bin").glob("python3.*")
        return any(os.path.samefile(exe, p) for p in interpreter if not p.is_symlink())

    def stop(self, *, timeout: float = 30.0) -> int | None:
        """SIGTERM to the sandbox (it forwards it); the operator's exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        sandbox = int(
            Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            .read_text()
            .split()[0]
        )
        os.kill(sandbox, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self.bridge.close()


def _env_value(item: Mapping[str, Any], pod: Mapping[str, Any]) -> str:
    if "value" in item:
        return str(item["value"])
    path = item["valueFrom"]["fieldRef"]["fieldPath"]
    fields = {
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"]["namespace"],
    }
    if path not in fields:
        raise ValueError(f"env {item['name']}: fieldRef {path} is not emulated")
    return str(fields[path])
