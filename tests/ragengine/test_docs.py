"""The example in docs/ragengine.md runs as written."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ROOT


def test_the_ragengine_guide_example_runs() -> None:
    """The first python block of docs/ragengine.md runs, and its assertions hold."""
    text = (ROOT / "docs" / "ragengine.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "docs/ragengine.md", "exec"), namespace)
    assert namespace["outcome"].error is None
