"""``kaito validate FILE...``: check manifests the way KAITO's admission webhook would.

Documents of every registered kind (Workspace, ...) are validated by their kind's rules. Every
file is read first; the ConfigMaps, Secrets and Nodes found in any of them are pooled, so
``kaito validate cm.yaml ws.yaml`` checks the Workspace against the ConfigMap. Each problem is one
line on stdout, ``FILE: Kind/NAME: FIELD.PATH: message``. Exit codes: 0 every object is valid,
1 at least one problem, 2 a file could not be read or is not YAML (one line on stderr,
``FILE: error: ...``). Reading and validating are `kaito_backends.cli.inputs`, which
``kaito plan`` and ``kaito up`` share.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from kaito_backends.cli.inputs import add_validation_arguments, check, registry_of

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validate`` to the ``kaito`` command."""
    parser = subparsers.add_parser(
        "validate",
        help="check Workspace (and other KAITO) manifests as KAITO's admission webhook would",
        description="Check Workspace and other KAITO manifests (with the ConfigMaps, Secrets and "
        "Nodes given in any of the files) as KAITO's admission webhook would. Prints one line per "
        "problem: FILE: Kind/NAME: FIELD.PATH: message. Exit 0 valid, 1 problems, 2 unreadable "
        "input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest file; '-' reads stdin")
    add_validation_arguments(parser, provisioning=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate every file named in `args`; print problems; return the exit code."""
    checked = check(args, command="validate")
    if checked.status == 0:
        registry = registry_of(args)
        counts = Counter(item.spec.kind for item in checked.inputs.objects)
        found = ", ".join(f"{counts[k]} {k}(s)" for k in registry.names if counts[k])
        print(f"{found} valid", file=sys.stderr)
    return checked.status
