"""Random input never crashes loading or validation: only field errors or a load error."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.api import ManifestLoadError, load_documents
from kaito_core.errors import FieldError
from kaito_core.validation import FeatureGates, ValidationContext, validate
from tests.validation.helpers import adapter, config_map, inference, node, tuning

#: Field names of the Workspace schema, so random maps reach deep into the parser.
FIELDS = [
    "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "resource",
    "count", "instanceType", "labelSelector", "matchLabels", "matchExpressions", "key",
    "operator", "values", "partition", "mode", "profile", "inference", "preset", "accessMode",
    "presetOptions", "modelAccessSecret", "image", "imagePullSecrets", "template", "config",
    "adapters", "source", "strength", "urls", "volumeSource", "tuning", "method", "input",
    "output", "imagePushSecret", "kaito.sh/runtime", "kaito.sh/performance-mode",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "kaito.sh/v1beta1",
            "kaito.sh/v1alpha1",
            "Workspace",
            "In",
            "NotIn",
            "mig",
            "accelerator",
            "lora",
            "qlora",
            "phi-2",
            "phi-3-mini-4k-instruct",
            "Standard_NC6s_v3",
            "http://10.0.0.1/x",
            "UPPER/Case:1",
            "1.0",
            "0.5",
            "",
        ]
    ),
)
KEYS = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)
CONTEXTS = st.builds(
    ValidationContext,
    node_auto_provisioning=st.booleans(),
    provisioner=st.sampled_from(["karpenter", "azure-gpu-provisioner", "byo"]),
    cloud_provider=st.sampled_from(["azure", "aws", "gcp"]),
    feature_gates=st.builds(
        FeatureGates,
        vllm=st.booleans(),
        enable_mig=st.booleans(),
        enable_accelerator=st.booleans(),
        model_streaming=st.booleans(),
    ),
    node_classes=st.sampled_from([(), ("default",)]),
    config_maps=st.sampled_from([None, {}]),
    nodes=st.sampled_from([(), (node("n1"),), (node("n1"), node("n2", count=2))]),
)
VALID = [
    inference(),
    tuning(),
    {
        **inference(),
        "inference": {
            "preset": {"name": "phi-3-mini-4k-instruct"},
            "adapters": [adapter(strength="1.0")],
            "config": "c",
        },
    },
]
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _check(text: str, context: ValidationContext) -> None:
    try:
        result = load_documents(text)
    except ManifestLoadError:
        return
    for document in result.documents:
        assert all(isinstance(e, FieldError) for e in document.errors)
        if document.workspace is None:
            continue
        problems = validate(document.workspace, context=context)
        assert all(isinstance(p, FieldError) and isinstance(p.message, str) for p in problems)
        again = validate(document.workspace, old=document.workspace, context=context)
        assert all(isinstance(p, FieldError) for p in again)


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(body=JSON, api=st.sampled_from(["kaito.sh/v1beta1", "kaito.sh/v1alpha1"]), context=CONTEXTS)
def test_random_manifests(body: Any, api: str, context: ValidationContext) -> None:
    """Random nested maps, lists and scalars under a Workspace header never crash."""
    manifest = {"apiVersion": api, "kind": "Workspace"}
    if isinstance(body, dict):
        manifest |= {str(k): v for k, v in body.items() if k not in ("apiVersion", "kind")}
    _check(yaml.safe_dump(manifest), context)


@settings(max_examples=200, deadline=None, suppress_health_check=HEALTH)
@given(text=st.text(max_size=300), context=CONTEXTS)
def test_random_text(text: str, context: ValidationContext) -> None:
    """Arbitrary text is YAML or a load error, never an exception."""
    _check(text, context)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest with a few values replaced, deleted or added."""
    manifest: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(manifest) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = manifest
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(JSON)
        else:
            parent[path[-1]] = draw(JSON)
    return manifest


@settings(max_examples=400, deadline=None, suppress_health_check=HEALTH)
@given(manifest=mutated(), context=CONTEXTS)
def test_mutated_manifests(manifest: dict[str, Any], context: ValidationContext) -> None:
    """Mutations of valid manifests give field errors only."""
    _check(yaml.safe_dump(manifest), context)


@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
@given(manifest=mutated(), data=JSON)
def test_random_config_maps(manifest: dict[str, Any], data: Any) -> None:
    """Whatever a referenced ConfigMap holds, validation reports it as field errors."""
    cm = config_map("c", None)
    cm["data"] = (
        data
        if not isinstance(data, dict)
        else {
            "inference_config.yaml": yaml.safe_dump(data),
            "training_config.yaml": yaml.safe_dump(data),
        }
    )
    context = ValidationContext(config_maps={("default", "c"): cm})
    if isinstance(manifest.get("tuning"), dict):
        manifest["tuning"]["config"] = "c"
    _check(yaml.safe_dump(manifest), context)
