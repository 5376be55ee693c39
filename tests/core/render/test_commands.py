"""vLLM and Transformers command construction (upstream interface_test.go and friends)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from kaito_core.api.types import (
    AdapterSpec,
    DataSource,
    InferenceSpec,
    LabelSelector,
    ObjectMeta,
    PartitionSpec,
    PresetSpec,
    ResourceSpec,
    Workspace,
)
from kaito_core.gpu import GpuConfig
from kaito_core.render.commands import (
    flags,
    inference_command,
    is_distributed,
    local_weights_path,
    quote_value,
    ray_leader_host,
    transformers_command,
    vllm_command,
    vllm_flags,
    vllm_port,
)
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RUNTIME_VLLM, RenderContext
from kaito_core.sizing import estimate_node_count
from kaito_presets import ModelPreset, default_catalog
from kaito_presets.testing import make_model

CATALOG = default_catalog()
A100 = "Standard_NC24ads_A100_v4"
A100X4 = "Standard_NC96ads_A100_v4"
A10 = "Standard_NV36ads_A10_v5"


def workspace(
    *,
    name: str = "ws",
    namespace: str = "default",
    preset: str = "phi-4-mini-instruct",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    adapters: tuple[AdapterSpec, ...] | None = None,
    config: str | None = None,
    partition: PartitionSpec | None = None,
) -> Workspace:
    return Workspace(
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            uid="uid-1",
            labels=labels,
            annotations=annotations,
        ),
        resource=ResourceSpec(
            instance_type=A100,
            label_selector=LabelSelector(match_labels={"apps": name}),
            partition=partition,
        ),
        inference=InferenceSpec(preset=PresetSpec(name=preset), adapters=adapters, config=config),
    ).with_defaults()


def context(
    ws: Workspace | None = None,
    *,
    model: str | ModelPreset = "phi-4-mini-instruct",
    sku: str | GpuConfig = A100,
    node_count: int | None = None,
    **kw: Any,
) -> RenderContext:
    preset = CATALOG.model(model) if isinstance(model, str) else model
    gpu = GpuConfig.from_sku(CATALOG.sku(sku)) if isinstance(sku, str) else sku
    if node_count is None:
        node_count = estimate_node_count(model=preset, gpu=gpu)
    ws = ws or workspace(preset=preset.name)
    # upstream's pod shape; what the restricted profile adds: tests/core/render/test_podsecurity.py
    kw.setdefault("pod_security", "baseline")
    return RenderContext(workspace=ws, model=preset, gpu=gpu, node_count=node_count, **kw)


def flag_set(command: str) -> set[str]:
    return {word for word in shlex.split(command) if word.startswith("--")}


# --- flags() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, "", id="empty"),
        pytest.param({"b": "2", "a": "1"}, "--a=1 --b=2", id="sorted-by-key"),
        pytest.param({"trust-remote-code": ""}, "--trust-remote-code", id="bare-flag"),
        pytest.param([("z", "x"), ("m", "")], "--m --z=x", id="pairs"),
        pytest.param(
            {"kv-events-config": '{"enable_kv_cache_events":true}'},
            "--kv-events-config='{\"enable_kv_cache_events\":true}'",
            id="json-single-quoted",
        ),
        pytest.param({"x": "a b"}, "--x='a b'", id="space-quoted"),
        pytest.param({"x": "it's"}, "--x='it'\"'\"'s'", id="embedded-quote"),
        pytest.param(
            {"chat-template": "/workspace/chat_templates/t.jinja"},
            "--chat-template=/workspace/chat_templates/t.jinja",
            id="path-plain",
        ),
    ],
)
def test_flags(params: Any, expected: str) -> None:
    assert flags(params) == expected


def test_quote_value_round_trips_through_the_shell() -> None:
    for value in ['{"a": 1}', "a;b", "$HOME", "it's", "plain"]:
        assert shlex.split(f"--k={quote_value(value)}") == [f"--k={value}"]


# --- vLLM -------------------------------------------------------------------------------------


def test_test_model_flags_as_a_set() -> None:
    model = make_model(hf_id="example/mymodel")
    ctx = context(workspace(preset="mymodel"), model=model, node_count=1)
    assert {
        "--gpu-memory-utilization=0.84",
        "--max-model-len=auto",
        "--tensor-parallel-size=1",
        "--served-model-name=mymodel",
    } <= flag_set(vllm_command(ctx))


def test_phi_4_mini_exact_command() -> None:
    """presets.md §3.4's example, flags sorted."""
    expected = (
        "python3 /workspace/vllm/inference_api.py"
        " --chat-template=/workspace/chat_templates/tool-chat-phi4-mini.jinja"
        " --compilation-config.pass_config.fuse_allreduce_rms=False"
        " --config_format=auto"
        " --download-dir=/workspace/weights"
        " --dtype=bfloat16"
        " --gpu-memory-utilization=0.84"
        " --kv-events-config='{\"enable_kv_cache_events\":true}'"
        " --load_format=auto"
        " --max-model-len=auto"
        " --model=microsoft/phi-4-mini-instruct"
        " --served-model-name=phi-4-mini-instruct"
        " --tensor-parallel-size=1"
        " --tokenizer_mode=auto"
        " --trust-remote-code"
    )
    assert vllm_command(context()) == expected


