"""The noxfile: ``nox -s demo`` installs once per virtualenv and pyproject.toml, and nox is told
the virtualenv backend that is installed (so it never prints "uv binary not found")."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def _noxfile(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The noxfile, loaded over a stand-in ``nox`` module (nox is not a test dependency)."""
    stub = types.ModuleType("nox")
    stub.options = types.SimpleNamespace()  # type: ignore[attr-defined]
    stub.session = lambda **_: lambda fn: fn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nox", stub)
    spec = importlib.util.spec_from_file_location("kaito_noxfile", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Session:
    """What the demo session uses of `nox.Session`, recorded."""

    def __init__(self, venv: Path, posargs: list[str] | None = None) -> None:
        self.virtualenv = types.SimpleNamespace(location=str(venv))
        self.posargs = posargs or []
        self.installs: list[tuple[str, ...]] = []
        self.runs: list[tuple[str, ...]] = []
        self.logs: list[str] = []

    def install(self, *args: str) -> None:
        self.installs.append(args)

    def run(self, *args: str, **_: object) -> None:
        self.runs.append(args)

    def log(self, message: str) -> None:
        self.logs.append(message)


def test_demo_installs_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A second run reuses the install; a changed pyproject.toml or a new virtualenv installs."""
    noxfile = _noxfile(monkeypatch)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    monkeypatch.chdir(project)
    venv = tmp_path / "venv"
    venv.mkdir()
    runs = []
    for _ in range(2):
        session = _Session(venv)
        noxfile.demo(session)
        runs.append(session)
    assert runs[0].installs == [("-e", ".")]
    assert runs[1].installs == []
    assert all(r.runs == [("kaito", "up", "docs/examples/workspace-phi-3-mini.yaml")] for r in runs)
    (project / "pyproject.toml").write_text("# changed\n" + (ROOT / "pyproject.toml").read_text())
    changed = _Session(venv)
    noxfile.demo(changed)
    assert changed.installs == [("-e", ".")]
    fresh_venv = tmp_path / "fresh"
    fresh_venv.mkdir()
    fresh = _Session(fresh_venv)
    noxfile.demo(fresh)
    assert fresh.installs == [("-e", ".")]


@pytest.mark.parametrize(
    ("module", "binary", "backend"),
    [(True, None, "uv"), (False, "/usr/bin/uv", "uv"), (False, None, "virtualenv")],
    ids=["uv-module", "uv-on-path", "no-uv"],
)
def test_the_backend_is_one_that_is_installed(
    monkeypatch: pytest.MonkeyPatch, module: bool, binary: str | None, backend: str
) -> None:
    """ "uv|virtualenv" made nox probe for uv and print "uv binary not found" without it."""
    noxfile = _noxfile(monkeypatch)
    monkeypatch.setattr(
        noxfile.importlib.util, "find_spec", lambda name: object() if module else None
    )
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: binary)
    assert noxfile.venv_backend() == backend
    assert "|" not in noxfile.venv_backend()


def test_the_readme_installs_nox_with_uv() -> None:
    """The README's commands give nox the uv it uses (``nox[uv]``)."""
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m pip install nox &&" not in readme
    assert "python3 -m pip install 'nox[uv]' && python3 -m nox -s demo" in readme


@pytest.mark.parametrize(
    ("posargs", "installs", "builds"),
    [
        pytest.param([], [("-e", ".")], False, id="engine-benchmarks"),
        pytest.param(
            ["--realcluster", "--sizes", "10"],
            [("-e", ".[all]"), ("--group", "test")],
            True,
            id="real-control-plane",
        ),
    ],
)
def test_bench_installs_and_builds_what_its_mode_needs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    posargs: list[str],
    installs: list[tuple[str, ...]],
    builds: bool,
) -> None:
    """``-- --realcluster`` needs the Kubernetes client, the tier's helpers and the control
    plane's binaries; the engine benchmarks need the package only."""
    noxfile = _noxfile(monkeypatch)
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: "/usr/bin/go")
    session = _Session(tmp_path, posargs)
    noxfile.bench(session)
    assert session.installs == installs
    built = [r for r in session.runs if r[:3] == ("python", "-m", "tools.cluster")]
    assert bool(built) is builds
    assert session.runs[-1] == ("python", "-m", "benchmarks.run", *posargs)


@pytest.mark.parametrize(
    ("on_path", "root", "runs"),
    [
        ({"debootstrap", "umoci", "ip", "apt-get"}, True, []),
        (
            {"ip", "apt-get"},
            True,
            [
                ("apt-get", "update", "-qq"),
                (
                    "apt-get",
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "debootstrap",
                    "umoci",
                ),
            ],
        ),
        ({"ip", "apt-get"}, False, []),
        ({"ip"}, True, []),
    ],
    ids=["all-there", "installs-the-missing", "not-root", "no-apt-get"],
)
def test_the_image_packages_are_installed_where_they_can_be(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    on_path: set[str],
    root: bool,
    runs: list[tuple[str, ...]],
) -> None:
    """A fresh CI machine (root, apt-get) gets debootstrap, umoci and iproute2 before the
    real-cluster tier runs the image test; elsewhere the session says what is missing."""
    noxfile = _noxfile(monkeypatch)
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: name if name in on_path else None)
    monkeypatch.setattr(noxfile.os, "geteuid", lambda: 0 if root else 1000)
    session = _Session(tmp_path)
    noxfile._debian_packages(session)
    assert session.runs == runs
    if not runs and on_path != {"debootstrap", "umoci", "ip", "apt-get"}:
        assert session.logs == ["not root or no apt-get: the image test needs debootstrap, umoci"]
