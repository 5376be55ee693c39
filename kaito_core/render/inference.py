"""The inference StatefulSet: preset inference (vLLM or Transformers) and template inference.

Pure: no I/O, no clock, no logging.

`inference_statefulset` follows upstream's ``GeneratePresetInference`` (controller.md §3.8):
one StatefulSet ``<ws>`` whose pods run the ``kaito-base`` image, with probes, volumes, adapter
pullers and the weights downloader (`kaito_core.render.pullers`), probes
(`kaito_core.render.probes`), affinity and tolerations, secured by
`kaito_core.render.podsecurity` (non-root, "restricted", unless the operator says
``--pod-security baseline``). Lists keep upstream's order (volumes, mounts, env, init
containers), which is fixed, so the manifest is byte-identical for the same context. Fields
the API server would leave out when zero or false are left out here too, so an observed object
satisfies the desired one.

`template_statefulset` wraps the user's pod template (§3.10), whose security context is the
user's own (it is not changed). Upstream never updates it after creation; here the rendered
template is part of the desired state, so the plan applies a template change like any other
difference.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.types import AdapterSpec, Workspace
from kaito_core.observed import Manifest
from kaito_core.render.commands import (
    CONFIG_MOUNT_PATH,
    PORT_DECODE_VLLM,
    PORT_INFERENCE,
    PORT_KV_EVENTS,
    WEIGHTS_PATH,
    inference_command,
    inference_role,
    is_distributed,
    local_weights_path,
    vllm_port,
)
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RUNTIME_VLLM, RenderContext
from kaito_core.render.context import provisioner_selector as _provisioner_selector
from kaito_core.render.meta import (
    ANNOTATION_REVISION,
    LABEL_WORKSPACE,
    child_metadata,
    sanitized_match_labels,
    workload_labels,
)
from kaito_core.render.podsecurity import home_directory, secure_pod
from kaito_core.render.probes import ANNOTATION_DISABLE_BENCHMARK, probes, runs_benchmark
from kaito_core.render.pullers import (
    ADAPTER_MOUNT_PATH,
    PULLER_IMAGE,
    WEIGHTS_VOLUME,
    adapter_pull_secrets,
    adapter_pullers,
    normalize_image_ref,
    puller_script,
    weights_downloader,
    weights_image,
)
from kaito_presets import BASE_IMAGE_NAME, BASE_IMAGE_TAG

__all__ = [
    "ADAPTER_MOUNT_PATH",
    "ANNOTATION_DISABLE_BENCHMARK",
    "CUDA_HOME",
    "NVME_STORAGE_CLASS",
    "PULLER_IMAGE",
    "ROUTING_SIDECAR_IMAGE",
    "affinity",
    "base_image",
    "gpu_tolerations",
    "inference_statefulset",
    "normalize_image_ref",
    "puller_script",
    "runs_benchmark",
    "template_statefulset",
    "weights_image",
]

NVME_STORAGE_CLASS = "kaito-local-nvme-disk"
ROUTING_SIDECAR_IMAGE = "mcr.microsoft.com/oss/v2/llm-d/llm-d-routing-sidecar:v0.8.0"
CUDA_HOME = "/opt/kaito/cuda/129"
_CUDA_VOLUME = "cuda-toolkit-hostpath"
_POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_SPOT_KEY = "kubernetes.azure.com/scalesetpriority"


# --- small builders ---------------------------------------------------------------------------


def base_image(ctx: RenderContext) -> str:
    """``<registry>/kaito-base:<tag>``: the image every preset runs in."""
    return f"{ctx.registry}/{BASE_IMAGE_NAME}:{BASE_IMAGE_TAG}"


def _shell(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def _env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _mount(name: str, path: str, *, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": name, "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _mig_profile(workspace: Workspace) -> str | None:
    """The MIG profile the spec asks for (mixed strategy): its own extended resource."""
    resource = workspace.resource
    partition = resource.partition if resource else None
    if partition is not None and partition.mode == "mig" and partition.profile:
        return partition.profile
    return None


def gpu_tolerations(ctx: RenderContext) -> list[dict[str, Any]]:
    """Tolerations of GPU node taints: nvidia.com/gpu, sku=gpu, Azure spot, the MIG profile."""
    tolerations: list[dict[str, Any]] = [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    if ctx.cloud == "azure":
        tolerations.append(
            {"key": _SPOT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
        )
    profile = _mig_profile(ctx.workspace)
    if profile:
        tolerations.append(
            {"key": f"nvidia.com/mig-{profile}", "operator": "Exists", "effect": "NoSchedule"}
        )
    return tolerations


def affinity(ctx: RenderContext) -> dict[str, Any] | None:
    """Required node affinity: the user's matchLabels (``In``) plus the provisioner's selector.

    None when both are empty (an empty ``matchExpressions`` list is rejected by the API server).
    """
    pairs = list(sanitized_match_labels(ctx.workspace).items())
    pairs += _provisioner_selector(ctx.workspace, ctx.provisioner)
    if not pairs:
        return None
    expressions = [{"key": k, "operator": "In", "values": [v]} for k, v in pairs]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }
    }


# --- adapters ---------------------------------------------------------------------------------


def _adapter_parts(
    ctx: RenderContext,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Init containers, volumes, main-container mounts and strength env of the adapters."""
    adapters: Sequence[AdapterSpec] = (
        ctx.workspace.inference.adapters or () if ctx.workspace.inference else ()
    )
    image_adapters = [a for a in adapters if a.source is not None and a.source.image]
    volume_adapters = [
        a
        for a in adapters
        if a.source is not None and a.source.volume_source is not None and not a.source.image
    ]
    strengths = ctx.runtime == RUNTIME_TRANSFORMERS
    inits: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    env: list[dict[str, Any]] = []
    if image_adapters:
        inits, volumes, mounts = adapter_pullers(
            image_adapters, home=home_directory(ctx.pod_security)
        )
        if strengths:
            env += [
                _env(a.source.name or "", a.strength)
                for a in image_adapters
                if a.source is not None and a.strength is not None
            ]
    for adapter in volume_adapters:
        source = adapter.source
        assert source is not None
        assert source.volume_source is not None
        name = source.name or ""
        volume_name = f"adapter-volume-{name}"
        volumes.append({"name": volume_name, **_clean(source.volume_source)})
        mounts.append(_mount(volume_name, f"{ADAPTER_MOUNT_PATH}/{name}"))
        if strengths and adapter.strength is not None:
            env.append(_env(name, adapter.strength))
    return inits, volumes, mounts, env


