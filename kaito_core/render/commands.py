"""The inference server command lines: vLLM (single- and multi-node) and Transformers.

Pure: no I/O, no clock, no logging.

Upstream builds flags from Go maps, so their order is random (controller.md §3.9, §7.7). Here
every flag list is rendered **sorted by key**, so the same context always gives the same string.
An empty value is a bare flag (``--trust-remote-code``). Keys and values holding characters the
shell would interpret (the kv-events JSON, a user value with spaces) are single-quoted, which is
what upstream does by hand for ``'{"enable_kv_cache_events":true}'``; upstream quotes no key, so a
ConfigMap key such as ``x; echo PWNED`` ran as shell code there. Here every flag is exactly one
shell word whatever its key and value (validation also refuses keys that are not vLLM option
names, `kaito_core.validation.configmaps.VLLM_KEY`).

The user's inference ConfigMap (``vllm:`` section, `RenderContext.inference_config`) is merged
last and wins over the operator's flag of the same name, as the in-image wrapper does when it
appends the file's values after the command line. ``max_model_len`` and ``max-model-len`` name the
same vLLM option, so the user's spelling replaces ours either way.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping

from kaito_core.api.types import Workspace
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RUNTIME_VLLM, RenderContext
from kaito_core.render.meta import LABEL_CREATED_BY_INFERENCESET, LABEL_CREATED_BY_MRI
from kaito_core.sizing import parallelism

__all__ = [
    "ANNOTATION_LOCAL_WEIGHTS",
    "ANNOTATION_PERFORMANCE_MODE",
    "CONFIG_FILE",
    "CONFIG_MOUNT_PATH",
    "DEFAULT_READINESS_TIMEOUT_SECONDS",
    "LABEL_INFERENCE_ROLE",
    "LOCAL_WEIGHTS_PREFIX",
    "PORT_DECODE_VLLM",
    "PORT_INFERENCE",
    "PORT_KV_EVENTS",
    "PORT_RAY",
    "VLLM_BASE_COMMAND",
    "WEIGHTS_PATH",
    "flag",
    "flags",
    "inference_command",
    "inference_role",
    "is_distributed",
    "local_weights_path",
    "quote_value",
    "ray_leader_host",
    "readiness_timeout_seconds",
    "served_model_name",
    "startup_failure_threshold",
    "transformers_command",
    "transformers_flags",
    "vllm_command",
    "vllm_flags",
    "vllm_port",
]

VLLM_BASE_COMMAND = "python3 /workspace/vllm/inference_api.py"
_RAY_SCRIPT = "/workspace/vllm/multi-node-serving.sh"
CHAT_TEMPLATE_DIR = "/workspace/chat_templates"

PORT_INFERENCE = 5000
#: vLLM's port on decode pods, where the llm-d routing sidecar takes 5000.
PORT_DECODE_VLLM = 5001
PORT_RAY = 6379
PORT_KV_EVENTS = 5557

WEIGHTS_PATH = "/workspace/weights"
CONFIG_MOUNT_PATH = "/mnt/config"
CONFIG_FILE = f"{CONFIG_MOUNT_PATH}/inference_config.yaml"
LOCAL_WEIGHTS_PREFIX = "/opt/kaito/models"
#: Startup budget for a model that names none (upstream ``defaultStartupProbeTimeout``).
DEFAULT_READINESS_TIMEOUT_SECONDS = 30 * 60

ANNOTATION_PERFORMANCE_MODE = "kaito.sh/performance-mode"
ANNOTATION_LOCAL_WEIGHTS = "kaito.sh/use-local-weights"
LABEL_INFERENCE_ROLE = "kaito.sh/inference-role"

_PERFORMANCE_MODES = frozenset({"interactivity", "throughput"})
_KV_EVENTS_CONFIG = '{"enable_kv_cache_events":true}'
_A10 = "NVIDIA A10"

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


def quote_value(value: str) -> str:
    """`value` as one shell word: unchanged when it is plain, else single-quoted."""
    return shlex.quote(value)


def _as_dict(params: Pairs) -> dict[str, str]:
    if isinstance(params, Mapping):
        return {str(k): str(v) for k, v in params.items()}
    return {str(k): str(v) for k, v in params}


def flag(key: str, value: str) -> str:
    """``--key=value`` (bare ``--key`` for ``""``) as one shell word: key and value are each
    quoted when they hold anything but plain characters."""
    name = f"--{quote_value(key)}" if key else "--"
    return name if value == "" else f"{name}={quote_value(value)}"


def flags(params: Pairs) -> str:
    """`flag` per pair, sorted by key, joined by spaces: one shell word per pair."""
    return " ".join(flag(key, value) for key, value in sorted(_as_dict(params).items()))


def _join(base: str, params: Pairs) -> str:
    rendered = flags(params)
    return f"{base} {rendered}" if rendered else base


def readiness_timeout_seconds(ctx: RenderContext) -> int:
    """The model's startup budget in seconds (30 minutes when it names none)."""
    model = ctx.model
    if model is not None and model.readiness_timeout_seconds > 0:
        return int(model.readiness_timeout_seconds)
    return DEFAULT_READINESS_TIMEOUT_SECONDS


