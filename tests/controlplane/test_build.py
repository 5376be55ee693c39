"""The Go components' pins and their build cache (no Go needed: nothing is built here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.cluster import build
from tools.cluster.build import COMPONENTS, SOURCES, Component, cache_key, cache_root


def test_every_component_is_a_go_module_of_its_own() -> None:
    """tools/cluster/<name>/ has go.mod and go.sum; its module path names it."""
    for name in COMPONENTS:
        directory = SOURCES / name
        assert (directory / "go.mod").is_file(), name
        assert (directory / "go.sum").is_file(), name
        module = re.search(r"^module (\S+)$", (directory / "go.mod").read_text(), re.MULTILINE)
        assert module is not None
        assert module.group(1) == f"kaito-py.local/tools/cluster/{name}"


def test_every_kubernetes_staging_module_is_pinned_to_the_release() -> None:
    """k8s.io/kubernetes v1.X.Y: each k8s.io/<staging> is replaced by its own v0.X.Y."""
    text = (SOURCES / "kubernetes" / "go.mod").read_text()
    version = build.module_version("kubernetes", "k8s.io/kubernetes")
    staging = "v0." + version.removeprefix("v1.")
    replaces = re.findall(r"^\s+(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", text, re.MULTILINE)
    assert len(replaces) >= 30
    for old, new, pinned in replaces:
        assert old == new
        assert pinned == staging, old


@pytest.mark.parametrize(
    ("component", "module", "version"),
    [
        ("kubernetes", "k8s.io/kubernetes", "v1.36.3"),
        ("kwok", "sigs.k8s.io/kwok", "v0.8.0"),
        ("karpenter", "sigs.k8s.io/karpenter", "v1.14.1"),
        ("helm", "helm.sh/helm/v3", "v3.21.4"),
        ("etcd", "go.etcd.io/etcd/server/v3", "v3.6.17"),
    ],
    ids=["kubernetes", "kwok", "karpenter", "helm", "etcd"],
)
def test_the_pins(component: str, module: str, version: str) -> None:
    """go.mod requires the version docs/testing.md names."""
    assert build.module_version(component, module) == version
    assert f"`{module} {version}" in (ROOT / "docs" / "testing.md").read_text()


def test_etcd_is_etcds_own_main() -> None:
    """etcd is etcdmain.Main over go.etcd.io/etcd/server/v3."""
    assert "etcdmain.Main(os.Args)" in (SOURCES / "etcd" / "main.go").read_text()


def test_no_component_needs_a_newer_go_than_the_projects() -> None:
    """Each go line is at most 1.26.8, the toolchain CI has (Karpenter v1.14.1 needs 1.26.6)."""
    for name in COMPONENTS:
        line = re.search(r"^go (\S+)$", (SOURCES / name / "go.mod").read_text(), re.MULTILINE)
        assert line is not None
        assert tuple(int(p) for p in line.group(1).split(".")) <= (1, 26, 8), name


def _copy(tmp_path: Path, name: str) -> Path:
    shutil.copytree(SOURCES / name, tmp_path / name)
    return tmp_path


def test_the_cache_key_changes_with_a_pin_and_only_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same files, same key; an edited go.mod, another toolchain: another key."""
    monkeypatch.setattr(build, "SOURCES", _copy(tmp_path, "etcd"))
    etcd = Component("etcd", {"etcd": "."})
    first = cache_key(etcd, "go version go1.26.8 linux/amd64")
    assert cache_key(etcd, "go version go1.26.8 linux/amd64") == first
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    (tmp_path / "etcd" / "README").write_text("not part of the build")
    assert cache_key(etcd, "go version go1.26.8 linux/amd64") == first
    assert cache_key(etcd, "go version go1.27.0 linux/amd64") != first
    go_mod = tmp_path / "etcd" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("v3.6.", "v3.5."))
    assert cache_key(etcd, "go version go1.26.8 linux/amd64") != first


def test_the_cache_lives_where_the_user_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """KAITO_CLUSTER_CACHE, else $XDG_CACHE_HOME/kaito-py/cluster, else ~/.cache/..."""
    monkeypatch.setenv("KAITO_CLUSTER_CACHE", "/somewhere/else")
    assert cache_root() == Path("/somewhere/else")
    monkeypatch.delenv("KAITO_CLUSTER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_root() == Path("/xdg/kaito-py/cluster")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "kaito-py" / "cluster"


def test_without_go_ensure_says_why_and_binary_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No go on PATH: ensure raises GoMissing naming what it is for; binary() is None."""
    monkeypatch.setenv("PATH", "")
    with pytest.raises(build.GoMissing, match="no Go toolchain on PATH"):
        build.ensure(["etcd"])
    assert build.binary("kubectl") is None


def test_an_unknown_component_is_refused() -> None:
    """ensure(['nope']) names the known components."""
    with pytest.raises(build.BuildError, match="unknown component"):
        build.ensure(["nope"])
