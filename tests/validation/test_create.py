"""v1beta1 CREATE rules (controller.md §2.1, §2.4, §2.5), one table row per upstream-style case."""

from __future__ import annotations

import pytest

from kaito_core.validation import FeatureGates, ValidationContext
from kaito_presets import OfflineMetadataSource
from kaito_presets.testing import make_model
from tests.validation.helpers import (
    A10,
    BYO,
    BYO_ACC,
    BYO_MIG,
    DATA_URL,
    DELETE,
    NO_CMS,
    PVC,
    TEST_CATALOG,
    V100,
    Case,
    adapter,
    case,
    check,
    config_map,
    edit,
    inference,
    node,
    template,
    tuning,
    unique_ids,
    with_cms,
)

INF = inference()
TUN = tuning()
TPL = template()
RES = "spec.resource"
IT = "spec.resource.instanceType"
SEL = "spec.resource.labelSelector"
PART = "spec.resource.partition"
PRESET = "spec.inference.preset.name"
ADP = "spec.inference.adapters"
CFG = "spec.inference.config"
TCFG = "spec.tuning.config"
ANN = 'metadata.annotations["{}"]'
TRANSFORMERS = {"metadata.annotations": {"kaito.sh/runtime": "transformers"}}
RESERVED = {"kaito.sh/workspace": "ws", "karpenter.kaito.sh/workspace-name": "ws"}
KARPENTER_CLASSES = ValidationContext(node_classes=("default", "gpu-large"))
AWS = ValidationContext(cloud_provider="aws")
STREAMING = FeatureGates(model_streaming=True)
TINY = inference("tiny-model-8b")


def _ann(key: str) -> str:
    return ANN.format(key)


def _cm(name: str, text: str | None, key: str = "inference_config.yaml") -> dict[str, object]:
    return config_map(name, None if text is None else {key: text})


def _tuning_cm(text: str, name: str = "train") -> ValidationContext:
    return with_cms(_cm(name, text, "training_config.yaml"))


QLORA_OK = """\
training_config:
  ModelConfig: {torch_dtype: bfloat16}
  QuantizationConfig: {load_in_4bit: true}
  TrainingArguments: {output_dir: /mnt/results}
"""
TCM = edit(TUN, {"tuning.config": "train"})

META = [
    case("Valid Workspace - preset inference", "A preset on a known SKU validates.", INF),
    case("Valid Workspace - template inference", "A pod template on a known SKU validates.", TPL),
    case("Valid Workspace - tuning", "A qlora tuning job with URL input and volume output.", TUN),
    case(
        "Invalid name - uppercase",
        "The workspace name must be a lowercase DNS-1123 label.",
        edit(INF, {"metadata.name": "My-Workspace"}),
        ("metadata.name", "a lowercase RFC 1123 label must consist of"),
    ),
    case(
        "Invalid name - too long",
        "A 64-character name is over the label limit.",
        edit(INF, {"metadata.name": "w" * 64}),
        ("metadata.name", "must be no more than 63 characters"),
    ),
    case(
        "Invalid name - dots",
        "A subdomain with dots is not a label.",
        edit(INF, {"metadata.name": "my.workspace"}),
        ("metadata.name", "must not contain dots"),
    ),
    case(
        "Invalid name - missing",
        "A workspace without a name is rejected.",
        edit(INF, {"metadata.name": DELETE}),
        ("metadata.name", "name or generateName is required"),
    ),
    case(
        "Valid name - generateName only",
        "generateName stands in for a name.",
        edit(INF, {"metadata.name": DELETE, "metadata.generateName": "ws-"}),
    ),
    case(
        "Invalid namespace",
        "The namespace must be a DNS-1123 label.",
        edit(INF, {"metadata.namespace": "Team_A"}),
        ("metadata.namespace", "RFC 1123 label"),
    ),
    case(
        "Invalid label key",
        "Label keys are qualified names.",
        edit(INF, {"metadata.labels": {"bad key!": "x"}}),
        ('metadata.labels["bad key!"]', "name part must consist of alphanumeric characters"),
    ),
    case(
        "Invalid label value - too long",
        "Label values are at most 63 characters.",
        edit(INF, {"metadata.labels": {"team": "v" * 64}}),
        ('metadata.labels["team"]', "must be no more than 63 characters"),
    ),
    case(
        "Invalid label key - empty prefix",
        "A key with an empty prefix is rejected.",
        edit(INF, {"metadata.labels": {"/name": "x"}}),
        ('metadata.labels["/name"]', "prefix part must be non-empty"),
    ),
    case(
        "Invalid annotation key",
        "Annotation keys are qualified names.",
        edit(INF, {"metadata.annotations": {"a/b/c": "x"}}),
        ('metadata.annotations["a/b/c"]', "a qualified name must consist of"),
    ),
    case(
        "Invalid annotations - over 256 KiB",
        "All annotations together are at most 256 KiB.",
        edit(INF, {"metadata.annotations": {"note": "x" * (256 * 1024)}}),
        ("metadata.annotations", "must have at most 262144 bytes"),
    ),
    case(
        "Neither inference nor tuning",
        "A workspace must do something.",
        edit(INF, {"inference": DELETE}),
        ("spec", "Either Inference or Tuning must be specified, not neither"),
    ),
    case(
        "Both inference and tuning",
        "A workspace cannot do both.",
        edit(INF, {"tuning": TUN["tuning"]}),
        ("spec", "Either Inference or Tuning must be specified, but not both"),
    ),
]

NAP = [
    case(
        "NAP enabled - missing instanceType",
        "Auto-provisioning needs an instance type.",
        inference(instance=None),
        (IT, "instanceType is required when node auto-provisioning is enabled"),
    ),
    case(
        "NAP disabled - instanceType set",
        "BYO nodes take no instance type.",
        INF,
        (IT, "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)"),
        context=BYO,
    ),
    case(
        "NAP disabled - no instanceType, node inventory unknown",
        "BYO without a node list skips the node checks.",
        inference(instance=None),
        context=BYO,
    ),
    case(
        "BYO provisioner implies NAP disabled",
        "provisioner=byo turns auto-provisioning off even if the flag says on.",
        inference(instance=None),
        context=ValidationContext(provisioner="byo"),
    ),
    case(
        "Missing resource",
        "No resource: labelSelector is required and instanceType missing.",
        edit(INF, {"resource": DELETE}),
        (SEL, "required field is missing"),
        (IT, "instanceType is required"),
    ),
]

