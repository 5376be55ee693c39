"""`kaito operator` as a child process of a test, on a kubeconfig (the fake API server's)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import ROOT

__all__ = ["start_operator"]

#: What every test operator takes: no fixed ports, errors only.
QUIET = (
    "--metrics-bind-address=0",
    "--health-probe-bind-address=0",
    "--webhook-port=0",
    "--log-level=error",
)


async def start_operator(
    kubeconfig: Path, *flags: str, stderr: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """``kaito operator --backend=karpenter --kubeconfig=KUBECONFIG FLAGS...`` from this
    checkout, with no fixed ports and errors only; stdout discarded, ``stderr`` as given."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kaito_backends.cli import main; raise SystemExit(main())",
        "operator",
        "--backend=karpenter",
        f"--kubeconfig={kubeconfig}",
        *flags,
        *QUIET,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
