"""``spec.replicas`` and ``spec.nodeCountLimit`` are bounded, in validation and at plan time
(``kubectl scale`` and autoscalers write replicas without the webhook), as ``resource.count``
is for one Workspace."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_core.api import InferenceSet
from kaito_core.inferenceset import MAX_NODE_COUNT_LIMIT, MAX_REPLICAS, autoscaling
from kaito_core.validation.inferenceset import validate_inferenceset
from tests.bounds import bounded
from tests.inferenceset.support import CATALOG, condition, manifest, run

HUGE = 2**70


def _problems(**spec: Any) -> list[str]:
    obj = InferenceSet.from_manifest(manifest("p", **spec))
    return [str(e) for e in validate_inferenceset(obj, catalog=CATALOG)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 0}, []),
        ({"replicas": MAX_REPLICAS}, []),
        (
            {"replicas": MAX_REPLICAS + 1},
            [
                "spec.replicas: invalid value 1001: must be less than or equal to 1000 (each "
                "replica is a Workspace with its own GPU nodes)"
            ],
        ),
        ({"replicas": -1}, ["spec.replicas: invalid value -1: must be non-negative"]),
        (
            {"replicas": 2**31},
            [
                "spec.replicas: invalid value 2147483648: must be less than or equal to 1000 "
                "(each replica is a Workspace with its own GPU nodes)"
            ],
        ),
        ({"replicas": 1, "nodeCountLimit": MAX_NODE_COUNT_LIMIT}, []),
        (
            {"replicas": 1, "nodeCountLimit": MAX_NODE_COUNT_LIMIT + 1},
            ["spec.nodeCountLimit: invalid value 1000001: must be less than or equal to 1000000"],
        ),
        (
            {"replicas": 1, "nodeCountLimit": -HUGE},
            [
                "spec.nodeCountLimit: invalid value -2^70 or more in size (beyond 64 bits): must "
                "be non-negative (0 means no limit)"
            ],
        ),
    ],
    ids=["zero", "max", "max+1", "negative", "int32+1", "limit-max", "limit-max+1", "limit-huge"],
)
def test_validation_bounds_the_counts(spec: dict[str, Any], expected: list[str]) -> None:
    """One line per problem, with its field path; values beyond 64 bits are described."""
    problems = [p for p in _problems(**spec) if p.startswith(("spec.replicas", "spec.nodeCount"))]
    assert problems == expected


@pytest.mark.parametrize("replicas", [MAX_REPLICAS + 1, HUGE], ids=["max+1", "huge"])
def test_the_planner_refuses_too_many_replicas(replicas: int) -> None:
    """A count the webhook never saw (``kubectl scale``) is InvalidSpec: nothing is written, the
    set says why, and planning stays cheap."""
    obj = InferenceSet.from_manifest(manifest("p", replicas=replicas))
    with bounded(seconds=5, memory_mib=256):
        outcome = run(obj)
    assert outcome.error is not None
    assert outcome.error.path == "spec.replicas"
    assert outcome.apply == ()
    assert outcome.delete == ()
    ready = condition(outcome, "InferenceSetReady")
    assert (ready.status, ready.reason) == ("False", "inferencesetFailed")
    assert "must be less than or equal to 1000" in (ready.message or "")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"scaledobject.kaito.sh/max-replicas": "1001"}, "must be an integer above 1 and at most"),
        ({"scaledobject.kaito.sh/min-replicas": "5000"}, "must be at most 1000"),
    ],
    ids=["max", "min"],
)
def test_autoscaling_annotations_stay_within_the_bound(
    annotations: dict[str, str], expected: str
) -> None:
    """An autoscaler must never be told to scale past what the planner accepts."""
    body = {
        "scaledobject.kaito.sh/auto-provision": "true",
        "scaledobject.kaito.sh/threshold": "10",
        "scaledobject.kaito.sh/max-replicas": "4",
        **annotations,
    }
    problems = [p for p in _problems_with(body) if p.startswith("metadata.annotations")]
    assert len(problems) == 1
    assert expected in problems[0]


def _problems_with(annotations: dict[str, str]) -> list[str]:
    obj = InferenceSet.from_manifest(manifest("p", replicas=1, annotations=annotations))
    return [str(e) for e in validate_inferenceset(obj, catalog=CATALOG)]


def test_a_node_limit_never_makes_the_maximum_exceed_the_bound() -> None:
    """With ``nodeCountLimit`` the maximum is the limit over a replica's nodes, capped."""
    obj = InferenceSet.from_manifest(
        manifest(
            "p",
            replicas=1,
            nodeCountLimit=MAX_NODE_COUNT_LIMIT,
            annotations={
                "scaledobject.kaito.sh/auto-provision": "true",
                "scaledobject.kaito.sh/threshold": "10",
            },
        )
    )
    config = autoscaling(obj, nodes_per_replica=1)
    assert config is not None
    assert config.problem is None
    assert config.max_replicas == MAX_REPLICAS