def test_phi_4_mini_matches_upstream_flag_set() -> None:
    upstream = (
        "--load_format=auto --config_format=auto --tokenizer_mode=auto --trust-remote-code "
        "--dtype=bfloat16 --chat-template=/workspace/chat_templates/tool-chat-phi4-mini.jinja "
        "--served-model-name=phi-4-mini-instruct --max-model-len=auto "
        "--gpu-memory-utilization=0.84 --kv-events-config='{\"enable_kv_cache_events\":true}' "
        "--compilation-config.pass_config.fuse_allreduce_rms=False "
        "--model=microsoft/phi-4-mini-instruct --download-dir=/workspace/weights "
        "--tensor-parallel-size=1"
    )
    assert flag_set(vllm_command(context())) == set(shlex.split(upstream))


@pytest.mark.parametrize(
    ("sku", "utilization"),
    [
        pytest.param(A100, "0.84", id="a100"),
        pytest.param(A10, "0.82", id="a10"),
        pytest.param("Standard_NV72ads_A10_v5", "0.82", id="a10-x2"),
    ],
)
def test_gpu_memory_utilization(sku: str, utilization: str) -> None:
    assert vllm_flags(context(sku=sku))["gpu-memory-utilization"] == utilization


@pytest.mark.parametrize(
    ("model", "sku", "nodes", "expected"),
    [
        pytest.param(
            "phi-4-mini-instruct",
            A100X4,
            1,
            {
                "data-parallel-size": "4",
                "tensor-parallel-size": "1",
                "kaito-kv-cache-cpu-memory-utilization": "0",
            },
            id="dp-tier",
        ),
        pytest.param("llama-3.3-70b-instruct", A100X4, 1, {"tensor-parallel-size": "4"}, id="tp"),
        pytest.param(
            "llama-3.3-70b-instruct",
            A100,
            3,
            {
                "tensor-parallel-size": "1",
                "pipeline-parallel-size": "3",
                "distributed-executor-backend": "ray",
                "kaito-kv-cache-cpu-memory-utilization": "0",
            },
            id="pp-tier",
        ),
    ],
)
def test_parallelism_tiers(model: str, sku: str, nodes: int, expected: dict[str, str]) -> None:
    got = vllm_flags(context(model=model, sku=sku, node_count=nodes))
    assert {k: got.get(k) for k in expected} == expected
    if "data-parallel-size" not in expected:
        assert "data-parallel-size" not in got


def test_tp_tier_keeps_kv_offload() -> None:
    got = vllm_flags(context(model="llama-3.3-70b-instruct", sku=A100X4, node_count=1))
    assert "kaito-kv-cache-cpu-memory-utilization" not in got
    assert "pipeline-parallel-size" not in got


def test_multi_node_leader_worker_command() -> None:
    ws = workspace(name="big", namespace="ml", preset="llama-3.3-70b-instruct")
    ctx = context(ws, model="llama-3.3-70b-instruct", sku=A100, node_count=3)
    assert is_distributed(ctx)
    command = vllm_command(ctx)
    serve = "python3 /workspace/vllm/inference_api.py " + flags(vllm_flags(ctx))
    leader = "/workspace/vllm/multi-node-serving.sh leader --ray_cluster_size=3 --ray_port=6379"
    worker = (
        "/workspace/vllm/multi-node-serving.sh worker "
        "--ray_address=big-0.big-headless.ml.svc.cluster.local --ray_port=6379"
    )
    assert command == f'if [ "${{POD_INDEX}}" = "0" ]; then {leader}; {serve}; else {worker}; fi'
    assert ray_leader_host(ws) == "big-0.big-headless.ml.svc.cluster.local"


def test_single_node_is_not_wrapped() -> None:
    ctx = context(model="llama-3.3-70b-instruct", sku=A100X4, node_count=1)
    assert not is_distributed(ctx)
    assert vllm_command(ctx).startswith("python3 /workspace/vllm/inference_api.py ")


def test_non_distributed_model_is_never_multi_node() -> None:
    ctx = context(model=make_model(distributed=False), node_count=2)
    assert not is_distributed(ctx)


def test_config_sets_config_file_flag() -> None:
    ctx = context(workspace(config="my-config"))
    assert vllm_flags(ctx)["kaito-config-file"] == "/mnt/config/inference_config.yaml"
    assert "kaito-config-file" not in vllm_flags(context())


