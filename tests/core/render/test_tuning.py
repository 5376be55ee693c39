"""The tuning Job and its default ConfigMap: upstream's preset_tuning_test in spirit."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kaito_core.api.types import Workspace
from kaito_core.errors import SpecError
from kaito_core.gpu import GpuConfig
from kaito_core.render.context import RenderContext
from kaito_core.render.tuning import (
    default_tuning_config,
    output_dir,
    tuning_config_map,
    tuning_config_name,
    tuning_job,
)
from kaito_presets import BASE_IMAGE_TAG, DEFAULT_REGISTRY
from kaito_presets.testing import make_model, make_sku, make_tuning

URL = "https://huggingface.co/datasets/x/resolve/main/train.parquet?download=true"


def workspace(
    *,
    name: str = "tune",
    preset: str = "phi-3-mini-4k-instruct",
    method: str = "qlora",
    config: str | None = None,
    input: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    match_labels: dict[str, str] | None = None,
) -> Workspace:
    tuning: dict[str, Any] = {
        "preset": {"name": preset},
        "method": method,
        "input": input or {"urls": [URL]},
        "output": output or {"image": "example.azurecr.io/adapter:0.0.1", "imagePushSecret": "acr"},
    }
    if config:
        tuning["config"] = config
    resource: dict[str, Any] = {"instanceType": "Standard_NC24ads_A100_v4"}
    if match_labels is not None:
        resource["labelSelector"] = {"matchLabels": match_labels}
    return Workspace.from_manifest(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": name, "namespace": "ml", "uid": "uid-1"},
            "resource": resource,
            "tuning": tuning,
        }
    ).with_defaults()


PHI3 = make_model(
    hf_id="microsoft/Phi-3-mini-4k-instruct",
    tuning=make_tuning(disk_gib=80, weights_image_tag="0.2.0"),
)


def context(ws: Workspace | None = None, **overrides: Any) -> RenderContext:
    fields: dict[str, Any] = {
        "workspace": ws or workspace(match_labels={"app": "tuning"}),
        "model": PHI3,
        "gpu": GpuConfig.from_sku(make_sku(gpu_count=2, gpu_memory_gib=160.0)),
        "node_count": 1,
        "runtime": "transformers",
        "revision": 3,
        # upstream's pod; the restricted profile's additions: tests/core/render/test_podsecurity.py
        "pod_security": "baseline",
    }
    fields.update(overrides)
    return RenderContext(**fields)


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.33", strict=True)


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (item,) = [i for i in items if i["name"] == name]
    return item


# --- config -----------------------------------------------------------------------------------


def test_lora_config_success() -> None:
    """The LoRA template as data: bf16, no quantization, r=8, results under /mnt/results."""
    config = default_tuning_config("lora")
    assert list(config) == [
        "ModelConfig",
        "QuantizationConfig",
        "LoraConfig",
        "TrainingArguments",
        "DataCollator",
        "DatasetConfig",
    ]
    assert config["ModelConfig"] == {
        "torch_dtype": "bfloat16",
        "local_files_only": True,
        "device_map": "auto",
    }
    assert config["QuantizationConfig"] == {"load_in_4bit": False}
    assert config["LoraConfig"] == {"r": 8, "lora_alpha": 8, "lora_dropout": 0.0}
    assert config["TrainingArguments"]["output_dir"] == "/mnt/results"
    assert config["TrainingArguments"]["save_strategy"] == "no"


def test_qlora_config_and_dtype() -> None:
    """QLoRA loads in 4 bit; the dtype argument reaches both dtypes."""
    config = default_tuning_config("QLoRA", dtype="float16")
    assert config["QuantizationConfig"] == {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_compute_dtype": "float16",
        "bnb_4bit_use_double_quant": True,
    }
    assert config["ModelConfig"]["torch_dtype"] == "float16"


def test_unknown_method_is_a_spec_error() -> None:
    """Only lora and qlora exist."""
    with pytest.raises(SpecError, match="lora and qlora"):
        default_tuning_config("full")


def test_default_config_map_is_owned_and_parses() -> None:
    """<ws>-tuning-config, owned by the workspace, holding training_config.yaml."""
    cm = tuning_config_map(context())
    validate(cm)
    assert cm["metadata"]["name"] == "tune-tuning-config"
    assert cm["metadata"]["namespace"] == "ml"
    assert cm["metadata"]["ownerReferences"][0]["kind"] == "Workspace"
    assert cm["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    data = yaml.safe_load(cm["data"]["training_config.yaml"])
    assert data == {"training_config": default_tuning_config("qlora")}
    assert "save_strategy: 'no'" in cm["data"]["training_config.yaml"]


def test_pre_ampere_default_config_uses_float16() -> None:
    """On V100-class GPUs the bf16 dtypes of the rendered default config become fp16."""
    cm = tuning_config_map(context(dtype_override="float16"))
    data = yaml.safe_load(cm["data"]["training_config.yaml"])["training_config"]
    assert data["ModelConfig"]["torch_dtype"] == "float16"
    assert data["QuantizationConfig"]["bnb_4bit_compute_dtype"] == "float16"
    assert "bfloat16" not in cm["data"]["training_config.yaml"]


def test_user_config_is_mounted_not_rendered() -> None:
    """With tuning.config the Job mounts the user's ConfigMap and none is rendered."""
    ctx = context(workspace(config="my-params"))
    assert tuning_config_name(ctx) == "my-params"
    with pytest.raises(ValueError, match=r"tuning\.config"):
        tuning_config_map(ctx)
    volume = by_name(pod(tuning_job(ctx))["volumes"], "config-volume")
    assert volume == {"name": "config-volume", "configMap": {"name": "my-params"}}


