"""Fixtures: a fake API server on a random loopback port, in the test's own event loop."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

if importlib.util.find_spec("aiohttp") is None:  # the server needs the `kubernetes` extra
    collect_ignore_glob = ["test_*.py"]
else:
    from kaito_backends.apiserver import FakeApiServer, PacedClock
    from kaito_backends.fake import FakeCluster

KUBECTL = shutil.which("kubectl")


@pytest.fixture
async def server() -> AsyncIterator[FakeApiServer]:
    """No engine, a short watch history (for 410s), fast bookmarks, virtual time at 600x."""
    cluster = FakeCluster(clock=PacedClock(), watch_history=20)
    async with FakeApiServer(
        cluster, port=0, speed=600, engine=False, bookmark_interval=0.2
    ) as srv:
        yield srv


@pytest.fixture
async def engine_server() -> AsyncIterator[FakeApiServer]:
    """The playground as ``kaito fake-apiserver`` runs it, with virtual time at 600x."""
    async with FakeApiServer(port=0, speed=600, engine=True) as srv:
        yield srv


class Kubectl:
    """Runs kubectl against a server with its own kubeconfig and discovery cache."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache = cache

    def argv(self, *args: str) -> list[str]:
        assert KUBECTL is not None
        return [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache}", *args]

    async def __call__(
        self, *args: str, timeout: float = 20.0, check: bool = True
    ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        code = proc.returncode if proc.returncode is not None else -1
        if check and code != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({code}): {err.decode()}")
        return code, out.decode(), err.decode()


def _kubectl(srv: FakeApiServer, tmp_path: Path) -> Kubectl:
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH")
    return Kubectl(srv.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kube-cache")


@pytest.fixture
def kubectl(server: FakeApiServer, tmp_path: Path) -> Kubectl:
    return _kubectl(server, tmp_path)


@pytest.fixture
def engine_kubectl(engine_server: FakeApiServer, tmp_path: Path) -> Kubectl:
    return _kubectl(engine_server, tmp_path)
