"""Run a process in an unpacked image's root filesystem, as a container runtime would.

``python -m tools.image.sandbox SPEC.json`` is meant to run as root under
``unshare --mount --pid [--net] --fork``, so its mounts vanish with it and it is PID 1 of the new
PID namespace. From the spec (`SandboxSpec`) it:

1. makes the root read-only (``read_only``: a pod's ``readOnlyRootFilesystem``) by binding it
   onto itself and remounting that read-only;
2. mounts ``/proc`` (this PID namespace's), a small ``/dev`` (null, zero, full, random, urandom,
   tty bound from the host), a tmpfs on each of ``tmpfs``, and each bind of ``binds`` (the
   service-account token and CA, read-only), mount points resolved *inside* the root so a
   symlink in the image (``/var/run -> /run``) never leads out of it;
3. with its own network namespace (``--net``) brings ``lo`` up and bridges ports over Unix
   sockets in ``socket_dir`` (files cross network namespaces): each of ``outbound`` listens on
   ``127.0.0.1:PORT`` inside and reaches ``out-PORT.sock`` (the host side connects that to the
   host's ``127.0.0.1:PORT``: the API server); each of ``inbound`` is served at ``in-PORT.sock``
   and reaches ``127.0.0.1:PORT`` inside (the webhook, the probes). `HostBridge` is the host side;
4. forks the process: ``chroot``, ``no_new_privs``, no supplementary groups, the numeric
   ``gid``/``uid`` (which drops every capability), ``cwd``, ``env`` and nothing else of ours, then
   ``execve`` of ``argv`` looked up on the spec's ``PATH`` inside the root;
5. forwards SIGTERM/SIGINT to it, reaps every child, and exits with its status.

Used by tools/image/build.py (as root, writable, host network) and by the real-cluster image
test (as the image's user, read-only, its own network).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["HostBridge", "SandboxSpec", "inside", "main"]

_PR_SET_NO_NEW_PRIVS = 38
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


@dataclass
class SandboxSpec:
    """One process in a root filesystem (see the module docstring)."""

    root: str
    argv: list[str]
    env: dict[str, str]
    uid: int = 0
    gid: int = 0
    cwd: str = "/"
    read_only: bool = False
    #: (host path, path in the root, read-only)
    binds: list[tuple[str, str, bool]] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    socket_dir: str = ""
    outbound: list[int] = field(default_factory=list)
    inbound: list[int] = field(default_factory=list)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> SandboxSpec:
        data = json.loads(path.read_text())
        data["binds"] = [tuple(b) for b in data["binds"]]
        return cls(**data)


def inside(root: Path, path: str, *, limit: int = 40) -> Path:
    """``path`` resolved as the process will see it, chrooted at ``root``: every symlink is
    followed relative to ``root``, so none leads out of it. Missing parts are kept as given."""
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > limit:
                raise OSError(f"too many symlinks resolving {path} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _prepare_mounts(spec: SandboxSpec) -> None:
    root = Path(spec.root)
    targets = [inside(root, t) for _, t, _ in spec.binds]
    for (source, _, _), target in zip(spec.binds, targets, strict=True):
        if Path(source).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=True)
    if spec.read_only:
        _mount("--bind", str(root), str(root))
        _mount("-o", "remount,bind,ro", str(root))
    _mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(inside(root, "/proc")))
    dev = inside(root, "/dev")
    _mount("-t", "tmpfs", "-o", "nosuid,noexec,mode=0755,size=64k", "tmpfs", str(dev))
    for name in _DEVICES:
        (dev / name).touch()
        _mount("--bind", f"/dev/{name}", str(dev / name))
    for target in spec.tmpfs:
        path = inside(root, target)
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777,size=64m", "tmpfs", str(path))
    for (source, _, read_only), target in zip(spec.binds, targets, strict=True):
        _mount("--bind", source, str(target))
        if read_only:
            _mount("-o", "remount,bind,ro", str(target))


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes from ``a`` to ``b`` until ``a`` closes; then half-close ``b``."""
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)


def _splice(client: socket.socket, connect: Callable[[], socket.socket]) -> None:
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    threads = [
        threading.Thread(target=_pump, args=(client, upstream), daemon=True),
        threading.Thread(target=_pump, args=(upstream, client), daemon=True),
    ]
    for thread in threads:
        thread.start()

    def close_when_done() -> None:
        for thread in threads:
            thread.join()
        client.close()
        upstream.close()

    threading.Thread(target=close_when_done, daemon=True).start()


def _serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    def loop() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            _splice(client, connect)

    threading.Thread(target=loop, daemon=True).start()


def _unix(path: str) -> Callable[[], socket.socket]:
    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock

    return connect


def _tcp(port: int) -> Callable[[], socket.socket]:
    return lambda: socket.create_connection(("127.0.0.1", port))


def _unix_listener(path: str) -> socket.socket:
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    return listener


def _bridge_inside(spec: SandboxSpec) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for port in spec.outbound:
        listener = socket.create_server(("127.0.0.1", port))
        _serve(listener, _unix(os.path.join(spec.socket_dir, f"out-{port}.sock")))
    for port in spec.inbound:
        path = os.path.join(spec.socket_dir, f"in-{port}.sock")
        _serve(_unix_listener(path), _tcp(port))


class HostBridge:
    """The host side of a sandbox's ports: ``out-PORT.sock`` -> host ``127.0.0.1:PORT`` for each
    outbound port, and ``127.0.0.1:<free>`` -> ``in-PORT.sock`` for each inbound one
    (``ports[PORT]`` is that free host port). `close` stops listening."""

    def __init__(self, socket_dir: str, outbound: Iterable[int], inbound: Iterable[int]) -> None:
        self._listeners: list[socket.socket] = []
        self.ports: dict[int, int] = {}
        for port in outbound:
            listener = _unix_listener(os.path.join(socket_dir, f"out-{port}.sock"))
            self._listeners.append(listener)
            _serve(listener, _tcp(port))
        for port in inbound:
            listener = socket.create_server(("127.0.0.1", 0))
            self._listeners.append(listener)
            self.ports[port] = listener.getsockname()[1]
            _serve(listener, _unix(os.path.join(socket_dir, f"in-{port}.sock")))

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()


def _exec(spec: SandboxSpec) -> None:
    """In the forked child: become the image's process (never returns)."""
    try:
        os.chroot(spec.root)
        os.chdir(spec.cwd)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        os.setgroups([])
        os.setgid(spec.gid)
        os.setuid(spec.uid)
        program = shutil.which(spec.argv[0], path=spec.env.get("PATH", os.defpath))
        if program is None:
            raise FileNotFoundError(f"{spec.argv[0]} not found on the image's PATH")
        os.execve(program, spec.argv, spec.env)
    except BaseException as error:
        print(f"sandbox: cannot start {spec.argv[0]}: {error}", file=sys.stderr, flush=True)
        os._exit(127)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the spec file named in ``argv`` (see the module docstring); the process' status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tools.image.sandbox SPEC.json", file=sys.stderr)
        return 2
    spec = SandboxSpec.load(Path(args[0]))
    _prepare_mounts(spec)
    if spec.socket_dir:
        _bridge_inside(spec)
    child = os.fork()
    if child == 0:
        _exec(spec)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _frame: os.kill(child, s))
    status = 0
    while True:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            return status
        if pid == child:
            status = os.waitstatus_to_exitcode(code)
            status = 128 - status if status < 0 else status


if __name__ == "__main__":
    raise SystemExit(main())
