"""Development sessions: ``nox`` runs the test suite and every check CI runs.

``nox -s demo`` runs the README's main job (a Workspace end to end on the embedded fake cluster).
``nox -s cluster -- up`` / ``-- down`` start and stop a local control plane with the operator in
it (docs/testing.md).
``nox -s image`` builds the operator image without a container engine (tools/image).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import nox


def venv_backend() -> str:
    """uv when it is installed (``pip install 'nox[uv]'``, or on PATH), else virtualenv. Naming
    only the one that is there keeps nox from probing for uv and printing "uv binary not
    found"."""
    return "uv" if importlib.util.find_spec("uv") or shutil.which("uv") else "virtualenv"


nox.options.default_venv_backend = venv_backend()
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "realcluster", "lint", "typing", "imports"]

PYTHON = "3.11"


def _install(session: nox.Session, *groups: str, extras: str = "all") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")
    for group in groups:
        session.install("--group", group)


def _build_control_plane(session: nox.Session, *components: str) -> None:
    """Build the Go components (cached; a no-op when the pins did not change), if Go is here."""
    if shutil.which("go") is None:
        session.log("no Go toolchain on PATH: nothing built (see docs/testing.md)")
        return
    session.run("python", "-m", "tools.cluster", "build", *components)


#: The Debian packages the image build and its real-cluster test run (tools/image,
#: tests/realcluster/test_image.py), by the command each one provides.
IMAGE_PACKAGES = {"debootstrap": "debootstrap", "umoci": "umoci", "ip": "iproute2"}


def missing_packages(packages: dict[str, str] = IMAGE_PACKAGES) -> list[str]:
    """The packages of ``packages`` whose command is not on PATH, sorted."""
    return sorted({package for command, package in packages.items() if not shutil.which(command)})


def _debian_packages(session: nox.Session) -> None:
    """Install the image build's Debian packages when they are missing and we can (root with
    apt-get, as on a fresh CI machine); otherwise say what the image test needs."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.log(f"not root or no apt-get: the image test needs {', '.join(missing)}")
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run(
        "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, external=True
    )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite without the real-cluster tier (unit, property, golden, conformance, e2e)."""
    _install(session, "test")
    # the pinned kubectl of the e2e tests, and helm for the chart's (tests/chart)
    _build_control_plane(session, "kubernetes", "helm")
    session.run("pytest", "-m", "not realcluster", *session.posargs)


@nox.session(python=PYTHON)
def realcluster(session: nox.Session) -> None:
    """The real-cluster tier: kube-apiserver, etcd, kwok and Karpenter built from Go modules."""
    _install(session, "test")
    _build_control_plane(session)
    _debian_packages(session)
    session.run("pytest", "-m", "realcluster", *(session.posargs or ["tests/realcluster"]))


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """The local control plane with kaito in it: ``-- up``, ``-- down``, ``-- status``."""
    _install(session, "test")
    session.run("python", "-m", "tools.cluster", *(session.posargs or ["status"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict on the pure layers (kaito_core, kaito_presets)."""
    _install(session, "typing", extras="")
    session.run("mypy")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter: backends above core above presets; the core does no I/O."""
    _install(session, "imports", extras="all")
    session.run("lint-imports")


def install_once(session: nox.Session, *args: str) -> None:
    """``session.install(*args)`` unless this virtualenv already has it for the same
    pyproject.toml and arguments (an editable install sees code changes without reinstalling):
    a marker in the virtualenv records what was installed."""
    key = hashlib.sha256(Path("pyproject.toml").read_bytes())
    key.update("\0".join((sys.version, *args)).encode())
    location = getattr(session.virtualenv, "location", None)
    marker = Path(location, ".kaito-installed") if location else None
    if marker is not None and marker.is_file() and marker.read_text() == key.hexdigest():
        session.log("kaito-py is installed and pyproject.toml is unchanged: not reinstalling")
        return
    session.install(*args)
    if marker is not None:
        marker.write_text(key.hexdigest())


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: bring up the quick-start Workspace on the embedded fake cluster (installed
    once per virtualenv and pyproject.toml, so a second run takes about a second)."""
    install_once(session, "-e", ".")
    files = session.posargs or ["docs/examples/workspace-phi-3-mini.yaml"]
    session.run("kaito", "up", *files)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: prints a table (not a CI gate). ``-- --realcluster ...`` measures the operator
    on the real control plane (built first, when Go is here)."""
    if session.posargs[:1] == ["--realcluster"]:
        _install(session, "test")
        _build_control_plane(session)
    else:
        session.install("-e", ".")
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python=PYTHON)
def image(session: nox.Session) -> None:
    """The operator image as an OCI archive in build/image (root, debootstrap and umoci needed).

    ``nox -s image -- lock`` regenerates tools/image/requirements.txt instead.
    """
    _debian_packages(session)
    session.run("python", "-m", "tools.image", *(session.posargs or ["build"]))
