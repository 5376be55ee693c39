"""How long the fake's nodes and pods take, from the time-to-ready model of the core.

The fake reads a `kaito_core.readiness.Workload` off what it runs, the way the plan reads it
off a Workspace (`kaito_core.readiness.workload_of`), and takes its durations from the same
`predict`: a NodeClaim's instance type gives the cloud and VM family (provisioning, then
initialisation); a pod's images, its first container's command (``--model=`` /
``--pretrained_model_name_or_path=`` / ``--served-model-name=``, ``accelerate launch``,
``--load-format=runai_streamer``, ``--ray_cluster_size=``), an init container's ``oras pull``
of a weights image, and the startup probe (the vLLM benchmark) give the pull, the weights, the
runtime and the multi-node start-up. So with the
default figures a Workspace on the fake becomes ready when the model says it would, give or
take the engine's own reaction times.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_core.phases import LOADING_WEIGHTS, PULLING_IMAGE, WARMING_UP
from kaito_core.readiness import (
    RUNTIME_TEMPLATE,
    RUNTIME_TUNING,
    WEIGHTS_DOWNLOAD,
    WEIGHTS_IMAGE,
    WEIGHTS_NONE,
    WEIGHTS_STREAM,
    ReadinessFigures,
    Workload,
    pod_images,
    predict,
)

if TYPE_CHECKING:
    from kaito_presets import Catalog

__all__ = ["NodeTimes", "PodTimes", "command_words", "node_times", "pod_times", "pod_workload"]

_MODEL_FLAGS = ("--model", "--pretrained_model_name_or_path")
_NAME_FLAGS = ("--served-model-name", "--served_model_name")


def command_words(container: Mapping[str, Any]) -> list[str]:
    """The words of a container's command and args, shell strings split as the shell would."""
    words: list[str] = []
    for part in [*(container.get("command") or ()), *(container.get("args") or ())]:
        try:
            words.extend(shlex.split(str(part)))
        except ValueError:
            words.extend(str(part).split())
    return words


def _flag(words: list[str], names: tuple[str, ...]) -> str | None:
    """The value of the first of `names` given as ``--flag=value`` or ``--flag value``."""
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1].strip("'\";")
            if word.startswith(name + "="):
                return word[len(name) + 1 :].strip("'\";")
    return None


@attrs.frozen(kw_only=True)
class NodeTimes:
    """Seconds from a NodeClaim's creation until its Node registers, and until it is Ready."""

    register: float
    initialize: float


@attrs.frozen(kw_only=True)
class PodTimes:
    """Seconds a pod spends pulling (until its containers run), loading (until its startup
    probe passes) and warming up (until it is Ready)."""

    pull: float
    load: float
    warm: float


def node_times(
    *, instance_type: str, catalog: Catalog, figures: ReadinessFigures, cloud: str = "azure"
) -> NodeTimes:
    """The model's provisioning and initialisation for a node of `instance_type`."""
    sku = catalog.find_sku(instance_type)
    workload = Workload(
        runtime=RUNTIME_TEMPLATE,
        cloud=sku.cloud if sku is not None else cloud,
        instance_type=instance_type,
    )
    phases = predict(workload, figures=figures).phases
    return NodeTimes(register=phases[0].seconds, initialize=phases[0].seconds + phases[1].seconds)


def _benchmark(container: Mapping[str, Any]) -> bool:
    probe = container.get("startupProbe") or {}
    command = (probe.get("exec") or {}).get("command") or ()
    return any("benchmark" in str(part) for part in command)


def _image_weights(pod_spec: Mapping[str, Any], catalog: Catalog) -> int | None:
    """Bytes of the weights an init container pulls with ``oras pull <ref>`` (the weights
    image of a tuning Job, or of a preset that does not download at runtime); None when no
    init container pulls one, 0 when the catalog does not know the image."""
    refs = []
    for container in pod_spec.get("initContainers") or ():
        words = command_words(container) if isinstance(container, Mapping) else []
        if len(words) > 2 and words[0] == "oras" and words[1] == "pull":
            refs.append(words[2])
    if not refs:
        return None
    for model in catalog.models():
        tags = {model.weights_image_tag} if model.weights_image_tag else set()
        if model.tuning is not None:
            tags.add(model.tuning.weights_image_tag)
        names = {model.name, model.weights_image_name or model.name}
        images = {f"/kaito-{name}:{tag}" for name in names for tag in tags}
        if any(ref.endswith(image) for ref in refs for image in images):
            return model.weights_bytes
    return 0


def pod_workload(pod_spec: Mapping[str, Any], *, catalog: Catalog, job: bool) -> Workload:
    """The `Workload` of one pod (no node facts: those come from its NodeClaim)."""
    containers = pod_spec.get("containers") or [{}]
    main = containers[0] if isinstance(containers[0], Mapping) else {}
    words = command_words(main)
    images = pod_images(pod_spec)
    pulled = _image_weights(pod_spec, catalog)
    if job:
        return Workload(
            runtime=RUNTIME_TUNING,
            provisioned=False,
            images=images,
            weights_bytes=pulled or 0,
            weights=WEIGHTS_IMAGE if pulled else WEIGHTS_NONE,
        )
    model = None
    for names in (_MODEL_FLAGS, _NAME_FLAGS):
        name = _flag(words, names)
        if name:
            try:
                model = catalog.find_model(name)
            except Exception:  # a catalog may refuse names it deems invalid
                model = None
            if model is not None:
                break
    if model is None:
        return Workload(runtime=RUNTIME_TEMPLATE, provisioned=False, images=images)
    if "accelerate" in words or _flag(words, ("--pretrained_model_name_or_path",)) is not None:
        runtime = "transformers"
    else:
        runtime = "vllm"
    nodes_flag = _flag(words, ("--ray_cluster_size",)) or "1"
    nodes = int(nodes_flag) if nodes_flag.isdigit() and int(nodes_flag) > 0 else 1
    if _flag(words, ("--load-format", "--load_format")) == "runai_streamer":
        weights = WEIGHTS_STREAM
    elif pulled is not None:
        weights = WEIGHTS_IMAGE
    else:
        weights = WEIGHTS_DOWNLOAD
    return Workload(
        runtime=runtime,
        provisioned=False,
        nodes=nodes,
        distributed=nodes > 1,
        images=images,
        weights_bytes=model.weights_bytes,
        weights=weights,
        benchmark=_benchmark(main),
    )


def pod_times(workload: Workload, *, figures: ReadinessFigures) -> PodTimes:
    """The model's PullingImage, LoadingWeights and WarmingUp for a pod of `workload`."""
    prediction = predict(workload, figures=figures)
    return PodTimes(
        pull=prediction.phase(PULLING_IMAGE).seconds,
        load=prediction.phase(LOADING_WEIGHTS).seconds,
        warm=prediction.phase(WARMING_UP).seconds,
    )
