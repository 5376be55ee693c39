"""The time-to-ready model: its phases, its default figures, and the invariants it keeps."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.phases import PHASES
from kaito_core.readiness import (
    RUNTIME_TEMPLATE,
    RUNTIME_TUNING,
    WEIGHTS_DOWNLOAD,
    WEIGHTS_IMAGE,
    WEIGHTS_NONE,
    WEIGHTS_STREAM,
    Prediction,
    Workload,
    default_figures,
    image_matches,
    predict,
    vm_family,
)

BASE = "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
GIB = 1 << 30
#: kaito-project/kaito#2325: Qwen3.8-27B, 51.75 GiB, on one Standard_NC24ads_A100_v4, 966 s.
MEASURED = Workload(
    runtime="vllm",
    cloud="azure",
    instance_type="Standard_NC24ads_A100_v4",
    images=(BASE,),
    weights_bytes=int(51.75 * GIB),
    weights=WEIGHTS_DOWNLOAD,
    benchmark=True,
)


def _seconds(prediction: Prediction) -> dict[str, float]:
    return {p.name: round(p.seconds, 3) for p in prediction.phases}


def _parts(prediction: Prediction, phase: str) -> list[tuple[str, float]]:
    return [(p.name, round(p.seconds, 1)) for p in prediction.phase(phase).parts]


def test_the_defaults_reproduce_the_measurement_they_come_from() -> None:
    """kaito-project/kaito#2325, phase by phase: 284 + 126 + (7 + 101 + 3) + (74 + 21 + 62 +
    195 + 92) + 1 = 966 s."""
    prediction = predict(MEASURED, figures=default_figures())
    assert _seconds(prediction) == {
        "ProvisioningNodes": 284.0,
        "InitializingNodes": 126.0,
        "PullingImage": 111.0,
        "LoadingWeights": 444.0,
        "WarmingUp": 1.0,
    }
    assert prediction.total == pytest.approx(966.0, abs=0.01)
    assert _parts(prediction, "PullingImage") == [
        ("scheduling", 7.0),
        ("image pull", 101.0),
        ("container start", 3.0),
    ]
    assert _parts(prediction, "LoadingWeights") == [
        ("runtime start", 95.0),
        ("weights download", 62.0),
        ("engine warm-up", 195.0),
        ("benchmark", 92.0),
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"provisioned": False},
            {"ProvisioningNodes": 0.0, "InitializingNodes": 0.0, "total": 556.0},
        ),
        ({"benchmark": False}, {"LoadingWeights": 352.0, "total": 874.0}),
        (
            {"weights": WEIGHTS_STREAM},
            {"LoadingWeights": 382.0 + 51.75 / 2, "total": 904.0 + 51.75 / 2},
        ),
        (
            {"nodes": 3, "distributed": True},
            {"LoadingWeights": 444.0 + 30 + 2 * 10, "total": 1016.0},
        ),
        ({"nodes": 3, "distributed": False}, {"LoadingWeights": 444.0, "total": 966.0}),
        (
            {"runtime": "transformers", "benchmark": False},
            {"LoadingWeights": 60.0 + 62.0, "total": 644.0},
        ),
        (
            {"runtime": RUNTIME_TEMPLATE, "weights": WEIGHTS_NONE, "weights_bytes": 0},
            {"LoadingWeights": 60.0, "total": 582.0},
        ),
        (
            {"runtime": RUNTIME_TUNING, "benchmark": False, "weights": WEIGHTS_IMAGE},
            {"PullingImage": 173.0, "LoadingWeights": 0.0, "WarmingUp": 0.0, "total": 583.0},
        ),
        (
            {"images": (BASE, "curlimages/curl:8.11.1", "docker.io/library/app:1")},
            {"PullingImage": 111.0 + 1.1e9 / (5.6e9 / 101), "total": 966.0 + 1.1e9 / (5.6e9 / 101)},
        ),
        (
            {"weights": WEIGHTS_IMAGE},
            {"PullingImage": 173.0, "LoadingWeights": 382.0, "total": 966.0},
        ),
        ({"instance_type": "Standard_ND96asr_v4"}, {"total": 966.0}),
        ({"cloud": "aws", "instance_type": "p4d.24xlarge"}, {"total": 966.0}),
    ],
    ids=[
        "bring-your-own-nodes",
        "benchmark-disabled",
        "local-weights-streamed",
        "multi-node",
        "replicas-without-pipeline",
        "transformers",
        "template",
        "tuning",
        "helper-and-unknown-images",
        "weights-in-an-image",
        "other-azure-family",
        "aws",
    ],
)
def test_each_fact_of_the_workload_moves_its_phase(
    change: dict[str, object], expected: dict[str, float]
) -> None:
    """What the plan knows changes the phases it should (figures: the shipped defaults)."""
    prediction = predict(attrs.evolve(MEASURED, **change), figures=default_figures())
    got = {**_seconds(prediction), "total": round(prediction.total, 3)}
    for name, seconds in expected.items():
        assert got[name] == pytest.approx(seconds, abs=0.01), name


def test_every_phase_is_present_in_order_and_parts_cite_their_sources() -> None:
    """Five phases, always in status order; every part has a source and a positive time."""
    prediction = predict(MEASURED, figures=default_figures())
    assert tuple(p.name for p in prediction.phases) == PHASES
    for phase in prediction.phases:
        for part in phase.parts:
            assert part.seconds > 0
            assert part.sources
            assert all(s.strip() for s in part.sources)
            assert part.basis


def test_an_unknown_family_is_said_to_be_unmeasured() -> None:
    """A node outside the measured family falls back, and the source says so."""
    prediction = predict(
        attrs.evolve(MEASURED, instance_type="Standard_NC6s_v3"), figures=default_figures()
    )
    (part,) = prediction.phase("ProvisioningNodes").parts
    assert part.sources[0].startswith("no measurement for this cloud or family")
    assert "family NCs_v3" in part.basis


_WORKLOADS = st.builds(
    Workload,
    runtime=st.sampled_from(["vllm", "transformers", RUNTIME_TEMPLATE, RUNTIME_TUNING]),
    cloud=st.sampled_from(["azure", "aws", "arc"]),
    instance_type=st.sampled_from(["Standard_NC24ads_A100_v4", "p5.48xlarge", "", "odd"]),
    provisioned=st.booleans(),
    nodes=st.integers(min_value=1, max_value=16),
    distributed=st.booleans(),
    images=st.lists(st.sampled_from([BASE, "curl:1", "x/y:2"]), unique=True).map(tuple),
    weights_bytes=st.integers(min_value=0, max_value=2000 * GIB),
    weights=st.sampled_from([WEIGHTS_DOWNLOAD, WEIGHTS_STREAM, WEIGHTS_IMAGE, WEIGHTS_NONE]),
    benchmark=st.booleans(),
)


@given(workload=_WORKLOADS, extra=st.integers(min_value=1, max_value=500 * GIB))
def test_more_weights_never_make_it_faster(workload: Workload, extra: int) -> None:
    """Monotonic in the weights' size, phase by phase."""
    figures = default_figures()
    small = predict(workload, figures=figures)
    big = predict(
        attrs.evolve(workload, weights_bytes=workload.weights_bytes + extra), figures=figures
    )
    for a, b in zip(small.phases, big.phases, strict=True):
        assert b.seconds >= a.seconds
    assert big.total >= small.total


