"""A library prints nothing unasked: the documented embedding examples run silently, from anywhere.

structlog's unconfigured default prints every event to standard output, so the engine must never
log through a plain ``structlog.get_logger()``; only the CLI (or the embedding application)
configures logging.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from kaito_backends.engine.logs import configure_logging, engine_logger, library_logger
from tests.conftest import ROOT


def _python_block(doc: str, *, containing: str) -> str:
    """The first ```python block of ``doc`` (relative to the repository) containing the text."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL):
        if containing in block:
            return str(block)
    raise AssertionError(f"{doc} has no python block containing {containing!r}")


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_embedding_guide_example_prints_nothing(tmp_path: Path) -> None:
    """docs/embedding.md's fake-cluster example runs a Controller to the end and prints nothing."""
    block = _python_block("docs/embedding.md", containing="async def test_my_workspace_comes_up")
    script = f"import asyncio\n{block}\nasyncio.run(test_my_workspace_comes_up())\n"
    done = _run(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""


def test_the_readme_library_snippet_runs_from_any_folder_and_prints_its_plan(
    tmp_path: Path,
) -> None:
    """README's library snippet reads no file, runs from an empty folder, prints what it planned."""
    block = _python_block("README.md", containing="from kaito_core.plan import plan")
    done = _run(block, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("NodeClaim ")
    assert "StatefulSet phi-4-mini" in lines
    assert "Service phi-4-mini" in lines
    assert lines[-1] == "state: Pending"
    assert not any("[debug" in line or "[info" in line for line in lines)


def test_an_unconfigured_library_logger_writes_nothing(capsys: object) -> None:
    """With structlog unconfigured, every method of a (bound) library logger is silent."""
    structlog.reset_defaults()
    log = engine_logger().bind(workspace="default/phi", reconcile_id="000001")
    log.debug("workspace.reconciled", applied=4)
    log.info("controller.started")
    log.warning("event.dropped", error="boom")
    log.error("x")
    library_logger("kaito.operator").new(a=1).try_unbind("a").info("y")
    out = capsys.readouterr()  # type: ignore[attr-defined]
    assert (out.out, out.err) == ("", "")


def test_configuring_after_the_logger_was_made_switches_it_on() -> None:
    """A logger handed out before configuration writes once the application configures logging."""
    structlog.reset_defaults()
    log = engine_logger()
    buffer = io.StringIO()
    configure_logging(format="json", level="debug", stream=buffer)
    try:
        log.bind(workspace="default/phi").debug("workspace.reconciled", applied=4)
    finally:
        structlog.reset_defaults()
    line = json.loads(buffer.getvalue())
    assert line["event"] == "workspace.reconciled"
    assert line["logger"] == "kaito.engine"
    assert line["workspace"] == "default/phi"
    assert line["applied"] == 4


def test_an_application_structlog_configuration_is_honoured() -> None:
    """An embedding application's own structlog setup (here: capture_logs) receives our events."""
    structlog.reset_defaults()
    log = library_logger("kaito.aks", pool="gpu0")
    with capture_logs() as captured:
        log.info("pool.created")
    structlog.reset_defaults()
    assert captured == [
        {"event": "pool.created", "log_level": "info", "logger": "kaito.aks", "pool": "gpu0"}
    ]
