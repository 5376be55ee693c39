"""What the time-to-ready model needs to know about a Workspace, taken from its plan.

Pure: no I/O, no clock, no logging.

`Workload` is the model's input: where the nodes come from (cloud, instance type, whether they
are provisioned at all), how many, which images a pod pulls, how big the weights are and
whether they download or stream, the runtime and whether the vLLM post-load benchmark runs.
`workload_of` reads it off a Workspace and the `Outcome` its plan returned; the fake cluster
reads the same facts off the NodeClaims and pods it runs (``kaito_backends.fake.startup``), so
the prediction and the simulation start from the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kaito_core.api.types import Workspace
from kaito_core.decision import PlanSettings
from kaito_core.outcome import Outcome
from kaito_core.render.commands import ANNOTATION_LOCAL_WEIGHTS
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RUNTIME_VLLM
from kaito_core.render.inference import ANNOTATION_DISABLE_BENCHMARK
from kaito_presets import Catalog

__all__ = [
    "RUNTIME_TEMPLATE",
    "RUNTIME_TUNING",
    "WEIGHTS_DOWNLOAD",
    "WEIGHTS_IMAGE",
    "WEIGHTS_NONE",
    "WEIGHTS_STREAM",
    "Workload",
    "pod_images",
    "workload_of",
]

RUNTIME_TEMPLATE = "template"
RUNTIME_TUNING = "tuning"
#: Weights come from the model hub (vLLM ``--download-dir``, Transformers, a tuning image).
WEIGHTS_DOWNLOAD = "download"
#: Weights are streamed from the node's disk (``kaito.sh/use-local-weights: "true"``).
WEIGHTS_STREAM = "stream"
#: Weights ship in an image an init container pulls (``oras pull``): a tuning Job's, and a
#: preset's that does not download at runtime.
WEIGHTS_IMAGE = "image"
#: No weights the model knows of (a user's pod template).
WEIGHTS_NONE = "none"


@attrs.frozen(kw_only=True)
class Workload:
    """The facts of one Workspace the time-to-ready model predicts from.

    - `runtime`: ``vllm``, ``transformers``, ``template`` (a user's pod template) or
      ``tuning``;
    - `cloud`, `instance_type`: the nodes' cloud and VM size (``""`` when unknown);
    - `provisioned`: nodes are created for the Workspace (False: bring your own);
    - `nodes`, `distributed`: the node count, and whether one model spans them (multi-node
      vLLM, which adds the Ray start-up);
    - `images`: every distinct image a pod pulls, sorted;
    - `weights_bytes`, `weights`: the weights' size and ``download``, ``stream``, ``image``
      (pulled by an init container, before the runtime starts) or ``none``;
    - `benchmark`: the vLLM post-load benchmark runs before the pod is started.
    """

    runtime: str
    cloud: str = "azure"
    instance_type: str = ""
    provisioned: bool = True
    nodes: int = 1
    distributed: bool = False
    images: tuple[str, ...] = ()
    weights_bytes: int = 0
    weights: str = WEIGHTS_NONE
    benchmark: bool = False


def pod_images(pod_spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The distinct images of a pod spec's init containers and containers, sorted."""
    found: set[str] = set()
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or ():
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str) and image:
                found.add(image)
    return tuple(sorted(found))


def _pod_spec(desired: Iterable[Mapping[str, Any]], kind: str) -> Mapping[str, Any]:
    for obj in desired:
        if obj.get("kind") == kind:
            spec: Mapping[str, Any] = ((obj.get("spec") or {}).get("template") or {}).get(
                "spec"
            ) or {}
            return spec
    return {}


def workload_of(
    workspace: Workspace,
    *,
    outcome: Outcome[Any],
    catalog: Catalog,
    settings: PlanSettings,
) -> Workload | None:
    """The `Workload` of `workspace`, from the `outcome` its plan returned (None when the plan
    failed). The images are read from the rendered StatefulSet or Job, the weights from the
    catalog's model, the cloud from the SKU table (else `settings`).

    Pure: no I/O, no clock, no logging.
    """
    summary = outcome.summary
    if outcome.error is not None or summary is None:
        return None
    ws = workspace.with_defaults()
    instance_type = (ws.resource.instance_type if ws.resource else None) or ""
    sku = catalog.find_sku(instance_type) if instance_type else None
    preset = ws.preset
    model = catalog.find_model(preset.name) if preset is not None else None
    common: dict[str, Any] = {
        "cloud": sku.cloud if sku is not None else settings.cloud,
        "instance_type": instance_type,
        "provisioned": settings.node_auto_provisioning,
        "nodes": max(1, summary.nodes),
    }
    if summary.mode == "tuning":
        tuning_bytes = model.weights_bytes if model is not None and model.tuning else 0
        return Workload(
            runtime=RUNTIME_TUNING,
            images=pod_images(_pod_spec(outcome.desired, "Job")),
            weights_bytes=tuning_bytes,
            weights=WEIGHTS_IMAGE if tuning_bytes else WEIGHTS_NONE,
            **common,
        )
    images = pod_images(_pod_spec(outcome.desired, "StatefulSet"))
    if summary.mode == "template" or model is None:
        return Workload(runtime=RUNTIME_TEMPLATE, images=images, **common)
    runtime = RUNTIME_TRANSFORMERS if summary.runtime == RUNTIME_TRANSFORMERS else RUNTIME_VLLM
    if ws.annotations.get(ANNOTATION_LOCAL_WEIGHTS) == "true":
        weights = WEIGHTS_STREAM
    elif not model.download_at_runtime:
        weights = WEIGHTS_IMAGE
    else:
        weights = WEIGHTS_DOWNLOAD
    return Workload(
        runtime=runtime,
        distributed=runtime == RUNTIME_VLLM and summary.pipeline_parallel > 1,
        images=images,
        weights_bytes=model.weights_bytes,
        weights=weights,
        benchmark=runtime == RUNTIME_VLLM
        and ws.annotations.get(ANNOTATION_DISABLE_BENCHMARK) != "true",
        **common,
    )
