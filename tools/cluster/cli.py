"""``python -m tools.cluster``: build, start and stop the local control plane with kaito in it.

    python -m tools.cluster build [COMPONENT...]   # build what is missing (all by default)
    python -m tools.cluster up [--state DIR]       # build, start everything, install kaito,
                                                   # start the operator; print export KUBECONFIG
    python -m tools.cluster status [--state DIR]   # what runs
    python -m tools.cluster down [--state DIR]     # stop every process started, by PID

``nox -s cluster -- up`` / ``-- down`` run these. The state directory defaults to
``.cluster/up/`` in the checkout (git-ignored; the test tier's is ``.cluster/tier/``). Exit 0 on
success, 1 when something failed (one line on stderr per problem, the failing component's log
tail after it), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools.cluster import build
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import ROOT, Operator, install, webhook_ready

__all__ = ["DEFAULT_STATE", "main"]

#: ``.cluster/up`` in the checkout (the test tier uses ``.cluster/tier``).
DEFAULT_STATE = ROOT / ".cluster" / "up"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _up(state: Path) -> int:
    try:
        existing = ControlPlane.load(state)
    except (OSError, ValueError):
        existing = None
    if existing is not None and any(existing.running().values()):
        _say(f"a cluster already runs from {state}: run 'down' first")
        return 1
    started = time.monotonic()
    binaries = build.ensure()
    plane = ControlPlane.create(state, binaries=binaries)
    try:
        plane.up(say=_say)
        install(plane)
        Operator(plane).start()
        webhook_ready(plane)
    except BaseException:
        _say(f"start-up failed; stopping what started (logs stay in {state / 'logs'})")
        plane.down()
        raise
    _say(f"cluster up in {time.monotonic() - started:.1f} s; logs in {state / 'logs'}")
    _say("stop it with: nox -s cluster -- down (or python -m tools.cluster down)")
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


def _down(state: Path) -> int:
    try:
        plane = ControlPlane.load(state)
    except (OSError, ValueError):
        _say(f"no cluster recorded in {state}")
        return 0
    stopped = plane.down()
    _say(f"stopped {', '.join(stopped) if stopped else 'nothing (nothing was running)'}")
    return 0


def _status(state: Path) -> int:
    try:
        plane = ControlPlane.load(state)
    except (OSError, ValueError):
        _say(f"no cluster recorded in {state}")
        return 1
    running = plane.running()
    for name, alive in running.items():
        print(f"{name:26} {'running' if alive else 'exited'}")
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0 if running and all(running.values()) else 1


def main(argv: list[str] | None = None) -> int:
    """The command (see the module docstring); its exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.cluster",
        description="Build, start and stop the local control plane with kaito in it "
        "(docs/testing.md).",
    )
    parser.add_argument("command", choices=("build", "up", "down", "status"))
    parser.add_argument("components", nargs="*", help="build: which components (default all)")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for name, path in build.ensure(args.components or None).items():
                print(f"{name:26} {path}")
            return 0
        if args.components:
            parser.error(f"{args.command} takes no components")
        state = args.state.resolve()
        if args.command == "up":
            return _up(state)
        if args.command == "down":
            return _down(state)
        return _status(state)
    except (build.GoMissing, build.BuildError, RuntimeError, TimeoutError, OSError) as error:
        _say(f"error: {error}")
        return 1
