"""`kaito_core.plan`: what a Workspace needs, across upstream's preset-inference, tuning and
controller suites (controller.md §6): examples, node counts, runtimes, template inference,
tuning, bring-your-own nodes, spec errors and the deletion path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

import kaito_core.plan as plan_module
from kaito_core.api import Workspace
from kaito_core.errors import SizingError, SpecError, UnsupportedGpuError
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Outcome
from kaito_core.plan import PlanSettings, decide, plan
from kaito_core.sizing import GpuTooSmallError, TransformersMultiNodeError
from kaito_core.validation import FeatureGates, ValidationContext, validate
from tests.conftest import EXAMPLES, REFERENCE
from tests.core.test_plan_support import (
    CATALOG,
    NOW,
    ApiServer,
    converge,
    load_workspaces,
    materialize,
    ready_node,
    with_uid,
)

A100 = "Standard_NC24ads_A100_v4"
A100X4 = "Standard_NC96ads_A100_v4"
A10 = "Standard_NV36ads_A10_v5"
BYO = PlanSettings(provisioner="byo")


def manifest(
    preset: str | None = "phi-4-mini-instruct",
    *,
    instance_type: str | None = A100,
    name: str = "ws",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    count: int | None = None,
    tuning: bool = False,
    **inference: Any,
) -> dict[str, Any]:
    """A v1beta1 Workspace manifest; `inference` keys go into ``inference`` (or ``tuning``)."""
    resource: dict[str, Any] = {"labelSelector": {"matchLabels": {"apps": name}}}
    if instance_type is not None:
        resource["instanceType"] = instance_type
    if count is not None:
        resource["count"] = count
    section: dict[str, Any] = {"preset": {"name": preset}} if preset else {}
    section.update(inference)
    doc: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {
            "name": name,
            "namespace": "default",
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "resource": resource,
        ("tuning" if tuning else "inference"): section,
    }
    return doc


def planned(
    ws: Workspace | dict[str, Any],
    observed: Observed | None = None,
    settings: PlanSettings | None = None,
) -> Outcome:
    if not isinstance(ws, Workspace):
        ws = materialize(ws)
    return plan(ws, observed=observed or Observed(), catalog=CATALOG, now=NOW, settings=settings)


def kind(outcome: Outcome, kind: str, name: str | None = None) -> Manifest:
    found = [
        o for o in outcome.desired if o["kind"] == kind and name in (None, o["metadata"]["name"])
    ]
    assert len(found) == 1, [f"{o['kind']}/{o['metadata']['name']}" for o in outcome.desired]
    return found[0]


def main_container(sts: Manifest) -> Manifest:
    container: Manifest = sts["spec"]["template"]["spec"]["containers"][0]
    return container


def command(sts: Manifest) -> str:
    return str(main_container(sts)["command"][2])


def dumped(outcome: Outcome) -> str:
    return json.dumps([*outcome.node_claims, *outcome.desired])


# --- examples ---------------------------------------------------------------------------------


def _docs_examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", _docs_examples(), ids=lambda p: p.name)
def test_every_docs_example_validates_and_plans(path: Path) -> None:
    for ws, config_maps in load_workspaces(path):
        context = ValidationContext(config_maps={("default", k): v for k, v in config_maps.items()})
        assert validate(ws, catalog=CATALOG, context=context) == []
        outcome = planned(with_uid(ws), Observed(config_maps=config_maps))
        assert outcome.error is None, outcome.error
        assert outcome.apply == outcome.desired  # nothing observed yet: create everything
        assert outcome.delete == ()
        assert len(outcome.node_claims) == outcome.target_node_count >= 1
        assert outcome.status.target_node_count == outcome.target_node_count
        assert outcome.summary is not None


def _upstream_examples() -> list[Path]:
    root = REFERENCE / "examples"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.yaml") if "kind: Workspace" in p.read_text())


#: Upstream examples that need bring-your-own nodes (and a feature gate) to be valid.
_BYO_EXAMPLES = {"kaito_workspace_accelerator.yaml"}

_ARC_PLACEHOLDER_SKU = (
    "kaito_workspace_deepseek_r1_distill_llama_8b.yaml",
    "kaito_workspace_deepseek_r1_distill_llama_8b_with_customized_config.yaml",
    "kaito_workspace_deepseek_r1_distill_qwen_14b.yaml",
    "kaito_workspace_phi_3.5-instruct.yaml",
    "kaito_workspace_phi_3_medium_128k.yaml",
    "kaito_workspace_phi_3_medium_4k.yaml",
    "kaito_workspace_phi_3_mini_128k.yaml",
    "kaito_workspace_phi_3_mini_4k.yaml",
    "kaito_workspace_phi_4_mini.yaml",
    "kaito_workspace_qwen_2.5_coder_7b-instruct.yaml",
)
_TUNING_PLACEHOLDERS = {
    "spec.tuning.output.image": "ACR_REPO_HERE",
    "spec.tuning.output.imagePushSecret": "ACR_REGISTRY_SECRET_HERE",
}

#: Upstream examples that are not valid as written: every problem's field path, and a piece of
#: its message naming what is wrong (a placeholder to replace, a ConfigMap that ships in another
#: file, a preset upstream removed). They must stay rejected for exactly these reasons.
_INVALID_UPSTREAM_EXAMPLES: dict[str, dict[str, str]] = {
    **{
        f"inference/arc-examples/{name}": {"spec.resource.instanceType": "<your-vm-sku>"}
        for name in _ARC_PLACEHOLDER_SKU
    },
    "inference/arc-examples/kaito_workspace_phi_3_with_adapters.yaml": {
        "spec.resource.instanceType": "<your-vm-sku>",
        "spec.inference.adapters[0].source.image": "ACR_REPO_HERE",
    },
    "inference/kaito_workspace_phi_3_with_adapters.yaml": {
        "spec.inference.adapters[0].source.image": "ACR_REPO_HERE",
    },
    "fine-tuning/kaito_workspace_tuning_phi_3.yaml": _TUNING_PLACEHOLDERS,
    "fine-tuning/kaito_workspace_tuning_falcon_7b_mental.yaml": {
        **_TUNING_PLACEHOLDERS,
        "spec.tuning.config": "qlora-params-template",
        "spec.tuning.preset.name": "falcon-7b",
    },
    "fine-tuning/kaito_workspace_tuning_falcon_7b_oai.yaml": {
        **_TUNING_PLACEHOLDERS,
        "spec.tuning.config": "my-qlora-params",
        "spec.tuning.preset.name": "falcon-7b",
    },
}


@pytest.mark.upstream
@pytest.mark.parametrize(
    "path", _upstream_examples() or [None], ids=lambda p: p.name if p else "absent"
)
def test_every_upstream_example_plans_or_is_rejected_for_its_known_reasons(
    path: Path | None,
) -> None:
    """Valid upstream examples plan; the invalid ones fail validation with exactly the problems
    listed in `_INVALID_UPSTREAM_EXAMPLES` (field path, and the offending value in the message)."""
    if path is None:
        pytest.skip(f"upstream reference corpus not found at {REFERENCE}")
    expected = _INVALID_UPSTREAM_EXAMPLES.get(path.relative_to(REFERENCE / "examples").as_posix())
    byo = path.name in _BYO_EXAMPLES
    for ws, config_maps in load_workspaces(path):
        nodes: tuple[Manifest, ...] = ()
        if byo:
            labels = dict(ws.match_labels)
            nodes = (ready_node("gpu-0", labels=labels, gpu_count=4),)
        context = ValidationContext(
            node_auto_provisioning=not byo,
            feature_gates=FeatureGates(enable_accelerator=byo),
            config_maps={("default", k): v for k, v in config_maps.items()},
            nodes=nodes,
        )
        problems = validate(ws, catalog=CATALOG, context=context)
        if expected is not None:
            found = {p.path: p.message for p in problems}
            assert sorted(found) == sorted(expected), problems
            for field, value in expected.items():
                assert value.lower() in found[field].lower(), (field, found[field])
            continue
        assert problems == []
        observed = Observed(config_maps=config_maps, nodes=nodes)
        outcome = planned(with_uid(ws), observed, BYO if byo else None)
        assert outcome.error is None, outcome.error
        assert outcome.desired


@pytest.mark.upstream
def test_the_invalid_upstream_example_list_names_real_files(reference: Path) -> None:
    """Every example listed as invalid exists in the corpus (the table cannot go stale)."""
    for name in _INVALID_UPSTREAM_EXAMPLES:
        assert (reference / "examples" / name).is_file(), name


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _docs_examples(), ids=lambda p: p.name)
def test_planning_twice_is_byte_identical(path: Path) -> None:
    for ws, config_maps in load_workspaces(path):
        observed = Observed(config_maps=config_maps)
        plan_module._RENDER_CACHE.clear()
        first = planned(with_uid(ws), observed)
        second = planned(with_uid(ws), observed)  # from the render memo
        plan_module._RENDER_CACHE.clear()
        third = planned(with_uid(ws), observed)  # rendered again
        assert dumped(first) == dumped(second) == dumped(third)
        assert first == second == third


def test_outcome_manifests_are_fresh_objects() -> None:
    """Callers may mutate what they get; the next plan must not see it."""
    first = planned(manifest())
    first.desired[-1]["spec"]["replicas"] = 99
    first.node_claims[0]["metadata"]["name"] = "changed"
    second = planned(manifest())
    assert second.desired[-1]["spec"]["replicas"] == 1
    assert second.node_claims[0]["metadata"]["name"] != "changed"


def test_flags_are_sorted() -> None:
    flags = [w for w in command(kind(planned(manifest()), "StatefulSet")).split() if w[:2] == "--"]
    assert flags == sorted(flags)


# --- node counts and parallelism --------------------------------------------------------------


def test_phi_4_on_a10_needs_two_nodes() -> None:
    outcome = planned(manifest("phi-4", instance_type=A10))
    assert outcome.target_node_count == 2
    assert len(outcome.node_claims) == 2
    sts = kind(outcome, "StatefulSet")
    assert sts["spec"]["replicas"] == 2
    assert "--pipeline-parallel-size=2" in command(sts)
    assert "--gpu-memory-utilization=0.82" in command(sts)  # A10


def test_llama_70b_on_one_a100_per_node_needs_three_nodes_with_ray() -> None:
    outcome = planned(manifest("llama-3.3-70b-instruct", instance_type=A100))
    assert outcome.target_node_count == 3
    assert outcome.summary is not None
    summary = outcome.summary
    assert (summary.tensor_parallel, summary.pipeline_parallel, summary.data_parallel) == (1, 3, 1)
    assert [c["metadata"]["name"][-2:] for c in outcome.node_claims] == ["-0", "-1", "-2"]
    sts = kind(outcome, "StatefulSet")
    cmd = command(sts)
    leader = "ws-0.ws-headless.default.svc.cluster.local"
    assert cmd.startswith('if [ "${POD_INDEX}" = "0" ]; then ')
    assert (
        "/workspace/vllm/multi-node-serving.sh leader --ray_cluster_size=3 --ray_port=6379; "
        "python3 /workspace/vllm/inference_api.py " in cmd
    )
    assert f"multi-node-serving.sh worker --ray_address={leader} --ray_port=6379; fi" in cmd
    for flag in (
        "--pipeline-parallel-size=3",
        "--tensor-parallel-size=1",
        "--distributed-executor-backend=ray",
    ):
        assert flag in cmd
    env = {e["name"]: e for e in main_container(sts)["env"]}
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    liveness = main_container(sts)["livenessProbe"]["exec"]["command"][2]
    assert f"--leader-address={leader}" in liveness
    headless = kind(outcome, "Service", "ws-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == "ws-headless"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    main = kind(outcome, "Service", "ws")
    assert main["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "ws-0"


def test_llama_70b_on_four_a100s_fits_one_node() -> None:
    outcome = planned(manifest("llama-3.3-70b-instruct", instance_type=A100X4))
    assert outcome.target_node_count == 1
    sts = kind(outcome, "StatefulSet")
    cmd = command(sts)
    assert "--tensor-parallel-size=4" in cmd
    assert "multi-node-serving.sh" not in cmd
    assert "pipeline-parallel" not in cmd
    assert main_container(sts)["resources"]["limits"] == {"nvidia.com/gpu": "4"}
    assert "POD_INDEX" not in {e["name"] for e in main_container(sts)["env"]}


def test_small_model_on_many_gpus_is_data_parallel() -> None:
    outcome = planned(manifest("phi-4-mini-instruct", instance_type=A100X4))
    assert outcome.summary is not None
    assert outcome.summary.data_parallel == 4
    assert "--data-parallel-size=4" in command(kind(outcome, "StatefulSet"))


def test_vllm_ignores_count_but_transformers_uses_it() -> None:
    assert planned(manifest(count=3)).target_node_count == 1
    transformers = manifest(
        "phi-3-mini-4k-instruct", count=2, annotations={"kaito.sh/runtime": "transformers"}
    )
    assert planned(transformers).target_node_count == 2


def test_max_model_len_of_the_config_map_sizes_the_workspace() -> None:
    cm = {"data": {"inference_config.yaml": "vllm:\n  max-model-len: 131072\n"}}
    ws = manifest("llama-3.1-8b-instruct", instance_type="Standard_NC4as_T4_v3", config="cfg")
    outcome = planned(ws, Observed(config_maps={"cfg": cm}))
    assert isinstance(outcome.error, GpuTooSmallError)
    small = {"data": {"inference_config.yaml": "vllm:\n  max_model_len: 1024\n"}}
    assert planned(ws, Observed(config_maps={"cfg": small})).error is None


# --- runtimes ---------------------------------------------------------------------------------


def test_transformers_runtime_is_single_node_accelerate() -> None:
    ws = manifest("phi-3-mini-4k-instruct", annotations={"kaito.sh/runtime": "transformers"})
    outcome = planned(ws)
    assert outcome.error is None
    assert outcome.target_node_count == 1
    sts = kind(outcome, "StatefulSet")
    cmd = command(sts)
    assert cmd.startswith("accelerate launch ")
    assert "/workspace/tfs/inference_api.py" in cmd
    assert "vllm" not in cmd
    assert [p["name"] for p in main_container(sts)["ports"]] == ["http"]
    ports = [p["name"] for p in kind(outcome, "Service", "ws")["spec"]["ports"]]
    assert "kv-events" not in ports
    assert outcome.summary is not None
    assert outcome.summary.runtime == "transformers"


def test_transformers_across_nodes_is_a_typed_error() -> None:
    ws = manifest("llama-3.3-70b-instruct", annotations={"kaito.sh/runtime": "transformers"})
    outcome = planned(ws)
    assert isinstance(outcome.error, TransformersMultiNodeError)
    assert isinstance(outcome.error, SizingError)
    assert outcome.error.reason == "TransformersMultiNode"
    assert outcome.desired == outcome.apply == outcome.node_claims == ()


def test_vllm_gate_off_means_transformers() -> None:
    outcome = planned(manifest("phi-3-mini-4k-instruct"), settings=PlanSettings(vllm_enabled=False))
    assert command(kind(outcome, "StatefulSet")).startswith("accelerate launch ")


def test_a_preset_without_transformers_support_is_refused_not_crashed() -> None:
    ws = manifest("phi-4-mini-instruct", annotations={"kaito.sh/runtime": "transformers"})
    outcome = planned(ws)
    assert outcome.error is not None
    assert outcome.error.reason == "UnsupportedRuntime"


def test_pre_ampere_gpus_run_float16_with_a_note() -> None:
    outcome = planned(manifest("phi-3-mini-4k-instruct", instance_type="Standard_NC6s_v3"))
    assert outcome.error is None
    assert "--dtype=float16" in command(kind(outcome, "StatefulSet"))
    assert outcome.summary is not None
    assert outcome.summary.dtype == "float16"
    assert outcome.summary.notes
    assert "float16" in outcome.summary.notes[0]
    resource = outcome.status.condition("ResourceReady")
    assert resource is not None
    assert "float16" in (resource.message or "")


# --- template inference -----------------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"team": "a"}},
    "spec": {
        "containers": [
            {
                "name": "server",
                "image": "example.com/server:1.0",
                "resources": {"limits": {"nvidia.com/gpu": 1}},
            }
        ],
        "affinity": {"podAffinity": {}},
        "tolerations": [{"key": "team", "operator": "Exists"}],
    },
}


def test_template_inference() -> None:
    outcome = planned(manifest(None, template=TEMPLATE, count=2))
    assert outcome.error is None
    assert outcome.target_node_count == 2 == len(outcome.node_claims)
    assert outcome.node_claims[0]["spec"]["resources"]["requests"]["storage"] == "1024Gi"
    sts = kind(outcome, "StatefulSet")
    assert sts["spec"]["replicas"] == 2
    assert "serviceName" not in sts["spec"]
    pod = sts["spec"]["template"]
    assert pod["metadata"]["labels"] == {"kaito.sh/workspace": "ws", "team": "a"}
    assert main_container(sts)["image"] == "example.com/server:1.0"
    assert "podAffinity" not in pod["spec"]["affinity"]  # replaced, as upstream
    assert pod["spec"]["tolerations"][0] == {"key": "team", "operator": "Exists"}
    assert {o["kind"] for o in outcome.desired} == {"ControllerRevision", "Service", "StatefulSet"}
    assert outcome.summary is not None
    assert outcome.summary.mode == "template"


def test_template_inference_with_an_unlisted_sku_still_plans() -> None:
    outcome = planned(manifest(None, template=TEMPLATE, instance_type="Standard_NC4_Custom"))
    assert outcome.error is None
    assert outcome.node_claims[0]["spec"]["requirements"][0]["values"] == ["Standard_NC4_Custom"]


def test_template_change_is_applied() -> None:
    server = ApiServer()
    converge(materialize(manifest(None, template=TEMPLATE)), server)
    changed = json.loads(json.dumps(TEMPLATE))
    changed["spec"]["containers"][0]["image"] = "example.com/server:2.0"
    outcome = planned(materialize(manifest(None, template=changed)), server.observed())
    kinds = [o["kind"] for o in outcome.apply]
    assert "StatefulSet" in kinds
    assert outcome.delete == ()


# --- tuning -----------------------------------------------------------------------------------

TUNING = {
    "method": "lora",
    "input": {"urls": ["https://example.com/data.parquet"]},
    "output": {"image": "example.azurecr.io/adapters/a:1", "imagePushSecret": "push"},
}


def test_tuning_renders_a_job_and_its_default_config_map() -> None:
    outcome = planned(manifest("phi-3-mini-128k-instruct", tuning=True, **TUNING))
    assert outcome.error is None
    assert outcome.target_node_count == 1
    cm = kind(outcome, "ConfigMap", "ws-tuning-config")
    assert "training_config:" in cm["data"]["training_config.yaml"]
    job = kind(outcome, "Job", "ws")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == "ws-tuning-config"
    assert "accelerate launch" in main_container(job)["command"][2]
    assert not [o for o in outcome.desired if o["kind"] in ("Service", "StatefulSet")]
    assert outcome.summary is not None
    assert outcome.summary.mode == "tuning"


def test_tuning_with_the_users_config_map() -> None:
    text = "training_config:\n  TrainingArguments:\n    output_dir: /mnt/out\n"
    observed = Observed(config_maps={"my-config": {"data": {"training_config.yaml": text}}})
    outcome = planned(
        manifest("phi-3-mini-128k-instruct", tuning=True, config="my-config", **TUNING), observed
    )
    assert outcome.error is None
    assert [o["kind"] for o in outcome.desired] == ["ControllerRevision", "Job"]
    pod = kind(outcome, "Job")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == "my-config"
    mounts = {
        m["name"]: m["mountPath"] for m in main_container(kind(outcome, "Job"))["volumeMounts"]
    }
    assert mounts["results-volume"] == "/mnt/out"


def test_tuning_waits_for_a_named_config_map() -> None:
    outcome = planned(manifest("phi-3-mini-128k-instruct", tuning=True, config="absent", **TUNING))
    assert outcome.error is not None
    assert (outcome.error.reason, outcome.error.path) == ("ConfigMapNotFound", "spec.tuning.config")
    assert outcome.desired == ()


def test_leaving_tuning_for_inference_deletes_the_job_and_config_map() -> None:
    server = ApiServer()
    converge(materialize(manifest("phi-3-mini-128k-instruct", tuning=True, **TUNING)), server)
    outcome = planned(materialize(manifest("phi-3-mini-128k-instruct")), server.observed())
    assert [str(k) for k in outcome.delete] == [
        "Job/default/ws",
        "ConfigMap/default/ws-tuning-config",
    ]
    assert converge(materialize(manifest("phi-3-mini-128k-instruct")), server).converged


# --- targetNodeCount --------------------------------------------------------------------------


def test_target_node_count_is_recomputed_when_the_spec_changes() -> None:
    """Upstream writes it once and never again; a smaller SKU would keep three replicas."""
    server = ApiServer()
    first = converge(materialize(manifest("llama-3.3-70b-instruct", instance_type=A100)), server)
    assert first.status.target_node_count == 3
    ws = materialize(manifest("llama-3.3-70b-instruct", instance_type=A100X4))
    ws = attrs.evolve(ws, status=first.status)  # the stored status still says 3
    outcome = planned(ws, server.observed())
    assert outcome.target_node_count == outcome.status.target_node_count == 1
    assert kind(outcome, "StatefulSet")["spec"]["replicas"] == 1
    assert len(outcome.node_claims) == 1


# --- bring your own nodes ---------------------------------------------------------------------


def test_byo_sizes_from_node_labels_and_claims_nothing() -> None:
    node = ready_node("gpu-a", labels={"apps": "ws"}, gpu_count=1, gpu_memory_mib=81920)
    ws = manifest("llama-3.3-70b-instruct", instance_type=None)
    outcome = planned(ws, Observed(nodes=(node,)), BYO)
    assert outcome.error is None
    assert outcome.node_claims == ()
    assert outcome.target_node_count == 3  # 70B over 80 GiB GPUs, as on NC24ads
    sts = kind(outcome, "StatefulSet")
    terms = sts["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    expressions = terms["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [e["key"] for e in expressions[0]["matchExpressions"]] == ["apps"]  # no provisioner


def test_byo_reads_the_first_ready_matching_node() -> None:
    nodes = (
        ready_node("a-other", labels={"apps": "other"}, gpu_count=8),
        ready_node("b-mine", labels={"apps": "ws"}, gpu_count=4, gpu_memory_mib=81920),
    )
    outcome = planned(
        manifest("llama-3.3-70b-instruct", instance_type=None), Observed(nodes=nodes), BYO
    )
    assert outcome.target_node_count == 1
    assert "--tensor-parallel-size=4" in command(kind(outcome, "StatefulSet"))


def test_byo_accelerator_partition_scales_the_node() -> None:
    node = ready_node("gpu-a", labels={"apps": "ws"}, gpu_count=4)
    ws = manifest("llama-3.1-8b-instruct", instance_type=None)
    ws["resource"]["partition"] = {"mode": "accelerator", "count": 2}
    sts = kind(planned(ws, Observed(nodes=(node,)), BYO), "StatefulSet")
    assert main_container(sts)["resources"]["limits"] == {"nvidia.com/gpu": "2"}


def test_byo_without_ready_nodes_is_a_spec_error() -> None:
    not_ready = ready_node("gpu-a", labels={"apps": "ws"})
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    outcome = planned(manifest(instance_type=None), Observed(nodes=(not_ready,)), BYO)
    assert outcome.error is not None
    assert outcome.error.reason == "NodesNotFound"


LONG_CONTEXT = "vllm:\n  max-model-len: 262144\n"

# --- spec errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ws", "observed", "error_type", "reason", "path"),
    [
        (manifest(instance_type="Standard_Nope"), None, SpecError, "UnsupportedSKU",
         "spec.resource.instanceType"),
        (manifest("phi-4", instance_type="Standard_NV6"), None, UnsupportedGpuError,
         "UnsupportedGPU", "spec.resource.instanceType"),
        (manifest("llama-3.1-8b-instruct", instance_type="Standard_NC4as_T4_v3", config="c"),
         Observed(config_maps={"c": {"data": {"inference_config.yaml": LONG_CONTEXT}}}),
         GpuTooSmallError, "GPUTooSmall", "spec.resource"),
        (manifest("no-such-model"), None, SpecError, "UnsupportedPreset",
         "spec.inference.preset.name"),
        (manifest(instance_type=None), None, SpecError, "InvalidSpec",
         "spec.resource.instanceType"),
    ],
    ids=["unknown-sku", "m60", "gpu-too-small", "unknown-preset", "no-instance-type"],
)  # fmt: skip
def test_spec_errors_are_returned_with_a_false_condition_and_no_objects(
    ws: dict[str, Any],
    observed: Observed | None,
    error_type: type[SpecError],
    reason: str,
    path: str,
) -> None:
    outcome = planned(ws, observed)
    assert isinstance(outcome.error, error_type)
    assert (outcome.error.reason, outcome.error.path) == (reason, path)
    assert outcome.node_claims == outcome.desired == outcome.apply == outcome.delete == ()
    succeeded = outcome.status.condition("WorkspaceSucceeded")
    assert succeeded is not None
    assert (succeeded.status, succeeded.reason) == ("False", reason)
    assert succeeded.message == outcome.error.message
    assert outcome.status.state == "Failed"
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", reason)]
    if isinstance(outcome.error, SizingError | UnsupportedGpuError):
        resource = outcome.status.condition("ResourceReady")
        assert resource is not None
        assert resource.status == "False"


def test_a_spec_error_leaves_the_running_workload_alone() -> None:
    server = ApiServer()
    converge(materialize(manifest()), server)
    outcome = planned(materialize(manifest(instance_type="Standard_Nope")), server.observed())
    assert outcome.error is not None
    assert outcome.apply == outcome.delete == ()


def test_decide_raises_the_spec_error() -> None:
    ws = materialize(manifest(instance_type="Standard_Nope")).with_defaults()
    with pytest.raises(SpecError, match="Unsupported instance type Standard_Nope"):
        decide(ws, observed=Observed(), catalog=CATALOG, settings=PlanSettings())


# --- v1alpha1 ---------------------------------------------------------------------------------


def test_v1alpha1_workspaces_plan_as_v1beta1() -> None:
    doc = {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "old", "namespace": "default"},
        "resource": {"labelSelector": {"matchLabels": {"apps": "old"}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }
    outcome = planned(doc)
    assert outcome.error is None
    # the v1alpha1 CRD default instance type
    assert outcome.summary is not None
    assert outcome.summary.instance_type == A100
    for obj in outcome.desired:
        assert obj["metadata"]["ownerReferences"][0]["apiVersion"] == "kaito.sh/v1beta1"
    v1beta1 = planned({**doc, "apiVersion": "kaito.sh/v1beta1", "resource": {
        "instanceType": A100, "labelSelector": {"matchLabels": {"apps": "old"}}}})  # fmt: skip
    assert dumped(outcome) == dumped(v1beta1)


# --- revisions --------------------------------------------------------------------------------


def _revisions(server: ApiServer) -> dict[str, int]:
    return {
        o["metadata"]["name"]: o["revision"]
        for o in server.objects.values()
        if o["kind"] == "ControllerRevision"
    }


def _revision_annotation(server: ApiServer) -> str:
    sts = server.objects[("StatefulSet", "default", "ws")]
    return str(sts["metadata"]["annotations"]["workspace.kaito.io/revision"])


def test_revision_bumps_on_a_spec_change_and_is_reused_on_revert() -> None:
    server = ApiServer()
    converge(materialize(manifest()), server)
    assert list(_revisions(server).values()) == [1]
    assert _revision_annotation(server) == "1"
    converge(materialize(manifest(instance_type=A100X4)), server)
    assert sorted(_revisions(server).values()) == [1, 2]
    assert _revision_annotation(server) == "2"
    writes_before = len(server.writes)
    outcome = converge(materialize(manifest()), server)
    assert sorted(_revisions(server).values()) == [1, 2]  # reverted: revision 1 again
    assert _revision_annotation(server) == "1"
    assert not [w for w in server.writes[writes_before:] if w[1].startswith("ControllerRevision")]
    assert outcome.converged


def test_metadata_changes_do_not_make_a_revision() -> None:
    server = ApiServer()
    converge(materialize(manifest()), server)
    converge(materialize(manifest(labels={"team": "b"})), server)
    assert list(_revisions(server).values()) == [1]


def test_stale_revisions_beyond_ten_are_deleted_oldest_first() -> None:
    server = ApiServer()
    for count in range(1, 11):  # ten specs (count is recorded, vLLM ignores it)
        converge(materialize(manifest(count=count)), server)
    assert sorted(_revisions(server).values()) == list(range(1, 11))
    oldest = min(_revisions(server), key=_revisions(server).__getitem__)
    outcome = planned(materialize(manifest(count=11)), server.observed())
    deleted = [k for k in outcome.delete if k.kind == "ControllerRevision"]
    assert [k.name for k in deleted] == [oldest]
    server.apply_outcome(outcome)
    assert len(_revisions(server)) == 10
    assert max(_revisions(server).values()) == 11


# --- replacing and deleting children ----------------------------------------------------------


def test_legacy_deployment_is_deleted_with_a_migration_warning() -> None:
    ws = materialize(manifest())
    server = ApiServer()
    server.seed(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "ws",
                "namespace": "default",
                "ownerReferences": [
                    {
                        "apiVersion": "kaito.sh/v1beta1",
                        "kind": "Workspace",
                        "name": "ws",
                        "uid": ws.metadata.uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {},
        }
    )
    outcome = planned(ws, server.observed())
    assert [str(k) for k in outcome.delete] == ["Deployment/default/ws"]
    assert ("Warning", "WorkloadMigration") in [(e.type, e.reason) for e in outcome.events]
    assert converge(ws, server).converged


def test_job_is_replaced_when_its_template_changes() -> None:
    server = ApiServer()
    converge(materialize(manifest("phi-3-mini-128k-instruct", tuning=True, **TUNING)), server)
    qlora = materialize(
        manifest("phi-3-mini-128k-instruct", tuning=True, **{**TUNING, "method": "qlora"})
    )
    first = planned(qlora, server.observed())
    assert [str(k) for k in first.delete] == ["Job/default/ws"]
    assert "Job" not in [o["kind"] for o in first.apply]  # created once the old one is gone
    assert first.requeue_after is not None
    server.apply_outcome(first)
    second = planned(qlora, server.observed())
    assert [o["kind"] for o in second.apply] == ["Job"]
    assert second.delete == ()
    server.apply_outcome(second)
    assert converge(qlora, server).converged


def test_statefulset_immutable_change_deletes_then_recreates() -> None:
    """An NVMe StorageClass appearing adds volumeClaimTemplates, which cannot change in place."""
    ws = materialize(manifest())
    server = ApiServer()
    converge(ws, server)
    nvme = PlanSettings(nvme_storage_class=True)
    outcome = planned(ws, server.observed(), nvme)
    assert [str(k) for k in outcome.delete] == ["StatefulSet/default/ws"]
    assert outcome.requeue_after is not None
    final = converge(ws, server, settings=nvme)  # ApiServer refuses in-place immutable changes
    assert final.converged
    sts = server.objects[("StatefulSet", "default", "ws")]
    assert (
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"]
        == "kaito-local-nvme-disk"
    )


def test_preset_to_template_replaces_the_statefulset() -> None:
    server = ApiServer()
    converge(materialize(manifest()), server)
    converge(materialize(manifest(None, template=TEMPLATE)), server)  # raises on Invalid
    assert "serviceName" not in server.objects[("StatefulSet", "default", "ws")]["spec"]


def test_services_are_updated() -> None:
    server = ApiServer()
    converge(materialize(manifest()), server)
    lb = materialize(manifest(annotations={"kaito.sh/enablelb": "True"}))
    outcome = planned(lb, server.observed())
    assert [o["metadata"]["name"] for o in outcome.apply] == ["ws"]
    converge(lb, server)
    service = server.objects[("Service", "default", "ws")]
    assert service["spec"]["type"] == "LoadBalancer"
    assert "kv-events" not in [p["name"] for p in service["spec"]["ports"]]


def test_drift_is_repaired() -> None:
    ws = materialize(manifest())
    server = ApiServer()
    converge(ws, server)
    server.objects[("StatefulSet", "default", "ws")]["spec"]["replicas"] = 5
    outcome = planned(ws, server.observed())
    assert [o["kind"] for o in outcome.apply] == ["StatefulSet"]


def test_deleting_workspace() -> None:
    ws = materialize(manifest())
    server = ApiServer()
    converged = converge(ws, server)
    meta = attrs.evolve(ws.metadata, deletion_timestamp=NOW)
    deleting = attrs.evolve(ws, metadata=meta, status=converged.status)
    outcome = planned(deleting, server.observed())
    assert outcome.deleting
    assert outcome.desired == outcome.apply == outcome.delete == outcome.node_claims == ()
    condition = outcome.status.condition("WorkspaceDeleting")
    assert condition is not None
    assert condition.status == "True"
    assert outcome.status.state == converged.status.state


# --- status and events ------------------------------------------------------------------------


def test_a_converged_plan_changes_nothing_and_says_nothing() -> None:
    ws = materialize(manifest())
    server = ApiServer()
    converged = converge(ws, server)
    again = planned(attrs.evolve(ws, status=converged.status), server.observed())
    assert again.converged
    assert again.status == converged.status
    assert again.events == ()
    assert again.requeue_after is None


def test_node_claims_are_announced_once() -> None:
    outcome = planned(manifest("llama-3.3-70b-instruct"))
    created = [e for e in outcome.events if e.reason == "NodeClaimCreated"]
    assert len(created) == 3
    observed = Observed(node_claims=outcome.node_claims)
    again = planned(materialize(manifest("llama-3.3-70b-instruct")), observed)
    assert not [e for e in again.events if e.reason == "NodeClaimCreated"]


def test_summary() -> None:
    outcome = planned(manifest("llama-3.3-70b-instruct", name="llama"))
    summary = outcome.summary
    assert summary is not None
    assert (summary.workspace, summary.mode, summary.instance_type) == (
        "default/llama",
        "inference",
        A100,
    )
    assert (summary.nodes, summary.gpus_per_node, summary.disk) == (3, 1, "211Gi")
    assert summary.served_model_name == "llama-3.3-70b-instruct"
    assert summary.readiness_timeout_seconds > 1800
    assert (summary.runtime, summary.dtype, summary.notes) == ("vllm", "bfloat16", ())


def test_float16_note_is_an_event_once() -> None:
    """On a V100 the float16 choice is recorded as an Event once and carried in the conditions."""
    from kaito_core.api import load_documents
    from kaito_core.observed import Observed
    from kaito_core.plan import PlanSettings, plan
    from kaito_presets import default_catalog
    from tests.conftest import EXAMPLES

    doc = load_documents((EXAMPLES / "workspace-phi-3-mini.yaml").read_text()).workspaces[0]
    assert doc.workspace is not None
    settings = PlanSettings(provisioner="fake")
    first = plan(
        doc.workspace,
        observed=Observed(),
        catalog=default_catalog(),
        now="2026-01-01T00:00:00Z",
        settings=settings,
    )
    notes = [e for e in first.events if e.reason == "RuntimeAdjusted"]
    assert len(notes) == 1
    assert "float16" in notes[0].message
    messages = {c.type: c.message or "" for c in first.status.conditions or ()}
    assert "float16" in messages["InferenceReady"]
    assert "float16" in messages["ResourceReady"]
    again = plan(
        attrs.evolve(doc.workspace, status=first.status),
        observed=Observed(),
        catalog=default_catalog(),
        now="2026-01-01T00:00:10Z",
        settings=settings,
    )
    assert [e for e in again.events if e.reason == "RuntimeAdjusted"] == []
