"""The inference StatefulSet: preset inference (vLLM or Transformers) and template inference.

Pure: no I/O, no clock, no logging.

`inference_statefulset` follows upstream's ``GeneratePresetInference`` (controller.md §3.8):
one StatefulSet ``<ws>`` whose pods run the ``kaito-base`` image, with probes, volumes, adapter
pullers, affinity and tolerations. Lists keep upstream's order (volumes, mounts, env, init
containers), which is fixed, so the manifest is byte-identical for the same context. Fields the
API server would leave out when zero or false are left out here too, so an observed object
satisfies the desired one.

`template_statefulset` wraps the user's pod template (§3.10). Upstream never updates it after
creation; here the rendered template is part of the desired state, so the plan applies a template
change like any other difference.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.types import AdapterSpec, Workspace
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest
from kaito_core.render.commands import (
    CONFIG_MOUNT_PATH,
    PORT_DECODE_VLLM,
    PORT_INFERENCE,
    PORT_KV_EVENTS,
    PORT_RAY,
    WEIGHTS_PATH,
    flags,
    inference_command,
    inference_role,
    is_distributed,
    local_weights_path,
    quote_value,
    ray_leader_host,
    startup_failure_threshold,
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
from kaito_core.render.tuning import ORAS_IMAGE
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

ANNOTATION_DISABLE_BENCHMARK = "kaito.sh/disable-benchmark"
NVME_STORAGE_CLASS = "kaito-local-nvme-disk"
PULLER_IMAGE = "mcr.microsoft.com/aks/skopeo:1.14.4-6"
ROUTING_SIDECAR_IMAGE = "mcr.microsoft.com/oss/v2/llm-d/llm-d-routing-sidecar:v0.8.0"
ADAPTER_MOUNT_PATH = "/mnt/adapter"
CUDA_HOME = "/opt/kaito/cuda/129"
_WEIGHTS_VOLUME = "model-weights-volume"
_CUDA_VOLUME = "cuda-toolkit-hostpath"
_HEALTH_PATH = "/health"
_HEALTH_CHECK = "python3 /workspace/vllm/multi-node-health-check.py"
_BENCHMARK = "python3 /workspace/vllm/benchmark_entrypoint.py"
_POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_SPOT_KEY = "kubernetes.azure.com/scalesetpriority"


# --- small builders ---------------------------------------------------------------------------


def base_image(ctx: RenderContext) -> str:
    """``<registry>/kaito-base:<tag>``: the image every preset runs in."""
    return f"{ctx.registry}/{BASE_IMAGE_NAME}:{BASE_IMAGE_TAG}"


def weights_image(ctx: RenderContext) -> str:
    """``<registry>/kaito-<name>:<tag>``: the OCI artifact holding the weights of a preset that
    does not download them at runtime (`SpecError` when the preset names no tag)."""
    model = ctx.model
    assert model is not None
    if not model.weights_image_tag:
        raise SpecError(
            f"preset {model.name} ships its weights in an image but names no image tag",
            path="spec.inference.preset.name",
            reason="UnsupportedPreset",
        )
    return f"{ctx.registry}/kaito-{model.name}:{model.weights_image_tag}"


def _weights_downloader(ctx: RenderContext) -> dict[str, Any]:
    """Upstream's ``model-weights-downloader``: ``oras pull <image> -o /workspace/weights``."""
    return {
        "name": "model-weights-downloader",
        "image": ORAS_IMAGE,
        "command": ["oras", "pull", weights_image(ctx), "-o", WEIGHTS_PATH],
        "volumeMounts": [_mount(_WEIGHTS_VOLUME, WEIGHTS_PATH)],
    }


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


def _http_probe(
    port: int, *, initial_delay: int = 0, period: int = 10, failure: int | None = None
) -> dict[str, Any]:
    probe: dict[str, Any] = {"httpGet": {"path": _HEALTH_PATH, "port": port}}
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    probe["periodSeconds"] = period
    if failure is not None:
        probe["failureThreshold"] = failure
    return probe