@given(workload=_WORKLOADS, more=st.integers(min_value=1, max_value=64))
def test_more_nodes_never_make_it_faster(workload: Workload, more: int) -> None:
    """Monotonic in the node count."""
    figures = default_figures()
    few = predict(workload, figures=figures)
    many = predict(attrs.evolve(workload, nodes=workload.nodes + more), figures=figures)
    assert many.total >= few.total


@given(workload=_WORKLOADS)
def test_the_total_is_the_sum_of_non_negative_parts(workload: Workload) -> None:
    """Every part is positive; a phase is the sum of its parts and the total of its phases."""
    prediction = predict(workload, figures=default_figures())
    for phase in prediction.phases:
        assert all(p.seconds > 0 for p in phase.parts)
        assert phase.seconds == pytest.approx(sum(p.seconds for p in phase.parts))
    assert prediction.total == pytest.approx(sum(p.seconds for p in prediction.phases))
    assert predict(workload, figures=default_figures()) == prediction  # deterministic


@given(workload=_WORKLOADS)
def test_streaming_is_no_slower_than_downloading_with_the_defaults(workload: Workload) -> None:
    """The default stream rate is above the download rate."""
    figures = default_figures()
    down = predict(attrs.evolve(workload, weights=WEIGHTS_DOWNLOAD), figures=figures)
    stream = predict(attrs.evolve(workload, weights=WEIGHTS_STREAM), figures=figures)
    assert stream.total <= down.total


@pytest.mark.parametrize(
    ("cloud", "instance_type", "family"),
    [
        ("azure", "Standard_NC24ads_A100_v4", "NCads_A100_v4"),
        ("azure", "Standard_NC6s_v3", "NCs_v3"),
        ("azure", "Standard_ND96asr_v4", "NDasr_v4"),
        ("azure", "Standard_NV36ads_A10_v5", "NVads_A10_v5"),
        ("arc", "Standard_NC4_A16", "NC_A16"),
        ("aws", "p4d.24xlarge", "p4d"),
        ("aws", "g5.xlarge", "g5"),
        ("azure", "custom", "custom"),
        ("azure", "", ""),
    ],
)
def test_the_vm_family_of_an_instance_type(cloud: str, instance_type: str, family: str) -> None:
    """Node figures are looked up by family: the size without its vCPU count (Azure), the part
    before the dot (AWS)."""
    assert vm_family(cloud=cloud, instance_type=instance_type) == family


@pytest.mark.parametrize(
    ("pattern", "reference", "matches"),
    [
        ("kaito-base:0.5.0", BASE, True),
        ("kaito-base", BASE, True),
        ("aks/kaito/kaito-base:0.5.0", BASE, True),
        ("kaito-base:0.6.0", BASE, False),
        ("base:0.5.0", BASE, False),
        ("other/kaito-base", BASE, False),
        ("curl", "curlimages/curl:8.11.1", True),
        ("curl", "localhost:5000/curl@sha256:abc", True),
        ("*", "anything", True),
    ],
)
def test_image_entries_match_by_path_suffix_and_tag(
    pattern: str, reference: str, matches: bool
) -> None:
    """Registry ignored; the entry's path ends the reference's; a tag, if given, must agree."""
    assert image_matches(pattern, reference) is matches


def test_the_most_specific_image_entry_wins() -> None:
    """A tagged entry over an untagged one, a longer path over a shorter, ``*`` last."""
    figures = default_figures()
    assert figures.image(BASE).image == "kaito-base:0.5.0"
    assert figures.image("mcr.microsoft.com/aks/kaito/kaito-base:0.6.0").image == "*"
    assert figures.image("ghcr.io/oras-project/oras:v1.2.2").image == "oras"
