"""The fake cluster's load simulation: profiles (format and problems), the queue model, the
metric each pod reports, and the autoscaler that scales a target on it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.engine import Controller
from kaito_backends.fake import FakeCluster
from kaito_backends.fake.autoscaler import FakeAutoscaler
from kaito_backends.fake.load_profile import (
    LoadProfile,
    LoadProfileError,
    Phase,
    parse_load_profile,
    read_load_profile,
)
from kaito_backends.fake.traffic import TICK, Traffic, poisson
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.objects import ObjectRef
from kaito_core.inferenceset.kind import SCALE
from kaito_core.registry import default_registry
from tests.inferenceset.support import manifest as iset_manifest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "load" / "burst.yaml"
REF = ObjectRef("kaito.sh/v1beta1", "InferenceSet", "phi", "default")


# -- the format ----------------------------------------------------------------------------------
def test_the_sample_profile_reads() -> None:
    """docs/examples/load/burst.yaml: four phases, a ramp among them, 90 minutes."""
    profile = read_load_profile(SAMPLE)
    assert profile.seed == 7
    assert profile.target == "phi-4-mini"
    assert profile.service_rate == 1.0
    assert [(p.seconds, p.start, p.end) for p in profile.phases] == [
        (600.0, 0.5, 0.5),
        (300.0, 0.5, 3.0),
        (1800.0, 3.0, 3.0),
        (2700.0, 0.3, 0.3),
    ]
    assert profile.duration == 5400.0
    assert profile.rate_at(750.0) == pytest.approx(1.75)
    assert profile.rate_at(-1) == profile.rate_at(5400.0) == 0.0
    assert [profile.phase_at(t) for t in (0, 600, 899, 900, 5399, 5400)] == [0, 1, 1, 2, 3, None]


@pytest.mark.parametrize(
    ("document", "problems"),
    [
        ({"phases": [{"duration": "1m", "rate": 1}]}, []),
        ({"phases": [{"duration": 60, "from": 0, "to": 5}], "seed": 3}, []),
        ([], ["a load profile is a mapping"]),
        ({}, ["phases: required: a list of at least one phase"]),
        (
            {"phases": [{"duration": "1m", "rate": -1}]},
            ["phases[0].rate: must be a number from 0 to 100000 (requests/s)"],
        ),
        (
            {"phases": [{"duration": "1m", "rate": "3"}]},
            ["phases[0].rate: must be a number from 0 to 100000 (requests/s)"],
        ),
        (
            {"phases": [{"duration": "ten minutes", "rate": 1}]},
            ["phases[0].duration: not a duration (e.g. 90s, 10m, 1h30m) or a number of seconds"],
        ),
        (
            {"phases": [{"duration": "25h", "rate": 1}]},
            ["phases[0].duration: must be more than 0 and at most 24h"],
        ),
        (
            {"phases": [{"duration": 0, "rate": 1}]},
            ["phases[0].duration: must be more than 0 and at most 24h"],
        ),
        ({"phases": [{"rate": 1}]}, ["phases[0].duration: required"]),
        (
            {"phases": [{"duration": "1m", "rate": 1, "from": 1, "to": 2}]},
            ["phases[0]: give rate, or from and to (a ramp), not both"],
        ),
        ({"phases": [{"duration": "1m", "from": 1}]}, ["phases[0]: a ramp needs both from and to"]),
        (
            {"phases": [{"duration": "1m"}]},
            ["phases[0].rate: required (or from and to, for a ramp)"],
        ),
        (
            {"phases": [{"duration": "1m", "rat": 1, "rate": 1}]},
            ["phases[0].rat: unknown field (known: duration, rate, from, to)"],
        ),
        (
            {"phases": [{"duration": "1m", "rate": 1}], "serviceRate": 0},
            ["serviceRate: must be a number above 0 and at most 10000"],
        ),
        (
            {"phases": [{"duration": "1m", "rate": 1}], "seed": -1, "target": "Phi"},
            [
                "seed: must be an integer from 0 to 2^63-1",
                "target: must be a DNS-1123 label (lower case letters, digits and '-')",
            ],
        ),
        (
            {"phases": [{"duration": "20h", "rate": 1}, {"duration": "5h", "rate": 1}]},
            ["phases: last 24h at most, all together"],
        ),
        ({"phases": [{"duration": "1m", "rate": 1}] * 101}, ["phases: at most 100 phases"]),
        (
            {"phases": [{"duration": "1m", "rate": 1}], "kind": "LoadProfile"},
            ["kind: unknown field (known: seed, target, namespace, serviceRate, phases)"],
        ),
    ],
    ids=[
        "minimal",
        "ramp",
        "not-a-mapping",
        "no-phases",
        "negative-rate",
        "string-rate",
        "bad-duration",
        "too-long",
        "zero-duration",
        "no-duration",
        "rate-and-ramp",
        "half-ramp",
        "no-rate",
        "unknown-phase-field",
        "service-rate",
        "seed-and-target",
        "total-too-long",
        "too-many-phases",
        "unknown-field",
    ],
)
def test_every_problem_is_named_with_its_path(document: Any, problems: list[str]) -> None:
    """A profile is read whole: each problem one line with its field path."""
    if not problems:
        assert isinstance(parse_load_profile(document), LoadProfile)
        return
    with pytest.raises(LoadProfileError) as caught:
        parse_load_profile(document)
    assert [str(e) for e in caught.value.errors] == problems


def test_poisson_keeps_its_mean() -> None:
    """Both methods (small means, the normal approximation) average the mean they are given."""
    rng = random.Random(1)
    for mean in (0.5, 4.0, 200.0):
        draws = [poisson(rng, mean) for _ in range(4000)]
        assert sum(draws) / len(draws) == pytest.approx(mean, rel=0.05)
        assert min(draws) >= 0
    assert poisson(rng, 0.0) == 0


# -- the queue model on a cluster ----------------------------------------------------------------
def _profile(*phases: tuple[float, float], service: float = 1.0, seed: int = 3) -> LoadProfile:
    return LoadProfile(
        phases=tuple(Phase(seconds=s, start=r, end=r) for s, r in phases),
        seed=seed,
        service_rate=service,
    )


async def _serving(replicas: int = 1, **annotations: str) -> tuple[FakeCluster, Controller]:
    """A cluster whose InferenceSet ``phi`` is up, its engine ready to run again."""
    cluster = FakeCluster()
    body = iset_manifest("phi", replicas=replicas, uid=None, annotations=annotations or None)
    cluster.store.create(body)
    controller = Controller(
        cluster.client(),
        cluster.provisioner(),
        clock=cluster.clock,
        registry=with_keda(default_registry()),
    )
    settled = await controller.run_until_settled(3600)
    assert settled.succeeded
    return cluster, controller


async def test_an_overloaded_replica_queues_and_a_quiet_one_drains() -> None:
    """3 req/s on one replica serving 1 req/s: about 2 more wait each second; then nothing
    arrives and the queue drains at 1 req/s; nothing is lost; the pod reports its queue."""
    cluster, controller = await _serving()
    traffic = Traffic(cluster, _profile((300.0, 3.0), (400.0, 0.0)), target=REF, scale=SCALE)
    traffic.start()
    await cluster.advance(300.0 + TICK)
    assert traffic.started_at is not None
    waiting = traffic.total_waiting()
    assert 450 <= waiting <= 750, waiting  # about (3 - 1) x 300
    (pod,) = traffic.waiting
    assert traffic.value("default", pod) == float(waiting)
    assert traffic.value("default", pod, "vllm:num_requests_running") == 0.0
    assert f'vllm:num_requests_waiting{{model_name="phi"}} {waiting:.1f}' in (
        traffic.metrics_text("default", pod)
    )
    await cluster.advance(800.0)
    assert traffic.finished
    assert traffic.total_waiting() == 0
    assert traffic.served == traffic.arrived > 0
    assert traffic.dropped == 0
    await controller.stop()


async def test_the_same_seed_gives_the_same_run() -> None:
    """Deterministic: two runs of one profile and seed count the same requests."""
    counts = []
    for _ in range(2):
        cluster, controller = await _serving()
        traffic = Traffic(cluster, _profile((600.0, 2.0)), target=REF, scale=SCALE).start()
        await cluster.advance(900.0)
        counts.append((traffic.arrived, traffic.served, traffic.peak_waiting))
        await controller.stop()
    assert counts[0] == counts[1]


async def test_requests_with_no_ready_replica_are_dropped() -> None:
    """Requests for a pod that goes away (its replica deleted) are counted as dropped."""
    cluster, controller = await _serving()
    traffic = Traffic(cluster, _profile((3600.0, 5.0)), target=REF, scale=SCALE).start()
    await cluster.advance(120.0)
    assert traffic.total_waiting() > 0
    await cluster.client().delete(ObjectRef("kaito.sh/v1beta1", "Workspace", "phi-0", "default"))
    await controller.run_until_settled(600)
    await cluster.advance(TICK)
    assert traffic.dropped > 0
    await controller.stop()


# -- the autoscaler on the fake ------------------------------------------------------------------
AUTOSCALED = {
    "scaledobject.kaito.sh/auto-provision": "true",
    "scaledobject.kaito.sh/threshold": "10",
    "scaledobject.kaito.sh/max-replicas": "3",
}


async def test_the_autoscaler_follows_the_load_up_and_down() -> None:
    """The ScaledObject the planner renders scales the set up under load (through the scale
    path: spec.replicas, a new generation) and back to its minimum after it."""
    cluster, controller = await _serving(**AUTOSCALED)
    traffic = Traffic(cluster, _profile((1800.0, 4.0), (600.0, 0.0)), target=REF, scale=SCALE)
    autoscaler = FakeAutoscaler(
        cluster, scales={("kaito.sh", "InferenceSet"): SCALE}, metrics=traffic.value
    )
    traffic.start()
    autoscaler.start()
    seen = []
    for _ in range(480):  # at most 2 virtual hours, 15 s at a time
        await controller.run_until_settled(15)
        await cluster.advance(15)
        stored = cluster.store.find(REF.api_version, REF.kind, "default", "phi")
        seen.append(stored["spec"]["replicas"])
        if traffic.finished and autoscaler.idle() and seen[-1] == 1:
            break
    await autoscaler.stop()
    await controller.stop()
    assert max(seen) == 3
    assert seen[-1] == 1, seen
    assert all(1 <= n <= 3 for n in seen)
    ups = [r for r in autoscaler.rescales if r.after > r.before]
    assert ups
    assert ups[0].metric == "vllm:num_requests_waiting"
    assert ups[0].threshold == 10.0
    assert autoscaler.idle()
    assert autoscaler.problems == {}


async def test_a_scaled_object_it_cannot_simulate_is_reported_not_acted_on() -> None:
    """A ScaledObject with another trigger type: its problem is kept, its target untouched."""
    cluster = FakeCluster()
    cluster.store.create(
        yaml.safe_load(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: other, namespace: default}
            spec:
              scaleTargetRef: {apiVersion: kaito.sh/v1beta1, kind: InferenceSet, name: phi}
              triggers: [{type: prometheus, metadata: {threshold: "5"}}]
            """
        )
    )
    autoscaler = FakeAutoscaler(cluster, scales={}, metrics=lambda *_: 0.0)
    assert await autoscaler.sync() == []
    ((key, problems),) = autoscaler.problems.items()
    assert key == ("default", "other")
    assert [p.path for p in problems] == ["spec.triggers[0].type"]


async def test_a_failed_scale_write_is_not_remembered_as_a_scale() -> None:
    """A scale the API refuses (a 500) changes nothing: the autoscaler is not idle, remembers no
    scale event, and scales at its next sync (as the HPA controller, which records a scale only
    once its update succeeded)."""
    cluster, controller = await _serving(replicas=2, **AUTOSCALED)
    autoscaler = FakeAutoscaler(
        cluster, scales={("kaito.sh", "InferenceSet"): SCALE}, metrics=lambda *_: 0.0
    )
    cluster.inject("server_error", verb="get", kind="InferenceSet")
    assert await autoscaler.sync() == [], "no load: it scales down, and the write fails"
    assert autoscaler.errors == 1
    stored = cluster.store.find(REF.api_version, REF.kind, "default", "phi")
    assert stored["spec"]["replicas"] == 2
    assert not autoscaler.idle(), "the refused scale-down is still to do"
    await cluster.advance(15)
    (rescale,) = await autoscaler.sync()
    assert (rescale.before, rescale.after) == (2, 1)
    assert autoscaler.idle()
    await controller.stop()