def startup_failure_threshold(ctx: RenderContext, period_seconds: int = 10) -> int:
    """``ceil(readiness timeout / period)``: the startup probe covers the whole budget."""
    return math.ceil(readiness_timeout_seconds(ctx) / period_seconds)


def ray_leader_host(workspace: Workspace) -> str:
    """DNS name of pod 0 behind the headless Service: the Ray head and the vLLM leader."""
    name, namespace = workspace.name, workspace.namespace
    return f"{name}-0.{name}-headless.{namespace}.svc.cluster.local"


def inference_role(workspace: Workspace) -> str | None:
    """``prefill`` or ``decode`` when the workspace is one role of a MultiRoleInference."""
    role = workspace.labels.get(LABEL_INFERENCE_ROLE)
    return role if role in ("prefill", "decode") else None


def vllm_port(ctx: RenderContext) -> int:
    """Where vLLM listens: 5001 on vLLM decode pods (the routing sidecar has 5000), else 5000."""
    if ctx.runtime == RUNTIME_VLLM and inference_role(ctx.workspace) == "decode":
        return PORT_DECODE_VLLM
    return PORT_INFERENCE


def is_distributed(ctx: RenderContext) -> bool:
    """True for multi-node vLLM: the model may be split and more than one node serves it."""
    model = ctx.model
    return (
        model is not None
        and bool(model.distributed)
        and ctx.runtime == RUNTIME_VLLM
        and ctx.node_count > 1
    )


def local_weights_path(workspace: Workspace) -> str | None:
    """The node directory holding the weights when ``kaito.sh/use-local-weights`` is ``true``.

    The directory is named after the preset as the user wrote it, lower-cased, with ``/`` and
    ``\\`` replaced by ``-`` (``microsoft/Phi-4`` -> ``/opt/kaito/models/microsoft-phi-4``).
    """
    if workspace.annotations.get(ANNOTATION_LOCAL_WEIGHTS) != "true":
        return None
    preset = workspace.inference.preset if workspace.inference else None
    if preset is None:
        return None
    slug = preset.name.lower().replace("/", "-").replace("\\", "-")
    return f"{LOCAL_WEIGHTS_PREFIX}/{slug}"


def served_model_name(ctx: RenderContext, default: str) -> str:
    """The name vLLM serves the model under: an InferenceSet replica's set name, else
    ``default`` (the preset's model name)."""
    labels = ctx.workspace.labels
    if LABEL_CREATED_BY_MRI in labels:
        return default
    return labels.get(LABEL_CREATED_BY_INFERENCESET) or default


def _is_mig(ctx: RenderContext) -> bool:
    resource = ctx.workspace.resource
    partition = resource.partition if resource else None
    if partition is not None and partition.mode == "mig":
        return True
    return bool(getattr(ctx.gpu, "is_mig", False) or getattr(ctx.gpu, "mig_profile", None))


def _preset_params(ctx: RenderContext) -> dict[str, str]:
    """The model's static vLLM parameters, completed from its parser/template fields."""
    model = ctx.model
    assert model is not None
    params = _as_dict(model.vllm_params)
    params.setdefault("trust-remote-code", "")
    params.setdefault("dtype", model.dtype or "bfloat16")
    if model.tool_call_parser and "tool-call-parser" not in params:
        params["tool-call-parser"] = model.tool_call_parser
        params["enable-auto-tool-choice"] = ""
    if model.reasoning_parser and "reasoning-parser" not in params:
        params["reasoning-parser"] = model.reasoning_parser
    if model.chat_template and "chat-template" not in params:
        template = model.chat_template
        if not template.startswith("/"):
            template = f"{CHAT_TEMPLATE_DIR}/{template}"
        params["chat-template"] = template
    if ctx.dtype_override:
        params["dtype"] = ctx.dtype_override
    return params


def _parallelism_flags(ctx: RenderContext) -> dict[str, str]:
    assert ctx.model is not None
    par = parallelism(model=ctx.model, gpu=ctx.gpu, node_count=ctx.node_count)
    return _as_dict(par.flags)


def _normalise(key: str) -> str:
    return key.replace("_", "-")


