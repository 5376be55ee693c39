"""Values copied from an example and never filled in are called placeholders, in every field that
takes one and in any case, with what to put there instead."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito_core.api import Workspace
from kaito_core.validation import ValidationContext, validate
from kaito_core.validation.endpoints import is_placeholder
from kaito_presets import default_catalog

CATALOG = default_catalog()
PLACEHOLDERS = [
    "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
    "acr_repo_here.azurecr.io/image_name_here:0.0.1",
    "ACR_REGISTRY_SECRET_HERE",
    "acr_registry_secret_here",
    "registry-name-here",
    "<your-vm-sku>",
    "YOUR_SECRET",
    "your-registry.azurecr.io/adapter:1",
    "{{ .Values.image }}",
    "${IMAGE}",
    "REPLACE_ME",
    "changeme",
]
REAL = [
    "myregistry.azurecr.io/phi-3-adapter:0.0.1",
    "acr-registry-secret",
    "Standard_NC24ads_A100_v4",
    "https://huggingface.co/datasets/x/resolve/main/train.parquet",
    "there",
    "yourself",
    "mychangemeter",
    "registry.example.com/adapter:1",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholder_shapes(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", REAL)
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def _inference() -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws"},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": "ws"}},
        },
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }


def _tuning() -> dict[str, Any]:
    manifest = _inference()
    del manifest["inference"]
    manifest["tuning"] = {
        "preset": {"name": "phi-3-mini-4k-instruct"},
        "method": "qlora",
        "input": {"urls": ["https://huggingface.co/datasets/x/resolve/main/train.parquet"]},
        "output": {"image": "myregistry.azurecr.io/adapter:1", "imagePushSecret": "push"},
    }
    return manifest


def _with(manifest: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(manifest)
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _adapters(image: str, secret: str = "pull") -> dict[str, Any]:
    manifest = _inference()
    manifest["inference"]["adapters"] = [
        {"source": {"name": "a", "image": image, "imagePullSecrets": [secret]}}
    ]
    return manifest


def _problems(manifest: dict[str, Any]) -> dict[str, str]:
    found = validate(
        Workspace.from_manifest(manifest), catalog=CATALOG, context=ValidationContext()
    )
    return {e.path: e.message for e in found}


@pytest.mark.parametrize("placeholder", ["UPPER", "lower"])
@pytest.mark.parametrize(
    ("field", "build", "value", "replacement"),
    [
        (
            "spec.tuning.output.image",
            lambda v: _with(_tuning(), ("tuning", "output", "image"), v),
            "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
            "replace it with your registry and image name",
        ),
        (
            "spec.tuning.output.imagePushSecret",
            lambda v: _with(_tuning(), ("tuning", "output", "imagePushSecret"), v),
            "ACR_REGISTRY_SECRET_HERE",
            "replace it with the name of your image push Secret",
        ),
        (
            "spec.tuning.input.urls[0]",
            lambda v: _with(_tuning(), ("tuning", "input", "urls"), [v]),
            "https://DATA_URL_HERE/train.parquet",
            "replace it with the URL of your data",
        ),
        (
            "spec.inference.adapters[0].source.image",
            lambda v: _adapters(v),
            "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1",
            "replace it with your registry and image name",
        ),
        (
            "spec.inference.adapters[0].source.imagePullSecrets[0]",
            lambda v: _adapters("myregistry.azurecr.io/adapter:1", v),
            "YOUR_PULL_SECRET",
            "replace it with the name of your image pull Secret",
        ),
        (
            "spec.resource.instanceType",
            lambda v: _with(_inference(), ("resource", "instanceType"), v),
            "<YOUR-VM-SKU>",
            "replace it with an instance type of your cloud (see `kaito skus`)",
        ),
    ],
    ids=["output-image", "push-secret", "input-url", "adapter-image", "pull-secret", "sku"],
)
def test_each_field_calls_a_placeholder_one(
    field: str, build: Any, value: str, replacement: str, placeholder: str
) -> None:
    """Lower-casing a placeholder (which makes it a valid name) does not make it real."""
    value = value if placeholder == "UPPER" else value.lower()
    message = _problems(build(value))[field]
    assert "looks like a placeholder from an example" in message
    assert replacement in message
    assert value in message, "the offending value is named"


def test_the_replaced_example_is_valid() -> None:
    """The same manifests with real values pass."""
    assert _problems(_tuning()) == {}
    assert _problems(_adapters("myregistry.azurecr.io/adapter:1")) == {}
