"""Golden files: the plan of each RAGEngine input, byte for byte.

``tests/ragengine/golden/<name>.yaml`` is the multi-document YAML (`dump_yaml`, as ``kaito
plan`` prints) of the NodeClaims and objects `plan_ragengine` wants for
``golden/inputs/<name>.yaml``: upstream's RAG examples with their placeholders replaced, and
one of ours using every v1beta1 feature. The plan is made against an empty cluster. Regenerate
after an intended change with ``KAITO_UPDATE_GOLDENS=1 pytest tests/ragengine`` and read the
diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kaito_backends.cli.output import dump_yaml
from kaito_core.api import RAGEngine
from kaito_core.observed import Observed
from kaito_core.ragengine import plan_ragengine
from kaito_core.validation import validate_ragengine
from tests.ragengine.support import CATALOG, NOW

GOLDEN = Path(__file__).resolve().parent / "golden"
INPUTS = sorted((GOLDEN / "inputs").glob("*.yaml"))
UPDATE = os.environ.get("KAITO_UPDATE_GOLDENS") == "1"


def _render(path: Path) -> str:
    documents = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict) or doc.get("kind") != "RAGEngine":
            continue
        rag = RAGEngine.from_manifest(doc)
        assert validate_ragengine(rag) == [], path.name
        outcome = plan_ragengine(rag, observed=Observed(), catalog=CATALOG, now=NOW)
        assert outcome.error is None, outcome.error
        documents += [*outcome.node_claims, *outcome.desired]
    return dump_yaml(documents)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_plan_output_matches_the_golden_file(path: Path) -> None:
    """The plan of the input is the golden file, byte for byte."""
    golden = GOLDEN / path.name
    out = _render(path)
    if UPDATE:
        golden.write_text(out)
    assert golden.is_file(), f"no golden file {golden.name}; run with KAITO_UPDATE_GOLDENS=1"
    assert out == golden.read_text(), (
        f"the plan of {path.name} differs from {golden.name}; if the change is intended, "
        "regenerate with KAITO_UPDATE_GOLDENS=1 and review the diff"
    )


def test_every_golden_file_has_an_input() -> None:
    """No stale golden file."""
    stems = {p.stem for p in INPUTS}
    assert sorted(p.name for p in GOLDEN.glob("*.yaml") if p.stem not in stems) == []
