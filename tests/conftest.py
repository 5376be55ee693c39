"""Shared fixtures: where the project's own examples and the upstream reference corpus live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
#: The upstream KAITO reference corpus sits beside the checkout in the development workspace;
#: a user's clone does not have it, and the tests that read it skip.
REFERENCE = ROOT.parent / "shared" / "kaito-reference"


@pytest.fixture
def reference() -> Path:
    """The upstream reference corpus, or a skip saying why it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(
            f"upstream reference corpus not found at {REFERENCE} (only in the dev workspace)"
        )
    return REFERENCE
