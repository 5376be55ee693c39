"""v1beta1 UPDATE rules (controller.md §2.2): immutability, toggles, adapters on update."""

from __future__ import annotations

import pytest

from kaito_core.validation import FeatureGates, ValidationContext
from tests.validation.helpers import (
    A10,
    BYO,
    DELETE,
    PVC,
    Case,
    adapter,
    case,
    check,
    edit,
    inference,
    template,
    tuning,
    unique_ids,
)

INF = inference()
TUN = tuning()
TPL = template()
IT = "spec.resource.instanceType"
STREAMING = ValidationContext(feature_gates=FeatureGates(model_streaming=True))
KARPENTER = ValidationContext(node_classes=("default",))
IMAGE_OUT = {"image": "myacr.azurecr.io/out:1", "imagePushSecret": "acr-secret"}

CASES = [
    case("No change", "Re-applying the same workspace is valid.", INF, old=INF),
    case(
        "Inference toggled off",
        "Inference cannot be removed once set.",
        edit(INF, {"inference": DELETE, "tuning": TUN["tuning"]}),
        ("spec.inference", "Inference field cannot be toggled once set"),
        ("spec.tuning", "Tuning field cannot be toggled once set"),
        old=INF,
    ),
    case(
        "Tuning toggled on",
        "Tuning cannot be added to an inference workspace.",
        edit(INF, {"tuning": TUN["tuning"]}),
        ("spec.tuning", "Tuning field cannot be toggled once set"),
        old=INF,
    ),
    case(
        "Count changed",
        "resource.count is immutable.",
        edit(INF, {"resource.count": 2}),
        ("spec.resource.count", "field is immutable"),
        old=INF,
    ),
    case(
        "Count defaulted on both sides",
        "An explicit 1 equals the CRD default.",
        edit(INF, {"resource.count": 1}),
        old=INF,
    ),
    case(
        "Partition changed",
        "resource.partition is immutable.",
        edit(
            inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "2g.20gb"}}
        ),
        ("spec.resource.partition", "field is immutable"),
        old=edit(
            inference(instance=None), {"resource.partition": {"mode": "mig", "profile": "1g.10gb"}}
        ),
        context=BYO,
    ),
    case(
        "NAP disabled - clear instanceType (valid upgrade path)",
        "A v0.7 BYO workspace may drop its instance type.",
        inference(instance=None),
        old=INF,
        context=BYO,
    ),
    case(
        "Upgrade scenario - v0.7 workspace with instanceType when disableNAP=true",
        "An old BYO workspace keeping its instance type stays valid.",
        INF,
        old=INF,
        context=BYO,
    ),
    case(
        "NAP disabled - instanceType added",
        "BYO cannot gain an instance type.",
        INF,
        (IT, "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)"),
        old=inference(instance=None),
        context=BYO,
    ),
    case(
        "NAP disabled - instanceType changed",
        "BYO cannot switch instance types.",
        inference(instance=A10),
        (IT, "instanceType cannot be changed once set"),
        old=INF,
        context=BYO,
    ),
    case(
        "NAP enabled - instanceType cleared",
        "Auto-provisioning needs an instance type.",
        inference(instance=None),
        (IT, "instanceType is required when node auto-provisioning is enabled"),
        old=INF,
    ),
    case(
        "NAP enabled - instanceType changed",
        "The instance type is fixed once nodes exist.",
        inference(instance=A10),
        (IT, "instanceType cannot be changed once set when node auto-provisioning is enabled"),
        old=INF,
    ),
    case(
        "labelSelector changed",
        "The selector is immutable.",
        edit(INF, {"resource.labelSelector.matchLabels": {"apps": "other"}}),
        ("spec.resource.labelSelector", "field is immutable"),
        old=INF,
    ),
    case(
        "labelSelector equal as a map",
        "matchLabels and a single In expression are the same selector.",
        edit(
            INF,
            {
                "resource.labelSelector": {
                    "matchExpressions": [{"key": "apps", "operator": "In", "values": ["test"]}]
                }
            },
        ),
        old=INF,
    ),
    case(
        "labelSelector not convertible",
        "Only matchLabels and single-value In expressions.",
        edit(
            INF,
            {"resource.labelSelector.matchExpressions": [{"key": "zone", "operator": "Exists"}]},
        ),
        ("spec.resource.labelSelector", "Only allow matchLabels or 'IN' matchExpression"),
        old=INF,
    ),
    case(
        "Node class changed to an unknown one",
        "A changed node-class annotation is re-checked.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
        ('metadata.annotations["kaito.sh/node-class-name"]', "is not a KAITO-managed NodeClass"),
        old=INF,
        context=KARPENTER,
    ),
    case(
        "Node class unchanged",
        "An annotation that did not change is not re-checked.",
        edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
        old=edit(INF, {"metadata.annotations": {"kaito.sh/node-class-name": "other"}}),
        context=KARPENTER,
    ),
    case(
        "Performance mode changed to an invalid one",
        "Changed annotations are validated.",
        edit(INF, {"metadata.annotations": {"kaito.sh/performance-mode": "turbo"}}),
        ('metadata.annotations["kaito.sh/performance-mode"]', "is not a valid performance mode"),
        old=INF,
    ),
    case(
        "Model streaming annotation changed",
        "The streaming opt-out is fixed at creation.",
        edit(INF, {"metadata.annotations": {"kaito.sh/model-streaming": "disabled"}}),
        (
            'metadata.annotations["kaito.sh/model-streaming"]',
            "annotation kaito.sh/model-streaming is immutable after creation",
        ),
        old=INF,
        context=STREAMING,
    ),
    case(
        "Model streaming annotation changed without the gate",
        "Without the gate the annotation means nothing.",
        edit(INF, {"metadata.annotations": {"kaito.sh/model-streaming": "disabled"}}),
        old=INF,
    ),
    case(
        "Preset changed",
        "The inference preset is immutable.",
        inference("phi-3-mini-128k-instruct"),
        ("spec.inference.preset", "field is immutable"),
        old=INF,
    ),
    case(
        "Preset options changed",
        "The whole preset is immutable.",
        edit(INF, {"inference.preset.presetOptions": {"modelAccessSecret": "hf-token"}}),
        ("spec.inference.preset", "field is immutable"),
        old=INF,
    ),
    case(
        "Template removed",
        "A template cannot be swapped for a preset.",
        INF,
        ("spec.inference.template", "field cannot be unset/set if it was set/unset"),
        old=TPL,
    ),
    case(
        "Template content changed",
        "The template's content may change.",
        edit(TPL, {"inference.template.spec.containers": [{"name": "llm", "image": "x.io/y:2"}]}),
        old=TPL,
    ),
    case(
        "Adapters added",
        "Adapters may be added on update.",
        edit(INF, {"inference.adapters": [adapter()]}),
        old=INF,
    ),
    case(
        "Adapters duplicated on update",
        "Adapter names stay unique.",
        edit(INF, {"inference.adapters": [adapter("a"), adapter("a")]}),
        ("spec.inference.adapters[1].source.name", "Duplicate adapter source name found: a"),
        old=INF,
    ),
    case(
        "Adapter strength on update",
        "The strength range is checked on update.",
        edit(
            INF,
            {
                "metadata.annotations": {"kaito.sh/runtime": "transformers"},
                "inference.adapters": [adapter(strength="2")],
            },
        ),
        ("spec.inference.adapters[0].strength", "must be between 0 and 1"),
        old=edit(INF, {"metadata.annotations": {"kaito.sh/runtime": "transformers"}}),
    ),
    case(
        "Adapter strength with vLLM on update",
        "vLLM's strength rule applies on update too.",
        edit(INF, {"inference.adapters": [adapter(strength="0.3")]}),
        ("spec.inference.adapters[0].strength", "vLLM does not support adapter strength"),
        old=INF,
    ),
    case(
        "Adapter without source on update",
        "A nil source is reported, not a crash.",
        edit(INF, {"inference.adapters": [{}]}),
        ("spec.inference.adapters[0].source", "required field is missing"),
        old=INF,
    ),
    case(
        "Tuning input name changed",
        "The input name is fixed during tuning.",
        edit(TUN, {"tuning.input.name": "new"}),
        ("spec.tuning.input.name", "During tuning Name field cannot be changed once set"),
        old=edit(TUN, {"tuning.input.name": "old"}),
    ),
    case(
        "Tuning preset changed",
        "The tuning preset is immutable.",
        tuning("phi-3-mini-128k-instruct"),
        ("spec.tuning.preset", "Preset cannot be changed"),
        old=TUN,
    ),
    case(
        "Tuning method changed",
        "The method is immutable.",
        tuning(method="lora"),
        ("spec.tuning.method", "Method cannot be changed"),
        old=TUN,
    ),
    case(
        "Tuning method case changed",
        "qlora and QLoRA are the same method.",
        tuning(method="QLoRA"),
        old=TUN,
    ),
    case(
        "Tuning config changed",
        "The training ConfigMap may change.",
        edit(TUN, {"tuning.config": "new-config"}),
        old=TUN,
    ),
    case(
        "Tuning output image unparsable on update",
        "Images are parsed on update.",
        edit(TUN, {"tuning.output": {**IMAGE_OUT, "image": "MyAcr.azurecr.io/Out:1"}}),
        ("spec.tuning.output.image", "Unable to parse output image reference"),
        old=edit(TUN, {"tuning.output": IMAGE_OUT}),
    ),
    case(
        "Tuning input image unparsable on update",
        "Input images are parsed on update.",
        edit(TUN, {"tuning.input": {"image": "x.io/Data:1"}}),
        ("spec.tuning.input.image", "Unable to parse input image reference"),
        old=edit(TUN, {"tuning.input": {"image": "x.io/data:1"}}),
    ),
    case(
        "Tuning input removed",
        "Input stays required.",
        edit(TUN, {"tuning.input": DELETE}),
        ("spec.tuning.input", "required field is missing"),
        old=TUN,
    ),
    case(
        "Tuning output removed",
        "Output stays required.",
        edit(TUN, {"tuning.output": DELETE}),
        ("spec.tuning.output", "required field is missing"),
        old=TUN,
    ),
    case(
        "Tuning output switched to an image",
        "Switching the destination kind is allowed.",
        edit(TUN, {"tuning.output": IMAGE_OUT}),
        old=edit(TUN, {"tuning.output": {"volumeSource": PVC}}),
    ),
    case(
        "Name invalid on update",
        "The name check runs on update as well.",
        edit(INF, {"metadata.name": "Bad_Name"}),
        ("metadata.name", "RFC 1123 label"),
        old=edit(INF, {"metadata.name": "Bad_Name"}),
    ),
    case(
        "Unknown SKU not rechecked on update",
        "Nothing but the update rules runs on update.",
        inference(instance="Standard_Old_Sku"),
        old=inference(instance="Standard_Old_Sku"),
    ),
]


def test_case_ids_are_unique() -> None:
    """Every update case has its own id."""
    assert unique_ids(CASES)


@pytest.mark.parametrize("c", CASES)
def test_update(c: Case) -> None:
    """Each update case reports its expected problems, or none when it is valid."""
    check(c)
