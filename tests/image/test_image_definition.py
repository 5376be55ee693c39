"""The Dockerfile, tools/image/spec.py and the pinned requirements describe one image.

tools/image/build.py builds from `tools.image.spec`; these tests hold the Dockerfile to the same
entrypoint, user, environment, labels, base and venv, the .dockerignore to what it copies, and
tools/image/requirements.txt to pyproject.toml's dependencies.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.image import spec

DOCKERFILE = spec.ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuations joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage (split at FROM; the ARGs before the first are dropped)."""
    found: list[list[tuple[str, str]]] = []
    for item in instructions(DOCKERFILE.read_text()):
        if item[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(item)
    return found


def final(name: str) -> list[str]:
    return [args for word, args in stages()[-1] if word == name]


def test_two_stages_on_the_same_slim_python() -> None:
    """A build stage and a run stage, both python:<3.11>-slim-<bookworm>."""
    bases = [args for stage in stages() for word, args in stage if word == "FROM"]
    assert bases == [
        "python:${PYTHON_VERSION}-slim-bookworm AS build",
        "python:${PYTHON_VERSION}-slim-bookworm",
    ]
    assert f"ARG PYTHON_VERSION={spec.PYTHON_VERSION}" in DOCKERFILE.read_text()
    assert spec.DEBIAN_SUITE in bases[0]


def test_the_entrypoint_is_exec_form_kaito_operator() -> None:
    """JSON (exec) form: no shell is needed to start the operator; no CMD or SHELL."""
    (entrypoint,) = final("ENTRYPOINT")
    assert tuple(json.loads(entrypoint)) == spec.ENTRYPOINT
    assert not final("CMD")
    assert not final("SHELL")


def test_a_non_root_numeric_user() -> None:
    """USER uid:gid (numbers, so runAsNonRoot can check them), created with the same ids."""
    assert final("USER") == [f"{spec.UID}:{spec.GID}"]
    (run,) = final("RUN")
    assert f"groupadd --system --gid {spec.GID} {spec.USER_NAME}" in run
    assert f"useradd --system --uid {spec.UID} --gid {spec.GID}" in run


def test_the_environment_and_labels_are_the_specs() -> None:
    """ENV as tools/image/spec.py's; the five OCI labels."""
    (env,) = final("ENV")
    assert dict(item.split("=", 1) for item in shlex.split(env)) == dict(spec.ENV)
    (label,) = final("LABEL")
    keys = sorted(item.split("=", 1)[0] for item in shlex.split(label))
    assert tuple(keys) == spec.LABELS
    assert 'org.opencontainers.image.version="${VERSION}"' in label


def test_the_venv_holds_the_pinned_requirements_and_the_wheel() -> None:
    """The build stage installs requirements.txt with hashes, binaries only, then the wheel."""
    (build,) = [args for word, args in stages()[0] if word == "RUN"]
    assert f"python -m venv --without-pip {spec.VENV}" in build
    assert "--only-binary=:all: --require-hashes -r /tmp/requirements.txt" in build
    assert "install --no-deps /dist/*.whl" in build
    assert final("COPY") == [f"--from=build {spec.VENV} {spec.VENV}"]


def test_the_dockerignore_lets_through_exactly_what_is_copied() -> None:
    """Everything is ignored but the sources the build stage copies."""
    copied = []
    for word, args in stages()[0]:
        if word == "COPY":
            sources = args.split()[:-1]
            copied += [s.removeprefix("./") for s in sources]
    ignore = (spec.ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert ignore[1] == "*"
    assert allowed == set(copied)


def test_the_requirements_are_pinned_and_hashed() -> None:
    """Every requirement is name==version with at least one sha256."""
    text = spec.REQUIREMENTS.read_text()
    blocks = re.split(r"\n(?=[A-Za-z])", text.split("\n", 4)[-1])
    pins = [b for b in blocks if "==" in b.split("\n")[0]]
    assert len(pins) > 20
    for block in pins:
        assert "--hash=sha256:" in block, block.split()[0]


def pinned() -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", spec.REQUIREMENTS.read_text(), re.M)
    return {canonicalize_name(name): version for name, version in found}


def project_requirements() -> list[Requirement]:
    import tomllib

    project = tomllib.loads((spec.ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in ("kubernetes", "aks"):
        found += [Requirement(r) for r in extras[extra]]
    return [r for r in found if canonicalize_name(r.name) != "kaito-py"]


@pytest.mark.parametrize("requirement", project_requirements(), ids=str)
def test_the_lock_satisfies_pyproject(requirement: Requirement) -> None:
    """Each dependency of the image (base + kubernetes + aks) is pinned inside its range;
    regenerate with ``python -m tools.image lock`` when this fails."""
    versions = pinned()
    name = canonicalize_name(requirement.name)
    assert name in versions, f"{name} is not in tools/image/requirements.txt"
    assert requirement.specifier.contains(versions[name], prereleases=True)


def test_the_dockerfile_names_its_copy_sources_that_exist() -> None:
    """Every COPY source of the build stage is in the repository."""
    for word, args in stages()[0]:
        if word == "COPY":
            for source in args.split()[:-1]:
                assert (spec.ROOT / Path(source)).exists(), source