ANNOTATIONS = [
    case(
        "Valid node image family - case and space insensitive",
        "' Ubuntu ' counts as ubuntu.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-image-family": " Ubuntu "}}),
    ),
    case(
        "Valid node image family - azurelinux",
        "azurelinux is supported.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-image-family": "AzureLinux"}}),
    ),
    case(
        "Invalid node image family",
        "windows is not a node image family.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-image-family": "windows"}}),
        (
            _ann("kaito.sh/node-image-family"),
            'unsupported node image family "windows", supported values are azurelinux, ubuntu',
        ),
    ),
    case(
        "Valid performance mode",
        "throughput is a performance mode.",
        edit(INF, {"metadata.annotations": {"kaito.sh/performance-mode": "throughput"}}),
    ),
    case(
        "Invalid performance mode",
        "fast is not a performance mode.",
        edit(INF, {"metadata.annotations": {"kaito.sh/performance-mode": "fast"}}),
        (
            _ann("kaito.sh/performance-mode"),
            '"fast" is not a valid performance mode; choose one of: balanced, interactivity, '
            "throughput",
        ),
    ),
    case(
        "Invalid use-local-weights",
        "use-local-weights must be true or false.",
        edit(INF, {"metadata.annotations": {"kaito.sh/use-local-weights": "yes"}}),
        (_ann("kaito.sh/use-local-weights"), '"yes" must be "true" or "false"'),
    ),
    case(
        "Valid use-local-weights",
        "true is accepted.",
        edit(INF, {"metadata.annotations": {"kaito.sh/use-local-weights": "true"}}),
    ),
    case(
        "Valid node class",
        "A NodeClass from the allow-list is accepted.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "gpu-large"}}),
        context=KARPENTER_CLASSES,
    ),
    case(
        "Invalid node class",
        "A NodeClass outside the allow-list is rejected.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
        (
            _ann("kaito.sh/node-class-name"),
            '"other" is not a KAITO-managed NodeClass, supported values are [default gpu-large]',
        ),
        context=KARPENTER_CLASSES,
    ),
    case(
        "Node class ignored without karpenter",
        "The gpu-provisioner ignores the node-class annotation.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
        context=ValidationContext(provisioner="azure-gpu-provisioner", node_classes=("default",)),
    ),
    case(
        "Node class with unknown allow-list",
        "An empty allow-list means unknown, so nothing is rejected.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
    ),
]

SELECTOR = [
    case(
        "Invalid count - zero",
        "resource.count must be at least 1.",
        edit(INF, {"resource.count": 0}),
        (f"{RES}.count", "must be greater than or equal to 1"),
    ),
    case(
        "Invalid count - negative",
        "A negative count is rejected.",
        edit(INF, {"resource.count": -2}),
        (f"{RES}.count", "must be greater than or equal to 1"),
    ),
    case(
        "Valid count - several nodes with vLLM",
        "vLLM inference may ask for several nodes.",
        edit(INF, {"resource.count": 3}),
    ),
    case(
        "Missing labelSelector",
        "The CRD requires resource.labelSelector.",
        edit(INF, {"resource.labelSelector": DELETE}),
        (SEL, "required field is missing"),
    ),
    case(
        "Valid - empty labelSelector",
        "An empty selector is allowed.",
        edit(INF, {"resource.labelSelector": {}}),
    ),
    case(
        "Invalid - matchLabels only contains reserved KAITO labels",
        "Selecting only on KAITO's own labels selects nothing of the user's.",
        edit(INF, {"resource.labelSelector.matchLabels": RESERVED}),
        (f"{SEL}.matchLabels", "matchLabels must contain at least one non-reserved label"),
    ),
    case(
        "Valid - matchLabels with some reserved labels",
        "Reserved keys next to a user key only warn upstream.",
        edit(INF, {"resource.labelSelector.matchLabels": {**RESERVED, "apps": "x"}}),
    ),
    case(
        "Invalid - NotIn matchExpression",
        "Only In with one value converts to a map.",
        edit(
            INF,
            {
                "resource.labelSelector.matchExpressions": [
                    {"key": "zone", "operator": "NotIn", "values": ["a"]}
                ]
            },
        ),
        (
            f"{SEL}.matchExpressions[0].operator",
            'operator "NotIn" cannot be converted into the old label selector format',
        ),
    ),
    case(
        "Invalid - In matchExpression with two values",
        "In with several values does not convert.",
        edit(
            INF,
            {
                "resource.labelSelector.matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}
                ]
            },
        ),
        (f"{SEL}.matchExpressions[0].operator", "without a single value"),
    ),
    case(
        "Valid - In matchExpression with one value",
        "In with one value is a label.",
        edit(
            INF,
            {
                "resource.labelSelector.matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a"]}
                ]
            },
        ),
    ),
    case(
        "Invalid - unknown selector operator",
        "Foo is not an operator.",
        edit(
            INF, {"resource.labelSelector.matchExpressions": [{"key": "zone", "operator": "Foo"}]}
        ),
        (f"{SEL}.matchExpressions[0].operator", '"Foo" is not a valid selector operator'),
    ),
    case(
        "Invalid matchLabels key",
        "matchLabels keys follow the label key rules.",
        edit(INF, {"resource.labelSelector.matchLabels": {"app name": "x"}}),
        (f'{SEL}.matchLabels["app name"]', "name part must consist of"),
    ),
    case(
        "Invalid matchLabels value - over 63 characters",
        "matchLabels values follow the label value rules.",
        edit(INF, {"resource.labelSelector.matchLabels": {"apps": "x" * 64}}),
        (f'{SEL}.matchLabels["apps"]', "must be no more than 63 characters"),
    ),
    case(
        "Invalid matchExpression key",
        "Expression keys follow the label key rules.",
        edit(
            INF,
            {
                "resource.labelSelector.matchExpressions": [
                    {"key": "-zone", "operator": "In", "values": ["a"]}
                ]
            },
        ),
        (f"{SEL}.matchExpressions[0].key", "name part must consist of"),
    ),
    case(
        "Invalid matchExpression value",
        "Expression values follow the label value rules.",
        edit(
            INF,
            {
                "resource.labelSelector.matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a b"]}
                ]
            },
        ),
        (f"{SEL}.matchExpressions[0].values[0]", "a valid label must be an empty string"),
    ),
]

SKUS = [
    case(
        "Invalid SKU",
        "An unknown instance type is rejected with the supported list.",
        inference(instance="Standard_invalid_sku"),
        (IT, "Unsupported instance type Standard_invalid_sku. Supported SKUs: "),
    ),
    case(
        "N-Prefix SKU",
        "Unknown Standard_N* SKUs are rejected too (upstream lets them through to fail later).",
        inference(instance="Standard_NC96ads_A100_v9"),
        (IT, "Unsupported instance type Standard_NC96ads_A100_v9"),
        (IT, "Standard_NC96ads_A100_v4"),
    ),
    case(
        "D-Prefix SKU",
        "Unknown Standard_D* SKUs are rejected.",
        inference(instance="Standard_D4s_v3"),
        (IT, "Unsupported instance type Standard_D4s_v3"),
    ),
    case(
        "Unsupported SKU list is truncated",
        "The message names ten SKUs and says how many more exist.",
        inference(instance="Standard_XYZ"),
        (IT, "more; see `kaito skus`"),
    ),
    case(
        "Valid SKU - case insensitive",
        "SKU lookup ignores case.",
        inference(instance="standard_nc24ads_a100_v4"),
    ),
    case(
        "Valid SKU - legacy V100",
        "Standard_NC6s_v3 (V100, cc 7.0) runs in float16.",
        inference(instance=V100),
    ),
    case(
        "Valid SKU - legacy T4",
        "Standard_NC4as_T4_v3 (T4, cc 7.5) runs in float16.",
        inference(instance="Standard_NC4as_T4_v3"),
    ),
    case(
        "Invalid SKU - Maxwell GPU",
        "Compute capability 5.2 is below anything our runtimes start on.",
        inference(instance="Standard_NV6"),
        (IT, "cannot run any KAITO runtime"),
    ),
    case(
        "Invalid SKU - AMD GPU",
        "Non-NVIDIA accelerators cannot run our images.",
        inference(instance="Standard_NG32ads_V620_v1"),
        (IT, "cannot run any KAITO runtime"),
    ),
    case(
        "Valid SKU - AMD GPU for a template",
        "A user's own pod template may target any GPU.",
        template(instance="Standard_NG32ads_V620_v1"),
    ),
    case(
        "AWS - Azure SKU is unknown",
        "SKUs come from the cloud provider's table.",
        INF,
        (IT, "Unsupported instance type Standard_NC24ads_A100_v4"),
        context=AWS,
    ),
    case(
        "AWS - valid SKU", "g5.xlarge is an AWS SKU.", inference(instance="g5.xlarge"), context=AWS
    ),
    case(
        "AWS - Trainium rejected",
        "Trainium is not an NVIDIA GPU.",
        inference(instance="trn1.2xlarge"),
        (IT, "cannot run any KAITO runtime"),
        context=AWS,
    ),
    case(
        "Unknown cloud provider",
        "No SKU table for the cloud.",
        INF,
        (IT, "Failed to get SKU handler: Unsupported cloud provider gcp"),
        context=ValidationContext(cloud_provider="gcp"),
    ),
    case(
        "Arc - valid SKU",
        "Arc has its own table.",
        inference(instance="Standard_NC4_A2"),
        context=ValidationContext(cloud_provider="arc"),
    ),
]

