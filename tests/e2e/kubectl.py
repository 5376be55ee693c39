"""kubectl as the independent client of the end-to-end tests."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

KUBECTL = shutil.which("kubectl")


class Kubectl:
    """Runs kubectl with its own kubeconfig and discovery cache, without blocking the loop."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.base = [str(KUBECTL), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}"]

    async def __call__(self, *args: str, check: bool = True) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {err.decode()}")
        return out.decode()

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
