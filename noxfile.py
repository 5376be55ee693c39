"""Development sessions: ``nox`` runs the test suite and every check CI runs.

``nox -s demo`` runs the README's main job (a Workspace end to end on the embedded fake cluster).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typing", "imports"]

PYTHON = "3.11"


def _install(session: nox.Session, *groups: str, extras: str = "all") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")
    for group in groups:
        session.install("--group", group)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, property, golden, backend conformance, end to end)."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


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


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: bring up the quick-start Workspace on the embedded fake cluster."""
    session.install("-e", ".")
    files = session.posargs or ["docs/examples/workspace-phi-3-mini.yaml"]
    session.run("kaito", "up", *files)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: prints a table (not a CI gate)."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