MEMORY = [
    case(
        "Valid Resource - SKU Capacity == Model Requirement",
        "80 GiB of weights on an 80 GiB GPU fits (Transformers checks memory).",
        edit(inference("big-80"), TRANSFORMERS),
        catalog=TEST_CATALOG,
    ),
    case(
        "Invalid Resource - SKU Capacity < Model Requirement",
        "81 GiB of weights on 80 GiB does not fit.",
        edit(inference("big-81"), TRANSFORMERS),
        (
            IT,
            "Insufficient total GPU memory: Instance type Standard_NC24ads_A100_v4 has a total "
            "of 80Gi, but preset big-81 requires at least 81.00Gi",
        ),
        catalog=TEST_CATALOG,
    ),
    case(
        "Valid Resource - vLLM skips the memory check",
        "With auto-provisioning and vLLM the estimator adds nodes instead.",
        edit(
            inference("llama-3.3-70b-instruct", instance=A10),
            {"inference.preset.presetOptions": {"modelAccessSecret": "hf-token"}},
        ),
    ),
    case(
        "Invalid Resource - Transformers on too small a node",
        "Transformers does not scale out, so memory is checked.",
        edit(inference("llama-3.3-70b-instruct", instance=A10), TRANSFORMERS),
        (IT, "Insufficient total GPU memory"),
    ),
    case(
        "Valid Resource - bypass annotation",
        "kaito.sh/bypass-resource-checks skips the memory check (not the multi-node rule).",
        edit(
            inference("single-node"),
            {
                "metadata.annotations": {
                    "kaito.sh/runtime": "transformers",
                    "kaito.sh/bypass-resource-checks": "",
                }
            },
        ),
        catalog=TEST_CATALOG,
    ),
    case(
        "Invalid Resource - Transformers multi-node",
        "Two nodes hold the weights, but Transformers cannot spread over them.",
        edit(inference("big-81"), {**TRANSFORMERS, "resource.count": 2}),
        (RES, "Multi-node distributed inference is not supported with Huggingface Transformers"),
        catalog=TEST_CATALOG,
    ),
    case(
        "vLLM gate off - memory is checked",
        "Without the vLLM gate every workspace runs Transformers.",
        inference("big-81"),
        (IT, "Insufficient total GPU memory"),
        catalog=TEST_CATALOG,
        context=ValidationContext(feature_gates=FeatureGates(vllm=False)),
    ),
    case(
        "Valid Resource - count multiplies memory",
        "Two 24 GiB nodes hold 26 GiB with Transformers' memory check (then multi-node fails).",
        edit(
            inference("phi-3-medium-4k-instruct", instance=A10),
            {**TRANSFORMERS, "resource.count": 2},
        ),
        (RES, "Multi-node distributed inference is not supported"),
    ),
]

PARTITIONS = [
    case(
        "NAP enabled - partition rejected",
        "Partitions need BYO nodes.",
        edit(INF, {"resource.partition": {"mode": "mig", "profile": "1g.10gb"}}),
        (
            PART,
            "GPU partitioning is only supported with BYO nodes (disableNodeAutoProvisioning=true)",
        ),
    ),
    case(
        "MIG - feature gate off",
        "MIG needs the enableMIG gate.",
        edit(
            inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "3g.40gb"}}
        ),
        (f"{PART}.mode", "MIG support is not enabled, set feature gate enableMIG=true"),
        context=BYO,
    ),
    case(
        "MIG - valid",
        "A known profile that holds the model.",
        edit(
            inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "3g.40gb"}}
        ),
        context=BYO_MIG,
    ),
    case(
        "MIG - count not allowed",
        "count belongs to accelerator mode.",
        edit(
            inference(instance=None),
            {"resource.partition": {"mode": "mig", "profile": "3g.40gb", "count": 2}},
        ),
        (f"{PART}.count", "count is only valid for accelerator mode"),
        context=BYO_MIG,
    ),
    case(
        "MIG - bad profile format",
        "Profiles look like 1g.10gb.",
        edit(inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "big"}}),
        (f"{PART}.profile", 'invalid MIG profile format "big"'),
        context=BYO_MIG,
    ),
    case(
        "MIG - unknown profile",
        "3g.41gb is not a profile any GPU offers.",
        edit(
            inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "3g.41gb"}}
        ),
        (f"{PART}.profile", 'unknown MIG profile "3g.41gb"'),
        context=BYO_MIG,
    ),
    case(
        "MIG - missing profile",
        "mig mode needs a profile.",
        edit(inference(instance=None), {"resource.partition": {"mode": "mig"}}),
        (f"{PART}.profile", "profile is required for mig mode"),
        context=BYO_MIG,
    ),
    case(
        "model exceeds the MIG slice",
        "26 GiB of weights do not fit a 10 GiB slice.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=None),
            {"resource.partition": {"mode": "mig", "profile": "1g.10gb"}},
        ),
        (
            PART,
            "Model phi-3-medium-4k-instruct requires at least 26.00Gi for weights, which "
            "exceeds the 1g.10gb MIG slice capacity of 10Gi",
        ),
        context=BYO_MIG,
    ),
    case(
        "model exceeds the MIG slice - bypassed",
        "The bypass annotation skips the slice check.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=None),
            {
                "resource.partition": {"mode": "mig", "profile": "1g.10gb"},
                "metadata.annotations": {"kaito.sh/bypass-resource-checks": "true"},
            },
        ),
        context=BYO_MIG,
    ),
    case(
        "accelerator - feature gate off",
        "accelerator needs the enableAccelerator gate.",
        edit(inference(instance=None), {"resource.partition": {"mode": "accelerator", "count": 2}}),
        (
            f"{PART}.mode",
            "accelerator partition support is not enabled, set feature gate enableAccelerator=true",
        ),
        context=BYO,
    ),
    case(
        "accelerator missing count",
        "accelerator mode needs a GPU count.",
        edit(inference(instance=None), {"resource.partition": {"mode": "accelerator"}}),
        (f"{PART}.count", "count is required for accelerator mode"),
        context=BYO_ACC,
    ),
    case(
        "accelerator with profile",
        "A profile means nothing for accelerator mode.",
        edit(
            inference(instance=None),
            {"resource.partition": {"mode": "accelerator", "count": 1, "profile": "1g.10gb"}},
        ),
        (f"{PART}.profile", "profile is not valid for accelerator mode"),
        context=BYO_ACC,
    ),
    case(
        "accelerator - valid",
        "Two whole GPUs of a BYO node.",
        edit(inference(instance=None), {"resource.partition": {"mode": "accelerator", "count": 2}}),
        context=BYO_ACC,
    ),
    case(
        "accelerator - count zero",
        "partition.count is at least 1 (CRD minimum).",
        edit(inference(instance=None), {"resource.partition": {"mode": "accelerator", "count": 0}}),
        (f"{PART}.count", "must be greater than or equal to 1"),
        context=BYO_ACC,
    ),
    case(
        "Unsupported partition mode",
        "Only mig and accelerator exist.",
        edit(inference(instance=None), {"resource.partition": {"mode": "gpu"}}),
        (
            f"{PART}.mode",
            'unsupported partition mode "gpu", supported modes are "mig" and "accelerator"',
        ),
        context=BYO,
    ),
]


