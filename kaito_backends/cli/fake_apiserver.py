"""``kaito fake-apiserver``: a local playground cluster that kubectl can talk to.

Serves the in-memory fake cluster (simulated GPU nodes, NodeClaims, StatefulSets, Pods) with a
Kubernetes-compatible API on loopback, runs the KAITO engine against it, and writes a
kubeconfig (by default in the per-user state folder,
``$XDG_STATE_HOME/kaito-py/playground.kubeconfig``, not the current folder). No cluster, no GPU.
See docs/playground.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fake-apiserver",
        help="serve the fake cluster with a Kubernetes API on loopback (a kubectl playground)",
        description="Serve the in-memory fake cluster over a Kubernetes-compatible HTTP API on "
        "127.0.0.1, run the KAITO engine against it, and write a kubeconfig for kubectl. "
        "Virtual time runs SPEED times faster than real time. Stop with Ctrl-C.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: 0, a free port)"
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        metavar="PATH",
        help="where to write the kubeconfig (default: "
        "$XDG_STATE_HOME/kaito-py/playground.kubeconfig, i.e. "
        "~/.local/state/kaito-py/playground.kubeconfig)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="virtual seconds per real second (default: 60; 0 freezes the simulation)",
    )
    parser.add_argument(
        "--no-engine",
        dest="engine",
        action="store_false",
        help="do not run the KAITO engine (Workspaces are stored but not reconciled)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="engine log level, on standard error (default: warning)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    parser.set_defaults(func=run)


async def _serve(args: argparse.Namespace) -> int:
    from kaito_backends.apiserver import FakeApiServer

    server = FakeApiServer(
        host=args.host,
        port=args.port,
        speed=args.speed,
        engine=args.engine,
        access_log=args.access_log,
        registry=getattr(args, "registry", None),
        hooks=getattr(args, "hooks", None),
    )
    try:
        await server.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        from kaito_backends.apiserver.kubeconfig import default_kubeconfig_path

        path = server.write_kubeconfig(args.kubeconfig or default_kubeconfig_path())
        print(f"kaito fake API server listening on {server.url}", flush=True)
        print(f"kubeconfig written to {path}", flush=True)
        print(f"  export KUBECONFIG={path.resolve()}", flush=True)
        print(
            f"virtual time runs at {args.speed:g}x; "
            f"engine {'on' if args.engine else 'off'}; Ctrl-C stops",
            flush=True,
        )
        await stop.wait()
    finally:
        await server.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        import aiohttp  # noqa: F401
    except ModuleNotFoundError:
        print(
            "kaito fake-apiserver needs aiohttp: pip install -e '.[kubernetes]' in a kaito-py "
            "clone (not on PyPI yet)",
            file=sys.stderr,
        )
        return 2
    if args.speed < 0:
        print("--speed cannot be negative", file=sys.stderr)
        return 2
    if args.engine:
        from kaito_backends.engine.logs import configure_logging

        configure_logging(level=args.log_level)
    if args.access_log:
        import logging

        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    return asyncio.run(_serve(args))
