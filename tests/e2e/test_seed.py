"""The four Workspaces this project was asked to serve, end to end on the fake cluster.

They use the v1alpha1 API on a V100 (`Standard_NC6s_v3`), which upstream KAITO v0.12 no longer
serves; we run vLLM in float16 there. The tuning and adapter manifests carry placeholder
images in capitals, which validation rejects; with the placeholders replaced they succeed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito_backends.cli import main
from kaito_core.api import load_documents
from kaito_core.observed import Observed
from kaito_core.plan import PlanSettings, plan
from kaito_presets import default_catalog
from tests.conftest import ROOT

SEED = ROOT / "tests" / "data" / "seed"

PLACEHOLDERS = {
    "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1": "myregistry.azurecr.io/phi-3-adapter:0.0.1",
    "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1": "myregistry.azurecr.io/phi-3-adapter:0.0.1",
    "ACR_REGISTRY_SECRET_HERE": "acr-registry-secret",
}


def _filled(name: str, tmp_path: Path) -> Path:
    text = (SEED / name).read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_inference_seed_plans_one_float16_node() -> None:
    """01: one V100 node, vLLM with --dtype=float16, and a note saying why."""
    doc = load_documents((SEED / "01-inference-phi-3.yaml").read_text()).workspaces[0]
    assert doc.workspace is not None
    outcome = plan(
        doc.workspace,
        observed=Observed(),
        catalog=default_catalog(),
        now="2026-01-01T00:00:00Z",
        settings=PlanSettings(provisioner="fake"),
    )
    assert outcome.error is None
    assert outcome.summary is not None
    assert (outcome.summary.nodes, outcome.summary.dtype) == (1, "float16")
    assert len(outcome.node_claims) == 1
    [statefulset] = [o for o in outcome.desired if o["kind"] == "StatefulSet"]
    command = statefulset["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "--dtype=float16" in command
    assert "bfloat16" not in command


def test_inference_seed_succeeds_under_up(capsys: pytest.CaptureFixture[str]) -> None:
    """01 reaches WORKSPACESUCCEEDED True under `kaito up`, with the float16 note."""
    assert main(["up", str(SEED / "01-inference-phi-3.yaml")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("workspace-phi-3-mini "))
    assert row.split()[1:5] == ["Standard_NC6s_v3", "True", "True", "True"]
    assert "float16" in out


@pytest.mark.parametrize(
    "name",
    ["02-tuning-phi-3.yaml", "03-inference-phi-3-with-adapters.yaml", "04-tuning-phi-3-128k.yaml"],
)
def test_placeholder_images_are_rejected(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """02-04 as shipped: the placeholder image is named, quoted and called a placeholder."""
    assert main(["validate", str(SEED / name)]) == 1
    out = capsys.readouterr().out
    assert "ACR_REPO_HERE.azurecr.io/" in out
    assert "looks like a placeholder from an example; replace it with your registry" in out


@pytest.mark.parametrize(
    "name",
    ["02-tuning-phi-3.yaml", "03-inference-phi-3-with-adapters.yaml", "04-tuning-phi-3-128k.yaml"],
)
def test_filled_seed_succeeds_under_up(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """02-04 with the placeholders replaced plan and succeed on the fake cluster."""
    path = _filled(name, tmp_path)
    assert main(["plan", "--summary", str(path)]) == 0
    capsys.readouterr()
    assert main(["up", str(path)]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    table = out[out.index("NAME ") :].splitlines()
    assert table[1].split()[1] == "Standard_NC6s_v3"
    assert table[1].split()[-2] == "True"