def _byo(*nodes: dict[str, object]) -> ValidationContext:
    return ValidationContext(node_auto_provisioning=False, nodes=tuple(nodes))


BYO_NODES = [
    case(
        "BYO - uniform nodes",
        "Matching, labelled, uniform nodes validate.",
        inference(instance=None),
        context=_byo(node("n1"), node("n2")),
    ),
    case(
        "BYO - no matching nodes",
        "The selector must match some node.",
        inference(instance=None),
        (SEL, "No nodes found matching the specified label selector"),
        context=_byo(node("n1", labels={"apps": "other"})),
    ),
    case(
        "Invalid - node without GPU labels",
        "BYO nodes need GPU Feature Discovery labels.",
        inference(instance=None),
        (
            SEL,
            "Failed to get GPU config from nvidia labels on node n1: missing required "
            "nvidia.com labels on node n1",
        ),
        context=_byo(node("n1", gpu_labels=False)),
    ),
    case(
        "Invalid - non-uniform GPU products",
        "All nodes must have the same GPU product.",
        inference(instance=None),
        (SEL, "Non-uniform GPU product: node n2 has NVIDIA-H100 GPUs"),
        context=_byo(node("n1"), node("n2", product="NVIDIA-H100")),
    ),
    case(
        "Invalid - non-uniform GPU count",
        "All nodes must have the same GPU count.",
        inference(instance=None),
        (SEL, "Non-uniform GPU count"),
        context=_byo(node("n1"), node("n2", count=2)),
    ),
    case(
        "Invalid - non-uniform GPU memory",
        "All nodes must have the same GPU memory.",
        inference(instance=None),
        (SEL, "Non-uniform GPU memory"),
        context=_byo(node("n1"), node("n2", memory_mib=40960)),
    ),
    case(
        "BYO - insufficient memory",
        "BYO nodes always get the memory check, vLLM or not.",
        inference("phi-3-medium-4k-instruct", instance=None),
        (SEL, "Insufficient total GPU memory"),
        context=_byo(node("n1", product="Tesla-T4", memory_mib=15360, cc=(7, 5))),
    ),
    case(
        "BYO - two nodes hold the model",
        "Memory of all matched nodes counts.",
        inference("phi-3-medium-4k-instruct", instance=None),
        context=_byo(
            node("n1", product="Tesla-T4", memory_mib=15360, cc=(7, 5)),
            node("n2", product="Tesla-T4", memory_mib=15360, cc=(7, 5)),
        ),
    ),
    case(
        "BYO - old GPU rejected",
        "A cc 6.0 node cannot run any runtime.",
        inference(instance=None),
        (SEL, "cannot run any KAITO runtime"),
        context=_byo(node("n1", product="Tesla-P100", memory_mib=16384, cc=(6, 0))),
    ),
    case(
        "BYO - reserved labels ignored when matching",
        "Reserved matchLabels are stripped before nodes are listed.",
        edit(
            inference(instance=None),
            {"resource.labelSelector.matchLabels": {"apps": "test", "kaito.sh/workspace": "ws"}},
        ),
        context=_byo(node("n1")),
    ),
    case(
        "BYO - template skips the node checks",
        "Only presets are checked against BYO nodes.",
        template(instance=None),
        context=_byo(node("n1", labels={"apps": "other"})),
    ),
]

