"""The test helper `bounded` really stops runaway time and memory."""

from __future__ import annotations

import pytest

from tests.bounds import BoundExceeded, bounded


def test_memory_over_the_bound_raises() -> None:
    """Allocating past the ceiling is a MemoryError inside the block, and the limit is lifted."""
    with pytest.raises(MemoryError), bounded(memory_mib=64):
        bytearray(512 * 1024 * 1024)  # one statement: the allocation
    assert len(bytearray(128 * 1024 * 1024)) == 128 * 1024 * 1024


def test_time_over_the_bound_raises() -> None:
    """A loop that outlives the timer is stopped with BoundExceeded."""

    def spin() -> None:
        while True:
            pass

    with pytest.raises(BoundExceeded), bounded(seconds=0.2):
        spin()