# --- output dir -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, "/mnt/output", id="absent"),
        pytest.param("", "/mnt/output", id="empty"),
        pytest.param("/mnt/results", "/mnt/results", id="under-mnt"),
        pytest.param("results", "/mnt/results", id="relative"),
        pytest.param("a/../b/", "/mnt/b", id="cleaned"),
        pytest.param("/tmp/x", "/mnt/tmp/x", id="absolute-elsewhere-joined"),
        pytest.param("/mntx", "/mnt/mntx", id="prefix-is-not-a-parent"),
    ],
)
def test_output_dir(value: str | None, expected: str) -> None:
    """TrainingArguments.output_dir normalised under /mnt, /mnt/output when absent."""
    config = {"TrainingArguments": {"output_dir": value}} if value is not None else {}
    assert output_dir(config) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("/mnt", id="mnt-itself"),
        pytest.param("../etc", id="escapes"),
        pytest.param("/mnt/../etc", id="escapes-absolute"),
        pytest.param("config", id="collides-with-config"),
        pytest.param("/mnt/data", id="collides-with-data"),
        pytest.param(42, id="not-a-string"),
    ],
)
def test_bad_output_dir(value: Any) -> None:
    """An output_dir that is not a free directory inside /mnt is the user's error."""
    with pytest.raises(SpecError):
        output_dir({"TrainingArguments": {"output_dir": value}})


def test_user_output_dir_reaches_the_results_mount() -> None:
    """The user's config decides where results-volume is mounted."""
    ctx = context(
        workspace(config="mine"), tuning_config={"TrainingArguments": {"output_dir": "out"}}
    )
    job = tuning_job(ctx)
    main = pod(job)["containers"][0]
    assert by_name(main["volumeMounts"], "results-volume")["mountPath"] == "/mnt/out"
    pusher = by_name(pod(job)["containers"], "pusher")
    assert pusher["args"][2] == "/mnt/out"


def test_user_config_without_output_dir_uses_mnt_output() -> None:
    """A user config with no output_dir writes to /mnt/output."""
    job = tuning_job(context(workspace(config="mine"), tuning_config={}))
    main = pod(job)["containers"][0]
    assert by_name(main["volumeMounts"], "results-volume")["mountPath"] == "/mnt/output"


# --- the Job ----------------------------------------------------------------------------------