PRESETS = [
    case(
        "Preset or Template missing",
        "Inference needs a preset or a template.",
        edit(INF, {"inference": {"config": "x"}}),
        ("spec.inference", "Preset or Template must be specified"),
    ),
    case(
        "Preset and Template both set",
        "Inference takes one of preset and template.",
        edit(INF, {"inference.template": TPL["inference"]["template"]}),
        ("spec.inference", "Preset and Template cannot be set at the same time"),
    ),
    case(
        "Preset name empty",
        "The CRD requires preset.name.",
        inference(""),
        (PRESET, "required field is missing"),
    ),
    case(
        "Unsupported preset name",
        "An unknown short name is not a preset.",
        inference("does-not-exist"),
        (PRESET, "Unsupported inference preset name does-not-exist"),
    ),
    case(
        "Deprecated Model",
        "phi-2 is deprecated.",
        inference("phi-2"),
        (PRESET, "Model phi-2 is deprecated and no longer supported"),
    ),
    case(
        "Removed preset",
        "falcon-7b was removed in v0.12.",
        inference("falcon-7b"),
        (PRESET, "Unsupported inference preset name falcon-7b"),
    ),
    case(
        "Hugging Face id without a metadata source",
        "An org/name id outside the catalog cannot be resolved offline.",
        inference("someorg/some-model"),
        (PRESET, "failed to get model preset: model someorg/some-model is not in the catalog"),
    ),
    case(
        "Hugging Face id from a metadata source",
        "The catalog's metadata source resolves org/name ids.",
        inference("someorg/some-model"),
        catalog=TEST_CATALOG.with_metadata_source(
            OfflineMetadataSource(
                [make_model(hf_id="someorg/Some-Model")],
                vllm_architectures=TEST_CATALOG.vllm_architectures,
            )
        ),
    ),
    case(
        "Hugging Face id in the catalog",
        "Catalog ids match case-insensitively.",
        inference("microsoft/Phi-4-mini-instruct"),
    ),
    case("Legacy alias", "mistral-7b resolves to mistral-7b-v0.3.", inference("mistral-7b")),
    case(
        "Invalid accessMode",
        "accessMode is public or private (CRD enum).",
        edit(INF, {"inference.preset.accessMode": "secret"}),
        ("spec.inference.preset.accessMode", 'Unsupported value: "secret"'),
    ),
    case(
        "Valid accessMode private",
        "v1beta1 ignores accessMode beyond the enum.",
        edit(INF, {"inference.preset.accessMode": "private"}),
    ),
    case(
        "Transformers unsupported by the model",
        "phi-4-mini-instruct has no Transformers runtime.",
        edit(inference("phi-4-mini-instruct"), TRANSFORMERS),
        (
            PRESET,
            "model phi-4-mini-instruct does not support inference with Huggingface "
            "Transformers runtime",
        ),
    ),
    case(
        "Transformers supported by the model",
        "phi-3 runs on Transformers.",
        edit(INF, TRANSFORMERS),
    ),
    case(
        "Unknown runtime annotation means vLLM",
        "Upstream treats unknown runtime names as vllm.",
        edit(inference("phi-4-mini-instruct"), {"metadata.annotations": {"kaito.sh/runtime": "x"}}),
    ),
    case(
        "download model at runtime but no access secret",
        "A gated model needs modelAccessSecret.",
        inference("gated"),
        (
            "spec.inference.preset.presetOptions.modelAccessSecret",
            "This preset requires authentication and needs a modelAccessSecret with HF_TOKEN key",
        ),
        catalog=TEST_CATALOG,
    ),
    case(
        "gated Llama preset without an access secret",
        "meta-llama is gated on Hugging Face: the shipped catalog asks for a token (fixed upstream "
        "defect: v0.12 lets it through, and the download fails).",
        inference("llama-3.1-8b-instruct"),
        (
            "spec.inference.preset.presetOptions.modelAccessSecret",
            "This preset requires authentication and needs a modelAccessSecret with HF_TOKEN key",
        ),
    ),
    case(
        "download model at runtime with access secret",
        "A gated model with a secret validates.",
        edit(
            inference("gated"),
            {"inference.preset.presetOptions": {"modelAccessSecret": "hf-token"}},
        ),
        catalog=TEST_CATALOG,
    ),
    case(
        "access secret not needed",
        "A model baked into its image takes no secret.",
        edit(
            inference("baked-in"), {"inference.preset.presetOptions": {"modelAccessSecret": "hf"}}
        ),
        (
            "spec.inference.preset.presetOptions.modelAccessSecret",
            "This preset does not require a modelAccessSecret",
        ),
        catalog=TEST_CATALOG,
    ),
    case(
        "Invalid access secret name",
        "Secret names are DNS subdomains.",
        edit(INF, {"inference.preset.presetOptions": {"modelAccessSecret": "HF_Token"}}),
        ("spec.inference.preset.presetOptions.modelAccessSecret", 'invalid name "HF_Token"'),
    ),
    case(
        "Transformers-less model in the test catalog",
        "A vLLM-only preset rejects the Transformers runtime.",
        edit(inference("vllm-only"), TRANSFORMERS),
        (PRESET, "does not support inference with Huggingface Transformers runtime"),
        catalog=TEST_CATALOG,
    ),
]

ADAPTERS = [
    case(
        "Valid adapter",
        "An image adapter with a lowercase reference.",
        edit(INF, {"inference.adapters": [adapter()]}),
    ),
    case(
        "Valid adapter - volume",
        "A volume adapter.",
        edit(INF, {"inference.adapters": [adapter(image=None, volumeSource=PVC)]}),
    ),
    case(
        "Adapters names are duplicated",
        "Adapter source names are unique.",
        edit(INF, {"inference.adapters": [adapter("a"), adapter("a")]}),
        (f"{ADP}[1].source.name", "Duplicate adapter source name found: a"),
    ),
    case(
        "Adapters exceed the maximum",
        "At most ten adapters.",
        edit(INF, {"inference.adapters": [adapter(f"a{i}") for i in range(11)]}),
        (ADP, "Number of Adapters exceeds the maximum limit, maximum of 10 allowed"),
    ),
    case(
        "Adapters at the maximum",
        "Ten adapters are fine.",
        edit(INF, {"inference.adapters": [adapter(f"a{i}") for i in range(10)]}),
    ),
    case(
        "Adapter without source",
        "A nil source is an error, not a crash (fixed upstream defect).",
        edit(INF, {"inference.adapters": [{"strength": "1.0"}]}),
        (f"{ADP}[0].source", "required field is missing"),
    ),
    case(
        "Adapter without name",
        "Adapters need a name.",
        edit(INF, {"inference.adapters": [adapter("")]}),
        (f"{ADP}[0].source.name", "Name of Adapter field must be specified"),
    ),
    case(
        "Adapter name not a DNS subdomain",
        "Adapter names are DNS subdomains.",
        edit(INF, {"inference.adapters": [adapter("My_Adapter")]}),
        (f"{ADP}[0].source.name", "RFC 1123 subdomain"),
    ),
    case(
        "Adapter name too long",
        "Over 253 characters is too long.",
        edit(INF, {"inference.adapters": [adapter("a" * 254)]}),
        (f"{ADP}[0].source.name", "must be no more than 253 characters"),
    ),
    case(
        "Adapter without image or volume",
        "An adapter needs an image or a volume.",
        edit(INF, {"inference.adapters": [adapter(image=None)]}),
        (f"{ADP}[0].source", "Either Image or Volume must be specified for adapter source"),
    ),
    case(
        "Adapter from URLs",
        "URLs cannot be adapter sources.",
        edit(INF, {"inference.adapters": [adapter(urls=[DATA_URL])]}),
        (f"{ADP}[0].source.urls", "URLs are not supported as adapter source"),
    ),
    case(
        "Adapter with image and volume",
        "Exactly one kind of source.",
        edit(INF, {"inference.adapters": [adapter(volumeSource=PVC)]}),
        (f"{ADP}[0].source", "Exactly one of URLs, Volume, or Image must be specified"),
    ),
    case(
        "Adapter placeholder image",
        "The example's placeholder is called one (checked on create: fixed upstream defect).",
        edit(
            INF,
            {"inference.adapters": [adapter(image="ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1")]},
        ),
        (
            f"{ADP}[0].source.image",
            'adapter image "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1" looks like a placeholder '
            "from an example; replace it with your registry and image name",
        ),
    ),
    case(
        "Adapter upper-case image",
        "Upper-case repositories do not parse (checked on create: fixed upstream defect).",
        edit(INF, {"inference.adapters": [adapter(image="myregistry.azurecr.io/ADAPTER:0.0.1")]}),
        (
            f"{ADP}[0].source.image",
            "Unable to parse adapter image reference "
            '"myregistry.azurecr.io/ADAPTER:0.0.1": repository name must be lowercase',
        ),
    ),
    case(
        "Adapter image with a bad tag",
        "Tags cannot start with '-'.",
        edit(INF, {"inference.adapters": [adapter(image="example.com/adapter:-x")]}),
        (f"{ADP}[0].source.image", "invalid reference format"),
    ),
    case(
        "Adapter pull secret name",
        "Pull secret names are DNS subdomains.",
        edit(INF, {"inference.adapters": [adapter(imagePullSecrets=["Bad_Secret"])]}),
        (f"{ADP}[0].source.imagePullSecrets[0]", 'invalid name "Bad_Secret"'),
    ),
    case(
        "Invalid Strength, larger than 1",
        "Strength is in [0, 1].",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="1.5")]}),
        (f"{ADP}[0].strength", "Strength value for Adapter 'adapter-a' must be between 0 and 1"),
    ),
    case(
        "Invalid Strength, negative",
        "Negative strengths are rejected.",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="-0.1")]}),
        (f"{ADP}[0].strength", "must be between 0 and 1"),
    ),
    case(
        "Invalid Strength, not a number",
        "Strength must parse as a float.",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="strong")]}),
        (
            f"{ADP}[0].strength",
            "Invalid strength value for Adapter 'adapter-a': "
            'strconv.ParseFloat: parsing "strong": invalid syntax',
        ),
    ),
    case(
        "Invalid Strength, empty",
        "An empty strength does not parse.",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="")]}),
        (f"{ADP}[0].strength", "Invalid strength value"),
    ),
    case(
        "Invalid Strength, NaN",
        "NaN is not in [0, 1] (upstream's comparison lets it through).",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="NaN")]}),
        (f"{ADP}[0].strength", "must be between 0 and 1"),
    ),
    case(
        "Valid Strength with Transformers",
        "Transformers honours strengths.",
        edit(inference(), {**TRANSFORMERS, "inference.adapters": [adapter(strength="0.5")]}),
    ),
    case(
        "vLLM - strength rejected",
        "vLLM cannot scale adapters.",
        edit(INF, {"inference.adapters": [adapter(strength="0.5")]}),
        (f"{ADP}[0].strength", "vLLM does not support adapter strength"),
    ),
    case(
        "vLLM - strength 1.0 is the identity",
        "1.0 changes nothing, so vLLM accepts it.",
        edit(INF, {"inference.adapters": [adapter(strength="1.0")]}),
    ),
    case(
        "vLLM - strength 1 and 1e0",
        "Any spelling of exactly 1.0 is the identity.",
        edit(
            INF, {"inference.adapters": [adapter("a", strength="1"), adapter("b", strength="1e0")]}
        ),
    ),
    case(
        "vLLM - model disallows LoRA",
        "Some models cannot take LoRA adapters in vLLM.",
        edit(inference("no-lora"), {"inference.adapters": [adapter()]}),
        (ADP, "vLLM does not support LoRA adapters for this model: no-lora"),
        catalog=TEST_CATALOG,
    ),
    case(
        "Transformers - model disallows LoRA in vLLM only",
        "The LoRA restriction is vLLM's.",
        edit(inference("no-lora"), {**TRANSFORMERS, "inference.adapters": [adapter()]}),
        catalog=TEST_CATALOG,
    ),
    case(
        "Template - adapter strengths not runtime-checked",
        "A template's runtime is the user's.",
        edit(TPL, {"inference.adapters": [adapter(strength="0.5")]}),
    ),
]

