"""`kaito presets` and `kaito skus`: the full catalogs, as tables and as JSON."""

from __future__ import annotations

import json
import re

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


def _sku_rows(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    """`kaito skus` as {instance type: {HEADER: cell}} (cells split on runs of 3+ spaces)."""
    assert main(["skus"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headers = re.split(r" {3,}", lines[0])
    rows = [dict(zip(headers, re.split(r" {3,}", line), strict=True)) for line in lines[1:]]
    return {row["INSTANCE TYPE"]: row for row in rows}


@pytest.mark.parametrize(
    ("instance_type", "usable", "why"),
    [
        pytest.param("Standard_NC24ads_A100_v4", "yes", "-", id="a100"),
        pytest.param("Standard_NC6s_v3", "float16", "runs in float16", id="v100"),
        pytest.param("Standard_NV6", "no", "compute capability 5.2 is below 7.0", id="m60"),
        pytest.param("Standard_NG32ads_V620_v1", "no", "not NVIDIA (vendor amd)", id="amd"),
        pytest.param("inf2.xlarge", "no", "not NVIDIA (vendor aws)", id="inferentia"),
        pytest.param("trn1.2xlarge", "no", "not NVIDIA (vendor aws)", id="trainium"),
    ],
)
def test_skus_table_says_which_rows_are_usable_and_why(
    instance_type: str, usable: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """USABLE is yes / float16 / no; WHY is never blank for float16 and no."""
    row = _sku_rows(capsys)[instance_type]
    assert row["USABLE"] == usable
    assert why in row["WHY"]
    assert "NOTES" not in row


def test_every_sku_row_has_a_verdict_and_a_reason_unless_yes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No blank cells: every row is yes (WHY "-") or float16/no with a reason."""
    for name, row in _sku_rows(capsys).items():
        assert row["USABLE"] in ("yes", "float16", "no"), name
        assert (row["WHY"] == "-") == (row["USABLE"] == "yes"), name


def test_skus_json_carries_the_same_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """-o json has usable and usable_reason, equal to the table's USABLE and WHY."""
    table_rows = _sku_rows(capsys)
    assert main(["skus", "-o", "json"]) == 0
    for sku in json.loads(capsys.readouterr().out):
        row = table_rows[sku["instance_type"]]
        assert sku["usable"] == row["USABLE"]
        assert (sku["usable_reason"] or "-") == row["WHY"]


def test_presets_table_shows_no_alias_equal_to_the_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An upstream alias that equals the preset name (phi-4) is shown as "-"; real ones stay."""
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {cells[0]: cells for cells in (re.split(r" {3,}", line) for line in lines[1:])}
    assert all(cells[1] != name for name, cells in rows.items())
    assert rows["phi-4"][1] == "-"
    assert rows["gemma-3-4b-it"][1] == "gemma-3-4b-instruct"


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
