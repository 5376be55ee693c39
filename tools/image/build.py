"""Build the operator image without a container engine: Debian's packages, PyPI, umoci.

    python -m tools.image build [--output build/image] [--mirror URL] [--refresh-base]
    python -m tools.image lock      # regenerate tools/image/requirements.txt

The result is ``<output>/kaito-py-<version>.oci.tar``: an OCI image archive (a tarred OCI
layout, tag ``<version>``) that ``skopeo copy oci-archive:...`` pushes anywhere, with two layers
as the Dockerfile's stages give:

1. **base**: ``debootstrap --variant=minbase --include=ca-certificates,python3 bookworm`` (CPython
   3.11, the Dockerfile's minor), cleaned the way Debian's slim images are (no apt lists or caches,
   documentation, manuals or locales; empty ``/dev``, ``/run``, ``/tmp``). It is cached, as an
   OCI layout, under ``${XDG_CACHE_HOME:-~/.cache}/kaito-py/image/base-<key>`` where ``<key>``
   hashes its inputs (suite, variant, packages, mirror, architecture, debootstrap and umoci
   versions, the cleaning recipe): a second build skips debootstrap. ``--refresh-base`` rebuilds
   it (Debian's security updates).
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
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tools.image import spec
from tools.image.sandbox import SandboxSpec

__all__ = ["BuildError", "build", "cache_root", "lock", "main", "tree_size"]

DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: Bump when the cleaning below changes: it is part of the base's cache key.
_BASE_RECIPE = "minbase-slim-1"
_CLEAN = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf",
    "var/log",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "dev",
    "run",
    "tmp",
)


class BuildError(RuntimeError):
    """A step failed; the message names it and ends with its output."""


def _log(message: str) -> None:
    print(f"tools.image: {message}", file=sys.stderr, flush=True)


def _run(command: Sequence[str], *, what: str, **kwargs: Any) -> str:
    started = time.monotonic()
    result = subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)
    if os.environ.get("KAITO_IMAGE_VERBOSE"):
        _log(f"{what}: {time.monotonic() - started:.1f} s")
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise BuildError(f"{what} failed ({result.returncode}):\n{output}")
    return result.stdout


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name} is missing: apt-get install {package}")
    return found


def cache_root() -> Path:
    """``$KAITO_IMAGE_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/kaito-py/image``."""
    explicit = os.environ.get("KAITO_IMAGE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "kaito-py" / "image"


def _debian_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _version_of(command: Sequence[str]) -> str:
    return " ".join(_run(command, what=" ".join(command)).split())


def _base_key(mirror: str) -> str:
    inputs = [
        _BASE_RECIPE,
        spec.DEBIAN_SUITE,
        "minbase",
        ",".join(spec.DEBIAN_PACKAGES),
        mirror,
        _debian_arch(),
        _version_of(["dpkg-query", "-W", "-f", "${Version}", "debootstrap"]),
        _version_of(["umoci", "--version"]),
        ",".join(_CLEAN),
    ]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        return _run(
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


def _clean(rootfs: Path) -> None:
    """Debian slim: drop what a container never reads; keep the copyright files."""
    for relative in _CLEAN:
        directory = rootfs / relative
        if directory.is_dir() and not directory.is_symlink():
            for child in directory.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    docs = rootfs / "usr/share/doc"
    for path in sorted(docs.rglob("*"), reverse=True):
        if (path.is_file() and path.name != "copyright") or path.is_symlink():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for name in ("etc/resolv.conf", "etc/hostname", "etc/machine-id"):
        target = rootfs / name
        if target.exists() or target.is_symlink():
            target.unlink()
            target.write_text("")
    (rootfs / "tmp").chmod(0o1777)


def _base(mirror: str, refresh: bool) -> Path:
    """The cached base layout (tag ``base``), built when missing (see the module docstring)."""
    root = cache_root()
    target = root / f"base-{_base_key(mirror)}"
    with _locked(root / f"{target.name}.lock"):
        if (target / "index.json").is_file() and not refresh:
            return target
        staging = root / f"{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        layout, bundle = staging / "oci", staging / "bundle"
        _run(["umoci", "init", "--layout", str(layout)], what="umoci init")
        _run(["umoci", "new", "--image", f"{layout}:base"], what="umoci new")
        _run(["umoci", "unpack", "--image", f"{layout}:base", str(bundle)], what="umoci unpack")
        started = time.monotonic()
        _log(f"debootstrap {spec.DEBIAN_SUITE} from {mirror} ...")
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(spec.DEBIAN_PACKAGES)}",
            f"--arch={_debian_arch()}",
            spec.DEBIAN_SUITE,
            str(bundle / "rootfs"),
            mirror,
        ]
        _run(command, what="debootstrap")
        _clean(bundle / "rootfs")
        _log(f"debootstrap took {time.monotonic() - started:.0f} s")
        _run(
            [
                "umoci",
                "repack",
                "--image",
                f"{layout}:base",
                "--history.created_by",
                " ".join([*command[:-2], mirror]),
                "--history.created",
                _now(),
                str(bundle),
            ],
            what="umoci repack (base)",
        )
        shutil.rmtree(bundle)
        shutil.rmtree(target, ignore_errors=True)
        layout.rename(target)
        shutil.rmtree(staging)
    return target


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
    _run(
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
    _run(
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
        _tool(name, package)
    started = time.monotonic()
    version = spec.project_version()
    output.mkdir(parents=True, exist_ok=True)
    base = _base(mirror, refresh_base)
    with tempfile.TemporaryDirectory(prefix="kaito-image-", dir=output) as scratch:
        work = Path(scratch)
        layout, bundle, wheels = work / "oci", work / "bundle", work / "wheels"
        wheels.mkdir()
        shutil.copytree(base, layout, symlinks=True)
        _run(["umoci", "unpack", "--image", f"{layout}:base", str(bundle)], what="umoci unpack")
        pip_wheel, project = _wheels(wheels)
        _install(bundle / "rootfs", wheels, pip_wheel, project)
        unpacked = tree_size(bundle / "rootfs")
        venv = tree_size(bundle / "rootfs" / spec.VENV.lstrip("/"))
        _run(
            [
                "umoci",
                "repack",
                "--image",
                f"{layout}:{version}",
                "--history.created_by",
                f"venv {spec.VENV}: requirements.txt + {project.name}; user {spec.UID}",
                "--history.created",
                _now(),
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
            _now(),
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
        _run(config, what="umoci config")
        _run(["umoci", "rm", "--image", f"{layout}:base"], what="umoci rm")
        _run(["umoci", "gc", "--layout", str(layout)], what="umoci gc")
        layers = _layers(layout, version)
        archive = output / f"kaito-py-{version}.oci.tar"
        _run(
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
    compiled = _run(
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