@pytest.mark.parametrize(
    ("user", "key", "value"),
    [
        pytest.param({"max-model-len": "4096"}, "max-model-len", "4096", id="max-model-len"),
        pytest.param(
            {"tensor-parallel-size": "2"}, "tensor-parallel-size", "2", id="tensor-parallel"
        ),
        pytest.param(
            {"gpu-memory-utilization": "0.9"}, "gpu-memory-utilization", "0.9", id="gpu-util"
        ),
        pytest.param({"enforce-eager": ""}, "enforce-eager", "", id="bare-flag"),
        pytest.param({"dtype": "float32"}, "dtype", "float32", id="dtype"),
    ],
)
def test_user_config_overrides(user: dict[str, str], key: str, value: str) -> None:
    ctx = context(workspace(config="cfg"), inference_config=user)
    assert vllm_flags(ctx)[key] == value


def test_user_config_underscore_spelling_replaces_ours() -> None:
    ctx = context(workspace(config="cfg"), inference_config={"max_model_len": "8192"})
    got = vllm_flags(ctx)
    assert got["max_model_len"] == "8192"
    assert "max-model-len" not in got


def test_user_config_value_is_quoted() -> None:
    ctx = context(workspace(config="cfg"), inference_config={"override-generation-config": "{}"})
    assert "--override-generation-config='{}'" in vllm_command(ctx)


def test_dtype_override_replaces_dtype() -> None:
    ctx = context(sku="Standard_NC6s_v3", node_count=1, dtype_override="float16")
    assert vllm_flags(ctx)["dtype"] == "float16"


@pytest.mark.parametrize(
    ("labels", "served"),
    [
        pytest.param(None, "phi-4-mini-instruct", id="plain"),
        pytest.param({"inferenceset.kaito.sh/created-by": "my-is"}, "my-is", id="inferenceset"),
        pytest.param(
            {
                "inferenceset.kaito.sh/created-by": "my-is",
                "multiroleinference.kaito.sh/created-by": "mri",
            },
            "phi-4-mini-instruct",
            id="multirole-wins",
        ),
    ],
)
def test_served_model_name(labels: dict[str, str] | None, served: str) -> None:
    assert vllm_flags(context(workspace(labels=labels)))["served-model-name"] == served


_ADAPTER = AdapterSpec(source=DataSource(name="a1", image="registry.io/adapter:1"))


@pytest.mark.parametrize(
    ("model", "adapters", "expected"),
    [
        pytest.param(make_model(), (_ADAPTER,), True, id="adapters"),
        pytest.param(make_model(), None, False, id="no-adapters"),
        pytest.param(make_model(disallow_lora=True), (_ADAPTER,), False, id="lora-disallowed"),
    ],
)
def test_enable_lora(model: ModelPreset, adapters: Any, expected: bool) -> None:
    ctx = context(workspace(preset=model.name, adapters=adapters), model=model, node_count=1)
    assert ("enable-lora" in vllm_flags(ctx)) is expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param("interactivity", "interactivity", id="interactivity"),
        pytest.param("throughput", "throughput", id="throughput"),
        pytest.param("balanced", None, id="balanced-omitted"),
        pytest.param("turbo", None, id="unknown-ignored"),
    ],
)
def test_performance_mode(mode: str, expected: str | None) -> None:
    ctx = context(workspace(annotations={"kaito.sh/performance-mode": mode}))
    assert vllm_flags(ctx).get("performance-mode") == expected


def test_local_weights() -> None:
    ws = workspace(
        preset="mistralai/Mistral-7B-Instruct-v0.3",
        annotations={"kaito.sh/use-local-weights": "true"},
    )
    assert local_weights_path(ws) == "/opt/kaito/models/mistralai-mistral-7b-instruct-v0.3"
    got = vllm_flags(context(ws, model="mistral-7b-instruct-v0.3"))
    assert got["model"] == "/opt/kaito/models/mistralai-mistral-7b-instruct-v0.3"
    assert got["load-format"] == "runai_streamer"
    assert "load_format" not in got
    assert "download-dir" not in got


def test_local_weights_needs_exact_true() -> None:
    ws = workspace(annotations={"kaito.sh/use-local-weights": "True"})
    assert local_weights_path(ws) is None
    assert vllm_flags(context(ws))["model"] == "microsoft/phi-4-mini-instruct"


