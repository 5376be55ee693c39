"""Fixtures for the presets tests: the upstream reference corpus, when it is checked out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REFERENCE_DATA = Path(__file__).resolve().parents[3] / "shared" / "kaito-reference" / "data"


def _load(name: str) -> Any:
    path = REFERENCE_DATA / name
    if not path.is_file():
        pytest.skip(f"upstream reference corpus not found at {REFERENCE_DATA}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def reference_models() -> list[dict[str, Any]]:
    """The 60 current preset records of the reference models.json (skips when absent)."""
    return [p for p in _load("models.json")["presets"] if not p.get("removed_in_v012")]


@pytest.fixture(scope="session")
def reference_removed() -> list[dict[str, Any]]:
    """The 5 legacy preset records removed in v0.12 (skips when absent)."""
    return [p for p in _load("models.json")["presets"] if p.get("removed_in_v012")]


@pytest.fixture(scope="session")
def reference_skus() -> list[dict[str, Any]]:
    """The 57 SKU records of the reference skus.json (skips when absent)."""
    return list(_load("skus.json")["skus"])


@pytest.fixture(scope="session")
def reference_legacy_skus() -> list[dict[str, Any]]:
    """The SKU records of the reference skus-legacy.json (skips when absent)."""
    return list(_load("skus-legacy.json")["skus"])
