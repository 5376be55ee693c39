"""`decide`: the facts one Workspace is rendered from, settled once per plan.

Pure: no I/O, no clock, no logging.

`decide` resolves the model, the GPU configuration (from the SKU catalog, or from the labels of
bring-your-own nodes), the runtime and dtype (the runtime policy), the node count (the
estimator) and the parsed inference and tuning configs into one `RenderContext`, or raises the
`SpecError` the user must fix. `kaito_core.plan` renders and diffs from there.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api.types import ObjectMeta, Workspace
from kaito_core.api.yamlsafe import ManifestLoadError, load_yaml
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import PlanSummary
from kaito_core.render.commands import readiness_timeout_seconds, served_model_name
from kaito_core.render.context import (
    RUNTIME_TRANSFORMERS,
    RUNTIME_VLLM,
    RenderContext,
    runtime_name,
)
from kaito_core.render.meta import LABEL_REVISION_OWNER, RESERVED_LABEL_KEYS
from kaito_core.render.nodeclaims import node_disk_gib
from kaito_core.render.revision import (
    RevisionDecision,
    next_revision,
    spec_hash_memo,
)
from kaito_core.render.tuning import default_tuning_config
from kaito_core.runtime_policy import RuntimePolicy, runtime_policy
from kaito_core.sizing import (
    GpuConfig,
    Parallelism,
    check_transformers_fits,
    estimate_node_count,
    parallelism,
)
from kaito_core.status import PROVISIONER_BYO
from kaito_core.validation.configmaps import (
    CONFIG_VALUE_LIMITS,
    vllm_key_problem,
    vllm_value_problem,
)
from kaito_core.validation.resource import MAX_NODE_COUNT, unsupported_sku_message
from kaito_presets import DEFAULT_REGISTRY, Catalog, CatalogError, ModelPreset

__all__ = ["REPLACE_REQUEUE_SECONDS", "Decision", "PlanSettings", "decide"]

#: When an object is waiting to be recreated (deleted, not yet gone), look again this soon even
#: if no watch event arrives.
REPLACE_REQUEUE_SECONDS = 2.0
_INFERENCE_CONFIG_KEY = "inference_config.yaml"
_TUNING_CONFIG_KEY = "training_config.yaml"


@attrs.frozen(kw_only=True)
class PlanSettings:
    """How the operator is set up; the same for every Workspace it reconciles."""

    #: ``karpenter``, ``azure-gpu-provisioner``, ``aks``, ``fake`` (all provision machines) or
    #: ``byo`` (bring your own nodes: nothing is provisioned, GPUs are read from node labels).
    provisioner: str = "karpenter"
    cloud: str = "azure"
    registry: str = DEFAULT_REGISTRY
    vllm_enabled: bool = True
    #: True when the StorageClass ``kaito-local-nvme-disk`` exists in the cluster.
    nvme_storage_class: bool = False
    #: The operator's ``--default-node-image-family`` (``ubuntu`` or ``azurelinux``).
    default_node_image_family: str | None = None
    #: The operator's ``--pod-security``: ``restricted`` (non-root pods that pass the Pod
    #: Security Standards' restricted profile) or ``baseline`` (upstream's pods, the images' own
    #: user). See `kaito_core.render.podsecurity`.
    pod_security: str = "restricted"

    @property
    def node_auto_provisioning(self) -> bool:
        return self.provisioner != PROVISIONER_BYO


@attrs.frozen(kw_only=True)
class Decision:
    """What `decide` settled: the render context plus what the summary and status need."""

    context: RenderContext
    #: The workspace reduced to its name, namespace, uid and spec: what revisions record.
    spec: Workspace
    #: ``json.dumps(spec.to_manifest())`` in the user's key order: the spec hash's memo key and
    #: part of the render memo's (computed once per plan).
    spec_json: str
    revisions: RevisionDecision
    #: The vLLM layout (preset inference on vLLM only).
    parallelism: Parallelism | None
    notes: tuple[str, ...]
    summary: PlanSummary


# --- reading the user's ConfigMaps ------------------------------------------------------------


#: ConfigMap values up to this size are parsed once per process (`_parse_yaml_cached`).
_PARSE_CACHE_MAX_CHARS = 64 * 1024


def _parse_yaml_uncached(text: str) -> Any:
    """The YAML of a ConfigMap value (bounded, see `CONFIG_VALUE_LIMITS`), or the
    `ManifestLoadError` saying why it cannot be read (returned, so the cache keeps it too)."""
    try:
        return load_yaml(text, limits=CONFIG_VALUE_LIMITS)
    except ManifestLoadError as exc:
        return exc


_parse_yaml_cached = functools.lru_cache(maxsize=256)(_parse_yaml_uncached)


def _parse_yaml(text: str) -> Any:
    """The YAML of a ConfigMap value (or a `ManifestLoadError`). Callers must not mutate it."""
    if len(text) > _PARSE_CACHE_MAX_CHARS:
        return _parse_yaml_uncached(text)
    return _parse_yaml_cached(text)


def _config_data(observed: Observed, name: str | None, key: str, path: str) -> Any:
    """The parsed ``data[key]`` of ConfigMap `name`: None when absent; a value that must not be
    read (too large once expanded, recursive, duplicate keys) is a `SpecError` at `path`."""
    if not name:
        return None
    cm = observed.config_maps.get(name)
    if cm is None:
        return None
    data = cm.get("data")
    text = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        return None
    parsed = _parse_yaml(text)
    if isinstance(parsed, ManifestLoadError):
        raise SpecError(
            f"ConfigMap '{name}' {key}: {parsed}".replace("invalid YAML: ", ""),
            path=path,
            reason="InvalidConfig",
        )
    return parsed


def _flag_value(value: Any) -> str | None:
    if value is True:
        return ""
    if value is False or value is None:
        return None
    return str(value)


def _inference_config(observed: Observed, workspace: Workspace) -> dict[str, str] | None:
    """The ``vllm:`` section of the user's inference ConfigMap, as flag values (sorted).

    The ConfigMap is read again at every plan (it may have changed since admission), so a key
    that is not a vLLM option name, or a value with control characters, is a `SpecError` here
    too: nothing reaches the server's command line unchecked.
    """
    name = workspace.inference.config if workspace.inference else None
    data = _config_data(observed, name, _INFERENCE_CONFIG_KEY, "spec.inference.config")
    if not isinstance(data, Mapping):
        return None
    vllm = data.get("vllm")
    if not isinstance(vllm, Mapping):
        return {}
    out: dict[str, str] = {}
    for key in sorted(vllm, key=str):
        value = _flag_value(vllm[key])
        problem = vllm_key_problem(key) or (
            vllm_value_problem(key, value) if value is not None else None
        )
        if problem is not None:
            raise SpecError(
                f"ConfigMap '{name}' {_INFERENCE_CONFIG_KEY}: {problem}",
                path="spec.inference.config",
                reason="InvalidConfig",
            )
        if value is not None:
            out[str(key)] = value
    return out


def _max_model_len(config: Mapping[str, str] | None) -> int | None:
    """The explicit ``max-model-len`` (or ``max_model_len``) of the ConfigMap, if numeric."""
    for key, value in (config or {}).items():
        if key.replace("_", "-") == "max-model-len" and value.strip().isdigit():
            return int(value)
    return None


def _tuning_config(
    observed: Observed, workspace: Workspace, dtype_override: str | None
) -> dict[str, Any] | None:
    tuning = workspace.tuning
    if tuning is None:
        return None
    if tuning.config and tuning.config not in observed.config_maps:
        # The output directory is read from it: wait for it rather than guess.
        raise SpecError(
            f"ConfigMap '{tuning.config}' specified in 'config' not found in namespace "
            f"{workspace.namespace}",
            path="spec.tuning.config",
            reason="ConfigMapNotFound",
        )
    data = _config_data(observed, tuning.config, _TUNING_CONFIG_KEY, "spec.tuning.config")
    if isinstance(data, Mapping) and isinstance(data.get("training_config"), Mapping):
        return copy.deepcopy(dict(data["training_config"]))
    return default_tuning_config(
        (tuning.method or "lora").lower(), dtype=dtype_override or "bfloat16"
    )


# --- GPUs, model, runtime ---------------------------------------------------------------------


def _ready(node: Manifest) -> bool:
    if (node.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _node_name(node: Manifest) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def _byo_gpu(workspace: Workspace, observed: Observed) -> GpuConfig:
    """The GPUs of bring-your-own nodes: a MIG profile, else the labels of the first ready node
    matching the selector (by name), scaled to an accelerator partition's count."""
    resource = workspace.resource
    partition = resource.partition if resource else None
    if partition is not None and partition.mode == "mig" and partition.profile:
        return GpuConfig.from_mig_profile(partition.profile)
    selector = {k: v for k, v in workspace.match_labels.items() if k not in RESERVED_LABEL_KEYS}
    for node in sorted(observed.nodes, key=_node_name):
        labels = (node.get("metadata") or {}).get("labels") or {}
        if _ready(node) and all(labels.get(k) == v for k, v in selector.items()):
            gpu = GpuConfig.from_node_labels(labels, node_name=_node_name(node))
            if partition is not None and partition.mode == "accelerator" and partition.count:
                gpu = gpu.scaled_to(partition.count)
            return gpu
    raise SpecError(
        "no ready nodes found matching the workspace's label selector, unable to determine "
        "the GPU configuration",
        path="spec.resource.labelSelector",
        reason="NodesNotFound",
    )


