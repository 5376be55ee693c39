"""``kaito validate``: output lines, exit codes and bad input, through the argparse front end."""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
import yaml

from kaito_backends.cli import inputs, main
from kaito_backends.cli import validate as command
from kaito_core.kinds import Registry
from kaito_core.workspace_kind import WORKSPACE

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"

VALID = """\
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
    name: phi-3-mini-4k-instruct
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaito")
    command.register(parser.add_subparsers(dest="command"))
    return parser


def run(*argv: str | Path) -> int:
    args = _parser().parse_args(["validate", *map(str, argv)])
    return int(args.func(args))


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def edited(**changes: object) -> str:
    manifest = yaml.safe_load(VALID)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = manifest
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return yaml.safe_dump(manifest)


def test_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid Workspace: exit 0, nothing on stdout, a summary on stderr."""
    assert run(write(tmp_path, "ws.yaml", VALID)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "1 Workspace(s) valid"


def test_problem_line_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each problem is exactly FILE: Workspace/NAME: FIELD.PATH: message."""
    path = write(tmp_path, "ws.yaml", edited(resource__instanceType="Standard_bogus"))
    assert run(path) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(
        f"{path}: Workspace/phi: spec.resource.instanceType: Unsupported instance type "
        "Standard_bogus. Supported SKUs: "
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            edited(resource__count="two"),
            'spec.resource.count: expected an integer, found the string "two"',
            id="wrong type",
        ),
        pytest.param(
            edited(inference__preset__name=7),
            "spec.inference.preset.name: expected a string",
            id="wrong type in preset",
        ),
        pytest.param(
            edited(inference__bogus=1), "spec.inference.bogus: unknown field", id="unknown field"
        ),
        pytest.param(edited(spec={"x": 1}), "spec: unknown field", id="spec wrapper"),
        pytest.param(
            edited(resource__labelSelector=None),
            "spec.resource.labelSelector: required field is missing",
            id="missing selector",
        ),
        pytest.param(
            edited(inference__preset={}),
            "spec.inference.preset.name: required field is missing",
            id="missing preset name",
        ),
        pytest.param(
            edited(metadata__name="n" * 64), "metadata.name: invalid value", id="name over 63"
        ),
        pytest.param(
            edited(metadata__labels={"team": "t" * 64}),
            'metadata.labels["team"]: invalid value',
            id="label value over 63",
        ),
        pytest.param(
            edited(resource__labelSelector__matchLabels={"k" * 64: "v"}),
            "spec.resource.labelSelector.matchLabels",
            id="selector key over 63",
        ),
        pytest.param(
            edited(inference__preset__name="no-such-model"),
            "spec.inference.preset.name: Unsupported inference preset name no-such-model",
            id="unknown preset",
        ),
        pytest.param(
            edited(resource__instanceType="Standard_ND9000"),
            "spec.resource.instanceType: Unsupported instance type Standard_ND9000",
            id="unknown sku",
        ),
        pytest.param(
            edited(apiVersion="kaito.sh/v2"),
            "apiVersion: unsupported apiVersion",
            id="unknown api version",
        ),
    ],
)
def test_bad_manifests_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    """Schema and rule violations are problems (exit 1), each on its own line."""
    path = write(tmp_path, "ws.yaml", text)
    assert run(path) == 1
    out = capsys.readouterr().out
    assert f"{path}: Workspace/" in out
    assert expected in out


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Text that is not YAML: exit 2, one line on stderr."""
    path = write(tmp_path, "bad.yaml", "kind: Workspace\nmetadata: {name: [unclosed\n")
    assert run(path) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{path}: error: invalid YAML")
    assert len(err.strip().splitlines()) == 1


def test_binary_junk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Binary data is refused (exit 2), not parsed."""
    path = write(tmp_path, "junk.bin", bytes(range(256)) * 4)
    assert run(path) == 2
    assert capsys.readouterr().err.startswith(f"{path}: error: ")


def test_huge_file_refused_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 50 MB file is refused by size without being read (exit 2, quickly)."""
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    started = time.monotonic()
    assert run(path) == 2
    assert time.monotonic() - started < 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: error: input is 50.0 MiB")


def test_huge_stdin_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over-size input on stdin is refused too."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a: b\n" * 3_000_000)))
    assert run("-") == 2
    assert capsys.readouterr().err.startswith("<stdin>: error: input is")


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file is nothing to validate: exit 1 and say so (as plan and up do)."""
    assert run(write(tmp_path, "empty.yaml", "")) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: no Workspace")
    assert " found in " in err


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """'-' reads stdin and names it <stdin>."""
    text = edited(metadata__name="Bad")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert run("-") == 1
    assert capsys.readouterr().out.startswith("<stdin>: Workspace/Bad: metadata.name: ")


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable file: exit 2 with the reason."""
    path = tmp_path / "absent.yaml"
    assert run(path) == 2
    assert capsys.readouterr().err.startswith(f"{path}: error: cannot read")


