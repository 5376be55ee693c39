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


_LINK = re.compile(r"\]\(([a-z0-9_-]+\.md)(?:#([^)]+))?\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
_DEPARTURE_NOTE = re.compile(r"^\**Differences? from upstream", re.MULTILINE | re.IGNORECASE)
DIFFERENCES = ROOT / "docs" / "upstream-differences.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(h) for h in _HEADING.findall(text)}


@pytest.mark.parametrize("path", sorted((ROOT / "docs").glob("*.md")), ids=_ids)
def test_links_between_docs_resolve(path: Path) -> None:
    """Every link to another docs page names a page that exists and, if given, a heading on it."""
    for target, anchor in _LINK.findall(path.read_text(encoding="utf-8")):
        page = ROOT / "docs" / target
        assert page.is_file(), f"{_ids(path)} links to a missing page {target}"
        if anchor:
            assert anchor in _anchors(page), f"{_ids(path)} links to {target}#{anchor}"


def _departure_sections() -> list[tuple[str, str]]:
    """(page, anchor) of every docs section that notes differences from upstream: a heading
    that says so, or a section holding a "Differences from upstream" paragraph."""
    found: list[tuple[str, str]] = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page == DIFFERENCES:
            continue
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        heading = ""
        for line in text.splitlines():
            match = _HEADING.match(line)
            if match:
                heading = match.group(1)
                lower = heading.lower()
                if "upstream" in lower and ("differ" in lower or "quirk" in lower):
                    found.append((page.name, _slug(heading)))
            elif _DEPARTURE_NOTE.match(line) and heading:
                found.append((page.name, _slug(heading)))
    return sorted(set(found))


def test_every_local_departure_note_is_linked_from_the_central_page() -> None:
    """docs/upstream-differences.md links to each section that documents a departure, so the
    central list cannot silently miss a topic."""
    linked = set(_LINK.findall(DIFFERENCES.read_text(encoding="utf-8")))
    sections = _departure_sections()
    assert len(sections) >= 7
    missing = [f"{page}#{anchor}" for page, anchor in sections if (page, anchor) not in linked]
    assert missing == []


def test_the_central_page_has_one_section_per_topic_each_with_reasons() -> None:
    """One `##` section per topic, no topic twice, each row of its tables filled in to the last
    column, the why."""
    text = DIFFERENCES.read_text(encoding="utf-8")
    topics = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert len(topics) == len(set(topics)) >= 8
    previous = ""
    rows = 0
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and previous.startswith("|") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert len(cells) >= 2, line
            assert all(cells), line
            rows += 1
        previous = line if is_row else ""
    assert rows >= 40