@functools.lru_cache(maxsize=512)
def _sku_gpu(catalog: Catalog, instance_type: str) -> GpuConfig:
    """The GPU config of a catalog SKU (cached per catalog: catalogs are immutable)."""
    return GpuConfig.from_sku(catalog.sku(instance_type))


def _gpu(
    workspace: Workspace, observed: Observed, catalog: Catalog, settings: PlanSettings
) -> GpuConfig:
    if not settings.node_auto_provisioning:
        return _byo_gpu(workspace, observed)
    instance_type = workspace.resource.instance_type if workspace.resource else None
    if not instance_type:
        raise SpecError(
            "instanceType is required when node auto-provisioning is enabled",
            path="spec.resource.instanceType",
            reason="InvalidSpec",
        )
    try:
        return _sku_gpu(catalog, instance_type)
    except CatalogError:
        message = unsupported_sku_message(catalog, instance_type, settings.cloud)
        raise SpecError(
            message, path="spec.resource.instanceType", reason="UnsupportedSKU"
        ) from None


def _model(workspace: Workspace, catalog: Catalog) -> ModelPreset | None:
    preset = workspace.preset
    if preset is None:
        return None
    path = "spec.tuning.preset.name" if workspace.tuning else "spec.inference.preset.name"
    try:
        return catalog.model(preset.name)
    except CatalogError as exc:
        raise SpecError(str(exc), path=path, reason="UnsupportedPreset") from None


