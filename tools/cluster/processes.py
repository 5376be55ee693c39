"""Processes of a control plane: started detached, recorded by PID, stopped by PID.

`start` runs a command in a new session (so it outlives ``nox -s cluster -- up`` and a Ctrl-C in
the terminal does not reach it), its output appended to ``<state>/logs/<name>.log``, and records
``<state>/pids/<name>.json``: the PID, the command and the process' start time as the kernel
counts it (``/proc/<pid>/stat``). `stop` signals only a process whose PID *and* start time still
match the record, so a PID the kernel has since given to another program is never touched:
SIGTERM, then SIGKILL after ``grace`` seconds. Nothing here matches processes by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Record", "alive", "records", "start", "stop", "stop_children"]


@dataclass(frozen=True)
class Record:
    """A started process: its name, PID, kernel start time and command."""

    name: str
    pid: int
    started: int
    command: tuple[str, ...]


def _start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks since boot), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is parenthesised and may contain spaces: split after it
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def alive(record: Record) -> bool:
    """The recorded process still runs (same PID and start time, not a zombie)."""
    return _start_time(record.pid) == record.started and not _zombie(record.pid)


def _pid_file(state: Path, name: str) -> Path:
    return state / "pids" / f"{name}.json"


def start(
    state: Path,
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Record:
    """Start ``command`` detached (see the module docstring); its `Record`."""
    _reap_exited()
    (state / "logs").mkdir(parents=True, exist_ok=True)
    (state / "pids").mkdir(parents=True, exist_ok=True)
    log = (state / "logs" / f"{name}.log").open("ab")
    try:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        log.close()
    started = _start_time(proc.pid)
    deadline = time.monotonic() + 1.0
    while started is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # /proc not readable yet: try again briefly
        started = _start_time(proc.pid)
    record = Record(name=name, pid=proc.pid, started=started or 0, command=tuple(command))
    _pid_file(state, name).write_text(
        json.dumps({"pid": record.pid, "started": record.started, "command": list(command)})
    )
    _CHILDREN[proc.pid] = proc
    return record


#: Children started by this interpreter, kept so they can be reaped (no zombies) when stopped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def records(state: Path) -> list[Record]:
    """Every recorded process of ``state``, by name."""
    _reap_exited()
    found = []
    for path in sorted((state / "pids").glob("*.json")):
        try:
            data = json.loads(path.read_text())
            found.append(
                Record(
                    name=path.stem,
                    pid=int(data["pid"]),
                    started=int(data["started"]),
                    command=tuple(data["command"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None and child.poll() is None:
        _CHILDREN[pid] = child


def _reap_exited() -> None:
    """Collect every child of ours that exited on its own (no zombies, no stale handles)."""
    for pid in list(_CHILDREN):
        _reap(pid)


def stop(state: Path, record: Record, *, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Stop the recorded process (``sig``, then SIGKILL after ``grace``); forget its record."""
    if alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)
        deadline = time.monotonic() + grace
        while alive(record) and time.monotonic() < deadline:
            _reap(record.pid)
            time.sleep(0.05)
        if alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            while alive(record):
                _reap(record.pid)
                time.sleep(0.02)
    _reap(record.pid)
    _pid_file(state, record.name).unlink(missing_ok=True)


def stop_children(*, grace: float = 10.0) -> list[int]:
    """Stop every process this interpreter started that still runs, whatever its record says
    (a record lost or overwritten must not leave one behind); their PIDs."""
    stopped = []
    for pid, child in sorted(_CHILDREN.items()):
        if child.poll() is not None:
            _reap(pid)
            continue
        child.terminate()
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        _reap(pid)
        stopped.append(pid)
    return stopped
