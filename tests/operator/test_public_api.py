"""Every operator module's ``__all__`` is sorted (constants, classes, functions) and real."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

MODULES = [
    "kaito_backends.operator",
    "kaito_backends.operator.backends",
    "kaito_backends.operator.certificates",
    "kaito_backends.operator.crd",
    "kaito_backends.operator.health",
    "kaito_backends.operator.install_options",
    "kaito_backends.operator.leader",
    "kaito_backends.operator.manifests",
    "kaito_backends.operator.rbac",
    "kaito_backends.operator.reviews",
    "kaito_backends.operator.runner",
    "kaito_backends.operator.settings",
    "kaito_backends.operator.webhook",
    "kaito_backends.cli.operator",
    "kaito_backends.cli.manifests",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    """isort-style order, and every name resolves (lazily, for the package)."""
    module: ModuleType = importlib.import_module(name)
    names = list(module.__all__)
    for item in names:
        assert getattr(module, item) is not None, item
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in names]
    assert key == sorted(key)