def test_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory is not a manifest file."""
    assert run(tmp_path) == 2
    assert capsys.readouterr().err.startswith(f"{tmp_path}: error: cannot read")


def test_unreadable_and_invalid_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problems of readable files are still printed when another file fails (exit 2)."""
    bad = write(tmp_path, "ws.yaml", edited(metadata__name="Bad"))
    assert run(bad, tmp_path / "absent.yaml") == 2
    out, err = capsys.readouterr()
    assert "metadata.name" in out
    assert "absent.yaml: error" in err


def test_config_maps_pooled_across_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ConfigMap from one file is checked against the Workspace of another."""
    cm = write(
        tmp_path,
        "cm.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "params"},
                "data": {"inference_config.yaml": "vllm:\n  max-model-len: 9000\n"},
            }
        ),
    )
    ws = write(tmp_path, "ws.yaml", edited(inference__config="params"))
    assert run(cm, ws) == 1
    assert capsys.readouterr().out.strip() == (
        f"{ws}: Workspace/phi: spec.inference.config: max-model-len 9000 exceeds model's maximum "
        "supported context window 4096 (ModelTokenLimit)"
    )


def test_config_map_unknown_without_any(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no ConfigMap in the input, existence cannot be known and is not checked."""
    assert run(write(tmp_path, "ws.yaml", edited(inference__config="params"))) == 0


def test_config_map_missing_when_others_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once ConfigMaps are given, a referenced one that is absent is reported."""
    cm = write(
        tmp_path,
        "cm.yaml",
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}, "data": {}}
        ),
    )
    ws = write(tmp_path, "ws.yaml", edited(inference__config="params"))
    assert run(cm, ws) == 1
    assert "ConfigMap 'params' specified in 'config' not found in namespace 'default'" in (
        capsys.readouterr().out
    )


def test_other_kinds_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kinds that are not registered (an upstream ModelMirror) are skipped silently."""
    other = yaml.safe_dump(
        {"apiVersion": "kaito.sh/v1beta1", "kind": "ModelMirror", "metadata": {"name": "mm"}}
    )
    assert run(write(tmp_path, "all.yaml", other + "---\n" + VALID)) == 0
    assert capsys.readouterr().out == ""


def test_other_kinds_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--strict names each document it does not handle (ConfigMaps are handled)."""
    other = yaml.safe_dump(
        {"apiVersion": "kaito.sh/v1alpha1", "kind": "ModelMirror", "metadata": {"name": "mm"}}
    )
    cm = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    path = write(tmp_path, "all.yaml", "---\n".join([other, cm, VALID]))
    assert run(path, "--strict") == 1
    assert capsys.readouterr().out.strip() == (
        f"{path}: ModelMirror/mm: kind: ModelMirror (kaito.sh/v1alpha1) is not handled by "
        "kaito validate"
    )


def test_document_not_a_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML scalar document is a problem, reported with a placeholder path."""
    path = write(tmp_path, "s.yaml", "just text\n")
    assert run(path) == 1
    assert capsys.readouterr().out.strip() == (
        f"{path}: Object/#1: <document>: a manifest must be a map of fields"
    )


def test_document_without_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A map without kind cannot be anything."""
    path = write(tmp_path, "k.yaml", "metadata: {name: x}\n")
    assert run(path) == 1
    assert "kind: required field is missing" in capsys.readouterr().out


def test_one_bad_document_among_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the bad document is reported."""
    bad = edited(metadata__name="bad-one", resource__count=0)
    path = write(tmp_path, "two.yaml", VALID + "---\n" + bad)
    assert run(path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}: Workspace/bad-one: spec.resource.count: invalid value 0: must be "
        "greater than or equal to 1"
    ]


def test_byo_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--byo turns auto-provisioning off, so instanceType must be empty."""
    path = write(tmp_path, "ws.yaml", VALID)
    assert run(path, "--byo") == 1
    assert "instanceType must be empty when node auto-provisioning is disabled" in (
        capsys.readouterr().out
    )
    assert run(write(tmp_path, "byo.yaml", edited(resource__instanceType=None)), "--byo") == 0


def test_byo_provisioner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--provisioner byo implies BYO nodes."""
    assert (
        run(write(tmp_path, "ws.yaml", edited(resource__instanceType=None)), "--provisioner", "byo")
        == 0
    )


def test_nodes_pooled_for_byo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Node manifests in the input are the BYO inventory."""
    nodes = write(
        tmp_path,
        "nodes.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "n1", "labels": {"apps": "other"}},
            }
        ),
    )
    ws = write(tmp_path, "ws.yaml", edited(resource__instanceType=None))
    assert run(nodes, ws, "--byo") == 1
    assert "No nodes found matching the specified label selector" in capsys.readouterr().out


def test_feature_gates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--feature-gates enables MIG for a BYO partition."""
    ws = write(
        tmp_path,
        "ws.yaml",
        edited(
            resource__instanceType=None, resource__partition={"mode": "mig", "profile": "3g.40gb"}
        ),
    )
    assert run(ws, "--byo") == 1
    capsys.readouterr()
    assert run(ws, "--byo", "--feature-gates", "enableMIG=true,vLLM=true") == 0


