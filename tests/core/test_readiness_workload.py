"""`workload_of`: what the time-to-ready model is told about a Workspace, read off its plan."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_core.api import Workspace
from kaito_core.observed import Observed
from kaito_core.plan import PlanSettings, plan
from kaito_core.readiness import Workload, default_figures, predict, workload_of
from kaito_presets import default_catalog
from kaito_presets.testing import make_catalog, make_model

CATALOG = default_catalog()
BASE = "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
NOW = "2026-01-01T00:00:00Z"


def ws(
    *,
    preset: str = "phi-4-mini-instruct",
    instance_type: str | None = "Standard_NC24ads_A100_v4",
    annotations: dict[str, str] | None = None,
    tuning: bool = False,
    template: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {"labelSelector": {"matchLabels": {"apps": "ws"}}}
    if instance_type is not None:
        resource["instanceType"] = instance_type
    doc: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default", "annotations": annotations or {}},
        "resource": resource,
    }
    if tuning:
        doc["tuning"] = {
            "preset": {"name": preset},
            "method": "qlora",
            "input": {"urls": ["https://example.com/data.parquet"]},
            "output": {"volumeSource": {"emptyDir": {}}},
        }
    elif template:
        doc["inference"] = {
            "template": {"spec": {"containers": [{"name": "app", "image": "docker.io/me/app:1"}]}}
        }
    else:
        doc["inference"] = {"preset": {"name": preset}, **extra}
    return doc


def planned(manifest: dict[str, Any], settings: PlanSettings | None = None) -> Workload | None:
    settings = settings or PlanSettings()
    workspace = Workspace.from_manifest(manifest)
    outcome = plan(workspace, observed=Observed(), catalog=CATALOG, now=NOW, settings=settings)
    return workload_of(workspace, outcome=outcome, catalog=CATALOG, settings=settings)


@pytest.mark.parametrize(
    ("manifest", "settings", "expected"),
    [
        (
            ws(),
            None,
            Workload(
                runtime="vllm",
                instance_type="Standard_NC24ads_A100_v4",
                images=(BASE,),
                weights_bytes=CATALOG.model("phi-4-mini-instruct").weights_bytes,
                weights="download",
                benchmark=True,
            ),
        ),
        (
            ws(annotations={"kaito.sh/disable-benchmark": "true"}),
            None,
            {"benchmark": False},
        ),
        (
            ws(annotations={"kaito.sh/use-local-weights": "true"}),
            None,
            {"weights": "stream"},
        ),
        (
            ws(preset="phi-3-mini-4k-instruct", annotations={"kaito.sh/runtime": "transformers"}),
            None,
            {"runtime": "transformers", "benchmark": False, "weights": "download"},
        ),
        (
            ws(preset="llama-3.3-70b-instruct"),
            None,
            {"nodes": 3, "distributed": True},
        ),
        (
            ws(preset="phi-4", instance_type="g5.12xlarge"),
            PlanSettings(cloud="aws"),
            {"cloud": "aws", "instance_type": "g5.12xlarge"},
        ),
        (
            ws(
                preset="phi-3-mini-4k-instruct",
                adapters=[{"source": {"name": "a", "image": "r.io/a:1"}, "strength": "0.5"}],
            ),
            None,
            {"images": (BASE, "mcr.microsoft.com/aks/skopeo:1.14.4-6")},
        ),
        (
            ws(template=True),
            None,
            {"runtime": "template", "images": ("docker.io/me/app:1",), "weights": "none"},
        ),
        (
            ws(preset="phi-3-mini-128k-instruct", tuning=True),
            None,
            {
                "runtime": "tuning",
                "weights": "image",
                "weights_bytes": CATALOG.model("phi-3-mini-128k-instruct").weights_bytes,
                "benchmark": False,
            },
        ),
    ],
    ids=[
        "vllm-preset",
        "benchmark-disabled",
        "local-weights",
        "transformers",
        "multi-node",
        "aws",
        "adapter-puller-image",
        "template",
        "tuning",
    ],
)
def test_the_workload_is_read_off_the_plan(
    manifest: dict[str, Any], settings: PlanSettings | None, expected: Workload | dict[str, Any]
) -> None:
    """Runtime, nodes, images, weights and benchmark as the rendered objects have them."""
    got = planned(manifest, settings)
    assert got is not None
    if isinstance(expected, Workload):
        assert got == expected
    else:
        assert {k: getattr(got, k) for k in expected} == expected


def test_bring_your_own_nodes_are_not_provisioned() -> None:
    """provisioner byo: no node phases (the plan finds the GPUs on the given node)."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "gpu-0",
            "labels": {
                "apps": "ws",
                "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                "nvidia.com/gpu.count": "1",
                "nvidia.com/gpu.memory": "81920",
            },
        },
        "status": {
            "capacity": {"nvidia.com/gpu": "1"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    settings = PlanSettings(provisioner="byo")
    workspace = Workspace.from_manifest(ws(instance_type=None))
    outcome = plan(
        workspace, observed=Observed(nodes=(node,)), catalog=CATALOG, now=NOW, settings=settings
    )
    assert outcome.error is None, outcome.error
    got = workload_of(workspace, outcome=outcome, catalog=CATALOG, settings=settings)
    assert got is not None
    assert (got.provisioned, got.instance_type) == (False, "")


def test_a_plan_that_failed_has_no_workload() -> None:
    """A SpecError: nothing will start, nothing to predict."""
    assert planned(ws(instance_type="Standard_Nope_v9")) is None


def test_weights_shipped_in_an_image_are_pulled_before_the_runtime_starts() -> None:
    """A preset that does not download at runtime: ``image`` weights, pulled by the
    model-weights-downloader init container, so they count in PullingImage."""
    baked = make_model(hf_id="example/Baked-In", download_at_runtime=False, weights_image_tag="1")
    catalog = make_catalog(models=[make_model(), baked])
    settings = PlanSettings()
    workspace = Workspace.from_manifest(ws(preset="example/Baked-In"))
    outcome = plan(workspace, observed=Observed(), catalog=catalog, now=NOW, settings=settings)
    assert outcome.error is None, outcome.error
    got = workload_of(workspace, outcome=outcome, catalog=catalog, settings=settings)
    assert got is not None
    assert (got.weights, got.weights_bytes) == ("image", baked.weights_bytes)
    assert "mcr.microsoft.com/oss/v2/oras-project/oras:v1.2.3" in got.images
    prediction = predict(got, figures=default_figures())
    assert [p.name for p in prediction.phase("PullingImage").parts] == [
        "scheduling",
        "image pull",
        "weights image pull",
        "container start",
    ]
    assert "weights" not in " ".join(p.name for p in prediction.phase("LoadingWeights").parts)
