"""``helm`` for the chart tests: the binary, and rendering ``charts/kaito-py`` to objects.

The binary is the one the real-cluster tier builds from ``helm.sh/helm/v3/cmd/helm`` at its
pinned version into the user's build cache (``tools/cluster``; ``nox -s tests`` builds it);
``$KAITO_HELM`` names another.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tools.cluster.build import binary

__all__ = ["CHART", "HELM_LABELS", "HelmError", "find_helm", "helm_template"]

CHART = ROOT / "charts" / "kaito-py"
#: The labels the chart adds that ``kaito manifests`` cannot know (the release's).
HELM_LABELS = (
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
    "helm.sh/chart",
)


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


def find_helm() -> Path | None:
    """``$KAITO_HELM``, else the pinned helm of the cluster build cache (`tools.cluster.build`:
    ``nox -s tests`` builds it when Go is there), else None. Never builds."""
    explicit = os.environ.get("KAITO_HELM")
    if explicit:
        return Path(explicit)
    return binary("helm")


def run_helm(helm: Path, *args: str, values: Mapping[str, Any] | None = None) -> str:
    """``helm ARGS [-f values]``'s stdout; raises `HelmError` with its stderr."""
    command = [str(helm), *args]
    if values is not None:
        command += ["--values", "-"]
    result = subprocess.run(
        command,
        input=json.dumps(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "HELM_CACHE_HOME": "/nonexistent", "HELM_CONFIG_HOME": "/nonexistent"},
    )
    if result.returncode != 0:
        raise HelmError(result.stderr.strip())
    return result.stdout


def helm_template(
    helm: Path, values: Mapping[str, Any], *, namespace: str = "kaito-system", chart: Path = CHART
) -> list[dict[str, Any]]:
    """The chart (``charts/kaito-py`` unless told) rendered with ``values`` (CRDs included), as
    objects."""
    out = run_helm(
        helm,
        "template",
        "kaito-py",
        str(chart),
        "--namespace",
        namespace,
        "--include-crds",
        values=values,
    )
    return [doc for doc in yaml.safe_load_all(out) if doc]
