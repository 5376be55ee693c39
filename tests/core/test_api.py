"""The Workspace API model: parsing, round trips, defaults and parse errors with paths."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from kaito_core.api import (
    V1ALPHA1,
    V1BETA1,
    ManifestError,
    ManifestLoadError,
    Workspace,
    from_manifest,
    load_documents,
)
from tests.conftest import EXAMPLES

MINIMAL = {
    "apiVersion": V1BETA1,
    "kind": "Workspace",
    "metadata": {"name": "ws"},
    "resource": {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"a": "b"}},
    },
    "inference": {"preset": {"name": "phi-4-mini-instruct"}},
}


def _example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("workspace-*.yaml"))


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: p.name)
def test_project_examples_round_trip(path: Path) -> None:
    """Every Workspace in docs/examples loads and writes back as the same document."""
    result = load_documents(path.read_text())
    assert result.workspaces
    for doc in result.workspaces:
        assert doc.errors == ()
        assert doc.workspace is not None
        assert doc.workspace.to_manifest() == doc.manifest


def test_upstream_examples_round_trip(reference: Path) -> None:
    """Every Workspace among upstream's examples and the seed loads and round-trips."""
    files = sorted(reference.glob("examples/**/*.yaml")) + sorted(reference.glob("seed/*.yaml"))
    seen = 0
    for path in files:
        for doc in load_documents(path.read_text()).workspaces:
            assert doc.errors == (), f"{path}: {doc.errors}"
            assert doc.workspace is not None
            assert doc.workspace.to_manifest() == doc.manifest, path
            seen += 1
    assert seen >= 40


def test_fields_are_snake_case_and_frozen() -> None:
    """The model is frozen; wire camelCase maps to snake_case attributes."""
    ws = from_manifest(MINIMAL)
    assert ws.resource is not None
    assert ws.resource.instance_type == "Standard_NC24ads_A100_v4"
    assert ws.match_labels == {"a": "b"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ws.kind = "Other"  # type: ignore[misc]


def test_classmethod_and_method_forms() -> None:
    """`Workspace.from_manifest` and `.to_manifest` are the documented entry points."""
    ws = Workspace.from_manifest(MINIMAL)
    assert ws.to_manifest() == MINIMAL


def test_v1alpha1_defaults_and_conversion() -> None:
    """v1alpha1 gets its CRD default instance type; conversion only rewrites apiVersion."""
    manifest = {**MINIMAL, "apiVersion": V1ALPHA1, "resource": {"labelSelector": {}}}
    ws = from_manifest(manifest).with_defaults()
    assert ws.is_v1alpha1
    assert ws.resource is not None
    assert ws.resource.instance_type == "Standard_NC24ads_A100_v4"
    assert ws.resource.count == 1
    assert ws.inference is not None
    assert ws.inference.preset is not None
    assert ws.inference.preset.access_mode == "public"
    converted = ws.as_v1beta1()
    assert converted.api_version == V1BETA1
    assert converted.resource == ws.resource


def test_v1beta1_has_no_default_instance_type() -> None:
    """v1beta1 leaves instanceType empty (validation decides what that means)."""
    manifest = {**MINIMAL, "resource": {"labelSelector": {}}}
    ws = from_manifest(manifest).with_defaults()
    assert ws.resource is not None
    assert ws.resource.instance_type is None


BAD = [
    pytest.param({"metadata": {"name": 5}}, "metadata.name", "expected a string", id="name-int"),
    pytest.param(
        {"resource": {"count": "2"}}, "spec.resource.count", "expected an integer", id="count-str"
    ),
    pytest.param({"resource": {"count": True}}, "spec.resource.count", "boolean", id="count-bool"),
    pytest.param(
        {"resource": {"bogus": 1}}, "spec.resource.bogus", "unknown field", id="unknown-field"
    ),
    pytest.param({"spec": {}}, "spec", "no spec wrapper", id="spec-wrapper"),
    pytest.param({"extra": 1}, "extra", "unknown field", id="unknown-top-level"),
    pytest.param(
        {"resource": {"labelSelector": {"matchLabels": {"a": 1}}}},
        "spec.resource.labelSelector.matchLabels",
        "map of strings",
        id="label-int",
    ),
    pytest.param(
        {"inference": {"preset": {}}}, "spec.inference.preset.name", "required", id="preset-no-name"
    ),
    pytest.param(
        {"inference": {"adapters": [{"strength": 1.0}]}},
        "spec.inference.adapters[0].strength",
        "expected a string",
        id="strength-float",
    ),
    pytest.param(
        {"tuning": {"input": {"urls": "http://x"}}},
        "spec.tuning.input.urls",
        "list of strings",
        id="urls-not-list",
    ),
    pytest.param({"inference": []}, "spec.inference", "", id="inference-list"),
    pytest.param(
        {"apiVersion": "kaito.sh/v2"}, "apiVersion", "unsupported apiVersion", id="api-version"
    ),
]


@pytest.mark.parametrize(("patch", "path", "message"), BAD)
def test_parse_errors_name_the_field(patch: dict[str, object], path: str, message: str) -> None:
    """A bad manifest raises ManifestError naming the field path and what is wrong."""
    with pytest.raises(ManifestError) as info:
        from_manifest({**MINIMAL, **patch})
    paths = {e.path: e.message for e in info.value.errors}
    assert path in paths, paths
    assert message in paths[path]


def test_every_problem_is_reported_at_once() -> None:
    """Several problems in one manifest are all reported, not just the first."""
    with pytest.raises(ManifestError) as info:
        from_manifest({**MINIMAL, "metadata": {"name": 1}, "resource": {"count": "x", "zzz": 1}})
    assert len(info.value.errors) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: [", "invalid YAML", id="unclosed"),
        pytest.param("\x00\x01", "binary", id="binary"),
        pytest.param(b"\xff\xfe", "UTF-8", id="not-utf8"),
        pytest.param("x" * (11 * 1024 * 1024), "refused", id="too-large"),
    ],
)
def test_unreadable_input(text: str | bytes, message: str) -> None:
    """Input that is not YAML at all raises ManifestLoadError with one clear line."""
    with pytest.raises(ManifestLoadError) as info:
        load_documents(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_multi_document_keeps_configmaps_and_secrets() -> None:
    """ConfigMaps and Secrets stay beside Workspaces for validation."""
    text = (EXAMPLES / "workspace-custom-config.yaml").read_text()
    result = load_documents(text)
    assert [d.kind for d in result.documents] == ["ConfigMap", "Workspace"]
    assert ("default", "qwen-inference-params") in result.config_maps
    llama = load_documents((EXAMPLES / "workspace-llama-3.3-70b.yaml").read_text())
    assert ("default", "hf-token") in llama.secrets


def test_non_map_document_is_a_problem_not_a_crash() -> None:
    """A document that is a list or a scalar is reported, and the others still load."""
    result = load_documents("- 1\n---\n" + (EXAMPLES / "workspace-phi-4-mini.yaml").read_text())
    assert result.documents[0].errors
    assert result.workspaces[0].workspace is not None
