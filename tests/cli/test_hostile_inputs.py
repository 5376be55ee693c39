"""The hostile-input corpus (``tests/data/hostile``, issue #11) through ``kaito validate``,
``kaito plan`` and ``kaito up``: every command refuses each file the same way, in one line per
problem, within a time and memory bound (a regression fails the test, not the machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito_backends.cli import main
from tests.bounds import bounded

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"

#: file -> (exit code of every command, a fragment of the output that says why)
EXPECTED: dict[str, tuple[int, str]] = {
    "alias-bomb-template.yaml": (2, "document 1 (line 2) expands to 435.6 MiB through aliases"),
    "alias-bomb-volume-source.yaml": (2, "through aliases; a document may expand to at most 3 MiB"),
    "recursive-volume-source.yaml": (2, "line 16: recursive alias: the map anchored here"),
    "recursive-metadata.yaml": (
        2,
        "line 4: recursive alias: the map anchored here contains itself",
    ),
    "duplicate-kind.yaml": (2, 'line 6: duplicate key "kind" (first at line 3)'),
    "duplicate-instance-type.yaml": (2, 'line 10: duplicate key "instanceType" (first at line 7)'),
    "two-workspaces-same-name.yaml": (
        1,
        'metadata.name: Workspace "default/twin" is defined twice in this input: first at line 2',
    ),
    "configmap-key-injection.yaml": (
        1,
        'spec.inference.config: Invalid inference_config.yaml: vllm key "x; echo PWNED',
    ),
    "configmap-alias-bomb.yaml": (
        1,
        "spec.inference.config: Failed to parse inference_config.yaml: document 1 (line 1) "
        "expands to 43562.9 MiB through aliases; a document may expand to at most 1 MiB",
    ),
    "ssrf-fullwidth-dots.yaml": (1, "spec.tuning.input.urls[0]: data source URL must not target"),
    "ssrf-circled-digits.yaml": (1, "spec.tuning.input.urls[0]: data source URL must not target"),
    "ssrf-in-cluster.yaml": (1, "must not target an in-cluster or private-network name"),
    "count-2-pow-63.yaml": (2, 'integer "9223372036854775808" is outside the 64-bit range'),
    "count-2-pow-40.yaml": (1, "spec.resource.count: invalid value 1099511627776: must be less"),
    "reserved-label-nodepool.yaml": (1, '"karpenter.sh/nodepool" is owned by Karpenter'),
    "reserved-label-hostname.yaml": (1, '"kubernetes.io/hostname" is owned by Kubernetes'),
    "deep-nesting.yaml": (2, "line 13: nested more than 100 levels deep"),
}

COMMANDS = [
    pytest.param(["validate"], id="validate"),
    pytest.param(["plan"], id="plan"),
    pytest.param(["up", "--quiet"], id="up"),
]


def test_every_corpus_file_has_an_expectation() -> None:
    """A file added to the corpus must say what every command answers."""
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_command_refuses_the_attack(
    name: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Same exit code and reason from validate, plan and up; no traceback, quickly, small."""
    code, fragment = EXPECTED[name]
    path = CORPUS / name
    with bounded(seconds=30, memory_mib=512):
        status = main([*command, str(path)])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert status == code, output
    assert fragment in output
    assert "Traceback" not in output
    assert "internal error" not in output
    for line in output.splitlines():
        if fragment in line:
            assert line.startswith(f"{path}: "), line


def test_a_label_value_reused_2000_times_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's 131 KB file: a 100 KB label value through 2,000 aliases (25 s before)."""
    path = tmp_path / "labels.yaml"
    aliases = "\n".join(f"    k{i}: *v" for i in range(2000))
    path.write_text(
        "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata:\n  name: big\n"
        f"  annotations:\n    v: &v {'x' * 100_000}\n  labels:\n{aliases}\n"
    )
    with bounded(seconds=10, memory_mib=256):
        status = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "expands to 190.8 MiB through aliases" in err
    assert len(err.splitlines()) == 1


def test_the_same_object_in_two_files_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Workspace defined in two files is a problem naming the other file, in every command."""
    text = (CORPUS / "two-workspaces-same-name.yaml").read_text().split("---\n")[1]
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(text)
    second.write_text(text)
    for command in (["validate"], ["plan"], ["up", "--quiet"]):
        assert main([*command, str(first), str(second)]) == 1
        out = capsys.readouterr().out
        assert (
            f'{second}: Workspace/twin: metadata.name: Workspace "default/twin" is defined twice: '
            f"first in {first} (line 1)"
        ) in out