INFERENCE_CONFIG = [
    case(
        "Inference config - unknown ConfigMaps",
        "With no ConfigMap inventory, existence is not checked.",
        edit(INF, {"inference.config": "my-config"}),
    ),
    case(
        "Inference config - not found",
        "A ConfigMap the context does not have is missing.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "ConfigMap 'my-config' specified in 'config' not found in namespace 'default'"),
        context=NO_CMS,
    ),
    case(
        "Inference config - missing key",
        "The ConfigMap needs inference_config.yaml.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "missing inference_config.yaml in ConfigMap 'my-config'"),
        context=with_cms(_cm("my-config", "x", key="other.yaml")),
    ),
    case(
        "Inference config - malformed YAML",
        "The YAML must parse.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "Failed to parse inference_config.yaml"),
        context=with_cms(_cm("my-config", "vllm: [unclosed")),
    ),
    case(
        "max-model-len exceeds ModelTokenLimit",
        "phi-3-mini-4k's context window is 4096.",
        edit(INF, {"inference.config": "my-config"}),
        (
            CFG,
            "max-model-len 8192 exceeds model's maximum supported context window 4096 "
            "(ModelTokenLimit)",
        ),
        context=with_cms(_cm("my-config", "vllm:\n  max-model-len: 8192\n")),
    ),
    case(
        "max-model-len equals ModelTokenLimit",
        "The limit itself is fine.",
        edit(INF, {"inference.config": "my-config"}),
        context=with_cms(_cm("my-config", "vllm:\n  max-model-len: 4096\n")),
    ),
    case(
        "max-model-len not an integer",
        "max-model-len must be an integer.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "max-model-len must be an integer"),
        context=with_cms(_cm("my-config", "vllm:\n  max-model-len: lots\n")),
    ),
    case(
        "max-model-len zero",
        "max-model-len must be positive.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "max-model-len must be a positive integer"),
        context=with_cms(_cm("my-config", "vllm:\n  max-model-len: 0\n")),
    ),
    case(
        "max-model-len blank",
        "A blank value is ignored.",
        edit(INF, {"inference.config": "my-config"}),
        context=with_cms(_cm("my-config", "vllm:\n  max-model-len: ''\n")),
    ),
    case(
        "Inference config - vllm not a map",
        "vllm is a map of strings.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "'vllm' must be a map"),
        context=with_cms(_cm("my-config", "vllm: [1, 2]\n")),
    ),
    case(
        "Inference config - nested value",
        "vllm values are scalars.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "vllm.kv must be a string, number or boolean"),
        context=with_cms(_cm("my-config", "vllm:\n  kv: {a: 1}\n")),
    ),
    case(
        "Inference config - other keys allowed",
        "Top-level keys besides vllm are allowed.",
        edit(INF, {"inference.config": "my-config"}),
        context=with_cms(_cm("my-config", "max_probe_steps: 6\nvllm:\n  swap-space: 4\n")),
    ),
    case(
        "Inference config - Transformers skips it",
        "Only vLLM reads inference_config.yaml.",
        edit(INF, {**TRANSFORMERS, "inference.config": "absent"}),
        context=NO_CMS,
    ),
    case(
        "Inference config - bad name",
        "ConfigMap names are DNS subdomains.",
        edit(INF, {"inference.config": "My_Config"}),
        (CFG, 'invalid name "My_Config"'),
    ),
    case(
        "Inference config - data not a map",
        "ConfigMap data must be a map.",
        edit(INF, {"inference.config": "my-config"}),
        (CFG, "'data' field that is not a map"),
        context=with_cms(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "my-config", "namespace": "default"},
                "data": [1],
            }
        ),
    ),
    case(
        "Inference config - other namespace",
        "The ConfigMap is looked up in the workspace's namespace.",
        edit(INF, {"inference.config": "my-config", "metadata.namespace": "team"}),
        (CFG, "not found in namespace 'team'"),
        context=with_cms(_cm("my-config", "vllm: {}\n")),
    ),
]

STREAMING_CASES = [
    case(
        "Model streaming - Azure",
        "Azure has a blob CSI driver for streaming.",
        INF,
        context=ValidationContext(feature_gates=STREAMING),
    ),
    case(
        "Model streaming - unsupported cloud",
        "Streaming needs a CSI driver mapping for the cloud.",
        inference(instance="g5.xlarge"),
        ("spec.inference.preset", 'unsupported cloud provider "aws" for model streaming'),
        context=ValidationContext(feature_gates=STREAMING, cloud_provider="aws"),
    ),
    case(
        "Model streaming - opted out",
        "kaito.sh/model-streaming: disabled opts out.",
        edit(
            inference(instance="g5.xlarge"),
            {"metadata.annotations": {"kaito.sh/model-streaming": "disabled"}},
        ),
        context=ValidationContext(feature_gates=STREAMING, cloud_provider="aws"),
    ),
]

