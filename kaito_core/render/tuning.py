"""The fine-tuning Job of a tuning Workspace, and its default training ConfigMap.

Pure: no I/O, no clock, no logging.

The Job follows upstream (controller.md §3.11, presets.md §5): one pod, ``restartPolicy: Never``,
the base image running ``accelerate launch ... /workspace/tfs/fine_tuning.py`` on every GPU of the
node, the preset's weights pulled by an ORAS init container, the training data fetched by an init
container (image or URLs) or mounted (volume), and the result written to a volume or pushed as an
OCI image by a sidecar. Where we differ, on purpose:

- **Default config.** With no ``tuning.config`` upstream copies the chart's ``lora-params-template``
  / ``qlora-params-template`` into the workspace namespace, without an owner, so it outlives the
  Workspace. We render ``<ws>-tuning-config`` from `default_tuning_config`, owned by the Workspace
  (garbage-collected with it) and per workspace, so the dtype can follow the GPU: on pre-Ampere
  GPUs (``ctx.dtype_override == "float16"``) the ``bfloat16`` dtypes become ``float16``. A user's
  own ConfigMap is mounted as it is and never rewritten.
- **Tolerations.** Upstream tolerates ``{key: gpu, operator: Equal}`` with no value, which matches
  no taint KAITO sets; we tolerate ``nvidia.com/gpu`` like the inference pods do.
- **Affinity** adds the provisioner's node selector (upstream uses matchLabels only).
- **Scripts** get the image reference and paths as positional arguments (``sh -c SCRIPT name
  ARGS``), never spliced into the script text, so a user string cannot become shell code. The
  registry credentials for the input image are mounted into the puller only.
- **Images** are pinned (upstream uses ``curlimages/curl``).
- **URL downloads** run upstream's script with its HTTP-status checks, hardened (no globbing,
  redirects limited to http(s), ``--`` before the URL, no ``..`` file name); each URL is checked
  again here (`url_problem`) so a Workspace that never met the webhook cannot send the
  downloader to an internal address.
- **Pod security.** The pod runs as a non-root user with no capabilities and the RuntimeDefault
  seccomp profile (`kaito_core.render.podsecurity`, the "restricted" profile); registry
  credentials are mounted under that user's ``HOME`` (``/home/kaito/.docker``) instead of
  ``/root/.docker``. ``--pod-security baseline`` renders upstream's pod.
- **No pause sidecar.** Upstream adds ``registry.k8s.io/pause:latest`` beside the pusher; it never
  exits, and a Job completes only when every container has stopped, so a tuning Job with an
  image output would never succeed. The pusher exits once the image is pushed, which is all the
  Job needs.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from typing import Any

import yaml

from kaito_core.errors import SpecError
from kaito_core.observed import Manifest
from kaito_core.render.context import RenderContext, provisioner_selector
from kaito_core.render.meta import (
    ANNOTATION_REVISION,
    LABEL_WORKSPACE,
    child_metadata,
    sanitized_match_labels,
)
from kaito_core.render.podsecurity import home_directory, secure_pod
from kaito_core.render.scripts import DOWNLOADER_SCRIPT, PULLER_SCRIPT, PUSHER_SCRIPT
from kaito_core.validation.names import quote
from kaito_core.validation.urls import url_problem
from kaito_presets import BASE_IMAGE_TAG

__all__ = [
    "CONFIG_MOUNT_PATH",
    "DATA_MOUNT_PATH",
    "DEFAULT_OUTPUT_DIR",
    "TRAINING_CONFIG_KEY",
    "default_tuning_config",
    "output_dir",
    "tuning_config_map",
    "tuning_config_name",
    "tuning_job",
]

TRAINING_CONFIG_KEY = "training_config.yaml"
CONFIG_MOUNT_PATH = "/mnt/config"
DATA_MOUNT_PATH = "/mnt/data"
WEIGHTS_MOUNT_PATH = "/workspace/weights"
BASE_DIR = "/mnt"
#: Where results go when the training config names no ``output_dir``.
DEFAULT_OUTPUT_DIR = "/mnt/output"
METRICS_PORT = 5000

ORAS_IMAGE = "mcr.microsoft.com/oss/v2/oras-project/oras:v1.2.3"
PUSHER_IMAGE = "ghcr.io/oras-project/oras:v1.2.2"
PULLER_IMAGE = "mcr.microsoft.com/aks/skopeo:1.14.4-6"
DOWNLOADER_IMAGE = "curlimages/curl:8.11.1"

_PHI3_TARGET_MODULES = "k_proj,q_proj,v_proj,o_proj,gate_proj,down_proj,up_proj"
_TUNING_COMMAND = (
    "cd /workspace/tfs/ && python3 metrics_server.py & "
    "accelerate launch --num_processes={gpus} /workspace/tfs/fine_tuning.py"
)


def default_tuning_config(method: str, *, dtype: str = "bfloat16") -> dict[str, Any]:
    """The chart's ``lora-params-template`` / ``qlora-params-template`` as data: the sections
    under ``training_config:``, with `dtype` for the model and the 4-bit compute dtype.

    Pure: no I/O, no clock, no logging.
    """
    method = method.lower()
    if method == "lora":
        quantization: dict[str, Any] = {"load_in_4bit": False}
    elif method == "qlora":
        quantization = {
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_compute_dtype": dtype,
            "bnb_4bit_use_double_quant": True,
        }
    else:
        raise SpecError(
            f"unsupported tuning method {method!r}: supported tuning methods are lora and qlora",
            path="spec.tuning.method",
        )
    return {
        "ModelConfig": {"torch_dtype": dtype, "local_files_only": True, "device_map": "auto"},
        "QuantizationConfig": quantization,
        "LoraConfig": {"r": 8, "lora_alpha": 8, "lora_dropout": 0.0},
        "TrainingArguments": {
            "output_dir": "/mnt/results",
            "save_strategy": "no",
            "per_device_train_batch_size": 1,
            "ddp_find_unused_parameters": False,
        },
        "DataCollator": {"mlm": True},
        "DatasetConfig": {"shuffle_dataset": True, "train_test_split": 1},
    }


def tuning_config_name(ctx: RenderContext) -> str:
    """The ConfigMap the Job mounts: the user's ``tuning.config``, else ``<ws>-tuning-config``.

    Pure: no I/O, no clock, no logging.
    """
    tuning = ctx.workspace.tuning
    if tuning is not None and tuning.config:
        return tuning.config
    return f"{ctx.workspace.name}-tuning-config"


def _default_config(ctx: RenderContext) -> dict[str, Any]:
    tuning = ctx.workspace.tuning
    method = (tuning.method if tuning else None) or "lora"
    return default_tuning_config(method, dtype=ctx.dtype_override or "bfloat16")


def tuning_config_map(ctx: RenderContext) -> Manifest:
    """The default training ConfigMap ``<ws>-tuning-config``, owned by the Workspace.

    Pure: no I/O, no clock, no logging.

    Only for a workspace without ``tuning.config``; with one, the user's ConfigMap is mounted and
    calling this is a programming error (`ValueError`).
    """
    tuning = ctx.workspace.tuning
    if tuning is None or tuning.config:
        raise ValueError("tuning_config_map is only for tuning workspaces without tuning.config")
    text = yaml.safe_dump(
        {"training_config": _default_config(ctx)}, sort_keys=False, default_flow_style=False
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(ctx.workspace, tuning_config_name(ctx)),
        "data": {TRAINING_CONFIG_KEY: text},
    }


def output_dir(config: Mapping[str, Any] | None) -> str:
    """Where training writes its results: ``TrainingArguments.output_dir`` under ``/mnt``.

    Pure: no I/O, no clock, no logging.

    Absent → ``/mnt/output``. A path already under ``/mnt`` is kept, anything else is joined to
    ``/mnt``; the result must be a directory strictly inside ``/mnt`` (else `SpecError`). Unlike
    upstream's string-prefix test, ``/mntx`` is not taken to be inside ``/mnt``.
    """
    arguments = (config or {}).get("TrainingArguments")
    raw = arguments.get("output_dir") if isinstance(arguments, Mapping) else None
    if raw is None or raw == "":
        return DEFAULT_OUTPUT_DIR
    if not isinstance(raw, str):
        raise SpecError("output_dir is not a string", path="spec.tuning.config")
    joined = raw if raw == BASE_DIR or raw.startswith(BASE_DIR + "/") else f"{BASE_DIR}/{raw}"
    resolved = posixpath.normpath(joined)
    if resolved == BASE_DIR or not resolved.startswith(BASE_DIR + "/"):
        raise SpecError(
            f"Invalid output_dir specified: '{raw}', must be a directory",
            path="spec.tuning.config",
        )
    if resolved in (CONFIG_MOUNT_PATH, DATA_MOUNT_PATH):
        raise SpecError(
            f"output_dir '{raw}' collides with the {resolved} mount of the tuning Job",
            path="spec.tuning.config",
        )
    return resolved


def _mount(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "mountPath": path}


def _env(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def _gpu_count(ctx: RenderContext) -> int:
    count = getattr(ctx.gpu, "gpu_count", None) if ctx.gpu is not None else None
    if not isinstance(count, int) or count < 1:
        raise SpecError(
            "tuning needs a known GPU instance type to count its GPUs",
            path="spec.resource.instanceType",
            reason="UnsupportedSKU",
        )
    return count


def _tolerations(cloud: str) -> list[dict[str, str]]:
    tolerations = [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    if cloud == "azure":
        tolerations.append(
            {
                "key": "kubernetes.azure.com/scalesetpriority",
                "operator": "Equal",
                "value": "spot",
                "effect": "NoSchedule",
            }
        )
    return tolerations


def _affinity(ctx: RenderContext) -> dict[str, Any] | None:
    pairs = dict(sanitized_match_labels(ctx.workspace))
    pairs.update(provisioner_selector(ctx.workspace, ctx.provisioner))
    if not pairs:
        return None
    expressions = [{"key": k, "operator": "In", "values": [pairs[k]]} for k in sorted(pairs)]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }


def _weights_image(ctx: RenderContext) -> str:
    model = ctx.model
    if model is None or model.tuning is None:
        raise SpecError(
            "the preset does not support tuning",
            path="spec.tuning.preset.name",
            reason="InvalidSpec",
        )
    return f"{ctx.registry}/kaito-{model.weights_image_name}:{model.tuning.weights_image_tag}"


def _input(ctx: RenderContext) -> tuple[list[Manifest], list[Manifest]]:
    """Init containers and volumes that put the training data at ``/mnt/data``."""
    tuning = ctx.workspace.tuning
    source = tuning.input if tuning is not None else None
    if source is None:
        return [], []
    data_mount = _mount("data-volume", DATA_MOUNT_PATH)
    if source.volume_source:
        return [], [{"name": "data-volume", **source.volume_source}]
    volumes: list[Manifest] = [{"name": "data-volume", "emptyDir": {}}]
    if source.image:
        mounts = [data_mount]
        secrets = list(source.image_pull_secrets or ())
        if secrets:
            # Named after the input, as upstream: docker-config-<name>-tuning-input.
            suffix = f"{source.name or ''}-tuning-input"
            volumes.insert(0, _pull_secret_volume(f"docker-config-{suffix}", secrets))
            mounts.insert(
                0,
                _mount(
                    f"docker-config-{suffix}",
                    f"{home_directory(ctx.pod_security)}/.docker/config.d/{suffix}",
                ),
            )
        puller = {
            "name": "puller",
            "image": PULLER_IMAGE,
            "command": ["/bin/sh", "-c"],
            "args": [PULLER_SCRIPT, "puller", source.image, DATA_MOUNT_PATH],
            "volumeMounts": mounts,
        }
        return [puller], volumes
    if source.urls:
        for index, url in enumerate(source.urls):
            if problem := url_problem(url):  # the Workspace may never have met the webhook
                raise SpecError(
                    f"{problem}: {quote(url)}",
                    path=f"spec.tuning.input.urls[{index}]",
                    reason="InvalidSpec",
                )
        downloader = {
            "name": "data-downloader",
            "image": DOWNLOADER_IMAGE,
            "command": ["sh", "-c", DOWNLOADER_SCRIPT],
            "env": [
                _env("DATA_URLS", " ".join(source.urls)),
                _env("DATA_VOLUME_PATH", DATA_MOUNT_PATH),
            ],
            "volumeMounts": [data_mount],
        }
        return [downloader], volumes
    return [], []


def _pull_secret_volume(name: str, secrets: list[str]) -> Manifest:
    sources = [
        {"secret": {"name": s, "items": [{"key": ".dockerconfigjson", "path": f"{s}.json"}]}}
        for s in secrets
    ]
    return {"name": name, "projected": {"sources": sources}}


def _effective_config(ctx: RenderContext) -> Mapping[str, Any] | None:
    tuning = ctx.workspace.tuning
    if tuning is not None and tuning.config:
        return ctx.tuning_config
    return _default_config(ctx)


def tuning_job(ctx: RenderContext) -> Manifest:
    """The ``batch/v1`` Job ``<ws>`` that fine-tunes the preset (controller.md §3.11).

    Pure: no I/O, no clock, no logging.

    Raises `SpecError` when the preset cannot be tuned, the GPU count is unknown, or the
    training config's ``output_dir`` is not a directory under ``/mnt``.
    """
    workspace = ctx.workspace
    tuning = workspace.tuning
    if tuning is None:
        raise ValueError("tuning_job needs a workspace with spec.tuning")
    gpus = _gpu_count(ctx)
    weights_image = _weights_image(ctx)
    results = output_dir(_effective_config(ctx))
    output = tuning.output
    preset_name = tuning.preset.name if tuning.preset is not None else ""

    env = [_env("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")]
    model_name = ctx.model.name if ctx.model is not None else ""
    if any(n.lower().startswith("phi-3") for n in (preset_name, model_name)):
        env.insert(0, _env("DEFAULT_TARGET_MODULES", _PHI3_TARGET_MODULES))

    volumes: list[Manifest] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
        {"name": "model-weights-volume", "emptyDir": {}},
        {"name": "config-volume", "configMap": {"name": tuning_config_name(ctx)}},
    ]
    if output is not None and output.volume_source:
        volumes.append({"name": "results-volume", **output.volume_source})
    else:
        volumes.append({"name": "results-volume", "emptyDir": {}})
    main_mounts = [
        _mount("dshm", "/dev/shm"),
        _mount("model-weights-volume", WEIGHTS_MOUNT_PATH),
        _mount("config-volume", CONFIG_MOUNT_PATH),
        _mount("results-volume", results),
    ]
    init_containers: list[Manifest] = [
        {
            "name": "model-weights-downloader",
            "image": ORAS_IMAGE,
            "command": ["oras", "pull", weights_image, "-o", WEIGHTS_MOUNT_PATH],
            "volumeMounts": [_mount("model-weights-volume", WEIGHTS_MOUNT_PATH)],
        }
    ]
    input_inits, input_volumes = _input(ctx)
    init_containers += input_inits
    volumes += input_volumes
    if input_volumes:
        main_mounts.append(_mount("data-volume", DATA_MOUNT_PATH))

    gpu_resources = {"nvidia.com/gpu": str(gpus)}
    containers: list[Manifest] = [
        {
            "name": workspace.name,
            "image": f"{ctx.registry}/kaito-base:{BASE_IMAGE_TAG}",
            "command": ["/bin/sh", "-c", _TUNING_COMMAND.format(gpus=gpus)],
            "env": env,
            "ports": [{"containerPort": METRICS_PORT}],
            "resources": {"requests": dict(gpu_resources), "limits": dict(gpu_resources)},
            "volumeMounts": main_mounts,
        }
    ]
    pull_secrets: list[dict[str, str]] = []
    if output is not None and output.image and not output.volume_source:
        push_secret = output.image_push_secret or ""
        pull_secrets.append({"name": push_secret})
        volumes.append(
            {
                "name": "docker-config",
                "projected": {
                    "sources": [
                        {
                            "secret": {
                                "name": push_secret,
                                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                            }
                        }
                    ]
                },
            }
        )
        annotations = {"$manifest": {"sh.kaito.model.name": preset_name}} if preset_name else {}
        containers.append(
            {
                "name": "pusher",
                "image": PUSHER_IMAGE,
                "command": ["/bin/sh", "-c"],
                "args": [
                    PUSHER_SCRIPT,
                    "pusher",
                    results,
                    output.image,
                    json.dumps(annotations, separators=(",", ":"), sort_keys=True),
                ],
                "volumeMounts": [
                    _mount("docker-config", f"{home_directory(ctx.pod_security)}/.docker"),
                    _mount("results-volume", results),
                ],
            }
        )

    pod_spec: dict[str, Any] = {}
    if len(containers) > 1:
        pod_spec["shareProcessNamespace"] = True
    if pull_secrets:
        pod_spec["imagePullSecrets"] = pull_secrets
    pod_spec["initContainers"] = init_containers
    pod_spec["containers"] = containers
    pod_spec["restartPolicy"] = "Never"
    pod_spec["volumes"] = volumes
    pod_spec["tolerations"] = _tolerations(ctx.cloud)
    affinity = _affinity(ctx)
    if affinity is not None:
        pod_spec["affinity"] = affinity
    pod_spec = secure_pod(pod_spec, profile=ctx.pod_security)

    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": child_metadata(
            workspace, workspace.name, annotations={ANNOTATION_REVISION: str(ctx.revision)}
        ),
        "spec": {
            "template": {
                "metadata": {"labels": {LABEL_WORKSPACE: workspace.name}},
                "spec": pod_spec,
            }
        },
    }
