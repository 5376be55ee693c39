"""``kaito fake-apiserver`` writes its kubeconfig to a per-user state file, not the current
folder (where a checkout would hold, and might commit, it)."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from kaito_backends.apiserver.kubeconfig import default_kubeconfig_path, write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"XDG_STATE_HOME": "/srv/state"}, Path("/srv/state/kaito-py/playground.kubeconfig")),
        ({}, Path.home() / ".local/state/kaito-py/playground.kubeconfig"),
        ({"XDG_STATE_HOME": ""}, Path.home() / ".local/state/kaito-py/playground.kubeconfig"),
        (
            {"XDG_STATE_HOME": "relative/state"},
            Path.home() / ".local/state/kaito-py/playground.kubeconfig",
        ),
    ],
    ids=["xdg", "unset", "empty", "relative-is-ignored"],
)
def test_default_kubeconfig_path(environ: dict[str, str], expected: Path) -> None:
    assert default_kubeconfig_path(environ) == expected


def test_the_kubeconfig_is_private(tmp_path: Path) -> None:
    """0600, in a folder only its owner can list (0700), even over an existing file."""
    path = tmp_path / "state" / "kaito-py" / "playground.kubeconfig"
    path.parent.mkdir(parents=True)
    path.write_text("old")
    path.chmod(0o644)
    write_kubeconfig(path, "http://127.0.0.1:1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh" / "kaito-py" / "playground.kubeconfig"
    write_kubeconfig(fresh, "http://127.0.0.1:1")
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700


async def test_the_cli_writes_to_the_state_folder(tmp_path: Path) -> None:
    state, work = tmp_path / "state", tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(state)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kaito_backends.cli import main; raise SystemExit(main())",
        "fake-apiserver",
        "--port",
        "0",
        "--no-engine",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=work,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            lines = [(await proc.stdout.readline()).decode() for _ in range(3)]
        expected = state / "kaito-py" / "playground.kubeconfig"
        assert lines[1].strip() == f"kubeconfig written to {expected}"
        assert lines[2].strip() == f"export KUBECONFIG={expected}"
        assert expected.is_file()
        assert list(work.iterdir()) == []
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
