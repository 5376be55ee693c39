"""tools.image.sandbox's pieces that need no namespace: paths inside a root, the port bridge."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from tools.image.sandbox import HostBridge, SandboxSpec, _serve, _tcp, _unix_listener, inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small image tree: /var/run -> /run (absolute), /lib -> usr/lib (relative), a loop."""
    base = tmp_path / "root"
    (base / "run").mkdir(parents=True)
    (base / "usr" / "lib").mkdir(parents=True)
    (base / "var").mkdir()
    os.symlink("/run", base / "var" / "run")
    os.symlink("usr/lib", base / "lib")
    os.symlink("../../../../etc", base / "usr" / "escape")
    os.symlink("loop", base / "loop")
    return base


PATHS = [
    pytest.param("/var/run/secrets/token", "run/secrets/token", id="absolute-symlink"),
    pytest.param("/lib/x", "usr/lib/x", id="relative-symlink"),
    pytest.param("/usr/escape/passwd", "etc/passwd", id="dotdot-stays-inside"),
    pytest.param("/../../etc/shadow", "etc/shadow", id="leading-dotdot"),
    pytest.param("tmp/./a", "tmp/a", id="relative-and-dot"),
]


@pytest.mark.parametrize(("path", "expected"), PATHS)
def test_paths_resolve_inside_the_root(root: Path, path: str, expected: str) -> None:
    """Symlinks are followed as the chrooted process sees them; nothing leads out."""
    assert inside(root, path) == root / expected


def test_a_symlink_loop_is_an_error(root: Path) -> None:
    """A loop stops after 40 hops with OSError naming the path."""
    with pytest.raises(OSError, match="too many symlinks resolving /loop"):
        inside(root, "/loop")


def echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_the_bridge_carries_both_ways(tmp_path: Path) -> None:
    """Outbound: out-P.sock reaches the host's P; inbound: a host port reaches in-P.sock."""
    server, port = echo_server()
    bridge = HostBridge(str(tmp_path), outbound=[port], inbound=[9443])
    try:
        # the sandbox's side of the inbound port, without a namespace: in-9443.sock -> echo
        listener = _unix_listener(str(tmp_path / "in-9443.sock"))
        _serve(listener, _tcp(port))
        with socket.create_connection(("127.0.0.1", bridge.ports[9443])) as client:
            client.sendall(b"inbound")
            assert client.recv(1024) == b"INBOUND"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(tmp_path / f"out-{port}.sock"))
            client.sendall(b"outbound")
            assert client.recv(1024) == b"OUTBOUND"
        listener.close()
    finally:
        bridge.close()
        server.close()


def test_a_spec_survives_its_file(tmp_path: Path) -> None:
    """dump and load give the same spec (binds back as tuples)."""
    spec = SandboxSpec(
        root="/r",
        argv=["kaito", "operator"],
        env={"A": "1"},
        uid=65532,
        gid=65532,
        read_only=True,
        binds=[("/a", "/b", True)],
        tmpfs=["/tmp"],
        socket_dir="/s",
        outbound=[6443],
        inbound=[9443, 8081],
    )
    spec.dump(tmp_path / "spec.json")
    assert SandboxSpec.load(tmp_path / "spec.json") == spec
