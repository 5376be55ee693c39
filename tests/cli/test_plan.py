"""``kaito plan``: output formats, the summary, bad input, BYO nodes and determinism."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kaito_backends.cli import main
from kaito_backends.cli.plan import SUMMARY_HEADERS, format_duration
from tests.conftest import EXAMPLES, ROOT

PHI = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: phi
resource:
  instanceType: Standard_NC24ads_A100_v4
  labelSelector:
    matchLabels: {apps: phi}
inference:
  preset:
    name: phi-4-mini-instruct
"""
BYO = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: llama
resource:
  labelSelector:
    matchLabels: {apps: llama}
inference:
  preset:
    name: llama-3.3-70b-instruct
    presetOptions: {modelAccessSecret: hf-token}
"""
NODE = """\
apiVersion: v1
kind: Node
metadata:
  name: gpu-0
  labels:
    apps: llama
    nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
    nvidia.com/gpu.count: "4"
    nvidia.com/gpu.memory: "81920"
status:
  conditions: [{type: Ready, status: "True"}]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["plan", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_output_is_every_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, write(tmp_path, "phi.yaml", PHI))
    assert (code, err) == (0, "")
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds == ["NodeClaim", "ControllerRevision", "Service", "Service", "StatefulSet"]


def test_json_output_is_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "phi.yaml", PHI)
    code, out, _ = run(capsys, "-o", "json", path)
    assert code == 0
    doc = json.loads(out)
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    _, yaml_out, _ = run(capsys, path)
    assert doc["items"] == list(yaml.safe_load_all(yaml_out))


def test_several_files_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = PHI.replace("name: phi\n", "name: other\n", 1)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(other.encode())))
    code, out, _ = run(capsys, write(tmp_path, "phi.yaml", PHI), "-")
    assert code == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(out) if d["kind"] == "StatefulSet"]
    assert names == ["phi", "other"]


def _summary_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if not line.startswith("note:")]


def test_summary_columns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--summary", EXAMPLES / "workspace-llama-3.3-70b.yaml")
    assert code == 0
    header, row = out.splitlines()
    assert header.split("   ")[0] == "WORKSPACE"
    for title in ("INSTANCE", "NODES", "GPUS/NODE", "TP/PP/DP", "DISK", "DTYPE", "SERVED MODEL"):
        assert title in header
    assert "READY WITHIN" in header
    assert header.endswith("TIME TO READY")
    assert len(SUMMARY_HEADERS) == 11
    cells = row.split()
    assert cells == [
        "default/workspace-llama-3-3-70b",
        "inference",
        "Standard_NC24ads_A100_v4",
        "3",
        "1",
        "1/3/1",
        "211Gi",
        "vllm",
        "bfloat16",
        "llama-3.3-70b-instruct",
        cells[-2],
        "18m31s",  # the time-to-ready model's total (docs/time-to-ready.md)
    ]
    assert cells[-2].endswith("s") or cells[-2].endswith("m")


def test_summary_notes_the_float16_choice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--summary", EXAMPLES / "workspace-phi-3-mini.yaml")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[8] == "float16"
    assert lines[2] == (
        "note: default/workspace-phi-3-mini: float16 chosen for vLLM: NVIDIA V100 (compute "
        "capability 7.0) has no bfloat16 support"
    )


def test_summary_of_tuning_has_no_readiness_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--summary", EXAMPLES / "workspace-tuning-phi-3.yaml")
    assert code == 0
    cells = out.splitlines()[1].split()
    assert (cells[1], cells[7], cells[-2]) == ("tuning", "transformers", "-")


