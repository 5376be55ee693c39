"""`bounded`: run an attack with a ceiling on time and memory, so a regression fails the test
instead of exhausting the machine.

The memory ceiling is an address-space limit (``RLIMIT_AS``) a fixed amount above what the
process already maps; going over it raises `MemoryError` in the code under test. The time
ceiling is a ``SIGALRM`` timer that raises `BoundExceeded`. Both are restored on exit. Linux
only (the project's CI and development machines).
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

__all__ = ["BoundExceeded", "bounded"]

MiB = 1024 * 1024


class BoundExceeded(AssertionError):
    """The code under test ran longer than its time bound."""


def _mapped_bytes() -> int:
    """The process's current virtual size (``/proc/self/statm``, first field, in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * resource.getpagesize()


@contextlib.contextmanager
def bounded(*, seconds: float = 10.0, memory_mib: int = 512) -> Iterator[None]:
    """Fail (`BoundExceeded` / `MemoryError`) if the block runs longer than `seconds` or maps
    more than `memory_mib` MiB beyond what the process held when it started."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = _mapped_bytes() + memory_mib * MiB
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)

    def _alarm(signum: int, frame: FrameType | None) -> None:
        raise BoundExceeded(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
