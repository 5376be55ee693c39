"""The ``kaito`` command: validate, plan and run Workspaces (and every other registered kind),
and list the catalogs.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args) -> int``.
`main` puts the kinds it serves on ``args.registry`` (a `kaito_core.kinds.Registry`, default
`kaito_core.registry.default_registry`) and ``args.hooks`` (the shell's
`kaito_backends.kinds.KindHooks`), which every subcommand reads.
Exit codes: 0 success, 1 the input is invalid or a Workspace failed, 2 the input could not be
read (or the command was used wrongly). No subcommand prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main"]

#: Subcommand modules, in the order ``kaito --help`` lists them.
_COMMANDS = ("up", "validate", "plan", "presets", "skus", "fake_apiserver", "operator", "manifests")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kaito",
        description="Run KAITO Workspaces (LLM inference and tuning) from Python.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"kaito_backends.cli.{name}")
        except ModuleNotFoundError as exc:  # an optional command whose extra is not installed
            if exc.name and exc.name.startswith("kaito_backends.cli"):
                continue
            raise
        module.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    registry: Any = None,
    hooks: Mapping[str, Any] | None = None,
) -> int:
    """Entry point of the ``kaito`` console script; returns the exit code.

    ``registry`` and ``hooks`` (embedding, tests) replace the default kind registry and the
    shell's hooks for every subcommand.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    args.registry, args.hooks = registry, hooks
    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(version("kaito-py"))
        except PackageNotFoundError:
            print("unknown (not installed)")
        return 0
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: one line, not a traceback (KAITO_DEBUG=1 shows it)
        if os.environ.get("KAITO_DEBUG"):
            raise
        print(
            f"kaito {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set KAITO_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 2


def _console() -> None:  # pragma: no cover - the console-script shim
    raise SystemExit(main())
