"""``python -m tools.cluster build|up|down|status``: see `tools.cluster.cli`."""

from __future__ import annotations

from tools.cluster.cli import main

__all__: list[str] = []

raise SystemExit(main())