def test_job_basics() -> None:
    """Name, revision, owner, Never restart, command, GPUs, env, weights puller, config mount."""
    job = tuning_job(context())
    validate(job)
    meta = job["metadata"]
    assert meta["name"] == "tune"
    assert meta["namespace"] == "ml"
    assert meta["labels"] == {"kaito.sh/workspace": "tune"}
    assert meta["annotations"] == {"workspace.kaito.io/revision": "3"}
    assert meta["ownerReferences"][0]["controller"] is True
    assert job["spec"]["template"]["metadata"]["labels"] == {"kaito.sh/workspace": "tune"}
    spec = pod(job)
    assert spec["restartPolicy"] == "Never"
    main = spec["containers"][0]
    assert main["name"] == "tune"
    assert main["image"] == f"{DEFAULT_REGISTRY}/kaito-base:{BASE_IMAGE_TAG}"
    assert main["command"] == [
        "/bin/sh",
        "-c",
        "cd /workspace/tfs/ && python3 metrics_server.py & "
        "accelerate launch --num_processes=2 /workspace/tfs/fine_tuning.py",
    ]
    assert main["resources"] == {
        "requests": {"nvidia.com/gpu": "2"},
        "limits": {"nvidia.com/gpu": "2"},
    }
    assert main["ports"] == [{"containerPort": 5000}]
    assert main["env"] == [
        {
            "name": "DEFAULT_TARGET_MODULES",
            "value": "k_proj,q_proj,v_proj,o_proj,gate_proj,down_proj,up_proj",
        },
        {"name": "PYTORCH_CUDA_ALLOC_CONF", "value": "expandable_segments:True"},
    ]
    assert [(m["name"], m["mountPath"]) for m in main["volumeMounts"]] == [
        ("dshm", "/dev/shm"),
        ("model-weights-volume", "/workspace/weights"),
        ("config-volume", "/mnt/config"),
        ("results-volume", "/mnt/results"),
        ("data-volume", "/mnt/data"),
    ]
    weights = spec["initContainers"][0]
    assert weights["name"] == "model-weights-downloader"
    assert weights["command"] == [
        "oras",
        "pull",
        f"{DEFAULT_REGISTRY}/kaito-phi-3-mini-4k-instruct:0.2.0",
        "-o",
        "/workspace/weights",
    ]
    assert by_name(spec["volumes"], "config-volume")["configMap"] == {"name": "tune-tuning-config"}
    assert by_name(spec["volumes"], "dshm") == {"name": "dshm", "emptyDir": {"medium": "Memory"}}


def test_no_phi3_target_modules_for_other_models() -> None:
    """DEFAULT_TARGET_MODULES is only for phi-3*."""
    model = make_model(hf_id="Qwen/Qwen2.5-Coder-7B-Instruct", tuning=make_tuning())
    ctx = context(workspace(preset="qwen2.5-coder-7b-instruct"), model=model)
    env = pod(tuning_job(ctx))["containers"][0]["env"]
    assert [e["name"] for e in env] == ["PYTORCH_CUDA_ALLOC_CONF"]