def _exec_probe(
    command: list[str],
    *,
    initial_delay: int = 0,
    timeout: int,
    period: int = 10,
    failure: int,
    termination_grace: int | None = None,
) -> dict[str, Any]:
    probe: dict[str, Any] = {"exec": {"command": command}}
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    probe["timeoutSeconds"] = timeout
    probe["periodSeconds"] = period
    probe["failureThreshold"] = failure
    if termination_grace is not None:
        probe["terminationGracePeriodSeconds"] = termination_grace
    return probe


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


def runs_benchmark(ctx: RenderContext) -> bool:
    """vLLM presets run the post-load benchmark unless ``kaito.sh/disable-benchmark: "true"``."""
    return (
        ctx.model is not None
        and ctx.runtime == RUNTIME_VLLM
        and ctx.workspace.annotations.get(ANNOTATION_DISABLE_BENCHMARK) != "true"
    )


# --- adapters ---------------------------------------------------------------------------------

_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def normalize_image_ref(ref: str) -> str:
    """An image reference in full Docker form, as ``reference.ParseDockerRef`` writes it.

    ``adapter`` -> ``docker.io/library/adapter:latest``; a digest drops the tag.
    """
    name, digest = ref, ""
    if "@" in ref:
        name, digest = ref.split("@", 1)
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    full = f"{domain}/{path}"
    if digest and _DIGEST_RE.match(digest):
        return f"{full}@{digest}"
    return f"{full}:{tag or 'latest'}"


def puller_script(image: str, target: str) -> str:
    """The shell script an adapter puller runs: copy `image`, unpack it, move ``/data`` to `target`.

    It tries an anonymous pull first and then each registry credential projected under
    ``~/.docker/config.d``; the layers are unpacked in order and the image's ``/data``
    directory becomes `target`.
    """
    return "\n".join(
        [
            "set -eu",
            f"image={quote_value(normalize_image_ref(image))}",
            f"target={quote_value(target)}",
            'work="$(mktemp -d)"',
            'layout="${work}/layout"',
            'rootfs="${work}/rootfs"',
            'credentials="${HOME:-/root}/.docker/config.d"',
            "pulled=no",
            'auth_files=""',
            'if [ -d "${credentials}" ]; then auth_files="$(find "${credentials}" -type f)"; fi',
            "for auth in none ${auth_files}; do",
            '  if [ "${auth}" = none ]; then auth_flag=""; else auth_flag="--authfile=${auth}"; fi',
            "  if skopeo copy --dest-decompress ${auth_flag} \\",
            '      "docker://${image}" "dir:${layout}"; then',
            "    pulled=yes",
            "    break",
            "  fi",
            "done",
            'if [ "${pulled}" != yes ]; then echo "cannot pull ${image}" >&2; exit 1; fi',
            'mkdir -p "${rootfs}"',
            "layers=\"$(skopeo inspect --format '{{ range .Layers }}{{ slice . 7 }} {{ end }}' "
            '"dir:${layout}")"',
            "for layer in ${layers}; do",
            '  tar -x -f "${layout}/${layer}" -C "${rootfs}"',
            "done",
            'rm -rf "${target}"',
            'mv "${rootfs}/data" "${target}"',
            "",
        ]
    )


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
        adapter_mount = _mount("adapter-volume", ADAPTER_MOUNT_PATH)
        volumes.append({"name": "adapter-volume", "emptyDir": {}})
        mounts.append(adapter_mount)
        for adapter in image_adapters:
            source = adapter.source
            assert source is not None
            assert source.image is not None
            name = source.name or ""
            puller_mounts = [dict(adapter_mount)]
            if source.image_pull_secrets:
                suffix = f"{name}-inference-adapter"
                volume_name = f"docker-config-{suffix}"
                volumes.append(
                    {
                        "name": volume_name,
                        "projected": {
                            "sources": [
                                {
                                    "secret": {
                                        "name": secret,
                                        "items": [
                                            {"key": ".dockerconfigjson", "path": f"{secret}.json"}
                                        ],
                                    }
                                }
                                for secret in source.image_pull_secrets
                            ]
                        },
                    }
                )
                puller_mounts.append(_mount(volume_name, f"/root/.docker/config.d/{suffix}"))
            inits.append(
                {
                    "name": f"puller-{name}",
                    "image": PULLER_IMAGE,
                    "command": ["/bin/sh", "-c"],
                    "args": [puller_script(source.image, f"{ADAPTER_MOUNT_PATH}/{name}")],
                    "volumeMounts": puller_mounts,
                }
            )
            if strengths and adapter.strength is not None:
                env.append(_env(name, adapter.strength))
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