# --- the main container -----------------------------------------------------------------------


def _main_env(ctx: RenderContext, local_path: str | None, cuda: bool) -> list[dict[str, Any]]:
    model = ctx.model
    assert model is not None
    env: list[dict[str, Any]] = []
    if ctx.runtime == RUNTIME_VLLM:
        env.append(_env("VLLM_USE_FLASHINFER_SAMPLER", "0"))
        env.append(_env("VLLM_USE_DEEP_GEMM", "1" if model.requires_deepgemm else "0"))
    if cuda:
        env.append(_env("CUDA_HOME", CUDA_HOME))
    if local_path is not None:
        env.append(_env("KAITO_PROCESSOR", local_path))
    role = inference_role(ctx.workspace)
    if role is not None:
        env.append(_env("KAITO_INFERENCE_ROLE", role))
        env.append(_field_env("VLLM_NIXL_SIDE_CHANNEL_HOST", "status.podIP"))
    preset = ctx.workspace.inference.preset if ctx.workspace.inference else None
    options = preset.preset_options if preset else None
    if options is not None and options.model_access_secret:
        env.append(
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": options.model_access_secret,
                        "key": "HF_TOKEN",
                        "optional": True,
                    }
                },
            }
        )
    return env


def _resources(ctx: RenderContext) -> dict[str, Any]:
    profile = _mig_profile(ctx.workspace)
    name = f"nvidia.com/mig-{profile}" if profile else "nvidia.com/gpu"
    count = str(int(ctx.gpu.gpu_count))
    return {"limits": {name: count}, "requests": {name: count}}


def _routing_sidecar() -> dict[str, Any]:
    return {
        "name": "llm-d-routing-sidecar",
        "image": ROUTING_SIDECAR_IMAGE,
        "args": [
            f"--port={PORT_INFERENCE}",
            f"--vllm-port={PORT_DECODE_VLLM}",
            "--secure-proxy=false",
        ],
        "ports": [{"name": "sidecar", "containerPort": PORT_INFERENCE, "protocol": "TCP"}],
        "env": [
            _field_env("POD_IP", "status.podIP"),
            _field_env("VLLM_NIXL_SIDE_CHANNEL_HOST", "status.podIP"),
        ],
    }


def _weights_on_nvme(ctx: RenderContext, local_path: str | None) -> bool:
    return local_path is None and bool(getattr(ctx.gpu, "nvme", False)) and ctx.nvme_storage_class


