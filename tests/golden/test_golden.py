"""Golden files: ``kaito plan`` output for every docs example and a few upstream examples.

``tests/golden/<name>.yaml`` is the byte-exact stdout of ``kaito plan <input>`` for
``docs/examples/<name>.yaml`` and ``tests/golden/inputs/<name>.yaml`` (upstream manifests copied
here so the test stands alone). An input's ``# kaito-plan-args: ...`` line adds CLI flags.
Regenerate after an intended change with ``KAITO_UPDATE_GOLDENS=1 pytest tests/golden`` and read
the diff before committing it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from kaito_backends.cli import main
from tests.conftest import EXAMPLES

GOLDEN = Path(__file__).resolve().parent
INPUTS = sorted(EXAMPLES.glob("*.yaml")) + sorted((GOLDEN / "inputs").glob("*.yaml"))
UPDATE = os.environ.get("KAITO_UPDATE_GOLDENS") == "1"
_ARGS_PREFIX = "# kaito-plan-args:"


def _args(path: Path) -> list[str]:
    for line in path.read_text().splitlines():
        if line.startswith(_ARGS_PREFIX):
            return shlex.split(line[len(_ARGS_PREFIX) :])
    return []


def _render(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(["plan", *_args(path), str(path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return out


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_plan_output_matches_the_golden_file(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = GOLDEN / f"{path.stem}.yaml"
    out = _render(path, capsys)
    if UPDATE:
        golden.write_text(out)
    assert golden.is_file(), f"no golden file {golden.name}; run with KAITO_UPDATE_GOLDENS=1"
    expected = golden.read_text()
    assert out == expected, (
        f"kaito plan {path.name} differs from {golden.name}; if the change is intended, "
        "regenerate with KAITO_UPDATE_GOLDENS=1 and review the diff"
    )


def test_every_golden_file_has_an_input() -> None:
    stems = {p.stem for p in INPUTS}
    assert len(stems) == len(INPUTS), "two inputs share a name"
    stale = sorted(p.name for p in GOLDEN.glob("*.yaml") if p.stem not in stems)
    assert stale == [], f"golden files without an input: {stale}"
