"""The example in docs/fake-cluster.md runs as written."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.conftest import ROOT


async def test_the_fake_cluster_guide_example_passes() -> None:
    """The first python block of docs/fake-cluster.md defines a test that passes."""
    text = (ROOT / "docs" / "fake-cluster.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "docs/fake-cluster.md", "exec"), namespace)
    example: Callable[[], Awaitable[None]] = namespace["test_a_workspace_pod_becomes_ready"]
    await example()
