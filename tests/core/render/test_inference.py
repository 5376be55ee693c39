"""The preset and template inference StatefulSets (upstream preset_inferences_test.go)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kubernetes_validate
import pytest

from kaito_core.api.types import (
    AdapterSpec,
    DataSource,
    InferenceSpec,
    LabelSelector,
    ObjectMeta,
    PartitionSpec,
    PresetOptions,
    PresetSpec,
    ResourceSpec,
    Workspace,
)
from kaito_core.gpu import GpuConfig
from kaito_core.render.commands import vllm_command
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RenderContext
from kaito_core.render.inference import (
    inference_statefulset,
    normalize_image_ref,
    puller_script,
    template_statefulset,
)
from kaito_core.sizing import estimate_node_count
from kaito_presets import ModelPreset, default_catalog
from kaito_presets.testing import make_model

CATALOG = default_catalog()
A100 = "Standard_NC24ads_A100_v4"
A10 = "Standard_NV36ads_A10_v5"
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "custom"}, "creationTimestamp": None},
    "spec": {
        "containers": [
            {
                "name": "server",
                "image": "example.com/server:1",
                "ports": [{"containerPort": 8080}],
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            }
        ],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "x", "operator": "In", "values": ["y"]}]}
                    ]
                }
            }
        },
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    },
}


def workspace(
    *,
    name: str = "ws",
    namespace: str = "default",
    preset: str | None = "phi-4-mini-instruct",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    match_labels: Mapping[str, str] | None = None,
    adapters: tuple[AdapterSpec, ...] | None = None,
    config: str | None = None,
    secret: str | None = None,
    partition: PartitionSpec | None = None,
    template: dict[str, Any] | None = None,
) -> Workspace:
    options = PresetOptions(model_access_secret=secret) if secret else None
    preset_spec = PresetSpec(name=preset, preset_options=options) if preset else None
    return Workspace(
        metadata=ObjectMeta(
            name=name, namespace=namespace, uid="uid-1", labels=labels, annotations=annotations
        ),
        resource=ResourceSpec(
            instance_type=A100,
            label_selector=LabelSelector(
                match_labels={"apps": name} if match_labels is None else match_labels
            ),
            partition=partition,
        ),
        inference=InferenceSpec(
            preset=preset_spec, adapters=adapters, config=config, template=template
        ),
    ).with_defaults()


def context(
    ws: Workspace | None = None,
    *,
    model: str | ModelPreset | None = "phi-4-mini-instruct",
    sku: str | GpuConfig | None = A100,
    node_count: int | None = None,
    **kw: Any,
) -> RenderContext:
    preset = CATALOG.model(model) if isinstance(model, str) else model
    gpu = GpuConfig.from_sku(CATALOG.sku(sku)) if isinstance(sku, str) else sku
    if node_count is None:
        node_count = estimate_node_count(model=preset, gpu=gpu) if preset and gpu else 1
    if ws is None:
        ws = workspace(preset=preset.name if preset else None)
    # upstream's pod shape; what the restricted profile adds: tests/core/render/test_podsecurity.py
    kw.setdefault("pod_security", "baseline")
    return RenderContext(workspace=ws, model=preset, gpu=gpu, node_count=node_count, **kw)


def valid(obj: dict[str, Any]) -> dict[str, Any]:
    kubernetes_validate.validate(obj, "1.33", strict=True)
    json.dumps(obj)
    _no_none(obj)
    return obj


def _no_none(value: Any) -> None:
    assert value is not None
    if isinstance(value, dict):
        for item in value.values():
            _no_none(item)
    elif isinstance(value, list):
        for item in value:
            _no_none(item)


def pod(sts: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = sts["spec"]["template"]["spec"]
    return spec


def main(sts: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod(sts)["containers"][0]
    return container


def env(sts: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in main(sts).get("env", [])}


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


# --- shape ------------------------------------------------------------------------------------


def test_preset_statefulset_shape() -> None:
    sts = valid(inference_statefulset(context(revision=3)))
    assert sts["apiVersion"] == "apps/v1"
    assert sts["kind"] == "StatefulSet"
    meta = sts["metadata"]
    assert meta["name"] == "ws"
    assert meta["namespace"] == "default"
    assert meta["annotations"] == {"workspace.kaito.io/revision": "3"}
    assert meta["ownerReferences"][0]["kind"] == "Workspace"
    assert meta["ownerReferences"][0]["controller"] is True
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "ws-headless"
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete",
        "whenScaled": "Retain",
    }
    assert spec["selector"] == {"matchLabels": {"kaito.sh/workspace": "ws"}}
    assert spec["template"]["metadata"]["labels"] == {"kaito.sh/workspace": "ws"}
    container = main(sts)
    assert container["name"] == "ws"
    assert container["image"] == "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
    assert container["command"] == ["/bin/sh", "-c", vllm_command(context())]
    assert container["resources"] == {
        "limits": {"nvidia.com/gpu": "1"},
        "requests": {"nvidia.com/gpu": "1"},
    }
    assert container["ports"] == [
        {"name": "http", "containerPort": 5000},
        {"name": "kv-events", "containerPort": 5557},
    ]
    assert env(sts) == {"VLLM_USE_FLASHINFER_SAMPLER": "0", "VLLM_USE_DEEP_GEMM": "0"}
    assert names(pod(sts)["volumes"]) == ["dshm", "model-weights-volume"]
    assert names(container["volumeMounts"]) == ["model-weights-volume", "dshm"]
    assert "initContainers" not in pod(sts)
    assert "imagePullSecrets" not in pod(sts)
    assert "volumeClaimTemplates" not in spec


def test_registry_and_workload_labels() -> None:
    ws = workspace(labels={"inferenceset.kaito.sh/created-by": "is1", "team": "a"})
    sts = valid(inference_statefulset(context(ws, registry="myacr.io/kaito")))
    assert main(sts)["image"] == "myacr.io/kaito/kaito-base:0.5.0"
    expected = {"inferenceset.kaito.sh/created-by": "is1", "kaito.sh/workspace": "ws"}
    assert sts["spec"]["selector"]["matchLabels"] == expected
    assert sts["spec"]["template"]["metadata"]["labels"] == expected


def test_replicas_follow_node_count() -> None:
    ctx = context(workspace(preset="llama-3.3-70b-instruct"), model="llama-3.3-70b-instruct")
    assert ctx.node_count == 3
    assert valid(inference_statefulset(ctx))["spec"]["replicas"] == 3


# --- probes -----------------------------------------------------------------------------------


def test_http_probes_without_benchmark() -> None:
    ws = workspace(annotations={"kaito.sh/disable-benchmark": "true"})
    container = main(valid(inference_statefulset(context(ws))))
    assert container["startupProbe"] == {
        "httpGet": {"path": "/health", "port": 5000},
        "periodSeconds": 10,
        "failureThreshold": 180,
    }
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/health", "port": 5000},
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/health", "port": 5000},
        "initialDelaySeconds": 30,
        "periodSeconds": 10,
    }


@pytest.mark.parametrize(
    ("timeout", "threshold"),
    [
        pytest.param(1800, 180, id="30min"),
        pytest.param(2928, 293, id="ceil"),
        pytest.param(10800, 1080, id="180min"),
        pytest.param(0, 180, id="default-30min"),
    ],
)
def test_startup_failure_threshold(timeout: int, threshold: int) -> None:
    model = make_model(readiness_timeout_seconds=timeout)
    ws = workspace(preset=model.name, annotations={"kaito.sh/disable-benchmark": "true"})
    container = main(valid(inference_statefulset(context(ws, model=model))))
    assert container["startupProbe"]["failureThreshold"] == threshold


@pytest.mark.parametrize(
    ("annotation", "benchmark"),
    [
        pytest.param(None, True, id="default-on"),
        pytest.param("true", False, id="disabled"),
        pytest.param("True", True, id="case-sensitive"),
        pytest.param("false", True, id="false"),
    ],
)
def test_benchmark_startup_probe(annotation: str | None, benchmark: bool) -> None:
    annotations = {"kaito.sh/disable-benchmark": annotation} if annotation else None
    container = main(valid(inference_statefulset(context(workspace(annotations=annotations)))))
    probe = container["startupProbe"]
    if benchmark:
        assert probe == {
            "exec": {"command": ["python3", "/workspace/vllm/benchmark_entrypoint.py"]},
            "timeoutSeconds": 600,
            "periodSeconds": 10,
            "failureThreshold": 180,
        }
    else:
        assert "httpGet" in probe


def test_multi_node_exec_probes() -> None:
    ws = workspace(
        name="big",
        namespace="ml",
        preset="llama-3.3-70b-instruct",
        annotations={"kaito.sh/disable-benchmark": "true"},
    )
    sts = valid(inference_statefulset(context(ws, model="llama-3.3-70b-instruct")))
    container = main(sts)
    leader = "big-0.big-headless.ml.svc.cluster.local"
    check = "python3 /workspace/vllm/multi-node-health-check.py"
    assert container["livenessProbe"] == {
        "exec": {
            "command": [
                "/bin/sh",
                "-c",
                f"{check} liveness --leader-address={leader} --ray-port=6379",
            ]
        },
        "initialDelaySeconds": 60,
        "timeoutSeconds": 5,
        "periodSeconds": 10,
        "failureThreshold": 1,
        "terminationGracePeriodSeconds": 1,
    }
    readiness = ["/bin/sh", "-c", f"{check} readiness --leader-address={leader} --vllm-port=5000"]
    assert container["readinessProbe"] == {
        "exec": {"command": readiness},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "failureThreshold": 1,
    }
    assert container["startupProbe"]["exec"]["command"] == readiness
    assert container["startupProbe"]["failureThreshold"] > 1
    assert env(sts)["POD_INDEX"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }
    assert container["command"][2].startswith('if [ "${POD_INDEX}" = "0" ]; then ')


def test_multi_node_benchmark_runs_on_leader_only() -> None:
    ws = workspace(preset="llama-3.3-70b-instruct")
    container = main(valid(inference_statefulset(context(ws, model="llama-3.3-70b-instruct"))))
    assert container["startupProbe"]["exec"]["command"] == [
        "/bin/sh",
        "-c",
        'if [ "$POD_INDEX" = "0" ]; then python3 /workspace/vllm/benchmark_entrypoint.py; '
        "else true; fi",
    ]
    assert container["startupProbe"]["timeoutSeconds"] == 600


# --- env, runtime -----------------------------------------------------------------------------


def test_hf_token_secret_env() -> None:
    sts = valid(inference_statefulset(context(workspace(secret="hf-token"))))
    assert main(sts)["env"][-1] == {
        "name": "HF_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN", "optional": True}},
    }


def test_transformers_statefulset() -> None:
    ctx = context(workspace(preset="phi-4"), model="phi-4", runtime=RUNTIME_TRANSFORMERS)
    sts = valid(inference_statefulset(ctx))
    container = main(sts)
    assert container["command"][2].startswith("accelerate launch ")
    assert container["ports"] == [{"name": "http", "containerPort": 5000}]
    assert "env" not in container
    assert "httpGet" in container["startupProbe"]


def test_config_volume_first() -> None:
    sts = valid(inference_statefulset(context(workspace(config="my-cfg"))))
    assert pod(sts)["volumes"][0] == {"name": "config-volume", "configMap": {"name": "my-cfg"}}
    assert main(sts)["volumeMounts"][0] == {"name": "config-volume", "mountPath": "/mnt/config"}
    assert "--kaito-config-file=/mnt/config/inference_config.yaml" in main(sts)["command"][2]


def test_performance_mode_flag() -> None:
    ws = workspace(annotations={"kaito.sh/performance-mode": "throughput"})
    assert "--performance-mode=throughput" in main(inference_statefulset(context(ws)))["command"][2]


# --- weights ----------------------------------------------------------------------------------


def test_local_weights_hostpath() -> None:
    ws = workspace(annotations={"kaito.sh/use-local-weights": "true"})
    sts = valid(inference_statefulset(context(ws, nvme_storage_class=True)))
    path = "/opt/kaito/models/phi-4-mini-instruct"
    assert pod(sts)["volumes"] == [
        {"name": "model-weights-hostpath", "hostPath": {"path": path, "type": "Directory"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
    ]
    assert main(sts)["volumeMounts"][0] == {
        "name": "model-weights-hostpath",
        "mountPath": path,
        "readOnly": True,
    }
    assert env(sts)["KAITO_PROCESSOR"] == path
    assert "volumeClaimTemplates" not in sts["spec"]


@pytest.mark.parametrize(
    ("sku", "storage_class", "pvc"),
    [
        pytest.param(A100, True, True, id="nvme-and-class"),
        pytest.param(A100, False, False, id="nvme-no-class"),
        pytest.param(A10, True, False, id="class-no-nvme"),
    ],
)
def test_weights_volume(sku: str, storage_class: bool, pvc: bool) -> None:
    ctx = context(sku=sku, node_count=1, nvme_storage_class=storage_class)
    sts = valid(inference_statefulset(ctx))
    volumes = names(pod(sts)["volumes"])
    assert ctx.model is not None
    disk = f"{ctx.model.disk_gib}Gi"
    if pvc:
        assert "model-weights-volume" not in volumes
        assert sts["spec"]["volumeClaimTemplates"] == [
            {
                "metadata": {
                    "name": "model-weights-volume",
                    "labels": {"kaito.sh/workspace": "ws"},
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "kaito-local-nvme-disk",
                    "resources": {"requests": {"storage": disk}},
                },
            }
        ]
    else:
        assert volumes[-1] == "model-weights-volume"
        assert "volumeClaimTemplates" not in sts["spec"]
    assert main(sts)["volumeMounts"][0]["name"] == "model-weights-volume"


# --- CUDA toolkit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "deep_gemm"),
    [
        pytest.param(
            make_model(requires_deepgemm=True, requires_cuda_toolkit=True), "1", id="deepgemm"
        ),
        pytest.param(make_model(requires_cuda_toolkit=True), "0", id="flashinfer"),
        pytest.param("mistral-small-4-119b-2603", "0", id="catalog-flashinfer"),
    ],
)
def test_cuda_toolkit(model: str | ModelPreset, deep_gemm: str) -> None:
    preset = CATALOG.model(model) if isinstance(model, str) else model
    ws = workspace(preset=preset.name)
    sku = "Standard_ND96isr_H100_v5"
    sts = valid(inference_statefulset(context(ws, model=preset, sku=sku, node_count=1)))
    init = pod(sts)["initContainers"][0]
    assert init["name"] == "cuda-toolkit-provisioner"
    assert init["image"] == "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
    assert init["command"] == [
        "/bin/sh",
        "-c",
        'flock "$1" /workspace/cuda-provision.sh "$1"',
        "sh",
        "/opt/kaito/cuda/129",
    ]
    assert init["volumeMounts"] == [
        {"name": "cuda-toolkit-hostpath", "mountPath": "/opt/kaito/cuda/129"}
    ]
    assert {
        "name": "cuda-toolkit-hostpath",
        "hostPath": {"path": "/opt/kaito/cuda/129", "type": "DirectoryOrCreate"},
    } in pod(sts)["volumes"]
    assert env(sts)["CUDA_HOME"] == "/opt/kaito/cuda/129"
    assert env(sts)["VLLM_USE_DEEP_GEMM"] == deep_gemm


def test_catalog_deepgemm_model() -> None:
    ws = workspace(preset="deepseek-v4-flash-0731")
    ctx = context(ws, model="deepseek-v4-flash-0731", sku="Standard_ND96isr_H100_v5")
    sts = valid(inference_statefulset(ctx))
    assert env(sts)["VLLM_USE_DEEP_GEMM"] == "1"
    assert names(pod(sts)["initContainers"]) == ["cuda-toolkit-provisioner"]


# --- adapters ---------------------------------------------------------------------------------


def _image_adapter(
    name: str, secrets: tuple[str, ...] | None = None, strength: str | None = None
) -> AdapterSpec:
    return AdapterSpec(
        source=DataSource(name=name, image=f"myreg.io/{name}:v1", image_pull_secrets=secrets),
        strength=strength,
    )


def test_image_adapter_without_secrets() -> None:
    sts = valid(inference_statefulset(context(workspace(adapters=(_image_adapter("a1"),)))))
    init = pod(sts)["initContainers"]
    assert names(init) == ["puller-a1"]
    assert init[0]["image"] == "mcr.microsoft.com/aks/skopeo:1.14.4-6"
    assert init[0]["command"] == ["/bin/sh", "-c"]
    assert init[0]["args"] == [puller_script("myreg.io/a1:v1", "/mnt/adapter/a1")]
    assert init[0]["volumeMounts"] == [{"name": "adapter-volume", "mountPath": "/mnt/adapter"}]
    assert {"name": "adapter-volume", "emptyDir": {}} in pod(sts)["volumes"]
    assert {"name": "adapter-volume", "mountPath": "/mnt/adapter"} in main(sts)["volumeMounts"]
    assert "imagePullSecrets" not in pod(sts)
    assert "--enable-lora" in main(sts)["command"][2]


def test_image_adapters_with_pull_secrets() -> None:
    adapters = (_image_adapter("a1", ("s1", "s2")), _image_adapter("a2", ("s2",)))
    sts = valid(inference_statefulset(context(workspace(adapters=adapters))))
    assert pod(sts)["imagePullSecrets"] == [{"name": "s1"}, {"name": "s2"}]
    volumes = {v["name"]: v for v in pod(sts)["volumes"]}
    assert volumes["docker-config-a1-inference-adapter"] == {
        "name": "docker-config-a1-inference-adapter",
        "projected": {
            "sources": [
                {
                    "secret": {
                        "name": s,
                        "items": [{"key": ".dockerconfigjson", "path": f"{s}.json"}],
                    }
                }
                for s in ("s1", "s2")
            ]
        },
    }
    assert "docker-config-a2-inference-adapter" in volumes
    puller = pod(sts)["initContainers"][0]
    assert puller["volumeMounts"][1] == {
        "name": "docker-config-a1-inference-adapter",
        "mountPath": "/root/.docker/config.d/a1-inference-adapter",
    }
    assert names(pod(sts)["volumes"]) == [
        "dshm",
        "adapter-volume",
        "docker-config-a1-inference-adapter",
        "docker-config-a2-inference-adapter",
        "model-weights-volume",
    ]


def test_volume_adapter() -> None:
    adapter = AdapterSpec(
        source=DataSource(name="v1", volume_source={"persistentVolumeClaim": {"claimName": "pvc"}})
    )
    sts = valid(inference_statefulset(context(workspace(adapters=(adapter,)))))
    assert {"name": "adapter-volume-v1", "persistentVolumeClaim": {"claimName": "pvc"}} in pod(sts)[
        "volumes"
    ]
    assert {"name": "adapter-volume-v1", "mountPath": "/mnt/adapter/v1"} in main(sts)[
        "volumeMounts"
    ]
    assert "initContainers" not in pod(sts)


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        pytest.param("vllm", None, id="vllm-no-strength"),
        pytest.param("transformers", "0.5", id="tfs"),
    ],
)
def test_adapter_strength_env(runtime: str, expected: str | None) -> None:
    volume = AdapterSpec(
        source=DataSource(name="v1", volume_source={"emptyDir": {}}), strength="0.7"
    )
    ws = workspace(preset="phi-4", adapters=(_image_adapter("a1", strength="0.5"), volume))
    sts = valid(inference_statefulset(context(ws, model="phi-4", runtime=runtime)))
    got = env(sts)
    assert got.get("a1") == expected
    assert got.get("v1") == (None if expected is None else "0.7")


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        pytest.param("adapter", "docker.io/library/adapter:latest", id="bare"),
        pytest.param("org/adapter:v1", "docker.io/org/adapter:v1", id="docker-hub-org"),
        pytest.param("myreg.io/a/b:1.0", "myreg.io/a/b:1.0", id="registry"),
        pytest.param("localhost/a", "localhost/a:latest", id="localhost"),
        pytest.param("reg:5000/a", "reg:5000/a:latest", id="registry-port"),
        pytest.param(
            "myreg.io/a:1@sha256:" + "a" * 64,
            "myreg.io/a@sha256:" + "a" * 64,
            id="digest-drops-tag",
        ),
    ],
)
def test_normalize_image_ref(ref: str, normalized: str) -> None:
    assert normalize_image_ref(ref) == normalized


def test_puller_script_quotes_its_inputs() -> None:
    script = puller_script("myreg.io/a:1", "/mnt/adapter/a")
    assert "image=myreg.io/a:1\n" in script
    assert "target=/mnt/adapter/a\n" in script
    assert 'mv "${rootfs}/data" "${target}"' in script


# --- scheduling -------------------------------------------------------------------------------


def _expressions(sts: dict[str, Any]) -> list[dict[str, Any]]:
    terms = pod(sts)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expressions: list[dict[str, Any]] = terms["nodeSelectorTerms"][0]["matchExpressions"]
    return expressions


def test_affinity_labels_and_provisioner_selector() -> None:
    ws = workspace(match_labels={"b": "2", "a": "1", "kaito.sh/workspace": "spoof"})
    sts = valid(inference_statefulset(context(ws)))
    assert _expressions(sts) == [
        {"key": "a", "operator": "In", "values": ["1"]},
        {"key": "b", "operator": "In", "values": ["2"]},
        {"key": "kaito.sh/workspace", "operator": "In", "values": ["ws"]},
        {"key": "kaito.sh/workspacenamespace", "operator": "In", "values": ["default"]},
    ]


def test_affinity_byo_has_no_provisioner_selector() -> None:
    sts = valid(inference_statefulset(context(provisioner="byo")))
    assert _expressions(sts) == [{"key": "apps", "operator": "In", "values": ["ws"]}]


def test_affinity_omitted_when_empty() -> None:
    ws = workspace(match_labels={"kaito.sh/workspace": "ws"})
    sts = valid(inference_statefulset(context(ws, provisioner="byo")))
    assert "affinity" not in pod(sts)


@pytest.mark.parametrize(
    ("cloud", "spot"),
    [pytest.param("azure", True, id="azure"), pytest.param("aws", False, id="aws")],
)
def test_tolerations(cloud: str, spot: bool) -> None:
    sts = valid(inference_statefulset(context(cloud=cloud)))
    tolerations = pod(sts)["tolerations"]
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


def test_mig_resources_and_toleration() -> None:
    ws = workspace(partition=PartitionSpec(mode="mig", profile="3g.40gb"))
    ctx = context(ws, sku=GpuConfig.from_mig_profile("3g.40gb"), node_count=1, provisioner="byo")
    sts = valid(inference_statefulset(ctx))
    assert main(sts)["resources"] == {
        "limits": {"nvidia.com/mig-3g.40gb": "1"},
        "requests": {"nvidia.com/mig-3g.40gb": "1"},
    }
    assert pod(sts)["tolerations"][-1] == {
        "key": "nvidia.com/mig-3g.40gb",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    assert "--kaito-kv-cache-cpu-memory-utilization=0" in main(sts)["command"][2]


def test_gpu_count_resources() -> None:
    sts = valid(inference_statefulset(context(sku="Standard_NC96ads_A100_v4", node_count=1)))
    assert main(sts)["resources"]["limits"] == {"nvidia.com/gpu": "4"}


def test_decode_role_sidecar() -> None:
    ws = workspace(
        labels={"kaito.sh/inference-role": "decode", "multiroleinference.kaito.sh/created-by": "m"}
    )
    sts = valid(inference_statefulset(context(ws)))
    assert names(pod(sts)["containers"]) == ["ws", "llm-d-routing-sidecar"]
    assert main(sts)["ports"][0] == {"name": "http", "containerPort": 5001}
    assert main(sts)["livenessProbe"]["httpGet"]["port"] == 5001
    sidecar = pod(sts)["containers"][1]
    assert sidecar["args"] == ["--port=5000", "--vllm-port=5001", "--secure-proxy=false"]
    assert env(sts)["KAITO_INFERENCE_ROLE"] == "decode"
    assert env(sts)["VLLM_NIXL_SIDE_CHANNEL_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert sts["spec"]["selector"]["matchLabels"]["kaito.sh/inference-role"] == "decode"


def test_prefill_role_env_without_sidecar() -> None:
    sts = valid(
        inference_statefulset(context(workspace(labels={"kaito.sh/inference-role": "prefill"})))
    )
    assert names(pod(sts)["containers"]) == ["ws"]
    assert env(sts)["KAITO_INFERENCE_ROLE"] == "prefill"


def test_preset_needs_model() -> None:
    with pytest.raises(ValueError, match="model"):
        inference_statefulset(context(model=None))


# --- template inference -----------------------------------------------------------------------


def test_template_statefulset() -> None:
    ws = workspace(preset=None, template=TEMPLATE, match_labels={"apps": "ws"})
    sts = valid(template_statefulset(context(ws, model=None, sku=None, node_count=2, revision=4)))
    assert sts["metadata"]["annotations"] == {"workspace.kaito.io/revision": "4"}
    spec = sts["spec"]
    assert spec["replicas"] == 2
    assert "serviceName" not in spec
    assert spec["selector"] == {"matchLabels": {"kaito.sh/workspace": "ws"}}
    assert spec["template"]["metadata"] == {"labels": {"app": "custom", "kaito.sh/workspace": "ws"}}
    template_pod = spec["template"]["spec"]
    assert template_pod["containers"] == TEMPLATE["spec"]["containers"]
    assert template_pod["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"][0] == {
        "key": "apps",
        "operator": "In",
        "values": ["ws"],
    }
    tolerations = template_pod["tolerations"]
    assert tolerations[0] == {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
    assert tolerations[1]["key"] == "nvidia.com/gpu"
    assert len(tolerations) == 4


def test_template_affinity_removed_without_labels() -> None:
    ws = workspace(preset=None, template=TEMPLATE, match_labels={})
    sts = valid(template_statefulset(context(ws, model=None, sku=None, provisioner="byo")))
    assert "affinity" not in sts["spec"]["template"]["spec"]


def test_template_is_not_mutated() -> None:
    before = json.dumps(TEMPLATE, sort_keys=True)
    ws = workspace(preset=None, template=TEMPLATE)
    template_statefulset(context(ws, model=None, sku=None))
    assert json.dumps(TEMPLATE, sort_keys=True) == before


def test_template_change_changes_the_workload() -> None:
    changed = json.loads(json.dumps(TEMPLATE))
    changed["spec"]["containers"][0]["image"] = "example.com/server:2"
    first = template_statefulset(context(workspace(preset=None, template=TEMPLATE), model=None))
    second = template_statefulset(context(workspace(preset=None, template=changed), model=None))
    assert first != second
    assert second["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/server:2"


def test_template_needs_template() -> None:
    with pytest.raises(ValueError, match="template"):
        template_statefulset(context())


# --- determinism and validation over many shapes ----------------------------------------------

_SCENARIOS: dict[str, dict[str, Any]] = {
    "plain": {},
    "a10": {"sku": A10, "node_count": 1},
    "multi-node": {
        "ws": workspace(preset="llama-3.3-70b-instruct"),
        "model": "llama-3.3-70b-instruct",
    },
    "transformers": {"ws": workspace(preset="phi-4"), "model": "phi-4", "runtime": "transformers"},
    "adapters": {
        "ws": workspace(
            adapters=(_image_adapter("a1", ("s1",)), _image_adapter("a2")),
            secret="hf",
            config="cfg",
        )
    },
    "nvme": {"nvme_storage_class": True},
    "byo": {"provisioner": "byo"},
    "mig": {
        "ws": workspace(partition=PartitionSpec(mode="mig", profile="1g.10gb")),
        "model": make_model(weights_bytes=1 << 30),
        "sku": GpuConfig.from_mig_profile("1g.10gb"),
        "node_count": 1,
    },
}


@pytest.mark.parametrize("scenario", sorted(_SCENARIOS))
def test_deterministic_and_valid(scenario: str) -> None:
    kwargs = _SCENARIOS[scenario]
    first = valid(inference_statefulset(context(**kwargs)))
    second = inference_statefulset(context(**kwargs))
    assert json.dumps(first) == json.dumps(second)


def test_template_deterministic() -> None:
    ws = workspace(preset=None, template=TEMPLATE)
    first = template_statefulset(context(ws, model=None, sku=None))
    second = template_statefulset(context(ws, model=None, sku=None))
    assert json.dumps(first) == json.dumps(second)


def test_catalog_models_render_valid() -> None:
    """Every catalog preset renders a valid StatefulSet on a large node."""
    gpu = GpuConfig.from_sku(CATALOG.sku("Standard_ND96isr_H100_v5"))
    for model in CATALOG.models():
        ctx = context(workspace(preset=model.name), model=model, sku=gpu, node_count=2)
        valid(inference_statefulset(ctx))