def test_bad_feature_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown gate is a usage error (exit 2)."""
    assert run(write(tmp_path, "ws.yaml", VALID), "--feature-gates", "warpDrive=true") == 2
    assert "invalid feature gate 'warpDrive=true'" in capsys.readouterr().err


def test_parse_errors_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Workspace that does not parse prints every parse error."""
    path = write(tmp_path, "ws.yaml", edited(resource__count="x", inference__zzz=1))
    assert run(path) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        f'{path}: Workspace/phi: spec.resource.count: expected an integer, found the string "x"'
        in out
    )
    assert f"{path}: Workspace/phi: spec.inference.zzz: unknown field" in out


def test_multiline_messages_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem stays on one line, even a YAML error from a ConfigMap."""
    cm = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "params"},
            "data": {"inference_config.yaml": "vllm:\n  a: [\n"},
        }
    )
    path = write(tmp_path, "all.yaml", cm + "---\n" + edited(inference__config="params"))
    assert run(path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "Failed to parse inference_config.yaml" in lines[0]


def test_seed_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The quick-start seed: 01 validates, 02 names its placeholder output image."""
    assert run(SEED / "01-inference-phi-3.yaml") == 0
    assert run(SEED / "02-tuning-phi-3.yaml") == 1
    out = capsys.readouterr().out
    assert (
        f"{SEED / '02-tuning-phi-3.yaml'}: Workspace/workspace-phi-3-mini: "
        "spec.tuning.output.image: "
        'output image "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1" looks like a placeholder '
        "from an example; replace it with your registry and image name, such as "
        "myregistry.azurecr.io/phi-3-adapter:0.0.1"
    ) in out.splitlines()


def test_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception becomes a one-line internal error with exit 2."""

    def boom(*_: object, **__: object) -> list[object]:
        raise RuntimeError("kaboom\nsecond line")

    failing = Registry((attrs.evolve(WORKSPACE, validate=boom),))
    monkeypatch.setattr(inputs, "default_registry", lambda: failing)
    assert run(write(tmp_path, "ws.yaml", VALID)) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("Workspace/phi: internal error: RuntimeError: kaboom second line")
    assert "Traceback" not in err


@pytest.mark.parametrize("instance_type", ["Standard_NC6", "Standard_NC24r"])
def test_k80_is_rejected_with_alternatives(
    instance_type: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Azure's K80 sizes get the unsupported-GPU reason and alternatives, not "unknown SKU"."""
    path = write(tmp_path, "ws.yaml", edited(resource__instanceType=instance_type))
    assert run(path) == 1
    out = capsys.readouterr().out
    assert f"instance type {instance_type} " in out
    assert "NVIDIA K80) cannot run any KAITO runtime: compute capability 3.7" in out
    assert "Supported alternatives of similar memory: " in out
    assert "Unsupported instance type" not in out


def test_through_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kaito validate`` is wired into the kaito command."""
    assert main(["validate", str(write(tmp_path, "ws.yaml", VALID))]) == 0
    assert main(["validate", str(write(tmp_path, "bad.yaml", edited(metadata__name="X")))]) == 1
    assert "metadata.name" in capsys.readouterr().out


#: Run ``argv[1]`` (a Python program) without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: drop them
#: from the bounding set, then exec, so that even uid 0 obeys file modes.
_WITHOUT_DAC_OVERRIDE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit(f"cannot drop capability {cap}: errno {ctypes.get_errno()}")
os.execv(sys.executable, [sys.executable, "-c", *sys.argv[1:]])
"""
_KAITO = "import sys; from kaito_backends.cli import main; sys.exit(main(sys.argv[1:]))"


def test_file_permissions(tmp_path: Path) -> None:
    """A file we may not read (mode 000) is exit 2 with the OS's reason, not a traceback; as
    root too: the command then runs without the capabilities that bypass file modes."""
    path = write(tmp_path, "secret.yaml", VALID)
    path.chmod(0)
    argv = [sys.executable, "-c", _KAITO, "validate", str(path)]
    if os.geteuid() == 0:
        argv = [sys.executable, "-c", _WITHOUT_DAC_OVERRIDE, _KAITO, "validate", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"{path}: error: cannot read: Permission denied"
    assert done.stdout == ""


def test_a_socket_is_unreadable_for_everyone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path no process can read (a UNIX socket, root included) is exit 2 with the reason."""
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert run(path) == 2
    assert capsys.readouterr().err.strip() == (
        f"{path}: error: cannot read: No such device or address"
    )