def test_image_output_with_preset() -> None:
    """Image output: push secret, docker-config, a pusher sidecar (no pause), shared PIDs."""
    job = tuning_job(context())
    validate(job)
    spec = pod(job)
    assert spec["shareProcessNamespace"] is True
    assert spec["imagePullSecrets"] == [{"name": "acr"}]
    assert by_name(spec["volumes"], "docker-config") == {
        "name": "docker-config",
        "projected": {
            "sources": [
                {
                    "secret": {
                        "name": "acr",
                        "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                    }
                }
            ]
        },
    }
    assert [c["name"] for c in spec["containers"]] == ["tune", "pusher"]
    pusher = by_name(spec["containers"], "pusher")
    assert pusher["command"] == ["/bin/sh", "-c"]
    script, argv0, results, image, annotations = pusher["args"]
    assert (argv0, results, image) == ("pusher", "/mnt/results", "example.azurecr.io/adapter:0.0.1")
    assert json.loads(annotations) == {
        "$manifest": {"sh.kaito.model.name": "phi-3-mini-4k-instruct"}
    }
    assert "fine_tuning_completed.txt" in script
    assert [(m["name"], m["mountPath"]) for m in pusher["volumeMounts"]] == [
        ("docker-config", "/root/.docker"),
        ("results-volume", "/mnt/results"),
    ]
    assert by_name(spec["volumes"], "results-volume") == {"name": "results-volume", "emptyDir": {}}


def test_volume_output() -> None:
    """Volume output: results-volume is the user's volume; no sidecars, no push secret."""
    output = {"volumeSource": {"persistentVolumeClaim": {"claimName": "pvc-out"}}}
    job = tuning_job(context(workspace(output=output)))
    validate(job)
    spec = pod(job)
    assert by_name(spec["volumes"], "results-volume") == {
        "name": "results-volume",
        "persistentVolumeClaim": {"claimName": "pvc-out"},
    }
    assert [c["name"] for c in spec["containers"]] == ["tune"]
    assert "shareProcessNamespace" not in spec
    assert "imagePullSecrets" not in spec


def test_urls_input() -> None:
    """URL input: the data-downloader init container with DATA_URLS space-joined."""
    urls = [URL, "https://example.com/more.jsonl"]
    job = tuning_job(context(workspace(input={"urls": urls})))
    validate(job)
    spec = pod(job)
    downloader = by_name(spec["initContainers"], "data-downloader")
    assert downloader["env"] == [
        {"name": "DATA_URLS", "value": " ".join(urls)},
        {"name": "DATA_VOLUME_PATH", "value": "/mnt/data"},
    ]
    assert downloader["volumeMounts"] == [{"name": "data-volume", "mountPath": "/mnt/data"}]
    assert by_name(spec["volumes"], "data-volume") == {"name": "data-volume", "emptyDir": {}}


@pytest.mark.parametrize(
    ("input_name", "volume"),
    [
        pytest.param("dataset", "docker-config-dataset-tuning-input", id="named"),
        pytest.param(None, "docker-config--tuning-input", id="unnamed"),
    ],
)
def test_image_input_with_pull_secret(input_name: str | None, volume: str) -> None:
    """Image input: a puller with the pull secrets projected as auth files in a volume named
    after the input, as upstream (docker-config-<inputName>-tuning-input); data on main."""
    source: dict[str, Any] = {
        "image": "example.azurecr.io/data:1",
        "imagePullSecrets": ["s1", "s2"],
    }
    if input_name is not None:
        source["name"] = input_name
    job = tuning_job(context(workspace(input=source)))
    validate(job)
    spec = pod(job)
    puller = by_name(spec["initContainers"], "puller")
    assert puller["args"][1:] == ["puller", "example.azurecr.io/data:1", "/mnt/data"]
    config_dir = "/root/.docker/config.d/" + volume.removeprefix("docker-config-")
    assert [(m["name"], m["mountPath"]) for m in puller["volumeMounts"]] == [
        (volume, config_dir),
        ("data-volume", "/mnt/data"),
    ]
    projected = by_name(spec["volumes"], volume)["projected"]
    assert [s["secret"]["items"][0]["path"] for s in projected["sources"]] == ["s1.json", "s2.json"]
    main_mounts = [m["name"] for m in spec["containers"][0]["volumeMounts"]]
    assert "data-volume" in main_mounts
    assert volume not in main_mounts


def test_volume_input() -> None:
    """Volume input: data-volume is the user's volume, no init container for data."""
    source = {"volumeSource": {"persistentVolumeClaim": {"claimName": "pvc-in"}}}
    job = tuning_job(context(workspace(input=source)))
    validate(job)
    spec = pod(job)
    assert [c["name"] for c in spec["initContainers"]] == ["model-weights-downloader"]
    assert by_name(spec["volumes"], "data-volume") == {
        "name": "data-volume",
        "persistentVolumeClaim": {"claimName": "pvc-in"},
    }


def test_user_strings_never_enter_the_script() -> None:
    """Image references are arguments, so quotes in them cannot become shell code."""
    evil = "example.io/x:1';rm -rf /'"
    job = tuning_job(
        context(workspace(input={"image": evil}, output={"image": evil, "imagePushSecret": "a"}))
    )
    spec = pod(job)
    for container in (
        by_name(spec["initContainers"], "puller"),
        by_name(spec["containers"], "pusher"),
    ):
        assert evil not in container["args"][0]
        assert evil in container["args"][1:]


@pytest.mark.parametrize(
    ("cloud", "spot"),
    [
        pytest.param("azure", True, id="azure-includes-spot-toleration"),
        pytest.param("aws", False, id="aws"),
    ],
)
def test_tolerations(cloud: str, spot: bool) -> None:
    """nvidia.com/gpu and sku=gpu always, Azure adds spot; no valueless upstream gpu toleration."""
    tolerations = pod(tuning_job(context(cloud=cloud)))["tolerations"]
    assert tolerations[:2] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    spot_toleration = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    assert (spot_toleration in tolerations) is spot
    assert all(t["key"] != "gpu" for t in tolerations)


def test_affinity_from_match_labels_and_provisioner() -> None:
    """matchLabels plus the provisioner's workspace labels, sorted by key."""
    affinity = pod(tuning_job(context()))["affinity"]
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["tuning"]},
                {"key": "kaito.sh/workspace", "operator": "In", "values": ["tune"]},
                {"key": "kaito.sh/workspacenamespace", "operator": "In", "values": ["ml"]},
            ]
        }
    ]


def test_byo_without_labels_has_no_affinity() -> None:
    """Nothing to select on: no affinity at all (an empty term is invalid)."""
    job = tuning_job(context(workspace(match_labels=None), provisioner="byo"))
    validate(job)
    assert "affinity" not in pod(job)


def test_preset_without_tuning_support() -> None:
    """A preset with no tuning facts cannot be tuned."""
    with pytest.raises(SpecError, match="does not support tuning"):
        tuning_job(context(model=make_model()))


def test_unknown_gpu_count() -> None:
    """Tuning needs the GPU count of a known SKU."""
    with pytest.raises(SpecError, match="GPU"):
        tuning_job(context(gpu=None))


def test_job_is_byte_identical_across_runs() -> None:
    """Same context, same JSON."""
    assert json.dumps(tuning_job(context())) == json.dumps(tuning_job(context()))
