"""Build the operator image without a container engine: Debian's packages, PyPI, umoci.

    python -m tools.image build [--output build/image] [--mirror URL] [--refresh-base]
    python -m tools.image lock      # regenerate tools/image/requirements.txt

The result is ``<output>/kaito-py-<version>.oci.tar``: an OCI image archive (a tarred OCI
layout, tag ``<version>``) that ``skopeo copy oci-archive:...`` pushes anywhere, with two layers
as the Dockerfile's stages give:

1. **base** (`tools.image.base`): ``debootstrap --variant=minbase`` of bookworm with
   ``python3`` (CPython 3.11, the Dockerfile's minor) and ``ca-certificates``, cleaned the way
   Debian's slim images are (no apt lists or caches, documentation, manuals or locales; empty
   ``/dev``, ``/run``, ``/tmp``), cached as an OCI layout keyed by its inputs: a second build
   skips debootstrap. ``--refresh-base`` rebuilds it (Debian's security updates).
2. **app**: the user ``kaito`` (uid/gid 65532) and a venv in ``/opt/kaito`` with exactly the
   hashed wheels of ``requirements.txt`` (``--only-binary=:all:``: nothing is compiled) and the
   project wheel, installed by the image's own interpreter in a chroot (`tools.image.sandbox`)
   with a pip run from its wheel, so no pip stays in the image.

The config is `tools.image.spec`'s: entrypoint, user, environment, labels. The report
(``<output>/kaito-py-<version>.json`` and stdout) gives the archive, layer and unpacked sizes.
Needs root (chroot, mounts), ``debootstrap`` and ``umoci`` (Debian packages of those names).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.image import spec
from tools.image.base import DEFAULT_MIRROR, base_layout
from tools.image.commands import BuildError, now, run, tool
from tools.image.sandbox import SandboxSpec

__all__ = ["BuildError", "build", "lock", "main", "tree_size"]


def _in_root(rootfs: Path, argv: Sequence[str], *, what: str, binds: Sequence[Any] = ()) -> str:
    """Run ``argv`` as root in ``rootfs`` (writable, host network) through the sandbox."""
    with tempfile.TemporaryDirectory(prefix="kaito-image-") as scratch:
        path = Path(scratch) / "spec.json"
        SandboxSpec(
            root=str(rootfs),
            argv=list(argv),
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"},
            binds=[tuple(b) for b in binds],
        ).dump(path)
        return run(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                sys.executable,
                "-m",
                "tools.image.sandbox",
                str(path),
            ],
            what=what,
            cwd=spec.ROOT,
        )


def _bundled_pip() -> Path:
    """The pip wheel CPython ships in ``ensurepip`` (no network, no pip installed needed)."""
    import ensurepip

    found = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))
    if not found:
        raise BuildError(
            f"{sys.executable} has no bundled pip wheel (ensurepip/_bundled): use a CPython "
            "built with ensurepip (pyenv, python.org, the python images)"
        )
    return found[-1]


def _wheels(directory: Path) -> tuple[Path, Path]:
    """Download the hashed requirements, build the project wheel: (pip wheel, project wheel).

    pip runs from the wheel CPython bundles, so the interpreter needs no pip installed; the
    same wheel installs the venv in the image and is not installed there.
    """
    pip_wheel = Path(shutil.copy(_bundled_pip(), directory))
    pip = [sys.executable, str(pip_wheel / "pip"), "--disable-pip-version-check"]
    run(
        [
            *pip,
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "--dest",
            str(directory),
            "--require-hashes",
            "-r",
            str(spec.REQUIREMENTS),
        ],
        what="pip download (requirements)",
    )
    run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(directory / "project"), str(spec.ROOT)],
        what="pip wheel (the project)",
    )
    (project,) = (directory / "project").glob("kaito_py-*.whl")
    return pip_wheel, project


def _install(rootfs: Path, wheels: Path, pip_wheel: Path, project: Path) -> None:
    """The app layer: the user, then the venv with the requirements and the project wheel."""
    _in_root(
        rootfs,
        ["groupadd", "--system", "--gid", str(spec.GID), spec.USER_NAME],
        what="groupadd",
    )
    _in_root(
        rootfs,
        [
            "useradd",
            "--system",
            "--uid",
            str(spec.UID),
            "--gid",
            str(spec.GID),
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            spec.USER_NAME,
        ],
        what="useradd",
    )
    python = f"/usr/bin/python{spec.PYTHON_VERSION}"
    _in_root(rootfs, [python, "-m", "venv", "--without-pip", spec.VENV], what="venv")
    mount = "/tmp/wheels"
    shutil.copy(spec.REQUIREMENTS, wheels / "requirements.txt")
    pip = [
        f"{spec.VENV}/bin/python",
        f"{mount}/{pip_wheel.name}/pip",
        "install",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--root-user-action=ignore",
        "--no-index",
        "--find-links",
        mount,
        "--no-deps",
    ]
    binds = [(str(wheels), mount, True)]
    _in_root(
        rootfs,
        [*pip, "--only-binary=:all:", "--require-hashes", "-r", f"{mount}/requirements.txt"],
        what="pip install (requirements)",
        binds=binds,
    )
    _in_root(
        rootfs,
        [*pip, f"{mount}/project/{project.name}"],
        what="pip install (project)",
        binds=binds,
    )
    (rootfs / "tmp" / "wheels").rmdir()
    for leftover in (rootfs / "root" / ".cache",):
        shutil.rmtree(leftover, ignore_errors=True)


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (hard links once), symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if (
                (info.st_dev, info.st_ino) in seen
                or not os.path.isfile(os.path.join(directory, name))
                or os.path.islink(os.path.join(directory, name))
            ):
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total


def _layers(layout: Path, tag: str) -> list[int]:
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    digest = entry["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return [int(layer["size"]) for layer in manifest["layers"]]


def build(
    output: Path, *, mirror: str = DEFAULT_MIRROR, refresh_base: bool = False
) -> dict[str, Any]:
    """Build the image archive into ``output``; the report (also written beside it)."""
    if os.geteuid() != 0:
        raise BuildError("building the image needs root (chroot, mounts): run it as root")
    for name, package in (
        ("debootstrap", "debootstrap"),
        ("umoci", "umoci"),
        ("unshare", "util-linux"),
        ("ip", "iproute2"),
    ):
        tool(name, package)
    started = time.monotonic()
    version = spec.project_version()
    output.mkdir(parents=True, exist_ok=True)
    base = base_layout(mirror, refresh_base)
    with tempfile.TemporaryDirectory(prefix="kaito-image-", dir=output) as scratch:
        work = Path(scratch)
        layout, bundle, wheels = work / "oci", work / "bundle", work / "wheels"
        wheels.mkdir()
        shutil.copytree(base, layout, symlinks=True)
        run(["umoci", "unpack", "--image", f"{layout}:base", str(bundle)], what="umoci unpack")
        pip_wheel, project = _wheels(wheels)
        _install(bundle / "rootfs", wheels, pip_wheel, project)
        unpacked = tree_size(bundle / "rootfs")
        venv = tree_size(bundle / "rootfs" / spec.VENV.lstrip("/"))
        run(
            [
                "umoci",
                "repack",
                "--image",
                f"{layout}:{version}",
                "--history.created_by",
                f"venv {spec.VENV}: requirements.txt + {project.name}; user {spec.UID}",
                "--history.created",
                now(),
                str(bundle),
            ],
            what="umoci repack (app)",
        )
        config = [
            "umoci",
            "config",
            "--image",
            f"{layout}:{version}",
            "--no-history",
            "--created",
            now(),
            "--author",
            "kaito-py",
            "--config.workingdir",
            "/",
            "--config.user",
            f"{spec.UID}:{spec.GID}",
        ]
        for part in spec.ENTRYPOINT:
            config += ["--config.entrypoint", part]
        for key, value in spec.ENV:
            config += ["--config.env", f"{key}={value}"]
        for key, value in spec.labels(version).items():
            config += [
                "--config.label",
                f"{key}={value}",
                "--manifest.annotation",
                f"{key}={value}",
            ]
        run(config, what="umoci config")
        run(["umoci", "rm", "--image", f"{layout}:base"], what="umoci rm")
        run(["umoci", "gc", "--layout", str(layout)], what="umoci gc")
        layers = _layers(layout, version)
        archive = output / f"kaito-py-{version}.oci.tar"
        run(
            [
                "tar",
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-C",
                str(layout),
                "-cf",
                str(archive),
                ".",
            ],
            what="tar",
        )
    report = {
        "image": f"{spec.REPOSITORY}:{version}",
        "archive": str(archive),
        "archive_bytes": archive.stat().st_size,
        "layer_bytes": layers,
        "unpacked_bytes": unpacked,
        "venv_bytes": venv,
        "base": base.name,
        "seconds": round(time.monotonic() - started, 1),
    }
    (output / f"kaito-py-{version}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def lock() -> None:
    """Regenerate requirements.txt from pyproject.toml's [all] extra (uv pip compile)."""
    header = (spec.REQUIREMENTS.read_text().split("\n\n")[0]).splitlines()
    header = [line for line in header if line.startswith("#")]
    compiled = run(
        [
            "uv",
            "pip",
            "compile",
            str(spec.ROOT / "pyproject.toml"),
            "--extra",
            "all",
            "--universal",
            "--python-version",
            spec.PYTHON_VERSION,
            "--generate-hashes",
            "--no-header",
            "--quiet",
            "-o",
            "-",
        ],
        what="uv pip compile",
    )
    spec.REQUIREMENTS.write_text("\n".join(header) + "\n" + compiled)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.image", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the OCI image archive")
    build_parser.add_argument("--output", type=Path, default=spec.ROOT / "build" / "image")
    build_parser.add_argument("--mirror", default=DEFAULT_MIRROR)
    build_parser.add_argument("--refresh-base", action="store_true")
    commands.add_parser("lock", help="regenerate tools/image/requirements.txt")
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            lock()
            return 0
        report = build(args.output, mirror=args.mirror, refresh_base=args.refresh_base)
    except BuildError as error:
        print(f"tools.image: error: {error}", file=sys.stderr)
        return 1
    print(f"{report['image']} -> {report['archive']}")
    print(
        f"  archive {_mib(report['archive_bytes'])}; layers "
        f"{', '.join(_mib(s) for s in report['layer_bytes'])} (gzip)"
    )
    print(
        f"  unpacked {_mib(report['unpacked_bytes'])}, of which the venv "
        f"{_mib(report['venv_bytes'])}; built in {report['seconds']} s"
    )
    return 0
