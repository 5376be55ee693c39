"""``kaito up`` takes ``kaito validate``'s flags and runs what they allow: any case of an instance
type, AWS and Arc instance types, bring-your-own nodes; and its messages agree with its clock."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from kaito_backends.cli import main
from kaito_backends.cli.up import _unfinished
from kaito_backends.engine.results import Settled
from tests.engine.conftest import workspace

BYO_NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "name": "gpu-0",
        "labels": {
            "apps": "byo",
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
            "nvidia.com/gpu.count": "1",
            "nvidia.com/gpu.memory": "81920",
        },
    },
}


def _write(tmp_path: Path, *docs: dict[str, object], name: str = "ws.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def _up_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["up", "-o", "json", "--quiet", *argv])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def test_a_lowercase_instance_type_becomes_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """standard_nc24ads_a100_v4 is the catalog's Standard_NC24ads_A100_v4: its node is the
    Workspace's own, so the Workspace becomes Ready (it waited forever for a lowercase node)."""
    path = _write(tmp_path, workspace("lower", instance_type="standard_nc24ads_a100_v4"))
    code, data = _up_json(capsys, path)
    assert code == 0, data
    (item,) = data["workspaces"]  # type: ignore[misc]
    assert item["state"] == "Succeeded"
    assert item["resourceReady"] == "True"


@pytest.mark.parametrize(
    ("cloud", "instance_type"),
    [("aws", "g5.12xlarge"), ("arc", "Standard_NC32_A16"), ("azure", "Standard_NC24ads_A100_v4")],
    ids=["aws", "arc", "azure"],
)
def test_up_runs_each_clouds_instance_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cloud: str, instance_type: str
) -> None:
    """--cloud-provider selects the SKU table validation uses and the fake launches from."""
    path = _write(tmp_path, workspace("gpu", instance_type=instance_type))
    code, data = _up_json(capsys, "--cloud-provider", cloud, path)
    assert code == 0, data
    (item,) = data["workspaces"]  # type: ignore[misc]
    assert (item["instanceType"], item["state"]) == (instance_type, "Succeeded")


def test_up_refuses_another_clouds_instance_type_saying_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """g5.12xlarge under the default azure: say whose it is and which flag to use."""
    path = _write(tmp_path, workspace("gpu", instance_type="g5.12xlarge"))
    assert main(["up", path]) == 1
    out = capsys.readouterr().out
    assert "g5.12xlarge is an AWS instance type; use --cloud-provider aws" in out


def test_up_validates_exactly_as_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same flags give the same problem lines and exit codes."""
    ws = workspace("gpu")
    ws["metadata"]["annotations"] = {"kaito.sh/node-class-name": "mine"}  # type: ignore[index]
    path = _write(tmp_path, ws)
    for flags in (["--node-class", "other"], ["--byo"], ["--cloud-provider", "aws"]):
        capsys.readouterr()
        code_validate = main(["validate", *flags, path])
        validate_out = capsys.readouterr().out
        code_up = main(["up", "--quiet", *flags, path])
        up_out = capsys.readouterr().out
        assert (code_up, up_out) == (code_validate, validate_out) != (0, ""), flags


def test_up_byo_runs_on_the_nodes_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--byo: nothing is provisioned; the Node manifests in the files are the GPU nodes."""
    ws = workspace("byo")
    del ws["resource"]["instanceType"]  # type: ignore[attr-defined]
    path = _write(tmp_path, ws, BYO_NODE)
    code, data = _up_json(capsys, "--byo", path)
    assert code == 0, data
    (item,) = data["workspaces"]  # type: ignore[misc]
    assert item["state"] == "Succeeded"


def test_up_byo_without_nodes_fails_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace("byo")
    del ws["resource"]["instanceType"]  # type: ignore[attr-defined]
    code, data = _up_json(capsys, "--provisioner", "byo", _write(tmp_path, ws))
    assert code == 1
    (item,) = data["workspaces"]  # type: ignore[misc]
    assert "no ready nodes found" in item["message"]


@pytest.mark.parametrize(
    ("elapsed", "timeout", "message"),
    [
        (600.0, 30.0, "is stuck: nothing was left to happen after 10m"),
        (60.0, 1.0, "did not succeed within 60s (--timeout 1 minutes)"),
        (1800.0, 30.0, "did not succeed within 30m (--timeout 30 minutes)"),
    ],
    ids=["stuck-early", "timeout-1m", "timeout-30m"],
)
def test_an_unfinished_run_says_when_it_ended(elapsed: float, timeout: float, message: str) -> None:
    """The figure in the message is the virtual time the run took, the one AGE counts."""
    settled = Settled(results={}, settled=False, elapsed=elapsed, reconciles=1)
    assert _unfinished(settled, argparse.Namespace(timeout=timeout)) == message