@functools.lru_cache(maxsize=512)
def _policy(catalog: Catalog, gpu: GpuConfig, runtime: str) -> RuntimePolicy:
    return runtime_policy(gpu=gpu, runtime=runtime, catalog=catalog)


def _check_shape(workspace: Workspace, model: ModelPreset | None) -> None:
    """What the renderers cannot do without; validation reports these first."""
    if workspace.inference is None and workspace.tuning is None:
        raise SpecError(
            "either inference or tuning must be specified", path="spec", reason="InvalidSpec"
        )
    if workspace.inference is not None:
        if workspace.inference.template is None and model is None:
            raise SpecError(
                "inference needs a preset or a template",
                path="spec.inference",
                reason="InvalidSpec",
            )
    elif model is None:
        raise SpecError("tuning needs a preset", path="spec.tuning.preset", reason="InvalidSpec")


def _check_runtime(model: ModelPreset, runtime: str) -> None:
    if runtime == RUNTIME_TRANSFORMERS and not (
        model.transformers is not None and model.supports_runtime(RUNTIME_TRANSFORMERS)
    ):
        raise SpecError(
            f"model {model.name} does not support inference with Huggingface Transformers runtime",
            path="spec.inference.preset.name",
            reason="UnsupportedRuntime",
        )


def decide(
    workspace: Workspace,
    *,
    observed: Observed,
    catalog: Catalog,
    settings: PlanSettings,
) -> Decision:
    """Resolve model, GPUs, runtime, dtype, node count and revision. Raises `SpecError`.

    `workspace` must be defaulted and read as v1beta1 (`plan` passes it so).

    Pure: no I/O, no clock, no logging.
    """
    ws = workspace
    model = _model(ws, catalog)
    _check_shape(ws, model)
    template = model is None  # template inference (tuning always has a model)
    if ws.tuning is not None:
        runtime = RUNTIME_TRANSFORMERS
    else:
        runtime = runtime_name(ws, vllm_enabled=settings.vllm_enabled)
    gpu: GpuConfig | None = None
    if template:
        # The pod template brings its own resources; GPU facts are only needed for NVMe.
        instance_type = ws.resource.instance_type if ws.resource else None
        known = bool(instance_type) and catalog.find_sku(instance_type or "") is not None
        if settings.node_auto_provisioning and known:
            gpu = _sku_gpu(catalog, instance_type or "")
    else:
        gpu = _gpu(ws, observed, catalog, settings)
    notes: tuple[str, ...] = ()
    dtype_override: str | None = None
    if gpu is not None and model is not None:
        policy = _policy(catalog, gpu, runtime)
        dtype_override = policy.dtype
        if policy.note:
            notes = (policy.note,)
    inference_config = _inference_config(observed, ws)
    count = (ws.resource.count if ws.resource else None) or 1
    if not 1 <= count <= MAX_NODE_COUNT:  # a Workspace that never met the webhook
        raise SpecError(
            f"resource.count must be between 1 and {MAX_NODE_COUNT}",
            path="spec.resource.count",
            reason="InvalidSpec",
        )
    layout: Parallelism | None = None
    if ws.tuning is not None:
        nodes = 1
    elif model is None:
        nodes = count
    else:
        assert gpu is not None
        _check_runtime(model, runtime)
        if runtime == RUNTIME_VLLM:
            nodes = estimate_node_count(
                model=model, gpu=gpu, max_model_len=_max_model_len(inference_config), count=count
            )
            layout = parallelism(model=model, gpu=gpu, node_count=nodes)
        else:
            check_transformers_fits(model=model, gpu=gpu)
            nodes = count
    spec = _spec_only(ws)
    spec_manifest = spec.to_manifest()
    spec_json = json.dumps(spec_manifest, default=repr)
    revisions = next_revision(
        spec,
        _observed_revisions(observed, ws),
        hash=spec_hash_memo(spec_manifest, spec_json),
    )
    context = RenderContext(
        workspace=ws,
        model=model,
        gpu=gpu,
        node_count=nodes,
        runtime=runtime,
        dtype_override=dtype_override,
        revision=revisions.revision,
        provisioner=settings.provisioner,
        cloud=settings.cloud,
        registry=settings.registry,
        inference_config=inference_config,
        tuning_config=_tuning_config(observed, ws, dtype_override),
        nvme_storage_class=settings.nvme_storage_class,
        pod_security=settings.pod_security,
    )
    return Decision(
        context=context,
        spec=spec,
        spec_json=spec_json,
        revisions=revisions,
        parallelism=layout,
        notes=notes,
        summary=_summary(context, layout, notes),
    )


