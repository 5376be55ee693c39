"""The ``helm`` fixture: the binary every chart test runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chart.helm import find_helm


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm from the cluster build cache; CI must have it (fail), elsewhere skip saying why."""
    found = find_helm()
    if found is None or not found.is_file():
        message = "helm not built: python -m tools.cluster build helm (or set KAITO_HELM)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