TUNING = [
    case(
        "Tuning validation with multinode",
        "Tuning runs on one node.",
        edit(TUN, {"resource.count": 2}),
        (f"{RES}.count", "Tuning does not currently support multinode configurations"),
    ),
    case(
        "Tuning with a partition",
        "Partitions are not for tuning.",
        edit(tuning(instance=None), {"resource.partition": {"mode": "accelerator", "count": 1}}),
        (PART, "GPU partitioning is not supported for tuning workloads"),
        context=BYO_ACC,
    ),
    case(
        "Invalid tuning method",
        "Methods are lora and qlora.",
        tuning(method="adam"),
        ("spec.tuning.method", 'invalid value "adam": supported tuning methods are lora and qlora'),
    ),
    case("Tuning method case-insensitive", "LoRA is lora.", tuning(method="LoRA")),
    case(
        "Missing tuning method",
        "The method is required.",
        edit(TUN, {"tuning.method": DELETE}),
        ("spec.tuning.method", 'invalid value ""'),
    ),
    case(
        "Missing tuning input",
        "The CRD requires tuning.input.",
        edit(TUN, {"tuning.input": DELETE}),
        ("spec.tuning.input", "required field is missing"),
    ),
    case(
        "Missing tuning output",
        "The CRD requires tuning.output.",
        edit(TUN, {"tuning.output": DELETE}),
        ("spec.tuning.output", "required field is missing"),
    ),
    case(
        "Missing tuning preset",
        "Tuning needs a preset.",
        edit(TUN, {"tuning.preset": DELETE}),
        ("spec.tuning.preset", "required field is missing"),
    ),
    case(
        "Unsupported tuning preset",
        "falcon-7b is gone.",
        tuning("falcon-7b"),
        ("spec.tuning.preset.name", "Unsupported tuning preset name falcon-7b"),
    ),
    case(
        "Preset without tuning support",
        "deepseek-r1-distill-llama-8b cannot be tuned.",
        tuning("deepseek-r1-distill-llama-8b"),
        ("spec.tuning.preset.name", "Unsupported tuning preset name deepseek-r1-distill-llama-8b"),
    ),
    case(
        "Preset without the tuning method",
        "A lora-only preset refuses qlora.",
        tuning("lora-only"),
        ("spec.tuning.method", "preset lora-only does not support tuning method qlora"),
        catalog=TEST_CATALOG,
    ),
    case(
        "Private URL",
        "Tuning data cannot come from the private network.",
        edit(TUN, {"tuning.input.urls": ["http://10.0.0.5/data.parquet"]}),
        (
            "spec.tuning.input.urls[0]",
            "data source URL must not target a loopback, private, or link-local address",
        ),
    ),
    case(
        "Metadata hostname URL",
        "Cloud metadata endpoints are refused.",
        edit(TUN, {"tuning.input.urls": ["http://metadata.google.internal/computeMetadata/v1/"]}),
        (
            "spec.tuning.input.urls[0]",
            "data source URL must not target a local or metadata endpoint",
        ),
    ),
    case(
        "Localhost URL",
        "localhost is refused.",
        edit(TUN, {"tuning.input.urls": [DATA_URL, "http://localhost:8080/x"]}),
        ("spec.tuning.input.urls[1]", "must not target a local or metadata endpoint"),
    ),
    case(
        "Loopback URL",
        "127.0.0.1 is refused.",
        edit(TUN, {"tuning.input.urls": ["https://127.0.0.1/x"]}),
        ("spec.tuning.input.urls[0]", "loopback, private, or link-local"),
    ),
    case(
        "Link-local URL",
        "The instance metadata address is link-local.",
        edit(TUN, {"tuning.input.urls": ["http://169.254.169.254/latest/meta-data"]}),
        ("spec.tuning.input.urls[0]", "loopback, private, or link-local"),
    ),
    case(
        "Decimal loopback URL",
        "2130706433 is 127.0.0.1 to a resolver (fixed upstream gap).",
        edit(TUN, {"tuning.input.urls": ["http://2130706433/x"]}),
        ("spec.tuning.input.urls[0]", "loopback, private, or link-local"),
    ),
    case(
        "IPv6 loopback URL",
        "[::1] is loopback.",
        edit(TUN, {"tuning.input.urls": ["http://[::1]:80/x"]}),
        ("spec.tuning.input.urls[0]", "loopback, private, or link-local"),
    ),
    case(
        "Non-HTTP URL",
        "Only http and https.",
        edit(TUN, {"tuning.input.urls": ["ftp://example.com/data.csv"]}),
        ("spec.tuning.input.urls[0]", "data source URL must use HTTP or HTTPS"),
    ),
    case(
        "Invalid URL",
        "A URL needs a scheme and a host.",
        edit(TUN, {"tuning.input.urls": ["data.csv"]}),
        ("spec.tuning.input.urls[0]", "invalid data source URL"),
    ),
    case(
        "Both fields specified",
        "Input takes exactly one of URLs, volume, image.",
        edit(TUN, {"tuning.input.image": "example.com/data:1"}),
        ("spec.tuning.input", "Exactly one of URLs, Volume, or Image must be specified"),
    ),
    case(
        "No input fields specified",
        "An empty input is not a source.",
        edit(TUN, {"tuning.input": {"name": "data"}}),
        ("spec.tuning.input", "Exactly one of URLs, Volume, or Image must be specified"),
    ),
    case(
        "Valid image input",
        "An image input.",
        edit(TUN, {"tuning.input": {"image": "example.com/data:1"}}),
    ),
    case(
        "Named image input with pull secrets",
        "The pull-secret volume docker-config-<name>-tuning-input is a valid volume name.",
        edit(
            TUN,
            {
                "tuning.input": {
                    "name": "data",
                    "image": "example.com/d:1",
                    "imagePullSecrets": ["s"],
                }
            },
        ),
    ),
    case(
        "Input name that makes a bad volume name",
        "The input name ends up in a volume name (fixed upstream gap: the API server refused the "
        "Job).",
        edit(
            TUN,
            {
                "tuning.input": {
                    "name": "My.Data",
                    "image": "example.com/d:1",
                    "imagePullSecrets": ["s"],
                }
            },
        ),
        (
            "spec.tuning.input.name",
            'invalid value "My.Data": it names the pull-secret volume '
            "docker-config-My.Data-tuning-input, which is not a valid volume name",
        ),
    ),
    case(
        "Input name too long for a volume name",
        "docker-config-<name>-tuning-input must fit in 63 characters.",
        edit(
            TUN,
            {
                "tuning.input": {
                    "name": "d" * 37,
                    "image": "example.com/d:1",
                    "imagePullSecrets": ["s"],
                }
            },
        ),
        ("spec.tuning.input.name", "must be no more than 63 characters"),
    ),
    case(
        "Input upper-case image",
        "An upper-case repository is named in the message.",
        edit(TUN, {"tuning.input": {"image": "myregistry.azurecr.io/DATA:1"}}),
        (
            "spec.tuning.input.image",
            "Unable to parse input image reference "
            '"myregistry.azurecr.io/DATA:1": repository name must be lowercase',
        ),
    ),
    case(
        "Output placeholder image",
        "The quick-start placeholder output image is rejected with a clear message.",
        edit(
            TUN,
            {
                "tuning.output": {
                    "image": "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
                    "imagePushSecret": "acr-secret",
                }
            },
        ),
        (
            "spec.tuning.output.image",
            'output image "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1" looks like a '
            "placeholder from an example; replace it with your registry and image name",
        ),
    ),
    case(
        "Valid output image",
        "A lowercase image with a push secret.",
        edit(
            TUN,
            {
                "tuning.output": {
                    "image": "myacr.azurecr.io/phi-3-adapter:0.0.1",
                    "imagePushSecret": "acr-secret",
                }
            },
        ),
    ),
    case(
        "Output image without push secret",
        "Pushing needs credentials.",
        edit(TUN, {"tuning.output": {"image": "myacr.azurecr.io/out:1"}}),
        (
            "spec.tuning.output.imagePushSecret",
            "Must specify imagePushSecret with destination image",
        ),
    ),
    case(
        "Output image and volume",
        "Output takes exactly one of volume and image.",
        edit(
            TUN,
            {
                "tuning.output": {
                    "image": "myacr.azurecr.io/out:1",
                    "imagePushSecret": "s",
                    "volumeSource": PVC,
                }
            },
        ),
        ("spec.tuning.output", "Exactly one of Volume or Image must be specified"),
    ),
    case(
        "Output neither image nor volume",
        "An empty output is not a destination.",
        edit(TUN, {"tuning.output": {"imagePushSecret": "s"}}),
        ("spec.tuning.output", "Exactly one of Volume or Image must be specified"),
    ),
    case(
        "Tuning on an unknown SKU",
        "Tuning needs a known SKU too (fixed upstream gap).",
        tuning(instance="Standard_NC6s_v9"),
        (IT, "Unsupported instance type Standard_NC6s_v9"),
    ),
    case("Tuning on a legacy V100", "V100 tuning runs in float16.", tuning(instance=V100)),
    case(
        "Tuning with BYO nodes",
        "BYO tuning takes no instance type.",
        tuning(instance=None),
        context=BYO,
    ),
    case(
        "Tuning with reserved-only matchLabels",
        "The reserved-label rule applies to tuning too.",
        edit(TUN, {"resource.labelSelector.matchLabels": RESERVED}),
        (f"{SEL}.matchLabels", "matchLabels must contain at least one non-reserved label"),
    ),
    case(
        "Tuning config - not found",
        "A named ConfigMap must exist when the inventory is known.",
        TCM,
        (TCFG, "ConfigMap 'train' specified in 'config' not found in namespace 'default'"),
        context=NO_CMS,
    ),
    case(
        "Tuning config - valid",
        "A qlora config with 4-bit loading.",
        TCM,
        context=_tuning_cm(QLORA_OK),
    ),
    case(
        "Tuning config - missing key",
        "The ConfigMap needs training_config.yaml.",
        TCM,
        (TCFG, "missing training_config.yaml in ConfigMap 'train'"),
        context=with_cms(_cm("train", "x")),
    ),
    case(
        "Tuning config - lora with 4-bit",
        "lora must not quantize.",
        edit(TCM, {"tuning.method": "lora"}),
        (
            TCFG,
            "For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap 'train' must not "
            "be true",
        ),
        context=_tuning_cm(QLORA_OK),
    ),
    case(
        "Tuning config - qlora without quantization",
        "qlora must quantize.",
        TCM,
        (
            TCFG,
            "For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true in "
            "ConfigMap 'train'",
        ),
        context=_tuning_cm("training_config:\n  ModelConfig: {}\n"),
    ),
    case(
        "Tuning config - both 4-bit and 8-bit",
        "4-bit and 8-bit exclude each other.",
        TCM,
        (TCFG, "Cannot set both 'load_in_4bit' and 'load_in_8bit' to true in ConfigMap 'train'"),
        context=_tuning_cm(
            "training_config:\n  QuantizationConfig: {load_in_4bit: true, load_in_8bit: true}\n"
        ),
    ),
    case(
        "Tuning config - non-boolean flag",
        "load_in_4bit is a boolean.",
        TCM,
        (TCFG, "value must be either nil or a boolean, got type string"),
        context=_tuning_cm("training_config:\n  QuantizationConfig: {load_in_4bit: 'yes'}\n"),
    ),
    case(
        "Tuning config - unknown section",
        "Only the six known sections.",
        TCM,
        (TCFG, "Unrecognized section: Optimizer"),
        context=_tuning_cm(QLORA_OK + "  Optimizer: {}\n"),
    ),
    case(
        "Tuning config - output_dir outside /mnt",
        "output_dir must stay under /mnt.",
        TCM,
        (TCFG, "Invalid output_dir specified: '../../etc', must be a directory"),
        context=_tuning_cm(QLORA_OK.replace("/mnt/results", "../../etc")),
    ),
    case(
        "Tuning config - output_dir not a string",
        "output_dir is a path.",
        TCM,
        (TCFG, "output_dir is not a string in ConfigMap 'train'"),
        context=_tuning_cm(QLORA_OK.replace("/mnt/results", "[1]")),
    ),
    case(
        "Tuning config - training_config not a map",
        "training_config holds the sections.",
        TCM,
        (TCFG, "Expected 'training_config' key to contain a map"),
        context=_tuning_cm("training_config: 3\n"),
    ),
    case(
        "Tuning config - malformed YAML",
        "The YAML must parse.",
        TCM,
        (TCFG, "Failed to parse training_config.yaml"),
        context=_tuning_cm("training_config: [\n"),
    ),
    case(
        "Tuning config - default template in the release namespace",
        "The chart's templates are built in, so they are found there.",
        edit(TUN, {"tuning.config": "qlora-params-template", "metadata.namespace": "kaito-system"}),
        context=NO_CMS,
    ),
    case(
        "Tuning config - default template name elsewhere",
        "Outside the release namespace a template name is an ordinary ConfigMap name.",
        edit(TUN, {"tuning.config": "qlora-params-template"}),
        (TCFG, "ConfigMap 'qlora-params-template' specified in 'config' not found"),
        context=NO_CMS,
    ),
    case(
        "Tuning config - lora default template",
        "No config: the lora template validates for lora.",
        tuning(method="lora"),
        context=NO_CMS,
    ),
    case(
        "Tuning - transformers unsupported GPU",
        "Tuning on AMD GPUs is rejected.",
        tuning(instance="Standard_NG32ads_V620_v1"),
        (IT, "cannot run any KAITO runtime"),
    ),
]

CASES = [
    *META,
    *NAP,
    *ANNOTATIONS,
    *SELECTOR,
    *SKUS,
    *MEMORY,
    *PARTITIONS,
    *BYO_NODES,
    *PRESETS,
    *ADAPTERS,
    *INFERENCE_CONFIG,
    *STREAMING_CASES,
    *TUNING,
]


def test_case_ids_are_unique() -> None:
    """Every case has its own id, so a failure names exactly one row."""
    assert unique_ids(CASES)
    assert len(CASES) >= 150


@pytest.mark.parametrize("c", CASES)
def test_create(c: Case) -> None:
    """Each create case reports its expected problems, or none when it is valid."""
    check(c)
