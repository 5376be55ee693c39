"""Build the control plane's Go components into a per-user cache, each only when its pins change.

Every component is a small Go module of its own under ``tools/cluster/<name>/`` (its ``go.mod``,
``go.sum`` and, for etcd, a ``main.go``), so the ``k8s.io/*`` versions of kube-apiserver, kwok and
Karpenter never have to agree. A component's binaries live in::

    ${KAITO_CLUSTER_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kaito-py/cluster}/<name>-<key>/bin/

where ``<key>`` hashes the module's files, the recipe below (packages, version stamps,
environment) and ``go version``: a new pin (or toolchain) is a new directory and a rebuild,
anything else is a cache hit that costs one ``go version``. Builds go through ``go build`` with
the user's Go build and module caches (``go env GOCACHE`` / ``GOMODCACHE``), so a second
component sharing packages with a first one compiles only what is new. A build writes into a
temporary directory renamed into place when complete, under a lock: two checkouts building the
same key at once build it once.

``GOEXPERIMENT=nojsonv2``: with encoding/json v2 on (Go 1.27's default) Kubernetes 1.36 serves
broken OpenAPI and ``kubectl apply`` fails; ``CGO_ENABLED=0``: static binaries, no C toolchain.

    python -m tools.cluster build [NAME...]
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tools.filelock import locked

__all__ = [
    "COMPONENTS",
    "SOURCES",
    "BuildError",
    "Component",
    "GoMissing",
    "binary",
    "cache_key",
    "cache_root",
    "ensure",
    "go_version",
    "module_version",
]

#: ``tools/cluster``: one Go module per component below it.
SOURCES = Path(__file__).resolve().parent
_BUILD_DATE = "1970-01-01T00:00:00Z"  # fixed: the same pins give the same binaries


class GoMissing(RuntimeError):
    """There is no Go toolchain on PATH."""


class BuildError(RuntimeError):
    """``go build`` failed; the message ends with its output."""


def module_version(component: str, module: str) -> str:
    """The version of ``module`` that ``tools/cluster/<component>/go.mod`` requires."""
    text = (SOURCES / component / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    if match is None:
        raise BuildError(f"tools/cluster/{component}/go.mod does not require {module}")
    return match.group(1)


def _kubernetes_ldflags() -> list[str]:
    version = module_version("kubernetes", "k8s.io/kubernetes")
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate={_BUILD_DATE}",
        ]
    return flags


def _kwok_ldflags() -> list[str]:
    return [f"-X sigs.k8s.io/kwok/pkg/consts.Version={module_version('kwok', 'sigs.k8s.io/kwok')}"]


def _helm_ldflags() -> list[str]:
    return [
        f"-X helm.sh/helm/v3/internal/version.version={module_version('helm', 'helm.sh/helm/v3')}"
    ]


@dataclass(frozen=True)
class Component:
    """One Go module under ``tools/cluster/<name>/`` and the binaries built from it."""

    name: str
    #: binary name -> Go package (``.`` is the module's own main package)
    binaries: dict[str, str]
    #: extra ``-ldflags`` (version stamps), computed from go.mod
    ldflags: Callable[[], list[str]] = field(default=list)

    @property
    def directory(self) -> Path:
        return SOURCES / self.name

    def recipe(self) -> list[str]:
        """What goes into the build besides the module's files (part of the cache key)."""
        return [
            *(f"{name}={package}" for name, package in sorted(self.binaries.items())),
            *self.ldflags(),
            *(f"{k}={v}" for k, v in sorted(_ENV.items())),
        ]


#: Environment of every build (see the module docstring).
_ENV = {"CGO_ENABLED": "0", "GOEXPERIMENT": "nojsonv2", "GOFLAGS": "-buildvcs=false"}

COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component("etcd", {"etcd": "."}),
        Component(
            "kubernetes",
            {
                "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
                "kubectl": "k8s.io/kubernetes/cmd/kubectl",
            },
            _kubernetes_ldflags,
        ),
        Component("kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}, _kwok_ldflags),
        Component("karpenter", {"karpenter-kwok": "sigs.k8s.io/karpenter/kwok"}),
        Component("helm", {"helm": "helm.sh/helm/v3/cmd/helm"}, _helm_ldflags),
    )
}


def cache_root() -> Path:
    """``$KAITO_CLUSTER_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/kaito-py/cluster``."""
    explicit = os.environ.get("KAITO_CLUSTER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "kaito-py" / "cluster"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise GoMissing(
            "no Go toolchain on PATH: the real-cluster tier builds kube-apiserver, etcd, kwok and "
            "Karpenter from Go modules (install Go >= 1.26.6, see docs/testing.md)"
        )
    return go


def go_version() -> str:
    """``go version``'s output (raises `GoMissing`)."""
    result = subprocess.run(
        [_go(), "version"], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise BuildError(f"go version failed: {result.stderr.strip()}")
    return result.stdout.strip()


def cache_key(component: Component, go: str) -> str:
    """16 hex of the sha256 of the module's files, the recipe and the toolchain ``go``."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in component.directory.iterdir()
        if p.is_file() and p.suffix in (".mod", ".sum", ".go")
    )
    for path in files:
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for line in [*component.recipe(), go]:
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()[:16]


def _log(message: str) -> None:
    print(f"tools.cluster.build: {message}", file=sys.stderr, flush=True)


def _build(component: Component, target: Path) -> float:
    """``go build`` the component's binaries into ``target/bin``; the seconds it took."""
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "bin").mkdir(parents=True)
    packages = list(component.binaries.values())
    ldflags = " ".join(["-s", "-w", *component.ldflags()])
    command = [_go(), "build", f"-ldflags={ldflags}", "-o", f"{staging / 'bin'}/", *packages]
    env = {**os.environ, **_ENV}
    names = ", ".join(component.binaries)
    _log(f"building {component.name} ({names}) into {target} ...")
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=component.directory, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise BuildError(f"go build of {component.name} failed after {seconds:.0f} s:\n{output}")
    for name, package in component.binaries.items():
        built = (
            staging
            / "bin"
            / (component.directory.name if package == "." else package.rsplit("/", 1)[-1])
        )
        if built.name != name:
            built.rename(staging / "bin" / name)
    (staging / "recipe.txt").write_text("\n".join([*component.recipe(), go_version(), ""]))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    _log(f"built {component.name} in {seconds:.1f} s")
    return seconds


def ensure(names: Iterable[str] | None = None) -> dict[str, Path]:
    """Every binary of the named components (all when None), built if missing: name -> path.

    Raises `GoMissing` without Go, `BuildError` when a build fails.
    """
    wanted = list(names) if names is not None else list(COMPONENTS)
    unknown = [n for n in wanted if n not in COMPONENTS]
    if unknown:
        raise BuildError(f"unknown component(s) {unknown}; known: {sorted(COMPONENTS)}")
    go = go_version()
    root = cache_root()
    found: dict[str, Path] = {}
    for name in wanted:
        component = COMPONENTS[name]
        target = root / f"{name}-{cache_key(component, go)}"
        binaries = {b: target / "bin" / b for b in component.binaries}
        if not all(p.is_file() for p in binaries.values()):
            with locked(root / f"{target.name}.lock"):
                if not all(p.is_file() for p in binaries.values()):
                    _build(component, target)
        found.update(binaries)
    return found


def binary(name: str) -> Path | None:
    """The cached binary ``name`` if it is already built for the current pins, else None.

    Never builds (and returns None without Go): for callers that only use what is there.
    """
    for component in COMPONENTS.values():
        if name in component.binaries:
            try:
                go = go_version()
            except (GoMissing, BuildError, OSError, subprocess.SubprocessError):
                return None
            path = cache_root() / f"{component.name}-{cache_key(component, go)}" / "bin" / name
            return path if path.is_file() else None
    return None