def _image_pull_secrets(workspace: Workspace) -> list[dict[str, str]]:
    """The adapters' pull secrets, first occurrence first (preset pull secrets are ignored)."""
    names: list[str] = []
    for adapter in (workspace.inference.adapters or ()) if workspace.inference else ():
        for secret in (adapter.source.image_pull_secrets or ()) if adapter.source else ():
            if secret not in names:
                names.append(secret)
    return [{"name": name} for name in names]


# --- the main container -----------------------------------------------------------------------


def _probes(ctx: RenderContext) -> dict[str, dict[str, Any]]:
    port = vllm_port(ctx)
    startup_failures = startup_failure_threshold(ctx)
    if is_distributed(ctx):
        leader = ray_leader_host(ctx.workspace)
        liveness_cmd = (
            _HEALTH_CHECK
            + " liveness "
            + flags({"leader-address": leader, "ray-port": str(PORT_RAY)})
        )
        readiness_cmd = (
            _HEALTH_CHECK
            + " readiness "
            + flags({"leader-address": leader, "vllm-port": str(port)})
        )
        probes = {
            "livenessProbe": _exec_probe(
                _shell(liveness_cmd),
                initial_delay=60,
                timeout=5,
                failure=1,
                termination_grace=1,
            ),
            "readinessProbe": _exec_probe(_shell(readiness_cmd), timeout=1, failure=1),
            "startupProbe": _exec_probe(_shell(readiness_cmd), timeout=1, failure=startup_failures),
        }
    else:
        probes = {
            "livenessProbe": _http_probe(port, failure=3),
            "readinessProbe": _http_probe(port, initial_delay=30),
            "startupProbe": _http_probe(port, failure=startup_failures),
        }
    if runs_benchmark(ctx):
        if is_distributed(ctx):
            command = _shell(f'if [ "$POD_INDEX" = "0" ]; then {_BENCHMARK}; else true; fi')
        else:
            command = _BENCHMARK.split(" ")
        probes["startupProbe"] = _exec_probe(command, timeout=600, failure=startup_failures)
    return probes


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
        mounts.append(_mount(_WEIGHTS_VOLUME, WEIGHTS_PATH))
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
        init_containers.append(_weights_downloader(ctx))
    adapter_inits, adapter_volumes, adapter_mounts, adapter_env = _adapter_parts(ctx)
    init_containers += adapter_inits
    volumes += adapter_volumes
    mounts += adapter_mounts
    env += adapter_env
    if is_distributed(ctx):
        env.append(_field_env("POD_INDEX", f"metadata.labels['{_POD_INDEX_LABEL}']"))
    if local_path is None and not nvme:
        volumes.append({"name": _WEIGHTS_VOLUME, "emptyDir": {}})

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
        **_probes(ctx),
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
    pull_secrets = _image_pull_secrets(ws)
    if pull_secrets:
        pod["imagePullSecrets"] = pull_secrets

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
                "metadata": {"name": _WEIGHTS_VOLUME, "labels": {LABEL_WORKSPACE: ws.name}},
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
