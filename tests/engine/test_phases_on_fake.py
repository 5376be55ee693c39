"""status.phase on the fake cluster: a Workspace goes through every phase, for as long as the
time-to-ready model says, and the upstream conditions are what they were."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kaito_backends.engine.controller import Controller
from kaito_backends.fake import FakeCluster, Timings
from kaito_backends.objects import Manifest
from kaito_core.api import Workspace
from kaito_core.observed import Observed
from kaito_core.phases import PHASES
from kaito_core.plan import PlanSettings, plan
from kaito_core.readiness import default_figures, parse_figures, predict, workload_of
from kaito_presets import default_catalog
from tests.engine.conftest import A100, cluster_with, workspace

#: The engine reacts to a watch event at once in virtual time; status timestamps are whole
#: seconds. So a phase lasts what the model says, to the second.
TOLERANCE = 1.0


def _record(cluster: FakeCluster, name: str) -> list[tuple[str | None, float, dict[str, Any]]]:
    """(phase name, virtual seconds, status) at every change of the Workspace's status."""
    seen: list[tuple[str | None, float, dict[str, Any]]] = []

    def listen(change: str, obj: Manifest, old: Manifest | None) -> None:
        if obj["kind"] != "Workspace" or obj["metadata"]["name"] != name:
            return
        status = obj.get("status") or {}
        if old is not None and status == (old.get("status") or {}):
            return
        phase = (status.get("phase") or {}).get("name")
        if not seen or seen[-1][0] != phase:
            entered = {**status, "_entered": cluster.store.timestamp()}
            seen.append((phase, cluster.clock.monotonic(), entered))

    cluster.store.listeners.append(listen)
    return seen


def _predicted(manifest: Manifest, figures: Any = None) -> Any:
    settings = PlanSettings(provisioner="fake")
    catalog = default_catalog()
    ws = Workspace.from_manifest(manifest)
    outcome = plan(ws, observed=Observed(), catalog=catalog, now="2026-01-01T00:00:00Z")
    load = workload_of(ws, outcome=outcome, catalog=catalog, settings=settings)
    assert load is not None
    return predict(load, figures=figures or default_figures())


@pytest.mark.parametrize(
    "manifest",
    [
        workspace("phi", instance_type=A100, preset="phi-4-mini-instruct"),
        workspace("llama", instance_type=A100, preset="llama-3.3-70b-instruct"),
    ],
    ids=["one-node", "three-nodes"],
)
async def test_a_workspace_goes_through_every_phase_as_the_model_says(manifest: Manifest) -> None:
    """ProvisioningNodes, InitializingNodes, PullingImage, LoadingWeights, WarmingUp, then no
    phase and state Ready; each phase lasts its predicted time, within a second."""
    name = manifest["metadata"]["name"]
    cluster = cluster_with(manifest)
    seen = _record(cluster, name)
    start = cluster.clock.monotonic()
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(7200)
    assert settled.succeeded
    assert [p for p, _, _ in seen] == [*PHASES, None]
    assert seen[-1][2]["state"] == "Ready"
    prediction = _predicted(manifest)
    for (phase, at, status), (_, end, _) in itertools.pairwise(seen):
        assert phase is not None
        assert end - at == pytest.approx(prediction.phase(phase).seconds, abs=TOLERANCE), phase
        assert status["phase"]["since"] == status["_entered"], phase
    assert seen[-1][1] - start == pytest.approx(prediction.total, abs=TOLERANCE)


async def test_the_phase_is_written_with_the_conditions_upstream_has() -> None:
    """While pulling, the upstream conditions say what they always said; the phase says more."""
    cluster = cluster_with(workspace("phi", instance_type=A100, preset="phi-4-mini-instruct"))
    seen = _record(cluster, "phi")
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(7200)
    pulling = next(status for phase, _, status in seen if phase == "PullingImage")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in pulling["conditions"]}
    assert conditions["ResourceReady"] == ("True", "workspaceResourceStatusSuccess")
    assert conditions["InferenceReady"] == ("False", "WorkspaceInferenceStatusPending")
    assert pulling["state"] == "Pending"
    assert pulling["phase"]["message"] == "pod phi-0: container phi ContainerCreating"


async def test_figures_change_the_fake_and_the_prediction_alike() -> None:
    """Timings(figures=...) moves the simulated phases as parse_figures moves the prediction."""
    figures = parse_figures(
        {"nodes": [{"cloud": "azure", "family": "NCads_A100_v4", "provisionSeconds": 60}]}
    )
    manifest = workspace("phi", instance_type=A100, preset="phi-4-mini-instruct")
    cluster = FakeCluster(timings=Timings(figures=figures))
    cluster.store.create(manifest)
    seen = _record(cluster, "phi")
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(7200)
    prediction = _predicted(manifest, figures)
    assert prediction.phase("ProvisioningNodes").seconds == 60
    assert seen[1][1] - seen[0][1] == pytest.approx(60, abs=TOLERANCE)
    assert seen[-1][1] == pytest.approx(prediction.total, abs=TOLERANCE)
