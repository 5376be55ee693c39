"""`kaito presets` and `kaito skus`: the full catalogs, as tables and as JSON."""

from __future__ import annotations

import json

import pytest

from kaito_backends.cli import main


def test_presets_json_lists_the_whole_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    """All 60 upstream catalog presets, with their facts, as JSON."""
    assert main(["presets", "-o", "json"]) == 0
    presets = json.loads(capsys.readouterr().out)
    assert len(presets) == 60
    phi = next(p for p in presets if p["name"] == "phi-4-mini-instruct")
    assert phi["hf_id"] == "microsoft/Phi-4-mini-instruct"
    assert phi["token_limit"] == 131072
    assert phi["vllm_params"]["dtype"] == "bfloat16"


def test_skus_json_lists_current_and_legacy_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    """57 current instance types plus the legacy pre-Ampere ones, with compute capability."""
    assert main(["skus", "-o", "json"]) == 0
    skus = json.loads(capsys.readouterr().out)
    assert len([s for s in skus if not s["legacy"]]) == 57
    v100 = next(s for s in skus if s["instance_type"] == "Standard_NC6s_v3")
    assert (v100["legacy"], v100["compute_capability"], v100["gpu_model"]) == (
        True,
        7.0,
        "NVIDIA V100",
    )


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        pytest.param(["presets"], "phi-4-mini-instruct", id="presets"),
        pytest.param(["presets", "--tuning"], "phi-3-mini-4k-instruct", id="tuning"),
        pytest.param(["skus", "--cloud", "aws"], "p5.48xlarge", id="aws"),
        pytest.param(["skus"], "Standard_NC6s_v3", id="legacy"),
    ],
)
def test_tables(argv: list[str], expect: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The tables have upper-case headers and the rows asked for."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == out.splitlines()[0].upper()
    assert expect in out


def test_tuning_filter_keeps_only_tunable_presets(capsys: pytest.CaptureFixture[str]) -> None:
    """--tuning lists presets with lora/qlora support only."""
    assert main(["presets", "--tuning", "-o", "json"]) == 0
    presets = json.loads(capsys.readouterr().out)
    assert presets
    assert all(p["tuning"] for p in presets)


def test_an_internal_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug in a subcommand prints one line and exits 2; KAITO_DEBUG=1 re-raises it."""
    import kaito_backends.cli.catalog as catalog

    def broken(*_: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "default_catalog", broken)
    monkeypatch.delenv("KAITO_DEBUG", raising=False)
    assert main(["presets"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error: RuntimeError: boom" in err
    monkeypatch.setenv("KAITO_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["presets"])
