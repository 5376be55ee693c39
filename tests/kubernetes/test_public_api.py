"""The public surface of the kubernetes and karpenter packages: sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

MODULES = [
    "kaito_backends.kubernetes",
    "kaito_backends.kubernetes.cache",
    "kaito_backends.kubernetes.client",
    "kaito_backends.kubernetes.config",
    "kaito_backends.kubernetes.failures",
    "kaito_backends.kubernetes.ownership",
    "kaito_backends.kubernetes.resources",
    "kaito_backends.karpenter",
    "kaito_backends.karpenter.byo",
    "kaito_backends.karpenter.nodepools",
    "kaito_backends.karpenter.provisioner",
    "kaito_backends.karpenter.readiness",
]


@pytest.mark.parametrize("name", MODULES, ids=str)
def test_all_is_sorted_and_complete(name: str) -> None:
    """Each module's __all__ is sorted (isort-style) and names real attributes."""
    module: ModuleType = importlib.import_module(name)
    names = list(module.__all__)
    for attribute in names:
        assert hasattr(module, attribute), attribute
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in names]
    assert key == sorted(key)
