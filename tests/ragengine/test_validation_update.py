"""`validate_ragengine` on update: what cannot change once a RAGEngine exists."""

from __future__ import annotations

from typing import Any

import pytest

from kaito_core.api import RAGEngine
from kaito_core.errors import FieldError
from kaito_core.validation import ValidationContext, validate_ragengine
from tests.ragengine.support import rag_manifest

ALPHA = "kaito.sh/v1alpha1"


def _paths(errors: list[FieldError]) -> list[str]:
    return sorted(e.path for e in errors)


def _update(new: dict[str, Any], old: dict[str, Any], **context: Any) -> list[FieldError]:
    return validate_ragengine(
        RAGEngine.from_manifest(new),
        old=RAGEngine.from_manifest(old),
        context=ValidationContext(**context),
    )


def _compute(**fields: Any) -> dict[str, Any]:
    return {
        "instanceType": "Standard_NC6s_v3",
        "labelSelector": {"matchLabels": {"a": "b"}},
    } | fields


UPDATES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str, str]] = {
    "U1-compute-added": (
        rag_manifest(),
        rag_manifest(compute=None),
        {},
        "spec.compute",
        "Compute resources cannot be added after creation",
    ),
    "U1-compute-removed": (
        rag_manifest(compute=None),
        rag_manifest(),
        {},
        "spec.compute",
        "Compute resources cannot be removed after creation",
    ),
    "U2-count": (
        rag_manifest(compute=_compute(count=2)),
        rag_manifest(compute=_compute(count=1)),
        {},
        "spec.compute.count",
        "field is immutable",
    ),
    "U3-partition": (
        rag_manifest(compute=_compute(partition={"mode": "mig"})),
        rag_manifest(compute=_compute()),
        {},
        "spec.compute.partition",
        "field is immutable",
    ),
    "U4-instance-type-nap": (
        rag_manifest(compute=_compute(instanceType="Standard_NC24ads_A100_v4")),
        rag_manifest(compute=_compute()),
        {},
        "spec.compute.instanceType",
        "instanceType cannot be changed once set when node auto-provisioning is enabled",
    ),
    "U4-instance-type-byo-set": (
        rag_manifest(compute=_compute()),
        rag_manifest(compute={"labelSelector": {"matchLabels": {"a": "b"}}}),
        {"node_auto_provisioning": False},
        "spec.compute.instanceType",
        "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)",
    ),
    "U4-instance-type-byo-changed": (
        rag_manifest(compute=_compute(instanceType="Standard_NC24ads_A100_v4")),
        rag_manifest(compute=_compute()),
        {"node_auto_provisioning": False},
        "spec.compute.instanceType",
        "instanceType cannot be changed once set",
    ),
    "U4-instance-type-v1alpha1": (
        rag_manifest(api_version=ALPHA, compute=_compute(instanceType="Standard_NC24ads_A100_v4")),
        rag_manifest(api_version=ALPHA, compute=_compute()),
        {},
        "spec.compute.instanceType",
        "field is immutable",
    ),
    "U5-selector": (
        rag_manifest(compute=_compute(labelSelector={"matchLabels": {"a": "c"}})),
        rag_manifest(compute=_compute()),
        {},
        "spec.compute.labelSelector",
        "field is immutable",
    ),
    "U5-selector-not-a-map": (
        rag_manifest(
            compute=_compute(
                labelSelector={"matchExpressions": [{"key": "a", "operator": "Exists"}]}
            )
        ),
        rag_manifest(compute=_compute()),
        {},
        "spec.compute.labelSelector",
        "Only allow matchLabels or 'IN' matchExpression",
    ),
}


@pytest.mark.parametrize(
    ("new", "old", "context", "path", "message"), UPDATES.values(), ids=UPDATES.keys()
)
def test_each_update_rule_reports_its_path_and_message(
    new: dict[str, Any], old: dict[str, Any], context: dict[str, Any], path: str, message: str
) -> None:
    """What cannot change once a RAGEngine exists is refused on update."""
    errors = _update(new, old, **context)
    assert any(e.path == path and message in e.message for e in errors), errors


def test_an_unchanged_update_and_allowed_changes_pass() -> None:
    """Embedding, storage and the inference service may change; the create rules still run."""
    old = rag_manifest()
    new = rag_manifest(
        embedding={"remote": {"url": "https://e.example.com/embed"}},
        inference_service={"url": "http://phi-4/v1/completions", "contextWindowSize": 16384},
    )
    assert _update(old, old) == []
    assert _update(new, old) == []
    assert _paths(_update(rag_manifest(embedding={}), old)) == ["spec.embedding"]
