"""The fake reads the time-to-ready model's input off what it runs, and agrees with the plan."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kaito_backends.fake.startup import node_times, pod_times, pod_workload
from kaito_core.api import Workspace
from kaito_core.observed import Observed
from kaito_core.plan import PlanSettings, plan
from kaito_core.readiness import default_figures, predict, workload_of
from kaito_presets import default_catalog
from kaito_presets.testing import make_catalog, make_model
from tests.core.test_readiness_workload import ws

CATALOG = default_catalog()


def _pod_spec(outcome: Any, kind: str) -> dict[str, Any]:
    obj = next(o for o in outcome.desired if o["kind"] == kind)
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize(
    "manifest",
    [
        ws(),
        ws(annotations={"kaito.sh/disable-benchmark": "true"}),
        ws(annotations={"kaito.sh/use-local-weights": "true"}),
        ws(preset="phi-3-mini-4k-instruct", annotations={"kaito.sh/runtime": "transformers"}),
        ws(preset="llama-3.3-70b-instruct"),
        ws(
            preset="phi-3-mini-4k-instruct",
            adapters=[{"source": {"name": "a", "image": "r.io/a:1"}, "strength": "0.5"}],
        ),
        ws(template=True),
        ws(preset="phi-3-mini-128k-instruct", tuning=True),
        ws(preset="qwen2.5-coder-7b-instruct"),
    ],
    ids=[
        "vllm",
        "no-benchmark",
        "local-weights",
        "transformers",
        "multi-node",
        "adapters",
        "template",
        "tuning",
        "qwen",
    ],
)
def test_the_fake_reads_the_same_workload_off_the_pod_as_the_plan_off_the_workspace(
    manifest: dict[str, Any],
) -> None:
    """Runtime, images, weights, benchmark and multi-node from the rendered pod template equal
    what `workload_of` reads off the Workspace: the fake simulates what the model predicts."""
    settings = PlanSettings(provisioner="fake")
    workspace = Workspace.from_manifest(manifest)
    outcome = plan(workspace, observed=Observed(), catalog=CATALOG, now="2026-01-01T00:00:00Z")
    planned = workload_of(workspace, outcome=outcome, catalog=CATALOG, settings=settings)
    assert planned is not None
    job = planned.runtime == "tuning"
    spec = _pod_spec(outcome, "Job" if job else "StatefulSet")
    seen = pod_workload(spec, catalog=CATALOG, job=job)
    pod_facts = ("runtime", "images", "weights_bytes", "weights", "benchmark", "distributed")
    assert {k: getattr(seen, k) for k in pod_facts} == {k: getattr(planned, k) for k in pod_facts}
    if planned.distributed:
        assert seen.nodes == planned.nodes
    # the pod's phases are the plan's
    mine = pod_times(seen, figures=default_figures())
    theirs = predict(attrs.evolve(planned, provisioned=False), figures=default_figures())
    assert (mine.pull, mine.load, mine.warm) == tuple(p.seconds for p in theirs.phases[2:])


@pytest.mark.parametrize(
    ("instance_type", "register", "initialize"),
    [
        ("Standard_NC24ads_A100_v4", 284.0, 410.0),
        ("Standard_NC6s_v3", 284.0, 410.0),
        ("Standard_Unknown_v1", 284.0, 410.0),
    ],
)
def test_a_node_registers_and_is_ready_when_the_model_says(
    instance_type: str, register: float, initialize: float
) -> None:
    """Node registration after provisioning; Ready after initialisation too."""
    times = node_times(instance_type=instance_type, catalog=CATALOG, figures=default_figures())
    assert (times.register, times.initialize) == (register, initialize)


def test_a_pod_the_catalog_cannot_place_is_a_template() -> None:
    """No model flag the catalog knows: the template runtime's figures."""
    spec = {"containers": [{"name": "c", "image": "me/app:1", "command": ["serve"]}]}
    seen = pod_workload(spec, catalog=CATALOG, job=False)
    assert (seen.runtime, seen.weights, seen.images) == ("template", "none", ("me/app:1",))


def test_the_fake_finds_weights_shipped_in_an_image() -> None:
    """The model-weights-downloader's ``oras pull`` names the model: ``image`` weights."""
    baked = make_model(hf_id="example/Baked-In", download_at_runtime=False, weights_image_tag="1")
    catalog = make_catalog(models=[make_model(), baked])
    settings = PlanSettings(provisioner="fake")
    workspace = Workspace.from_manifest(ws(preset="example/Baked-In"))
    outcome = plan(workspace, observed=Observed(), catalog=catalog, now="2026-01-01T00:00:00Z")
    planned = workload_of(workspace, outcome=outcome, catalog=catalog, settings=settings)
    seen = pod_workload(_pod_spec(outcome, "StatefulSet"), catalog=catalog, job=False)
    assert planned is not None
    assert (seen.weights, seen.weights_bytes) == (planned.weights, planned.weights_bytes)
    assert seen.weights == "image"
