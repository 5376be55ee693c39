"""What users read works for them: install hints they can follow today, and docs that cite only
what they have.

kaito-py is not on PyPI yet, so nothing tells users to ``pip install 'kaito-py[...]'`` (it
fails); they install from a clone. The upstream reference notes (``controller.md``, the
reference ``presets.md`` and their numbered sections) live in the development workspace only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kaito_presets import default_catalog
from tests.conftest import ROOT

_FROM_PYPI = re.compile(r"pip install +['\"]?kaito-py")
_REFERENCE_CITATION = re.compile(r"controller\.md|\.md §|§ ?\d")


def _user_texts() -> list[Path]:
    return sorted([*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"])


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize(
    "path", sorted([*(ROOT / "kaito_backends").rglob("*.py"), *_user_texts()]), ids=_ids
)
def test_no_hint_installs_from_pypi(path: Path) -> None:
    """Messages and docs say `pip install -e '.[extra]'` in a clone, not `kaito-py[extra]`
    (a doc may say what will work once the package is published)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FROM_PYPI.search(line):
            assert "published" in line, line


@pytest.mark.parametrize("path", _user_texts(), ids=_ids)
def test_docs_cite_no_reference_notes(path: Path) -> None:
    """The docs never send users to controller.md or numbered sections they do not have."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert not _REFERENCE_CITATION.search(line), f"{_ids(path)}:{number}: {line}"


def _referenced_secrets(manifest: object) -> set[str]:
    found: set[str] = set()
    if isinstance(manifest, dict):
        for key, value in manifest.items():
            if key in ("imagePushSecret", "modelAccessSecret") and isinstance(value, str):
                found.add(value)
            elif key == "imagePullSecrets" and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            else:
                found |= _referenced_secrets(value)
    elif isinstance(manifest, list):
        for item in manifest:
            found |= _referenced_secrets(item)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "examples").glob("*.yaml")), ids=_ids)
def test_every_secret_an_example_names_is_defined_or_explained(path: Path) -> None:
    """A Secret an example refers to is in the file, or a comment says what it is and how to
    create it (`kubectl create secret ...`)."""
    text = path.read_text(encoding="utf-8")
    documents = [d for d in yaml.safe_load_all(text) if d]
    defined = {
        d["metadata"]["name"]
        for d in documents
        if isinstance(d, dict) and d.get("kind") == "Secret"
    }
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for secret in sorted(_referenced_secrets(documents) - defined):
        assert secret in comments, f"{secret} is neither defined nor explained"
        assert "kubectl create secret" in comments, f"no way to create {secret} is given"


def test_presets_md_names_exactly_the_presets_that_need_a_token() -> None:
    """docs/presets.md's list of gated presets is the catalog's (download_auth_required)."""
    text = (ROOT / "docs" / "presets.md").read_text(encoding="utf-8")
    start = text.index("`download_auth_required` is true for exactly")
    paragraph = text[start : text.index("\n\n", start)]
    catalog = default_catalog()
    names = {m.name for m in catalog.models()}
    named = set(re.findall(r"`([a-z0-9.-]+)`", paragraph)) & names
    assert named == {m.name for m in catalog.models() if m.download_auth_required}
