"""A controller on the real control plane, measured from the API server's audit log:
``python -m benchmarks.realcluster`` (``nox -s bench -- --realcluster ...``).

Starts the real-cluster tier's control plane (`tools.cluster.controlplane.ControlPlane`:
kube-apiserver with an audit log of every request, etcd, kube-controller-manager,
kube-scheduler, kwok, Karpenter's kwok provider) in ``.cluster/bench/``, installs ``kaito
manifests`` and runs this checkout's ``kaito operator --backend karpenter`` as its
ServiceAccount, with its default flags (``--operator-arg`` adds some). ``--controller-command``
runs any other controller instead (`benchmarks.controllers`: a template with placeholders such
as ``{kubeconfig}``; ``--install FILE`` applies its CRDs and RBAC instead of kaito's manifests,
``--service-account NS/NAME`` is the identity it runs as and is counted under).

Then `benchmarks.workload.measure`: for each of ``--sizes`` (cumulative), Workspaces created
until all are Ready, the controller's requests per Workspace by verb and resource, a
steady-state window of ``--window`` seconds, its resident memory. ``--snapshot FILE`` then
runs ``--examples`` and writes what the controller made for them, normalised
(`benchmarks.snapshot`); ``--compare LEFT RIGHT`` prints the object-by-object differences of two
snapshot files (`benchmarks.objectdiff`; exit 1 when they differ, as ``diff`` does, and no
cluster is started).

Prints two tables (`benchmarks.report`) and a line on the machine; ``--json FILE`` writes the
raw results. Exit 0 on success, 1 when something failed (a Workspace Failed, not Ready within
``--timeout``, a component did not start: one line on stderr), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import objectdiff
from benchmarks.controllers import (
    PLACEHOLDERS,
    CommandController,
    Controller,
    KaitoOperator,
    TemplateError,
    render,
)
from benchmarks.report import requests_table, summary_table
from benchmarks.workload import EXAMPLES, measure, snapshot_examples
from tools.cluster import build
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import NAMESPACE, ROOT, SERVICE_ACCOUNT, install, webhook_ready
from tools.cluster.rest import HttpError

__all__ = ["DEFAULT_STATE", "machine", "main"]

#: Where the benchmark's control plane keeps its state (git-ignored, like the tier's).
DEFAULT_STATE = ROOT / ".cluster" / "bench"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """CPUs, memory, kernel, Python: what a figure was measured on."""
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not sizes or any(s <= 0 for s in sizes) or sizes != sorted(set(sizes)):
        raise argparse.ArgumentTypeError(f"sizes must be positive and increasing: {text!r}")
    return sizes


def _service_account(text: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/NAME, got {text!r}")
    return namespace, name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.realcluster",
        description="Measure a Workspace controller on the real control plane from the audit log "
        "(docs/performance.md).",
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[100, 1000], help="cumulative Workspace counts (100,1000)"
    )
    parser.add_argument(
        "--window", type=float, default=600.0, help="steady-state seconds after each size (600)"
    )
    parser.add_argument("--namespaces", type=int, default=10, help="namespaces to spread over (10)")
    parser.add_argument(
        "--quiet", type=float, default=10.0, help="converged: no write for this long (10 s)"
    )
    parser.add_argument("--timeout", type=float, help="seconds until Ready (300 + 3 per Workspace)")
    parser.add_argument(
        "--operator-arg", action="append", default=[], help="an extra flag for kaito operator"
    )
    parser.add_argument(
        "--controller-command",
        help="run this controller instead of kaito's (placeholders: "
        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        + ")",
    )
    parser.add_argument(
        "--ready-url",
        default="http://127.0.0.1:{health_port}/healthz",
        help="--controller-command: polled until it answers ok ('' to wait 5 s instead)",
    )
    parser.add_argument(
        "--install",
        type=Path,
        action="append",
        default=[],
        help="--controller-command: manifests to apply instead of kaito's (repeatable)",
    )
    parser.add_argument(
        "--service-account",
        type=_service_account,
        default=(NAMESPACE, SERVICE_ACCOUNT),
        help=f"--controller-command: NAMESPACE/NAME it runs as ({NAMESPACE}/{SERVICE_ACCOUNT})",
    )
    parser.add_argument("--snapshot", type=Path, help="write the examples' normalised objects here")
    parser.add_argument(
        "--examples", type=Path, nargs="+", default=list(EXAMPLES), help="--snapshot: manifests"
    )
    parser.add_argument(
        "--compare", type=Path, nargs=2, metavar=("LEFT", "RIGHT"), help="diff two snapshots"
    )
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the plane's directory")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    return parser


def _compare(left: Path, right: Path) -> int:
    try:
        a, b = (json.loads(p.read_text()) for p in (left, right))
    except (OSError, ValueError) as error:
        _say(f"error: {error}")
        return 2
    differences = objectdiff.diff(a, b)
    print(objectdiff.table(differences, left=left.name, right=right.name))
    counts = objectdiff.summary(a, b, differences)
    print()
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 1 if differences else 0


def _controller(args: argparse.Namespace, plane: ControlPlane) -> Controller:
    if args.controller_command is None:
        return KaitoOperator.on(plane, extra=tuple(args.operator_arg))
    return CommandController(
        plane,
        args.controller_command,
        service_account=args.service_account,
        ready_url=args.ready_url or None,
    )


def _run(args: argparse.Namespace) -> dict[str, Any]:
    state: Path = args.state.resolve()
    try:
        existing = ControlPlane.load(state)
    except (OSError, ValueError):
        existing = None
    if existing is not None and any(existing.running().values()):
        raise RuntimeError(f"a cluster already runs from {state}: stop it first")
    plane = ControlPlane.create(state, binaries=build.ensure())
    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M")}
    try:
        plane.up(say=_say)
        if args.install:
            for path in args.install:
                plane.kubectl("apply", "--server-side", "-f", str(path), timeout=120)
        else:
            install(plane)
        controller = _controller(args, plane)
        results["controller"] = controller.description
        results["versions"] = plane.layout.versions
        controller.start()
        webhook_ready(plane)
        results["stages"] = measure(
            plane,
            controller,
            sizes=args.sizes,
            window=args.window,
            namespaces=args.namespaces,
            quiet=args.quiet,
            timeout=args.timeout,
            say=_say,
        )
        if args.snapshot is not None:
            snapshot = snapshot_examples(plane, controller, args.examples)
            args.snapshot.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
            _say(f"{len(snapshot)} objects written to {args.snapshot}")
        controller.stop()
    finally:
        plane.down()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The command (see the module docstring); its exit code."""
    args = _parser().parse_args(argv)
    if args.compare is not None:
        return _compare(*args.compare)
    if args.controller_command is not None:
        try:
            render(args.controller_command, dict.fromkeys(PLACEHOLDERS, ""))
            if args.ready_url:
                render(args.ready_url, dict.fromkeys(PLACEHOLDERS, ""))
        except TemplateError as error:
            _say(f"error: {error}")
            return 2
    elif args.install:
        _say("error: --install goes with --controller-command (kaito installs its own manifests)")
        return 2
    try:
        results = _run(args)
    except (
        build.GoMissing,
        build.BuildError,
        RuntimeError,
        TimeoutError,
        HttpError,
        OSError,
    ) as error:
        _say(f"error: {error}")
        return 1
    stages = results["stages"]
    print(summary_table(stages))
    print()
    print(requests_table(stages))
    print()
    info = results["machine"]
    print(
        f"{results['controller']} on {info['cpus']} CPUs, {info['memory_gib']} GiB, "
        f"Linux {info['kernel']}, Python {info['python']}; started {results['started']}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
