"""The bounded YAML loader: hostile YAML is refused at load time, in one line, quickly."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.api.yamlsafe import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_EXPANDED_BYTES,
    MAX_INPUT_BYTES,
    ManifestLoadError,
    YamlLimitError,
    YamlLimits,
    load_yaml,
    load_yaml_documents,
)
from tests.bounds import bounded


def _laughs(levels: int, width: int = 10) -> str:
    """A billion-laughs document: `levels` lists of `width` aliases to the level below."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _error(text: str | bytes, limits: YamlLimits | None = None) -> ManifestLoadError:
    with bounded(seconds=5, memory_mib=256), pytest.raises(ManifestLoadError) as info:
        load_yaml_documents(text, limits=limits)
    message = str(info.value)
    assert "\n" not in message
    return info.value


# --- limits --------------------------------------------------------------------------------------

LIMIT_CASES = [
    pytest.param(_laughs(9), "document_bytes", "expands to", id="billion-laughs"),
    pytest.param(
        "spec:\n  inference:\n    template:\n      " + _laughs(7).replace("\n", "\n      "),
        "document_bytes",
        "expands to",
        id="7-level-chain-under-template",
    ),
    pytest.param(
        "v: &v " + "x" * 100_000 + "\nlabels: [" + ", ".join(["*v"] * 2000) + "]\n",
        "document_bytes",
        "expands to 190.8 MiB through aliases",
        id="100KB-value-2000-aliases",
    ),
    pytest.param("[" * 150 + "]" * 150, "depth", "nested more than 100 levels", id="deep-flow"),
    pytest.param(
        "".join(" " * i + "a:\n" for i in range(120)) + " " * 120 + "b: 1\n",
        "depth",
        "nested more than 100 levels",
        id="deep-block",
    ),
    pytest.param(
        "x: &x " + "[" * 60 + "1" + "]" * 60 + "\ny: " + "[" * 60 + "*x" + "]" * 60 + "\n",
        "depth",
        "nested more than 100 levels",
        id="deep-through-alias",
    ),
]


@pytest.mark.parametrize(("text", "limit", "fragment"), LIMIT_CASES)
def test_limits_refuse_before_building(text: str, limit: str, fragment: str) -> None:
    """Amplification and nesting attacks are refused (YamlLimitError) within a small budget."""
    error = _error(text)
    assert isinstance(error, YamlLimitError)
    assert error.limit == limit
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("text", "limits", "limit"),
    [
        pytest.param("a: 12345\n", YamlLimits(input_bytes=8), "input_bytes", id="input-bytes"),
        pytest.param(b"a: 12345\n", YamlLimits(input_bytes=8), "input_bytes", id="input-bytes-raw"),
        pytest.param(
            "a: &a [1]\nb: [*a, *a, *a]\n", YamlLimits(aliases=2), "aliases", id="aliases"
        ),
        pytest.param(
            "a: [1, 2, 3]\n---\nb: [4, 5, 6]\n",
            YamlLimits(total_bytes=12),
            "total_bytes",
            id="total-bytes",
        ),
        pytest.param(
            "a: " + "x" * 40 + "\n", YamlLimits(document_bytes=32), "document_bytes", id="doc"
        ),
        pytest.param("a: [[1]]\n", YamlLimits(depth=2), "depth", id="depth"),
    ],
)
def test_each_limit_is_configurable(text: str | bytes, limits: YamlLimits, limit: str) -> None:
    """Every `YamlLimits` field is enforced and named on the error."""
    error = _error(text, limits)
    assert isinstance(error, YamlLimitError)
    assert error.limit == limit


def test_default_limits_are_the_documented_constants() -> None:
    """The defaults are the module constants docs/security.md states."""
    assert YamlLimits() == YamlLimits(
        input_bytes=MAX_INPUT_BYTES,
        document_bytes=MAX_DOCUMENT_BYTES,
        total_bytes=MAX_EXPANDED_BYTES,
        depth=MAX_DEPTH,
        aliases=MAX_ALIASES,
    )
    assert (MAX_INPUT_BYTES, MAX_DOCUMENT_BYTES, MAX_EXPANDED_BYTES) == (
        10 * 2**20,
        3 * 2**20,
        32 * 2**20,
    )
    assert (MAX_DEPTH, MAX_ALIASES) == (100, 10_000)


def test_within_limits_aliases_are_fine() -> None:
    """Anchors, aliases and merge keys used reasonably load as before."""
    text = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\nlist: [*b, *b]\n"
    assert load_yaml(text) == {
        "base": {"x": 1, "y": 2},
        "m": {"x": 3, "y": 2},
        "list": [{"x": 1, "y": 2}, {"x": 1, "y": 2}],
    }


def test_nesting_at_the_limit_loads() -> None:
    """Exactly MAX_DEPTH levels load; one more does not."""
    load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(YamlLimitError):
        load_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


# --- shapes that cannot be a manifest ---------------------------------------------------------

