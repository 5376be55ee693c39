"""v1alpha1 differences (controller.md §2.6) and the project's seed manifests (all v1alpha1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito_core.api import load_documents
from kaito_core.validation import ValidationContext, validate
from tests.validation.helpers import (
    BYO,
    DELETE,
    NO_CMS,
    V1ALPHA1,
    V100,
    Case,
    adapter,
    case,
    check,
    config_map,
    edit,
    inference,
    tuning,
    unique_ids,
    with_cms,
)

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"
ALPHA = inference(api=V1ALPHA1)
ALPHA_V100 = inference(instance=V100, api=V1ALPHA1)
ALPHA_TUN = tuning(api=V1ALPHA1)
IT = "spec.resource.instanceType"
CFG = "spec.inference.config"
REQUIRED = "max-model-len is required in the vllm section of inference_config.yaml"


def _cm(text: str) -> ValidationContext:
    return with_cms(config_map("params", {"inference_config.yaml": text}))


CASES = [
    case("v1alpha1 - valid", "A v1alpha1 preset workspace validates.", ALPHA),
    case(
        "v1alpha1 - default instanceType",
        "The CRD default Standard_NC24ads_A100_v4 fills a missing instance type.",
        inference(instance=None, api=V1ALPHA1),
    ),
    case(
        "v1alpha1 - no BYO instanceType rule",
        "v1alpha1 has no node auto-provisioning switch.",
        ALPHA,
        context=BYO,
    ),
    case(
        "v1alpha1 - Invalid SKU",
        "Unknown SKUs are rejected.",
        inference(instance="Standard_NC_bogus", api=V1ALPHA1),
        (IT, "Unsupported instance type Standard_NC_bogus"),
    ),
    case(
        "v1alpha1 - empty instanceType",
        "An explicit empty instance type is missing.",
        inference(instance="", api=V1ALPHA1),
        (IT, "required field is missing"),
    ),
    case(
        "v1alpha1 - memory checked with vLLM",
        "v1alpha1 always checks GPU memory: 26 GiB on a 16 GiB V100.",
        inference("phi-3-medium-4k-instruct", instance=V100, api=V1ALPHA1),
        (
            IT,
            "Insufficient total GPU memory: Instance type Standard_NC6s_v3 has a total of 16Gi, "
            "but preset phi-3-medium-4k-instruct requires at least 26.00Gi",
        ),
    ),
    case(
        "v1alpha1 - count multiplies memory, max-model-len then required",
        "Two V100 nodes hold 26 GiB; several nodes need max-model-len.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=V100, api=V1ALPHA1),
            {"resource.count": 2},
        ),
        (CFG, REQUIRED),
    ),
    case(
        "v1alpha1 - several nodes with max-model-len",
        "A ConfigMap giving max-model-len satisfies the rule.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=V100, api=V1ALPHA1),
            {"resource.count": 2, "inference.config": "params"},
        ),
        context=_cm("vllm:\n  max-model-len: 2048\n"),
    ),
    case(
        "v1alpha1 - multi-GPU small SKU needs max-model-len",
        "Two 16 GiB GPUs per node need max-model-len.",
        inference(instance="Standard_NC12s_v3", api=V1ALPHA1),
        (CFG, REQUIRED),
    ),
    case(
        "v1alpha1 - multi-GPU large SKU",
        "Two 80 GiB GPUs need no max-model-len.",
        inference(instance="Standard_NC48ads_A100_v4", api=V1ALPHA1),
    ),
    case(
        "v1alpha1 - no ModelTokenLimit check",
        "v1alpha1 does not compare max-model-len with the context window.",
        edit(ALPHA, {"inference.config": "params"}),
        context=_cm("vllm:\n  max-model-len: 999999\n"),
    ),
    case(
        "v1alpha1 - config not found",
        "A named ConfigMap must exist when the inventory is known.",
        edit(ALPHA, {"inference.config": "params"}),
        (CFG, "ConfigMap 'params' specified in 'config' not found in namespace 'default'"),
        context=NO_CMS,
    ),
    case(
        "v1alpha1 - default template validated",
        "With no config the built-in inference-params-template is read.",
        ALPHA,
        context=NO_CMS,
    ),
    case(
        "v1alpha1 - private access mode without image",
        "The private access mode needs an image.",
        edit(ALPHA, {"inference.preset.accessMode": "private"}),
        (
            "spec.inference.preset.presetOptions.image",
            "When AccessMode is private, an image must be provided in PresetOptions",
        ),
    ),
    case(
        "v1alpha1 - private access mode with image",
        "A private preset with its image validates.",
        edit(
            ALPHA,
            {
                "inference.preset.accessMode": "private",
                "inference.preset.presetOptions": {"image": "myacr.azurecr.io/kaito-phi-3:0.0.1"},
            },
        ),
    ),
    case(
        "v1alpha1 - private access mode with a bad image",
        "The private image must parse.",
        edit(
            ALPHA,
            {
                "inference.preset.accessMode": "private",
                "inference.preset.presetOptions": {"image": "MyAcr.azurecr.io/Phi:1"},
            },
        ),
        ("spec.inference.preset.presetOptions.image", "Unable to parse preset image reference"),
    ),
    case(
        "v1alpha1 - modelAccessSecret is not a v1alpha1 field",
        "The v1alpha1 schema has no modelAccessSecret.",
        edit(ALPHA, {"inference.preset.presetOptions": {"modelAccessSecret": "hf-token"}}),
        ("spec.inference.preset.presetOptions.modelAccessSecret", "unknown field"),
    ),
    case(
        "v1alpha1 - partition is not a v1alpha1 field",
        "The v1alpha1 schema has no partition.",
        edit(ALPHA, {"resource.partition": {"mode": "mig", "profile": "1g.10gb"}}),
        ("spec.resource.partition", "unknown field"),
    ),
    case(
        "v1alpha1 - annotations besides image family ignored",
        "performance-mode and node-class are v1beta1 rules.",
        edit(
            ALPHA,
            {
                "metadata.annotations": {
                    "kaito.sh/performance-mode": "turbo",
                    "kaito.sh/node-class-name": "x",
                }
            },
        ),
        context=ValidationContext(node_classes=("default",)),
    ),
    case(
        "v1alpha1 - node image family checked",
        "The image-family annotation is checked in v1alpha1 too.",
        edit(ALPHA, {"metadata.annotations": {"kaito.sh/node-image-family": "debian"}}),
        ('metadata.annotations["kaito.sh/node-image-family"]', "unsupported node image family"),
    ),
    case(
        "v1alpha1 - matchLabels only reserved",
        "The labelSelector check still runs (last).",
        edit(ALPHA, {"resource.labelSelector.matchLabels": {"kaito.sh/workspace": "ws"}}),
        ("spec.resource.labelSelector.matchLabels", "at least one non-reserved label"),
    ),
    case(
        "v1alpha1 - Deprecated Model",
        "phi-2 is deprecated in v1alpha1 too.",
        inference("phi-2", api=V1ALPHA1),
        ("spec.inference.preset.name", "Model phi-2 is deprecated and no longer supported"),
    ),
    case(
        "v1alpha1 - unregistered Hugging Face id",
        "Upstream dereferences nil here; we report the lookup failure.",
        inference("someorg/model", api=V1ALPHA1),
        ("spec.inference.preset.name", "failed to get model preset"),
    ),
    case(
        "v1alpha1 - adapter strength with vLLM",
        "Strength 0.5 is rejected with vLLM.",
        edit(ALPHA, {"inference.adapters": [adapter(strength="0.5")]}),
        ("spec.inference.adapters[0].strength", "vLLM does not support adapter strength"),
    ),
    case(
        "v1alpha1 - tuning valid",
        "A v1alpha1 tuning workspace.",
        ALPHA_TUN,
    ),
    case(
        "v1alpha1 - tuning keeps the SSRF checks",
        "Private URLs are refused in v1alpha1 too (upstream skips this).",
        edit(ALPHA_TUN, {"tuning.input.urls": ["http://192.168.1.10/data.csv"]}),
        ("spec.tuning.input.urls[0]", "loopback, private, or link-local"),
    ),
    case(
        "v1alpha1 - tuning multinode",
        "Tuning runs on one node.",
        edit(ALPHA_TUN, {"resource.count": 2}),
        ("spec.resource.count", "Tuning does not currently support multinode configurations"),
    ),
    case(
        "v1alpha1 - tuning exactly one input",
        "Input takes exactly one kind.",
        edit(ALPHA_TUN, {"tuning.input.urls": DELETE}),
        ("spec.tuning.input", "Exactly one of URLs, Volume, or Image must be specified"),
    ),
    case(
        "v1alpha1 - update instanceType changed",
        "Any instance type change is refused.",
        inference(instance="Standard_NC48ads_A100_v4", api=V1ALPHA1),
        (IT, "field is immutable"),
        old=ALPHA,
    ),
    case(
        "v1alpha1 - update unchanged",
        "Re-applying is valid.",
        ALPHA,
        old=ALPHA,
    ),
    case(
        "v1alpha1 - update count changed",
        "count is immutable.",
        edit(ALPHA, {"resource.count": 2}),
        ("spec.resource.count", "field is immutable"),
        old=ALPHA,
    ),
    case(
        "v1alpha1 - update preset changed",
        "The preset is immutable.",
        inference("phi-3-mini-128k-instruct", api=V1ALPHA1),
        ("spec.inference.preset", "field is immutable"),
        old=ALPHA,
    ),
    case(
        "v1alpha1 - update instanceType changed with BYO",
        "v1alpha1 has no BYO upgrade path: the instance type cannot change.",
        edit(ALPHA, {"resource.instanceType": "Standard_NV36ads_A10_v5"}),
        (IT, "field is immutable"),
        old=ALPHA,
        context=BYO,
    ),
    case(
        "v1alpha1 - memory with Transformers",
        "The memory check runs for every runtime.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=V100, api=V1ALPHA1),
            {"metadata.annotations": {"kaito.sh/runtime": "transformers"}},
        ),
        (IT, "Insufficient total GPU memory"),
    ),
    case(
        "v1alpha1 - no multi-node Transformers rule",
        "v1alpha1 has no distributed/Transformers rule.",
        edit(
            inference("phi-3-medium-4k-instruct", instance=V100, api=V1ALPHA1),
            {"metadata.annotations": {"kaito.sh/runtime": "transformers"}, "resource.count": 2},
        ),
    ),
]


def test_case_ids_are_unique() -> None:
    """Every v1alpha1 case has its own id."""
    assert unique_ids(CASES)


@pytest.mark.parametrize("c", CASES)
def test_v1alpha1(c: Case) -> None:
    """Each v1alpha1 case reports its expected problems, or none when it is valid."""
    check(c)


# --- the seed manifests -------------------------------------------------------------------------

PLACEHOLDERS = {
    "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1": "myregistry.azurecr.io/phi-3-adapter:0.0.1",
    "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1": "myregistry.azurecr.io/phi-3-adapter:0.0.1",
    "ACR_REGISTRY_SECRET_HERE": "acr-registry-secret",
}
SEED_REJECTIONS = {
    "02-tuning-phi-3.yaml": (
        "spec.tuning.output.image",
        'output image "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1" looks like a placeholder '
        "from an example; replace it with your registry and image name",
    ),
    "03-inference-phi-3-with-adapters.yaml": (
        "spec.inference.adapters[0].source.image",
        'adapter image "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1" looks like a placeholder '
        "from an example; replace it with your registry and image name",
    ),
    "04-tuning-phi-3-128k.yaml": (
        "spec.tuning.output.image",
        'output image "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1" looks like a placeholder '
        "from an example; replace it with your registry and image name",
    ),
}


def _seed_problems(text: str) -> list[str]:
    result = load_documents(text)
    assert [d.errors for d in result.workspaces] == [()]
    workspace = result.workspaces[0].workspace
    assert workspace is not None
    return [str(e) for e in validate(workspace)]


def test_seed_inference_is_valid() -> None:
    """01: phi-3-mini on a V100 (Standard_NC6s_v3) validates."""
    assert _seed_problems((SEED / "01-inference-phi-3.yaml").read_text()) == []


@pytest.mark.parametrize("name", sorted(SEED_REJECTIONS))
def test_seed_placeholders_rejected(name: str) -> None:
    """02-04: the placeholder images are called placeholders."""
    path, message = SEED_REJECTIONS[name]
    problems = _seed_problems((SEED / name).read_text())
    assert any(p.startswith(f"{path}: {message}") for p in problems), problems


@pytest.mark.parametrize("name", sorted(SEED_REJECTIONS))
def test_seed_with_placeholders_replaced(name: str) -> None:
    """02-04 validate once the placeholders are real lowercase names."""
    text = (SEED / name).read_text()
    for placeholder, real in PLACEHOLDERS.items():
        text = text.replace(placeholder, real)
    assert _seed_problems(text) == []
