"""kubectl as the independent client of the end-to-end tests.

The kubectl is the one the real-cluster tier builds from ``k8s.io/kubernetes`` at the pinned
version (``tools/cluster``, cached per user; found, never built, here), else whatever ``kubectl``
is on PATH. ``nox -s tests`` builds it first when Go is there.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from tools.cluster.build import binary

__all__ = ["KUBECTL", "Kubectl", "find_kubectl"]


def find_kubectl() -> str | None:
    """The cached pinned kubectl, else the one on PATH, else None."""
    cached = binary("kubectl")
    return str(cached) if cached is not None else shutil.which("kubectl")


KUBECTL = find_kubectl()


class Kubectl:
    """Runs kubectl with its own kubeconfig and discovery cache, without blocking the loop."""

    def __init__(self, kubeconfig: Path, cache: Path, *, binary: str | None = None) -> None:
        self.base = [str(binary or KUBECTL), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}"]

    async def run(
        self, *args: str, stdin: str | None = None, timeout: float = 30
    ) -> tuple[int, str, str]:
        """``kubectl ARGS`` (``stdin`` fed to it): (exit code, stdout, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        feed = None if stdin is None else stdin.encode()
        try:
            out, err = await asyncio.wait_for(proc.communicate(feed), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"kubectl {' '.join(args)} took over {timeout:.0f} s") from None
        return int(proc.returncode or 0), out.decode(), err.decode()

    async def __call__(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        code, out, err = await self.run(*args, stdin=stdin)
        if check and code != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {err}")
        return out

    async def wait_for(self, args: tuple[str, ...], want: str, timeout: float = 90) -> str:
        """Run ``kubectl ARGS`` until its output contains `want`."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            last = await self(*args, check=False)
            if want in last:
                return last
            await asyncio.sleep(0.3)
        raise AssertionError(f"kubectl {' '.join(args)} never showed {want!r}; last: {last!r}")
