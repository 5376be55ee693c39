"""Messages that point at the right name: the closest preset, instance type and field, and the
cloud an instance type belongs to."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.api import InferenceSet, ManifestError, RAGEngine, Workspace
from kaito_core.validation import ValidationContext, validate
from kaito_presets import default_catalog
from kaito_presets.suggestions import closest, did_you_mean

CATALOG = default_catalog()


def _workspace(**resource: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws"},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": "ws"}},
            **resource,
        },
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }


def _messages(manifest: dict[str, Any], *, cloud: str = "azure") -> dict[str, str]:
    ws = Workspace.from_manifest(manifest)
    found = validate(ws, catalog=CATALOG, context=ValidationContext(cloud_provider=cloud))
    return {e.path: e.message for e in found}


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        (
            "phi-4-mini",
            ["phi-4", "phi-4-mini-instruct", "phi-3-mini-4k-instruct"],
            ("phi-4-mini-instruct",),
        ),
        ("instanceTyep", ["count", "instanceType", "labelSelector"], ("instanceType",)),
        ("nmae", ["name", "presetOptions", "accessMode"], ("name",)),
        ("WorkSpace", ["Workspace", "InferenceSet"], ()),  # equal but for case: not a suggestion
        ("zzzz", ["name", "count"], ()),
        ("gpt-oss", ["gpt-oss-120b", "gpt-oss-20b", "phi-4"], ("gpt-oss-20b", "gpt-oss-120b")),
    ],
    ids=[
        "suffix-left-off",
        "transposed",
        "transposed-short",
        "same-but-case",
        "nothing-close",
        "several-prefixes",
    ],
)
def test_closest(word: str, candidates: list[str], expected: tuple[str, ...]) -> None:
    assert closest(word, candidates, limit=3) == expected


@given(st.text(max_size=30), st.lists(st.text(max_size=30), max_size=8))
def test_closest_ignores_the_order_of_the_candidates(word: str, candidates: list[str]) -> None:
    """Deterministic: the same names in any order give the same answer."""
    assert closest(word, candidates, limit=3) == closest(word, sorted(candidates), limit=3)


@pytest.mark.parametrize(
    ("names", "text"),
    [
        ([], ""),
        (["a"], "did you mean a?"),
        (["a", "b"], "did you mean a or b?"),
        (["a", "b", "c"], "did you mean a, b or c?"),
    ],
    ids=["none", "one", "two", "three"],
)
def test_did_you_mean(names: list[str], text: str) -> None:
    assert did_you_mean(names) == text


def test_an_unknown_preset_suggests_the_closest_and_kaito_presets() -> None:
    manifest = _workspace()
    manifest["inference"]["preset"]["name"] = "phi-4-mini"
    message = _messages(manifest)["spec.inference.preset.name"]
    assert message == (
        "Unsupported inference preset name phi-4-mini; did you mean phi-4-mini-instruct? "
        "(see `kaito presets`)"
    )


def test_an_unknown_preset_with_nothing_close_points_at_kaito_presets() -> None:
    manifest = _workspace()
    manifest["inference"]["preset"]["name"] = "zzzzzz"
    message = _messages(manifest)["spec.inference.preset.name"]
    assert message.startswith("Unsupported inference preset name zzzzzz; ")
    assert "did you mean" not in message
    assert "`kaito presets`" in message


@pytest.mark.parametrize(
    ("instance_type", "suggested"),
    [
        ("Standard_NC24ads_A100_v5", "Standard_NC24ads_A100_v4"),
        ("Standard_NC6s_v4", "Standard_NC6s_v3"),
        ("Standard_ND96asr_v4", "Standard_ND96asr_A100_v4"),
    ],
    ids=["version", "legacy-version", "gpu-left-out"],
)
def test_an_unknown_instance_type_suggests_the_closest(instance_type: str, suggested: str) -> None:
    message = _messages(_workspace(instanceType=instance_type))["spec.resource.instanceType"]
    assert message.startswith(
        f"Unsupported instance type {instance_type}. Did you mean {suggested}? Supported SKUs: "
    )


def test_a_far_instance_type_gets_no_suggestion() -> None:
    """Upstream's wording, unchanged, when nothing is close."""
    message = _messages(_workspace(instanceType="Standard_invalid_sku"))[
        "spec.resource.instanceType"
    ]
    assert message.startswith("Unsupported instance type Standard_invalid_sku. Supported SKUs: ")


