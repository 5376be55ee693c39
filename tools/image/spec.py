"""What the operator image is, in one place: the Dockerfile states the same (tests/image checks).

Both builds give this layout: a Debian bookworm base with CPython 3.11, a venv in ``/opt/kaito``
holding exactly ``tools/image/requirements.txt`` and the project wheel (no pip in it, no
compiler anywhere), the user ``kaito`` with uid/gid 65532, ``ENTRYPOINT ["kaito", "operator"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "DEBIAN_PACKAGES",
    "DEBIAN_SUITE",
    "ENTRYPOINT",
    "ENV",
    "GID",
    "LABELS",
    "PYTHON_VERSION",
    "REPOSITORY",
    "REQUIREMENTS",
    "ROOT",
    "UID",
    "USER_NAME",
    "VENV",
    "labels",
    "project_version",
]

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "tools" / "image" / "requirements.txt"
#: Debian's python3 in bookworm is 3.11, the Dockerfile's python:3.11-slim-bookworm minor.
PYTHON_VERSION = "3.11"
DEBIAN_SUITE = "bookworm"
#: On top of debootstrap's minbase: the interpreter and the CA bundle (TLS to Azure).
DEBIAN_PACKAGES = ("ca-certificates", "python3")
VENV = "/opt/kaito"
UID = 65532
GID = 65532
USER_NAME = "kaito"
ENTRYPOINT = ("kaito", "operator")
ENV = (
    ("PATH", f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONUNBUFFERED", "1"),
)
REPOSITORY = "ghcr.io/kaito-py/kaito-py"
#: OCI annotation keys of the labels (values: `labels`).
LABELS = (
    "org.opencontainers.image.description",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.source",
    "org.opencontainers.image.title",
    "org.opencontainers.image.version",
)


def project_version() -> str:
    """The version in pyproject.toml (the image's tag)."""
    found = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    if found is None:
        raise RuntimeError("pyproject.toml has no version")
    return found.group(1)


def labels(version: str) -> dict[str, str]:
    """The image's OCI labels at ``version``."""
    found = {
        "org.opencontainers.image.title": "kaito-py",
        "org.opencontainers.image.description": (
            "The kaito-py operator: KAITO Workspaces reconciled by a pure-Python engine"
        ),
        "org.opencontainers.image.source": "https://github.com/kaito-py/kaito-py",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    assert tuple(sorted(found)) == LABELS
    return found
