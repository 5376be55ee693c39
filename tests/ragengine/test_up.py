"""RAGEngines through the CLI: ``kaito validate``, ``plan`` and ``up`` of the docs example (a
Workspace and the RAGEngine that points at it, in one file) and of every upstream RAG example
once its placeholder is replaced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kaito_backends.cli import main
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "ragengine-phi-3.yaml"
WORKSPACE = EXAMPLES / "workspace-phi-3-mini.yaml"
GOLDEN_INPUTS = Path(__file__).resolve().parent / "golden" / "inputs"
#: What the upstream examples' ``<inference-url>`` stands for: the Workspace of WORKSPACE.
INFERENCE_URL = "http://workspace-phi-3-mini.default.svc.cluster.local"


def _up(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["up", "--quiet", "-o", "json", *map(str, files)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {"stderr": err})


def _conditions(item: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in item["conditions"]}


def test_the_example_validates_and_plans(capsys: pytest.CaptureFixture[str]) -> None:
    """One Workspace and one RAGEngine, valid; the plan has both kinds' objects."""
    assert main(["validate", str(EXAMPLE)]) == 0
    assert capsys.readouterr().err.strip() == "1 Workspace(s), 1 RAGEngine(s) valid"
    assert main(["plan", "-o", "json", str(EXAMPLE)]) == 0
    kinds = [o["kind"] for o in json.loads(capsys.readouterr().out)["items"]]
    assert kinds.count("NodeClaim") == 2
    assert {"StatefulSet", "Deployment"} <= set(kinds)


def test_the_example_comes_up_with_its_wiring_checked(capsys: pytest.CaptureFixture[str]) -> None:
    """``kaito up``: the Workspace serves, the RAGEngine runs and its URL is found to reach the
    Workspace, within a window that fits the model."""
    code, result = _up(capsys, EXAMPLE)
    assert code == 0, result
    assert result["settled"] is True
    (workspace,) = result["workspaces"]
    (rag,) = result["ragengines"]
    assert (workspace["state"], rag["state"]) == ("Succeeded", "Succeeded")
    assert (rag["instance"], rag["resourceReady"], rag["serviceReady"]) == (
        "Standard_NC6s_v3",
        "True",
        "True",
    )
    conditions = _conditions(rag)
    assert conditions["InferenceServiceReady"] == ("True", "WorkspaceServiceReady")
    assert conditions["ContextWindowFits"] == ("True", "ContextWindowFits")


def test_the_table_shows_both_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    """The table output: a Workspace table, then a RAGEngine table with upstream's columns."""
    assert main(["up", "--quiet", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    headers = [line.split() for line in out.splitlines() if line.startswith("NAME")]
    assert headers[1] == ["NAME", "INSTANCE", "RESOURCEREADY", "SERVICEREADY", "AGE"]
    assert "RAGEngine/ragengine-phi-3" in out


@pytest.mark.parametrize(
    "path", sorted(GOLDEN_INPUTS.glob("kaito_ragengine_*.yaml")), ids=lambda p: p.stem
)
def test_upstream_examples_with_placeholders_replaced_come_up(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upstream's examples (copies with ``<inference-url>`` replaced, v1alpha1 flat storage
    included) run next to the Workspace their URL names; a URL reaches it."""
    code, result = _up(capsys, path, WORKSPACE)
    assert code == 0, result
    (rag,) = result["ragengines"]
    assert rag["state"] == "Succeeded"
    ready = _conditions(rag).get("InferenceServiceReady")
    assert ready in (None, ("True", "WorkspaceServiceReady"))


@pytest.mark.upstream
def test_every_upstream_rag_example_runs_once_fixed(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each upstream RAG file validates, or is refused for its placeholder alone; with the
    placeholder replaced it validates, plans and runs under ``kaito up``. The Qdrant
    Deployment file holds no KAITO object, and every command says so."""
    ran = []
    for path in sorted((reference / "examples" / "RAG").glob("*.yaml")):
        text = path.read_text()
        code = main(["validate", str(path)])
        out = capsys.readouterr().out
        if "<inference-url>" in text:
            assert code == 1
            assert "looks like a placeholder from an example" in out
            fixed = tmp_path / path.name
            fixed.write_text(text.replace("<inference-url>", INFERENCE_URL))
            path = fixed
        if "kind: RAGEngine" not in text:
            for command in ("validate", "plan"):
                assert main([command, str(path)]) == 1
                err = capsys.readouterr().err
                assert err.startswith("error: no Workspace, InferenceSet or RAGEngine found in")
                assert "found only: Deployment, PersistentVolumeClaim, Service" in err
            continue
        assert main(["validate", str(path)]) == 0, capsys.readouterr().out
        assert main(["plan", str(path)]) == 0, capsys.readouterr().out
        code, result = _up(capsys, path, WORKSPACE)
        assert code == 0, (path.name, result)
        ran.append(path.name)
    assert ran == [
        "kaito_ragengine_cpu_retrieve_only.yaml",
        "kaito_ragengine_phi_3.yaml",
        "kaito_ragengine_phi_3_with_pvc.yaml",
    ]


@pytest.mark.parametrize("seed", [1, 5, 7])
def test_the_example_survives_seeded_faults(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    """``--faults``: conflicts, throttling, 5xx, watch drops and refused launches; both objects
    still come up."""
    capsys.readouterr()
    code = main(["up", "--quiet", "-o", "json", "--faults", str(seed), str(EXAMPLE)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert [r["state"] for r in (*result["workspaces"], *result["ragengines"])] == [
        "Succeeded",
        "Succeeded",
    ]


def test_the_same_input_gives_the_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs print the same bytes (virtual time, deterministic names)."""
    runs = []
    for _ in range(2):
        capsys.readouterr()
        assert main(["up", "--quiet", "-o", "json", str(EXAMPLE)]) == 0
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]
