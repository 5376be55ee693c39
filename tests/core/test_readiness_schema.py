"""The figures file: the shipped defaults, overrides, and every problem named by its path."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.readiness import (
    RUNTIMES,
    FiguresError,
    Workload,
    default_figures,
    parse_figures,
    predict,
)

DEFAULTS = json.loads(
    (resources.files("kaito_core.readiness") / "figures.json").read_text(encoding="utf-8")
)


def test_every_default_figure_has_a_source() -> None:
    """A measurement (kaito-project/kaito#2325) or the word assumption, for every group."""
    figures = default_figures()
    groups: list[Any] = [
        *figures.nodes,
        *figures.images,
        *figures.runtimes,
        figures.pull,
        figures.weights.download,
        figures.weights.stream,
        figures.readiness,
        figures.multi_node,
    ]
    for group in groups:
        assert (
            "kaito-project/kaito#2325" in group.source
            or "assumption" in group.source
            or (group.source.startswith("no measurement"))
            or group.source.startswith("a tuning Workspace")
        ), group
    assert sorted(r.runtime for r in figures.runtimes) == sorted(RUNTIMES)


def test_an_empty_file_changes_nothing_and_the_defaults_read_as_an_override() -> None:
    """``{}`` and the defaults themselves are valid figures files that change nothing."""
    assert parse_figures({}) == default_figures()
    assert parse_figures(DEFAULTS) == default_figures()


def test_an_override_replaces_field_by_field_and_adds_entries() -> None:
    """Named fields change, the rest stays; a new key is appended; the file is the source."""
    figures = parse_figures(
        {
            "nodes": [
                {"cloud": "Azure", "family": "ncads_a100_v4", "provisionSeconds": 200},
                {
                    "cloud": "aws",
                    "family": "p5",
                    "provisionSeconds": 120,
                    "initializeSeconds": 60,
                    "source": "our own runs, March",
                },
            ],
            "pull": {"bytesPerSecond": 200e6},
            "runtimes": [{"runtime": "vllm", "warmUpSeconds": 30}],
            "weights": {"stream": {"bytesPerSecond": 4e9}},
        },
        origin="figures.yaml",
    )
    a100 = figures.node(cloud="azure", family="NCads_A100_v4")
    assert (a100.provision_seconds, a100.initialize_seconds) == (200, 126)
    assert a100.source == "figures.yaml"
    p5 = figures.node(cloud="aws", family="p5")
    assert (p5.provision_seconds, p5.source) == (120, "our own runs, March")
    assert figures.node(cloud="aws", family="g5").family == "*"
    assert (figures.pull.bytes_per_second, figures.pull.scheduling_seconds) == (200e6, 7)
    vllm = figures.runtime("vllm")
    assert (vllm.start_seconds, vllm.warm_up_seconds) == (95, 30)
    assert figures.weights.stream.bytes_per_second == 4e9
    assert figures.weights.download == default_figures().weights.download


def test_an_override_that_repeats_a_default_keeps_its_source() -> None:
    """Only a change takes the file's name as its source."""
    figures = parse_figures({"readiness": {"seconds": 1}}, origin="figures.yaml")
    assert figures.readiness == default_figures().readiness


def test_overrides_move_the_prediction() -> None:
    """The figures are what the model uses: a faster pull shortens PullingImage."""
    workload = Workload(runtime="vllm", images=("kaito-base:0.5.0",))
    slow = predict(workload, figures=default_figures())
    fast = predict(workload, figures=parse_figures({"pull": {"bytesPerSecond": 5.6e9}}))
    assert slow.phase("PullingImage").seconds - fast.phase("PullingImage").seconds == (
        pytest.approx(100.0)
    )


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ([], [("", "expected a map, got a list")]),
        (
            {"nodez": []},
            [
                (
                    "nodez",
                    "unknown field; expected one of version, nodes, images, pull, weights, "
                    "runtimes, readiness, multiNode",
                )
            ],
        ),
        ({"version": 2}, [("version", "unsupported version 2; expected 1")]),
        ({"version": True}, [("version", "unsupported version True; expected 1")]),
        ({"nodes": {}}, [("nodes", "expected a list, got a map")]),
        ({"nodes": ["x"]}, [("nodes[0]", "expected a map, got a string")]),
        (
            {"nodes": [{"cloud": "aws", "family": "p5", "provisionSeconds": 1}]},
            [("nodes[0].initializeSeconds", "required field is missing")],
        ),
        (
            {"nodes": [{"family": "p5"}]},
            [("nodes[0].cloud", "required field is missing")],
        ),
        (
            {"nodes": [{"cloud": " ", "family": "p5"}]},
            [("nodes[0].cloud", "must not be empty")],
        ),
        (
            {"nodes": [{"cloud": "*", "family": "*", "provisionSeconds": "5m"}]},
            [("nodes[0].provisionSeconds", "expected a number, got a string")],
        ),
        (
            {"nodes": [{"cloud": "*", "family": "*", "provisionSeconds": -1}]},
            [("nodes[0].provisionSeconds", "must be a number from 0 up to 1e+06, got -1")],
        ),
        (
            {"nodes": [{"cloud": "*", "family": "*", "provisionSeconds": True}]},
            [("nodes[0].provisionSeconds", "expected a number, got a boolean")],
        ),
        (
            {"nodes": [{"cloud": "*", "family": "*", "provisionSeconds": math.nan}]},
            [("nodes[0].provisionSeconds", "must be a number from 0 up to 1e+06, got nan")],
        ),
        (
            {"nodes": [{"cloud": "*", "family": "*", "speed": 1}]},
            [
                (
                    "nodes[0].speed",
                    "unknown field; expected one of cloud, family, provisionSeconds, "
                    "initializeSeconds, source",
                )
            ],
        ),
        (
            {"nodes": [{"cloud": "a", "family": "b"}, {"cloud": "A", "family": "B"}]},
            [
                ("nodes[0].provisionSeconds", "required field is missing"),
                ("nodes[0].initializeSeconds", "required field is missing"),
                ("nodes[1]", "a/b is given twice"),
            ],
        ),
        (
            {"pull": {"bytesPerSecond": 0}},
            [("pull.bytesPerSecond", "must be a number above 0 up to 1e+13, got 0")],
        ),
        (
            {"images": [{"image": "x", "bytes": 1e15}]},
            [("images[0].bytes", "must be a number from 0 up to 1e+14, got 1e+15")],
        ),
        (
            {"runtimes": [{"runtime": "sglang", "startSeconds": 1}]},
            [
                (
                    "runtimes[0].runtime",
                    "unknown runtime; expected one of template, transformers, tuning, vllm",
                ),
                ("runtimes[0].warmUpSeconds", "required field is missing"),
                ("runtimes[0].benchmarkSeconds", "required field is missing"),
            ],
        ),
        (
            {"weights": {"download": {"bytesPerSecond": "fast"}, "cache": {}}},
            [
                ("weights.cache", "unknown field; expected one of download, stream"),
                ("weights.download.bytesPerSecond", "expected a number, got a string"),
            ],
        ),
        (
            {"readiness": {"seconds": 1, "source": 7}},
            [("readiness.source", "expected a string, got a number")],
        ),
        (
            {"multiNode": {"startSeconds": None}},
            [("multiNode.startSeconds", "expected a number, got null")],
        ),
    ],
    ids=[
        "not-a-map",
        "unknown-top-field",
        "version",
        "version-bool",
        "nodes-not-a-list",
        "entry-not-a-map",
        "new-entry-incomplete",
        "key-missing",
        "key-empty",
        "seconds-as-text",
        "negative",
        "boolean",
        "nan",
        "unknown-entry-field",
        "twice",
        "zero-rate",
        "too-big",
        "unknown-runtime",
        "weights",
        "source-not-text",
        "null",
    ],
)
def test_every_problem_is_named_by_its_path(data: Any, problems: list[tuple[str, str]]) -> None:
    """FiguresError lists each problem with its field path, nothing silently dropped."""
    with pytest.raises(FiguresError) as caught:
        parse_figures(data)
    assert [(e.path, e.message) for e in caught.value.errors] == problems


_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["nodes", "images", "pull", "cloud", "family", "provisionSeconds", "bytes", "x"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(data=_JUNK)
def test_anything_parses_or_is_refused_with_paths(data: Any) -> None:
    """Whatever the file holds: figures, or FiguresError with at least one problem."""
    problems: list[Any] = []
    try:
        figures = parse_figures(data)
    except FiguresError as error:
        problems = error.errors or [None]
    else:
        assert figures.node(cloud="x", family="y").family == "*"
    assert all(p is not None and p.message for p in problems)
