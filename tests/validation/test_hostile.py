"""Hostile Workspaces and ConfigMaps (issue #11): refused by validation with a field path, and
refused again at plan time when the cluster's objects changed after admission."""

from __future__ import annotations

import pytest

from kaito_core.api import from_manifest
from kaito_core.observed import Observed
from kaito_core.plan import plan
from kaito_core.validation import validate
from kaito_core.validation.configmaps import parse_inference_config, vllm_key_problem
from kaito_core.validation.names import quote
from kaito_presets import default_catalog
from tests.bounds import bounded
from tests.validation.helpers import config_map, edit, inference, with_cms

CONFIG = "spec.inference.config"


def _laughs_text(levels: int = 7) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# --- vLLM keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        pytest.param("x; echo PWNED >/tmp/p; #", "", id="semicolon"),
        pytest.param("$(touch /tmp/p)", "", id="command-substitution"),
        pytest.param("`id`", "", id="backticks"),
        pytest.param("a\nb", "", id="newline"),
        pytest.param("a b", "", id="space"),
        pytest.param("--max-model-len", "without its leading dashes", id="leading-dashes"),
        pytest.param("max-model-len=4096", "not in it", id="equals"),
        pytest.param("1abc", "", id="leading-digit"),
        pytest.param("", "", id="empty"),
        pytest.param("a" * 129, "", id="too-long"),
        pytest.param("tensor\x00parallel", "", id="nul"),
    ],
)
def test_bad_vllm_keys_are_refused(key: str, hint: str) -> None:
    """A key that is not a vLLM option name is named in the problem (with a hint if any)."""
    problem = vllm_key_problem(key)
    assert problem is not None
    assert "is not a vLLM option name" in problem
    assert hint in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "key",
    ["max-model-len", "max_model_len", "compilation-config.level", "O", "kv-transfer-config"],
)
def test_vllm_option_names_pass(key: str) -> None:
    """Real vLLM option spellings (dashes, underscores, nested with dots) are accepted."""
    assert vllm_key_problem(key) is None


def test_injected_key_fails_validation_with_the_config_path() -> None:
    """The issue's ConfigMap passes validate no more: spec.inference.config names the key."""
    cm = config_map("cfg", {"inference_config.yaml": 'vllm:\n  "x; echo PWNED >/tmp/p; #": ""\n'})
    ws = from_manifest(edit(inference(), {"inference.config": "cfg"}))
    problems = validate(ws, context=with_cms(cm))
    assert [p.path for p in problems] == [CONFIG]
    assert 'vllm key "x; echo PWNED >/tmp/p; #" is not a vLLM option name' in problems[0].message


def test_control_characters_in_values_are_refused() -> None:
    """A value with a NUL or escape character cannot become a command-line argument."""
    _, problem = parse_inference_config('vllm:\n  served-model-name: "a\\0b"\n')
    assert problem is not None
    assert "must not contain control characters" in problem


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param('vllm:\n  "a; touch /tmp/p": 1\n', "is not a vLLM option name", id="key"),
        pytest.param('vllm:\n  seed: "1\\e"\n', "control characters", id="value"),
        pytest.param(_laughs_text(), "expands to", id="alias-bomb"),
        pytest.param("vllm: &v\n  x: *v\n", "recursive alias", id="recursive"),
        pytest.param("vllm:\n  seed: 1\n  seed: 2\n", "duplicate key", id="duplicate"),
    ],
)
def test_plan_refuses_a_config_map_changed_after_admission(text: str, fragment: str) -> None:
    """plan() re-reads the ConfigMap: a hostile one is an InvalidConfig error, nothing rendered."""
    ws = from_manifest(edit(inference("phi-4-mini-instruct"), {"inference.config": "cfg"}))
    observed = Observed(config_maps={"cfg": {"data": {"inference_config.yaml": text}}})
    with bounded(seconds=10, memory_mib=256):
        outcome = plan(ws, observed=observed, catalog=default_catalog(), now="2026-01-01T00:00:00Z")
    assert outcome.error is not None
    assert (outcome.error.reason, outcome.error.path) == ("InvalidConfig", CONFIG)
    assert fragment in outcome.error.message
    assert not [o for o in outcome.desired if o["kind"] == "StatefulSet"]


def test_alias_bomb_in_a_config_map_fails_validation_quickly() -> None:
    """validate reads ConfigMap values with the bounded loader too."""
    cm = config_map("cfg", {"inference_config.yaml": _laughs_text(9)})
    ws = from_manifest(edit(inference(), {"inference.config": "cfg"}))
    with bounded(seconds=10, memory_mib=256):
        problems = validate(ws, context=with_cms(cm))
    assert [p.path for p in problems] == [CONFIG]
    assert "expands to" in problems[0].message


# --- messages ------------------------------------------------------------------------------------


def test_quoting_cuts_before_escaping() -> None:
    """A 100 KB value quoted 2,000 times (the issue's 25 s attack) costs what a short one does."""
    value = '"\n' * 50_000
    with bounded(seconds=5, memory_mib=64):
        shown = [quote(value) for _ in range(2000)]
    assert shown[0] == '"' + '\\"\\n' * 100 + '..."'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("plain", '"plain"', id="plain"),
        pytest.param('a"b\\c\td\x01', '"a\\"b\\\\c\\td\\x01"', id="escapes"),
        pytest.param("x" * 200, '"' + "x" * 200 + '"', id="at-limit"),
        pytest.param("x" * 201, '"' + "x" * 200 + '..."', id="over-limit"),
    ],
)
def test_quote(value: str, shown: str) -> None:
    """Go-style quoting, cut at 200 characters of the value."""
    assert quote(value) == shown
