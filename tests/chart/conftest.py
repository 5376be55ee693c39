"""The ``helm`` fixture: the binary every chart test runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chart.helm import find_helm


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm from the cluster build cache; with ``CI=true`` it must be there (fail), elsewhere
    skip saying why."""
    found = find_helm()
    if found is None or not found.is_file():
        message = (
            "helm is not built: nox -s tests builds it when Go is on PATH "
            "(python -m tools.cluster build helm), or set KAITO_HELM"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return found