SHAPE_CASES = [
    pytest.param("a: &a\n  b: *a\n", "line 1: recursive alias: the map", id="recursive-map"),
    pytest.param("a: &a [1, *a]\n", "line 1: recursive alias: the list", id="recursive-list"),
    pytest.param(
        "kind: Workspace\nspec:\n  volumeSource: &v\n    nfs: *v\n",
        "line 3: recursive alias",
        id="recursive-volume-source",
    ),
    pytest.param(
        "kind: ConfigMap\nmetadata: {}\nkind: Workspace\n",
        'line 3: duplicate key "kind" (first at line 1)',
        id="duplicate-kind",
    ),
    pytest.param(
        "resource:\n  instanceType: bad\n  count: 1\n  instanceType: Standard_NC6s_v3\n",
        'line 4: duplicate key "instanceType" (first at line 2)',
        id="duplicate-nested",
    ),
    pytest.param(
        "a: 1\n---\n- x: 1\n  y: 2\n  x: 3\n",
        'line 5: duplicate key "x" (first at line 3)',
        id="duplicate-second-document",
    ),
    pytest.param(
        "flow: {a: 1, a: 2}\n", 'line 1: duplicate key "a" (first at line 1)', id="duplicate-flow"
    ),
    pytest.param("? [a]\n: 1\n", "line 1: a mapping key must be a string or number", id="list-key"),
    pytest.param("a: !!binary aGk=\n", "tag !!binary is not supported", id="binary"),
    pytest.param("a: !!set {x}\n", "tag !!set is not supported", id="set"),
    pytest.param("a: !!omap [x: 1]\n", "tag !!omap is not supported", id="omap"),
    pytest.param("a: !custom x\n", "could not determine a constructor", id="local-tag"),
    pytest.param("a: .inf\n", '".inf" is not a finite number', id="inf"),
    pytest.param("a: -.inf\n", "is not a finite number", id="minus-inf"),
    pytest.param("a: .nan\n", '".nan" is not a finite number', id="nan"),
    pytest.param("a: 1.0e+999\n", "is not a finite number", id="overflowing-float"),
    pytest.param("a: 9223372036854775808\n", "outside the 64-bit range", id="2**63"),
    pytest.param("a: " + "1" + "0" * 29 + "\n", "outside the 64-bit range", id="10**29"),
    pytest.param("a: " + "9" * 5000 + "\n", "integer is too large", id="5000-digits"),
    pytest.param("a: 'open\n", "invalid YAML: line 2, column 1", id="unterminated"),
    pytest.param(b"a: \xff\n", "not UTF-8 text (byte 3)", id="not-utf8"),
    pytest.param("a: b\x00\n", "NUL bytes", id="nul"),
]


@pytest.mark.parametrize(("text", "fragment"), SHAPE_CASES)
def test_refused_shapes(text: str | bytes, fragment: str) -> None:
    """Each shape is a ManifestLoadError whose one line says what and where."""
    assert fragment in str(_error(text))


def test_duplicate_error_carries_its_line() -> None:
    """The error's `line` is the second occurrence (the first is in the message)."""
    assert _error("a: 1\nb: 2\na: 3\n").line == 3


def test_merge_keys_are_not_duplicates() -> None:
    """Two ``<<`` merges and a key overriding a merged one are YAML merge, not duplicates."""
    text = "x: &x {a: 1}\ny: &y {b: 2}\nz:\n  <<: *x\n  <<: *y\n  a: 5\n"
    assert load_yaml(text)["z"] == {"a": 5, "b": 2}


def test_long_values_are_cut_before_escaping() -> None:
    """A huge key is shown cut to a few dozen characters (the cost does not grow with it)."""
    key = '"' * 200_000
    text = f"? '{key}'\n: 1\n? '{key}'\n: 2\n"
    message = str(_error(text))
    assert len(message) < 200
    assert message.endswith('..." (first at line 1)')


# --- values ------------------------------------------------------------------------------------


def test_timestamps_stay_strings() -> None:
    """``2024-01-01`` is a string, as Kubernetes' YAML reader keeps it."""
    assert load_yaml("a: 2024-01-01\nb: 2001-12-14t21:59:43.10-05:00\n") == {
        "a": "2024-01-01",
        "b": "2001-12-14t21:59:43.10-05:00",
    }


def test_documents_keep_index_and_line() -> None:
    """Empty documents stay in the stream (value None), so indexes and lines match the text."""
    documents = load_yaml_documents("a: 1\n---\n---\n# c\nb: 2\n")
    assert [(d.index, d.line, d.value) for d in documents] == [
        (0, 1, {"a": 1}),
        (1, 3, None),
        (2, 5, {"b": 2}),
    ]


def test_load_yaml_wants_one_document() -> None:
    """`load_yaml` returns the single document (None for empty input) and refuses two."""
    assert load_yaml("") is None
    assert load_yaml(b"x: [1]\n") == {"x": [1]}
    with pytest.raises(ManifestLoadError, match="line 3: expected one YAML document, found 2"):
        load_yaml("a: 1\n---\nb: 2\n")


# --- properties --------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=200, deadline=None, suppress_health_check=_HEALTH)
@given(data=_DATA)
def test_json_data_round_trips(data: Any) -> None:
    """Any JSON value written as YAML reads back equal."""
    assert load_yaml(yaml.safe_dump(data)) == data


@settings(max_examples=300, deadline=None, suppress_health_check=_HEALTH)
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!<> ,'\"\n\t#|>?1.")), max_size=80))
def test_random_text_loads_or_refuses_in_one_line(text: str) -> None:
    """Whatever the text, the loader returns values or raises ManifestLoadError (one line)."""
    try:
        documents = load_yaml_documents(text)
    except ManifestLoadError as exc:
        message = str(exc)
        documents = ()
    else:
        message = ""
    assert "\n" not in message
    for document in documents:
        _assert_json(document.value)


def _assert_json(value: Any, depth: int = 0) -> None:
    assert depth <= MAX_DEPTH
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str | int | float | bool) or key is None
            _assert_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _assert_json(item, depth + 1)
    elif isinstance(value, float):
        assert math.isfinite(value)
    else:
        assert value is None or isinstance(value, str | int | bool)
