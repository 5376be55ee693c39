"""Every package and module states its public API: a sorted ``__all__`` of names that exist.

The order is ruff's (RUF022): constants, classes, then functions.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

PACKAGES = ("kaito_presets", "kaito_core", "kaito_backends")


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    if name.upper() == name:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def _modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            names.append(info.name)
    return sorted(names)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional extra (kubernetes, aks) is not installed
        pytest.skip(f"{name} needs {exc.name}, an optional dependency")


@pytest.mark.parametrize("name", _modules())
def test_all_is_sorted_and_complete(name: str) -> None:
    """``__all__`` exists, is sorted, has no duplicates, and every name in it is defined."""
    module = _import(name)
    if name.endswith("__main__"):
        pytest.skip("entry-point module")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names undefined {missing}"


@pytest.mark.parametrize("package", ["kaito_presets", "kaito_core"])
def test_pure_layers_import_without_the_shell(package: str) -> None:
    """The pure layers never pull in the shell's dependencies at import time."""
    import subprocess
    import sys

    code = (
        f"import sys, {package}, pkgutil, importlib\n"
        f"for i in pkgutil.walk_packages({package}.__path__, prefix='{package}.'):\n"
        "    importlib.import_module(i.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'asyncio', 'structlog', 'tenacity', 'aiohttp', 'kubernetes_asyncio', 'azure', "
        "'kaito_backends', 'prometheus_client'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