def _summary(ctx: RenderContext, layout: Parallelism | None, notes: Sequence[str]) -> PlanSummary:
    ws, model, gpu = ctx.workspace, ctx.model, ctx.gpu
    mode = "tuning" if ws.tuning else ("template" if model is None else "inference")
    return PlanSummary(
        workspace=f"{ws.namespace}/{ws.name}",
        mode=mode,
        instance_type=(ws.resource.instance_type if ws.resource else None) or "-",
        nodes=ctx.node_count,
        gpus_per_node=gpu.gpu_count if gpu is not None else 0,
        tensor_parallel=layout.tensor if layout else 1,
        pipeline_parallel=layout.pipeline if layout else 1,
        data_parallel=layout.data if layout else 1,
        disk=f"{node_disk_gib(ctx)}Gi" if model is not None else "-",
        served_model_name=(
            (served_model_name(ctx, model.name) if ctx.runtime == "vllm" else model.name)
            if model
            else "-"
        ),
        readiness_timeout_seconds=readiness_timeout_seconds(ctx) if mode == "inference" else 0,
        runtime=ctx.runtime if model is not None else "-",
        dtype=ctx.dtype_override or (model.dtype if model else "-"),
        notes=tuple(notes),
    )


# --- desired objects --------------------------------------------------------------------------


def _spec_only(ws: Workspace) -> Workspace:
    """`ws` without status and with only the metadata a ControllerRevision reads (name,
    namespace, uid): the revision helpers serialise the whole workspace, so less is faster."""
    meta = ObjectMeta(name=ws.metadata.name, namespace=ws.namespace, uid=ws.metadata.uid)
    return attrs.evolve(ws, metadata=meta, status=None)


def _observed_revisions(observed: Observed, ws: Workspace) -> list[Manifest]:
    return [
        o
        for o in observed.objects
        if o.get("kind") == "ControllerRevision"
        and ((o.get("metadata") or {}).get("labels") or {}).get(LABEL_REVISION_OWNER) == ws.name
    ]
