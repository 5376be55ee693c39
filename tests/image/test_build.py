"""tools/image/build.py's pieces that need neither root nor the network."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tools.image.base import clean
from tools.image.build import tree_size


def test_cleaning_keeps_what_a_container_reads(tmp_path: Path) -> None:
    """Caches, lists, logs, manuals, locales and docs go (copyright files stay); /dev, /run and
    /tmp are emptied; resolv.conf and hostname (and machine-id) are left empty for the runtime."""
    root = tmp_path / "rootfs"
    files = {
        "var/lib/apt/lists/deb.debian.org_Packages": "x",
        "var/cache/apt/pkgcache.bin": "x",
        "var/log/dpkg.log": "x",
        "usr/share/man/man1/ls.1.gz": "x",
        "usr/share/locale/de/LC_MESSAGES/apt.mo": "x",
        "usr/share/doc/python3/changelog.gz": "x",
        "usr/share/doc/python3/copyright": "kept",
        "dev/null": "x",
        "run/lock/x": "x",
        "tmp/leftover": "x",
        "etc/resolv.conf": "nameserver 10.0.0.1\n",
        "etc/hostname": "builder\n",
        "usr/bin/python3.11": "kept",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    clean(root)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == [
        "etc/hostname",
        "etc/resolv.conf",
        "usr/bin/python3.11",
        "usr/share/doc/python3/copyright",
    ]
    assert (root / "etc/resolv.conf").read_text() == ""
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    for directory in ("dev", "run", "tmp", "var/lib/apt/lists", "var/log"):
        assert (root / directory).is_dir()


def test_tree_size_counts_files_once(tmp_path: Path) -> None:
    """Regular files only: a hard link counts once, a symlink not at all."""
    (tmp_path / "a").write_bytes(b"x" * 100)
    os.link(tmp_path / "a", tmp_path / "b")
    os.symlink("a", tmp_path / "c")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "e").write_bytes(b"y" * 10)
    assert tree_size(tmp_path) == 110