def inference_statefulset(ctx: RenderContext) -> Manifest:
    """The preset inference StatefulSet ``<ws>`` (controller.md §3.8).

    Pure: no I/O, no clock, no logging.
    """
    ws, model = ctx.workspace, ctx.model
    if model is None or ctx.gpu is None or ws.inference is None:
        raise ValueError("preset inference needs an inference workspace, a model and GPUs")
    local_path = local_weights_path(ws)
    cuda = bool(model.requires_cuda_toolkit or model.requires_deepgemm)
    nvme = _weights_on_nvme(ctx, local_path)

    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if ws.inference.config:
        volumes.append({"name": "config-volume", "configMap": {"name": ws.inference.config}})
        mounts.append(_mount("config-volume", CONFIG_MOUNT_PATH))
    if local_path is None:
        mounts.append(_mount(WEIGHTS_VOLUME, WEIGHTS_PATH))
    else:
        volumes.append(
            {
                "name": "model-weights-hostpath",
                "hostPath": {"path": local_path, "type": "Directory"},
            }
        )
        mounts.append(_mount("model-weights-hostpath", local_path, read_only=True))
    if cuda:
        volumes.append(
            {"name": _CUDA_VOLUME, "hostPath": {"path": CUDA_HOME, "type": "DirectoryOrCreate"}}
        )
        mounts.append(_mount(_CUDA_VOLUME, CUDA_HOME, read_only=True))
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
    mounts.append(_mount("dshm", "/dev/shm"))

    env = _main_env(ctx, local_path, cuda)
    init_containers: list[dict[str, Any]] = []
    if cuda:
        init_containers.append(
            {
                "name": "cuda-toolkit-provisioner",
                "image": base_image(ctx),
                "command": [
                    "/bin/sh",
                    "-c",
                    'flock "$1" /workspace/cuda-provision.sh "$1"',
                    "sh",
                    CUDA_HOME,
                ],
                "volumeMounts": [_mount(_CUDA_VOLUME, CUDA_HOME)],
            }
        )
    if local_path is None and not model.download_at_runtime:
        init_containers.append(weights_downloader(ctx))
    adapter_inits, adapter_volumes, adapter_mounts, adapter_env = _adapter_parts(ctx)
    init_containers += adapter_inits
    volumes += adapter_volumes
    mounts += adapter_mounts
    env += adapter_env
    if is_distributed(ctx):
        env.append(_field_env("POD_INDEX", f"metadata.labels['{_POD_INDEX_LABEL}']"))
    if local_path is None and not nvme:
        volumes.append({"name": WEIGHTS_VOLUME, "emptyDir": {}})

    ports: list[dict[str, Any]] = [{"name": "http", "containerPort": vllm_port(ctx)}]
    if ctx.runtime == RUNTIME_VLLM:
        ports.append({"name": "kv-events", "containerPort": PORT_KV_EVENTS})
    main: dict[str, Any] = {
        "name": ws.name,
        "image": base_image(ctx),
        "command": _shell(inference_command(ctx)),
        "ports": ports,
        "env": env,
        "resources": _resources(ctx),
        "volumeMounts": mounts,
        **probes(ctx),
    }
    if not env:
        del main["env"]
    containers = [main]
    if vllm_port(ctx) != PORT_INFERENCE:
        containers.append(_routing_sidecar())

    pod: dict[str, Any] = {}
    if init_containers:
        pod["initContainers"] = init_containers
    pod["containers"] = containers
    pod["volumes"] = volumes
    node_affinity = affinity(ctx)
    if node_affinity is not None:
        pod["affinity"] = node_affinity
    pod["tolerations"] = gpu_tolerations(ctx)
    pull_secrets = adapter_pull_secrets(ws)
    if pull_secrets:
        pod["imagePullSecrets"] = pull_secrets
    # the CUDA toolkit provisioner writes into a root-owned host directory: it runs as root
    pod = secure_pod(
        pod, profile=ctx.pod_security, root=("cuda-toolkit-provisioner",) if cuda else ()
    )

    labels = workload_labels(ws)
    spec: dict[str, Any] = {
        "replicas": ctx.node_count,
        "podManagementPolicy": "Parallel",
        "serviceName": f"{ws.name}-headless",
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    if nvme:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": WEIGHTS_VOLUME, "labels": {LABEL_WORKSPACE: ws.name}},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": NVME_STORAGE_CLASS,
                    "resources": {"requests": {"storage": f"{int(model.disk_gib)}Gi"}},
                },
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": child_metadata(
            ws, ws.name, annotations={ANNOTATION_REVISION: str(ctx.revision)}
        ),
        "spec": spec,
    }


# --- template inference -----------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """A deep copy of JSON `value` without ``None`` members (``creationTimestamp: null``)."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value if v is not None]
    return copy.copy(value)


def template_statefulset(ctx: RenderContext) -> Manifest:
    """The StatefulSet ``<ws>`` around the user's pod template (controller.md §3.10).

    The template gets the workload labels; its affinity is replaced by the matchLabels and
    provisioner affinity (removed when there is none); the GPU tolerations are appended.

    Pure: no I/O, no clock, no logging.
    """
    ws = ctx.workspace
    if ws.inference is None or ws.inference.template is None:
        raise ValueError("template inference needs spec.inference.template")
    template: dict[str, Any] = _clean(ws.inference.template)
    labels = workload_labels(ws)
    metadata: dict[str, Any] = dict(template.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    metadata["labels"] = dict(sorted(metadata["labels"].items()))
    pod: dict[str, Any] = dict(template.get("spec") or {})
    pod.pop("affinity", None)
    node_affinity = affinity(ctx)
    if node_affinity is not None:
        pod["affinity"] = node_affinity
    pod["tolerations"] = list(pod.get("tolerations") or []) + gpu_tolerations(ctx)
    extra = {k: v for k, v in template.items() if k not in ("metadata", "spec")}
    rendered = {"metadata": metadata, "spec": pod, **extra}  # metadata first, as everywhere
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": child_metadata(
            ws, ws.name, annotations={ANNOTATION_REVISION: str(ctx.revision)}
        ),
        "spec": {
            "replicas": ctx.node_count,
            "selector": {"matchLabels": dict(labels)},
            "template": rendered,
        },
    }