def _merge_user(params: dict[str, str], user: Mapping[str, str] | None) -> dict[str, str]:
    """The user's ConfigMap values over ours; a key spelled with ``_`` replaces ours too."""
    if not user:
        return params
    overridden = {_normalise(k) for k in user}
    merged = {k: v for k, v in params.items() if _normalise(k) not in overridden}
    merged.update({str(k): str(v) for k, v in user.items()})
    return merged


def vllm_flags(ctx: RenderContext) -> dict[str, str]:
    """Every flag of the vLLM server for `ctx`, keyed by flag name (``""`` for a bare flag)."""
    model, ws, gpu = ctx.model, ctx.workspace, ctx.gpu
    if model is None or gpu is None:
        raise ValueError("a vLLM command needs a model preset and a GPU configuration")
    params = _preset_params(ctx)
    params["served-model-name"] = served_model_name(ctx, model.name)
    params["max-model-len"] = "auto"
    params["gpu-memory-utilization"] = "0.82" if gpu.gpu_model == _A10 else "0.84"
    params.setdefault("kv-events-config", _KV_EVENTS_CONFIG)
    params["compilation-config.pass_config.fuse_allreduce_rms"] = "False"
    if ws.inference is not None and ws.inference.adapters and not model.disallow_lora:
        params["enable-lora"] = ""
    local = local_weights_path(ws)
    if local is not None:
        params["model"] = local
        params["load-format"] = "runai_streamer"
        params.pop("load_format", None)
    elif model.download_at_runtime:
        params["model"] = model.repo
        params["download-dir"] = WEIGHTS_PATH
    else:  # the model-weights-downloader init container put them here
        params["model"] = WEIGHTS_PATH
    if ws.inference is not None and ws.inference.config:
        params["kaito-config-file"] = CONFIG_FILE
    mode = ws.annotations.get(ANNOTATION_PERFORMANCE_MODE, "")
    if mode in _PERFORMANCE_MODES:
        params["performance-mode"] = mode
    if model.hybrid_kv_cache or model.lmcache_disabled or _is_mig(ctx):
        params["kaito-kv-cache-cpu-memory-utilization"] = "0"
    params.update(_parallelism_flags(ctx))
    if vllm_port(ctx) != PORT_INFERENCE:
        params["port"] = str(vllm_port(ctx))
    return _merge_user(params, ctx.inference_config)


def vllm_command(ctx: RenderContext) -> str:
    """The shell command of the vLLM container (the leader/worker script when multi-node)."""
    serve = _join(VLLM_BASE_COMMAND, vllm_flags(ctx))
    if not is_distributed(ctx):
        return serve
    leader = _join(
        f"{_RAY_SCRIPT} leader",
        {"ray_cluster_size": str(ctx.node_count), "ray_port": str(PORT_RAY)},
    )
    worker = _join(
        f"{_RAY_SCRIPT} worker",
        {"ray_address": ray_leader_host(ctx.workspace), "ray_port": str(PORT_RAY)},
    )
    return f'if [ "${{POD_INDEX}}" = "0" ]; then {leader}; {serve}; else {worker}; fi'


def transformers_flags(ctx: RenderContext) -> tuple[dict[str, str], dict[str, str]]:
    """The ``accelerate launch`` flags and the server-script flags of the Transformers runtime."""
    model = ctx.model
    if model is None or model.transformers is None:
        name = model.name if model else "<none>"
        raise ValueError(
            f"model {name} does not support inference with Huggingface Transformers runtime"
        )
    support = model.transformers
    run = _as_dict(support.model_run_params)
    if ctx.dtype_override and "torch_dtype" in run:
        run["torch_dtype"] = ctx.dtype_override
    run["served_model_name"] = model.name
    if model.download_at_runtime:
        run["pretrained_model_name_or_path"] = model.repo
        run["allow_remote_files"] = ""
    elif local_weights_path(ctx.workspace) is None:
        run["pretrained_model_name_or_path"] = WEIGHTS_PATH
    return _as_dict(support.accelerate_params), run


def transformers_command(ctx: RenderContext) -> str:
    """``accelerate launch ... /workspace/tfs/inference_api.py ...`` for the model."""
    model = ctx.model
    assert model is not None
    accelerate, run = transformers_flags(ctx)
    assert model.transformers is not None
    launcher = _join("accelerate launch", accelerate)
    return f"{launcher} {_join(model.transformers.main_file, run)}"


def inference_command(ctx: RenderContext) -> str:
    """The command of the runtime `ctx` selects."""
    if ctx.runtime == RUNTIME_TRANSFORMERS:
        return transformers_command(ctx)
    return vllm_command(ctx)