@pytest.mark.parametrize(
    ("instance_type", "cloud", "text"),
    [
        ("g5.12xlarge", "azure", "g5.12xlarge is an AWS instance type; use --cloud-provider aws"),
        ("G5.12XLARGE", "arc", "g5.12xlarge is an AWS instance type; use --cloud-provider aws"),
        (
            "Standard_NC24ads_A100_v4",
            "aws",
            "Standard_NC24ads_A100_v4 is an Azure instance type; use --cloud-provider azure",
        ),
        (
            "Standard_NC32_A16",
            "azure",
            "Standard_NC32_A16 is an Azure Arc instance type; use --cloud-provider arc",
        ),
    ],
    ids=["aws-under-azure", "aws-under-arc", "azure-under-aws", "arc-under-azure"],
)
def test_another_clouds_instance_type_names_the_cloud(
    instance_type: str, cloud: str, text: str
) -> None:
    message = _messages(_workspace(instanceType=instance_type), cloud=cloud)
    assert text in message["spec.resource.instanceType"]
    assert instance_type in message["spec.resource.instanceType"]


def _parse_problems(manifest: dict[str, Any], kind: type = Workspace) -> list[str]:
    try:
        kind.from_manifest(manifest)  # type: ignore[attr-defined]
    except ManifestError as exc:
        return [str(e) for e in exc.errors]
    return []


def test_a_misspelt_field_suggests_the_field() -> None:
    manifest = _workspace()
    manifest["resource"]["instanceTyep"] = manifest["resource"].pop("instanceType")
    assert _parse_problems(manifest) == [
        "spec.resource.instanceTyep: unknown field; did you mean instanceType?"
    ]


def test_a_misspelt_required_field_is_reported_once_at_the_misspelling() -> None:
    """No second, misleading 'spec.inference.preset.name: required field is missing'."""
    manifest = _workspace()
    manifest["inference"]["preset"] = {"nmae": "phi-4-mini-instruct"}
    assert _parse_problems(manifest) == [
        "spec.inference.preset.nmae: unknown field; did you mean name? "
        "(the required field name is missing)"
    ]


def test_a_missing_required_field_without_a_misspelling_is_still_missing() -> None:
    manifest = _workspace()
    manifest["inference"]["preset"] = {"colour": "blue"}
    assert _parse_problems(manifest) == [
        "spec.inference.preset.colour: unknown field",
        "spec.inference.preset.name: required field is missing",
    ]


def test_an_unknown_key_is_shown_as_written() -> None:
    """The path is the key the user wrote, not its camelCase."""
    manifest = _workspace()
    manifest["resource"]["instance_type"] = manifest["resource"].pop("instanceType")
    assert _parse_problems(manifest) == [
        "spec.resource.instance_type: unknown field; did you mean instanceType?"
    ]


@pytest.mark.parametrize(
    ("kind", "manifest", "expected"),
    [
        (
            Workspace,
            {**_workspace(), "inferance": {}},
            "inferance: unknown field; did you mean inference?",
        ),
        (
            InferenceSet,
            {"apiVersion": "kaito.sh/v1beta1", "kind": "InferenceSet", "spce": {}},
            "spce: unknown field; did you mean spec?",
        ),
        (
            RAGEngine,
            {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "metdata": {}},
            "metdata: unknown field; did you mean metadata?",
        ),
        (
            RAGEngine,
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "RAGEngine",
                "spec": {"inferenceServce": {"url": "http://a/v1/chat/completions"}},
            },
            "spec.inferenceServce: unknown field; did you mean inferenceService?",
        ),
    ],
    ids=["workspace-top", "inferenceset-top", "ragengine-top", "ragengine-spec"],
)
def test_every_kind_suggests_fields(kind: type, manifest: dict[str, Any], expected: str) -> None:
    assert expected in _parse_problems(manifest, kind)
