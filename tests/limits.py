"""Bounding an attack in a test: a breached limit fails the test, not the machine.

`memory_budget(mib)` lowers the process's soft address-space limit (``RLIMIT_AS``) to what it
uses now plus ``mib`` for the duration of the block, so code that tries to allocate past it gets
a ``MemoryError`` (which the servers under test turn into a 500 the test then sees) instead of
exhausting the machine. `within(seconds, awaitable)` bounds the wall time of one await.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = ["memory_budget", "within"]

T = TypeVar("T")


def _virtual_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmSize not found in /proc/self/status")


@contextlib.contextmanager
def memory_budget(mib: int) -> Iterator[None]:
    """Allow about ``mib`` MiB more address space inside the block (Linux)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _virtual_size() + mib * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``; a TimeoutError (failing the test) after ``seconds``."""
    return await asyncio.wait_for(awaitable, seconds)
