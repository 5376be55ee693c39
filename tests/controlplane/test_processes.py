"""Processes are recorded by PID and kernel start time, and stopped only if both still match."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tools.cluster import processes

SLEEP = "import signal, time; {}print('ready', flush=True); time.sleep(60)"


def _started(log: Path) -> None:
    deadline = time.monotonic() + 10
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)


def test_a_started_process_is_recorded_and_stopped_by_pid(tmp_path: Path) -> None:
    """start: detached, logged, recorded; stop: gone, record removed."""
    record = processes.start(tmp_path, "sleeper", [sys.executable, "-c", SLEEP.format("")])
    _started(tmp_path / "logs" / "sleeper.log")
    assert processes.alive(record)
    assert [r.name for r in processes.records(tmp_path)] == ["sleeper"]
    assert os.getsid(record.pid) == record.pid  # its own session: Ctrl-C does not reach it
    processes.stop(tmp_path, record, grace=5)
    assert not processes.alive(record)
    assert processes.records(tmp_path) == []
    assert "ready" in (tmp_path / "logs" / "sleeper.log").read_text()


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    """SIGTERM first; SIGKILL once ``grace`` has passed."""
    code = SLEEP.format("signal.signal(signal.SIGTERM, signal.SIG_IGN); ")
    record = processes.start(tmp_path, "stubborn", [sys.executable, "-c", code])
    _started(tmp_path / "logs" / "stubborn.log")
    processes.stop(tmp_path, record, grace=0.5)
    assert not processes.alive(record)


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    """A record whose PID now belongs to another process (other start time) is not alive, and
    stopping it signals nothing: here the PID is this test's own."""
    mine = processes.Record(name="old", pid=os.getpid(), started=1, command=("gone",))
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "old.json").write_text(
        json.dumps({"pid": mine.pid, "started": 1, "command": ["gone"]})
    )
    assert not processes.alive(mine)
    processes.stop(tmp_path, mine, grace=0.1)  # would kill pytest if it signalled the PID
    assert processes.records(tmp_path) == []


def test_a_child_whose_record_was_lost_is_still_stopped(tmp_path: Path) -> None:
    """stop_children: a process this interpreter started never outlives it, record or not."""
    record = processes.start(tmp_path, "orphan", [sys.executable, "-c", SLEEP.format("")])
    _started(tmp_path / "logs" / "orphan.log")
    (tmp_path / "pids" / "orphan.json").unlink()
    assert processes.records(tmp_path) == []
    assert record.pid in processes.stop_children(grace=5)
    assert not processes.alive(record)
