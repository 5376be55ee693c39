"""Small helpers the subcommands share: tables, machine-readable output, one-line usage errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import yaml

__all__ = ["dump_json", "dump_yaml", "one_line_errors", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded with three spaces."""
    cells = [[str(h).upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with multi-line strings as literal blocks; key order kept."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(documents: Sequence[Any]) -> str:
    """Multi-document YAML, byte-identical for equal input."""
    return yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000
    )


def one_line_errors(parser: argparse.ArgumentParser, prog: str) -> None:
    """Make `parser` report a bad flag as one ``PROG: error: ...`` line (exit 2), not the usage
    block."""

    def fail(message: str) -> NoReturn:
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = fail  # type: ignore[method-assign]
