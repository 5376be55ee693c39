"""What every step of the image build shares: running a command, logging, locking, the time."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from tools.filelock import locked

__all__ = ["BuildError", "locked", "log", "now", "run", "tool"]


class BuildError(RuntimeError):
    """A step failed; the message names it and ends with its output."""


def log(message: str) -> None:
    print(f"tools.image: {message}", file=sys.stderr, flush=True)


def run(command: Sequence[str], *, what: str, **kwargs: Any) -> str:
    started = time.monotonic()
    result = subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)
    if os.environ.get("KAITO_IMAGE_VERBOSE"):
        log(f"{what}: {time.monotonic() - started:.1f} s")
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise BuildError(f"{what} failed ({result.returncode}):\n{output}")
    return result.stdout


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name} is missing: apt-get install {package}")
    return found


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
