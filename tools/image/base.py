"""The image's base layer: debootstrap of Debian, cleaned, packed by umoci, cached by its inputs.

`base_layout` returns an OCI layout (tag ``base``) under
``${KAITO_IMAGE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kaito-py/image}/base-<key>``, building it only
when missing: ``debootstrap --variant=minbase --include=ca-certificates,python3 bookworm``, then
`clean` (Debian's slim recipe). ``<key>`` hashes the suite, variant, packages, mirror,
architecture, the debootstrap and umoci versions and the cleaning recipe.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from tools.image import spec
from tools.image.commands import locked, log, now, run

__all__ = ["DEFAULT_MIRROR", "base_key", "base_layout", "cache_root", "clean", "debian_arch"]

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


def cache_root() -> Path:
    """``$KAITO_IMAGE_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/kaito-py/image``."""
    explicit = os.environ.get("KAITO_IMAGE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "kaito-py" / "image"


def debian_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _version_of(command: Sequence[str]) -> str:
    return " ".join(run(command, what=" ".join(command)).split())


def base_key(mirror: str) -> str:
    inputs = [
        _BASE_RECIPE,
        spec.DEBIAN_SUITE,
        "minbase",
        ",".join(spec.DEBIAN_PACKAGES),
        mirror,
        debian_arch(),
        _version_of(["dpkg-query", "-W", "-f", "${Version}", "debootstrap"]),
        _version_of(["umoci", "--version"]),
        ",".join(_CLEAN),
    ]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


def clean(rootfs: Path) -> None:
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


def base_layout(mirror: str, refresh: bool) -> Path:
    """The cached base layout (tag ``base``), built when missing (see the module docstring)."""
    root = cache_root()
    target = root / f"base-{base_key(mirror)}"
    with locked(root / f"{target.name}.lock"):
        if (target / "index.json").is_file() and not refresh:
            return target
        staging = root / f"{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        layout, bundle = staging / "oci", staging / "bundle"
        run(["umoci", "init", "--layout", str(layout)], what="umoci init")
        run(["umoci", "new", "--image", f"{layout}:base"], what="umoci new")
        run(["umoci", "unpack", "--image", f"{layout}:base", str(bundle)], what="umoci unpack")
        started = time.monotonic()
        log(f"debootstrap {spec.DEBIAN_SUITE} from {mirror} ...")
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(spec.DEBIAN_PACKAGES)}",
            f"--arch={debian_arch()}",
            spec.DEBIAN_SUITE,
            str(bundle / "rootfs"),
            mirror,
        ]
        run(command, what="debootstrap")
        clean(bundle / "rootfs")
        log(f"debootstrap took {time.monotonic() - started:.0f} s")
        run(
            [
                "umoci",
                "repack",
                "--image",
                f"{layout}:base",
                "--history.created_by",
                " ".join([*command[:-2], mirror]),
                "--history.created",
                now(),
                str(bundle),
            ],
            what="umoci repack (base)",
        )
        shutil.rmtree(bundle)
        shutil.rmtree(target, ignore_errors=True)
        layout.rename(target)
        shutil.rmtree(staging)
    return target