@pytest.mark.parametrize(
    ("model", "gpu_overrides", "partition"),
    [
        pytest.param(make_model(hybrid_kv_cache=True), {}, None, id="hybrid-kv"),
        pytest.param(make_model(lmcache_disabled=True), {}, None, id="lmcache-disabled"),
        pytest.param(make_model(), {"is_mig": True}, None, id="mig-node"),
        pytest.param(
            make_model(), {}, PartitionSpec(mode="mig", profile="3g.40gb"), id="mig-partition"
        ),
    ],
)
def test_kv_cache_offload_off(
    model: ModelPreset, gpu_overrides: dict[str, Any], partition: PartitionSpec | None
) -> None:
    gpu = attrs.evolve(GpuConfig.from_sku(CATALOG.sku(A100)), **gpu_overrides)
    ws = workspace(preset=model.name, partition=partition)
    got = vllm_flags(context(ws, model=model, sku=gpu, node_count=1))
    assert got["kaito-kv-cache-cpu-memory-utilization"] == "0"


def test_kv_cache_offload_default_on() -> None:
    assert "kaito-kv-cache-cpu-memory-utilization" not in vllm_flags(context())


def test_catalog_hybrid_model_gets_flag() -> None:
    got = vllm_flags(context(model="gemma-4-e4b-it", sku=A100, node_count=1))
    assert got["kaito-kv-cache-cpu-memory-utilization"] == "0"


def test_decode_role_moves_vllm_to_5001() -> None:
    ctx = context(workspace(labels={"kaito.sh/inference-role": "decode"}))
    assert vllm_port(ctx) == 5001
    assert vllm_flags(ctx)["port"] == "5001"
    prefill = context(workspace(labels={"kaito.sh/inference-role": "prefill"}))
    assert "port" not in vllm_flags(prefill)


def test_preset_kv_events_config_is_kept() -> None:
    model = make_model(
        vllm_params={"kv-events-config": '{"enable_kv_cache_events":false}', "dtype": "bfloat16"}
    )
    got = vllm_flags(context(workspace(preset=model.name), model=model, node_count=1))
    assert json.loads(got["kv-events-config"]) == {"enable_kv_cache_events": False}


def test_parsers_and_template_from_model_fields() -> None:
    model = make_model(
        tool_call_parser="hermes", reasoning_parser="qwen3", chat_template="tool-chat-hermes.jinja"
    )
    got = vllm_flags(context(workspace(preset=model.name), model=model, node_count=1))
    assert got["tool-call-parser"] == "hermes"
    assert got["enable-auto-tool-choice"] == ""
    assert got["reasoning-parser"] == "qwen3"
    assert got["chat-template"] == "/workspace/chat_templates/tool-chat-hermes.jinja"


def test_vllm_without_gpu_is_an_error() -> None:
    ctx = RenderContext(
        workspace=workspace(), model=CATALOG.model("phi-4-mini-instruct"), gpu=None, node_count=1
    )
    with pytest.raises(ValueError, match="GPU"):
        vllm_command(ctx)


# --- Transformers -----------------------------------------------------------------------------


def test_transformers_command_phi_4() -> None:
    ctx = context(workspace(preset="phi-4"), model="phi-4", runtime=RUNTIME_TRANSFORMERS)
    assert transformers_command(ctx) == (
        "accelerate launch --gpu_ids=all --machine_rank=0 --num_machines=1 --num_processes=1 "
        "/workspace/tfs/inference_api.py --allow_remote_files --pipeline=text-generation "
        "--pretrained_model_name_or_path=microsoft/phi-4 --served_model_name=phi-4 "
        "--torch_dtype=auto --trust_remote_code"
    )
    assert inference_command(ctx) == transformers_command(ctx)


def test_transformers_dtype_override() -> None:
    ctx = context(
        workspace(preset="qwen2.5-coder-7b-instruct"),
        model="qwen2.5-coder-7b-instruct",
        runtime=RUNTIME_TRANSFORMERS,
        dtype_override="float16",
    )
    assert "--torch_dtype=float16" in transformers_command(ctx)


def test_transformers_unsupported_model() -> None:
    ctx = context(runtime=RUNTIME_TRANSFORMERS)
    with pytest.raises(ValueError, match="does not support inference with Huggingface"):
        transformers_command(ctx)


def test_transformers_ignores_vllm_config() -> None:
    ctx = context(
        workspace(preset="phi-4", config="cfg"),
        model="phi-4",
        runtime=RUNTIME_TRANSFORMERS,
        inference_config={"max-model-len": "4096"},
    )
    assert "max-model-len" not in transformers_command(ctx)


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "sku", "runtime"),
    [
        pytest.param("phi-4-mini-instruct", A100, RUNTIME_VLLM, id="phi-4-mini"),
        pytest.param("llama-3.3-70b-instruct", A100, RUNTIME_VLLM, id="multi-node"),
        pytest.param("phi-4", A100, RUNTIME_TRANSFORMERS, id="transformers"),
    ],
)
def test_deterministic(model: str, sku: str, runtime: str) -> None:
    first = inference_command(context(workspace(preset=model), model=model, runtime=runtime))
    second = inference_command(context(workspace(preset=model), model=model, runtime=runtime))
    assert first == second