def test_summary_of_an_inferenceset_is_a_row_per_replica(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An InferenceSet has no row of its own: its replica Workspaces do, each serving the model
    under the set's name (as the rendered --served-model-name), each with its prediction; the
    phases table covers them."""
    code, out, _ = run(capsys, "--summary", "--phases", EXAMPLES / "inferenceset-phi-4-mini.yaml")
    assert code == 0
    lines = out.splitlines()
    rows = [line.split() for line in lines[1:3]]
    assert [r[0] for r in rows] == ["default/phi-4-mini-0", "default/phi-4-mini-1"]
    assert {r[9] for r in rows} == {"phi-4-mini"}
    assert {r[-1] for r in rows} == {"15m13s"}
    assert not lines[3].startswith("default/")
    assert "phi-4-mini-0" in out.split("\n\n", 1)[1]  # the phases table


def test_summary_of_a_plain_workspace_serves_the_preset_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a replica's set label changes the served name."""
    code, out, _ = run(capsys, "--summary", write(tmp_path, "phi.yaml", PHI))
    assert code == 0
    assert out.splitlines()[1].split()[9] == "phi-4-mini-instruct"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "-"), (45, "45s"), (1800, "30m"), (3266, "54m26s")]
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_invalid_input_prints_the_validate_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.yaml", PHI.replace("phi-4-mini-instruct", "no-such-model"))
    code, out, err = run(capsys, bad)
    assert code == 1
    assert err == ""
    (line,) = out.splitlines()
    assert line.startswith(f"{bad}: Workspace/phi: spec.inference.preset.name: ")
    # and nothing is planned for the valid file next to it
    code, out, _ = run(
        capsys, write(tmp_path, "ok.yaml", PHI.replace("name: phi\n", "name: ok\n", 1)), bad
    )
    assert code == 1
    assert "kind:" not in out


def test_a_spec_that_cannot_be_planned_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Valid for the webhook, but the only matching node is not Ready: the plan's SpecError is
    printed in the validate format."""
    node = NODE.replace('status: "True"', 'status: "False"')
    ws = write(tmp_path, "ws.yaml", BYO)
    code, out, err = run(capsys, "--provisioner", "byo", ws, write(tmp_path, "node.yaml", node))
    assert code == 1
    assert err == ""
    (line,) = out.splitlines()
    assert line.startswith(f"{ws}: Workspace/llama: spec.resource.labelSelector: no ready nodes")


def test_transformers_over_several_nodes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transformers = PHI.replace(
        "name: phi\n", "name: phi\n  annotations: {kaito.sh/runtime: transformers}\n", 1
    ).replace("phi-4-mini-instruct", "llama-3.3-70b-instruct")
    code, out, _ = run(capsys, write(tmp_path, "tf.yaml", transformers))
    assert code == 1
    assert "Multi-node distributed inference is not supported" in out
    assert "kind:" not in out


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, tmp_path / "absent.yaml")
    assert code == 2
    assert out == ""
    assert err.startswith(f"{tmp_path / 'absent.yaml'}: error: cannot read")
    code, _, err = run(capsys, write(tmp_path, "binary.yaml", "\x00\x01\x02"))
    assert code == 2
    assert ": error: " in err
    code, _, err = run(capsys, tmp_path)
    assert code == 2
    assert "is a directory" in err


def test_bad_feature_gates_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--feature-gates", "nope=1", write(tmp_path, "phi.yaml", PHI))
    assert code == 2
    assert "invalid feature gate" in err


def test_vllm_gate_off_plans_transformers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phi3 = PHI.replace("phi-4-mini-instruct", "phi-3-mini-4k-instruct")
    code, out, _ = run(
        capsys, "--summary", "--feature-gates", "vLLM=false", write(tmp_path, "p.yaml", phi3)
    )
    assert code == 0
    assert out.splitlines()[1].split()[7] == "transformers"


def test_no_workspace_is_nothing_to_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: no Workspace")
    assert " found in " in err


# --- bring your own nodes ---------------------------------------------------------------------


def test_byo_sizes_from_the_node_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, node = write(tmp_path, "ws.yaml", BYO), write(tmp_path, "node.yaml", NODE)
    code, out, err = run(capsys, "--provisioner", "byo", ws, node)
    assert (code, err) == (0, "")
    docs = list(yaml.safe_load_all(out))
    assert "NodeClaim" not in [d["kind"] for d in docs]
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    assert sts["spec"]["replicas"] == 1  # 4x A100 80GB hold the 70B model
    assert (
        "--tensor-parallel-size=4" in sts["spec"]["template"]["spec"]["containers"][0]["command"][2]
    )


def test_byo_without_nodes_says_what_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--provisioner", "byo", write(tmp_path, "ws.yaml", BYO))
    assert code == 1
    assert "no ready nodes found" in out
    assert "give the Node manifests" in out


def test_byo_refuses_an_instance_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--provisioner", "byo", write(tmp_path, "phi.yaml", PHI))
    assert code == 1
    assert "spec.resource.instanceType" in out


# --- determinism ------------------------------------------------------------------------------


def test_output_is_identical_across_processes() -> None:
    """Two runs in fresh interpreters with different hash seeds print the same bytes."""
    files = [str(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from kaito_backends.cli import main; sys.exit(main())",
                "plan",
                *files,
            ],
            capture_output=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\nkind: StatefulSet\n") == 6
