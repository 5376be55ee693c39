"""Every object `plan_ragengine` emits is valid for the API server that stores it.

- Deployment, Service, ConfigMap, ControllerRevision: the Kubernetes 1.33 OpenAPI schema
  (`kubernetes_validate`, strict: unknown fields are errors);
- NodeClaims: Karpenter's ``karpenter.sh_nodeclaims.yaml`` CRD (v1) and its CEL rules;
- RAGEngines (the upstream examples, generated ones, and ones carrying the status the plan
  computes): upstream's ``kaito.sh_ragengines.yaml``, strictly (a field the CRD does not know
  would be pruned by the API server, so it is an error here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from kaito_core.api import RAGEngine
from kaito_core.observed import Manifest
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from tests.ragengine.support import (
    CATALOG,
    NOW,
    RagApiServer,
    converge,
    materialize,
    rag_manifests,
    settings_strategy,
    workspace_references,
)
from tests.schemas.test_schemas import _check_node_claim_cel, crd_validator

KUBERNETES_VERSION = "1.33"
CORE_KINDS = frozenset({"Deployment", "Service", "ConfigMap", "ControllerRevision"})


def check_object(obj: Manifest) -> None:
    if obj["kind"] in CORE_KINDS:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    elif obj["kind"] == "NodeClaim":
        crd_validator("karpenter.sh_nodeclaims.yaml", "v1").validate(obj)
        _check_node_claim_cel(obj)
    else:
        raise AssertionError(f"plan emitted an unexpected kind {obj['kind']}")


def check_ragengine(manifest: Manifest) -> None:
    version = manifest["apiVersion"].split("/")[1]
    crd_validator("kaito.sh_ragengines.yaml", version).validate(manifest)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=rag_manifests(), plan_settings=settings_strategy())
def test_every_planned_object_and_status_is_valid(
    spec: tuple[dict[str, Any], dict[str, Manifest]], plan_settings: RAGEngineSettings
) -> None:
    """Objects of a first plan and of a converged one; the RAGEngine with its status."""
    doc, config_maps = spec
    rag = materialize(doc)
    check_ragengine(RAGEngine.from_manifest(doc).to_manifest())
    first = plan_ragengine(
        rag,
        observed=RagApiServer().observed(config_maps=config_maps),
        catalog=CATALOG,
        now=NOW,
        settings=plan_settings,
    )
    last = converge(
        rag,
        RagApiServer(),
        settings=plan_settings,
        config_maps=config_maps,
        references=workspace_references(),
    )
    for outcome in (first, last):
        for obj in (*outcome.node_claims, *outcome.desired):
            check_object(obj)
        check_ragengine(attrs.evolve(rag, status=outcome.status).to_manifest())


def test_an_error_status_and_a_deleting_status_are_valid() -> None:
    """The False conditions of a SpecError and RAGEngineDeleting fit the CRD."""
    rag = materialize(
        {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "metadata": {"name": "r"}}
    )
    failed = plan_ragengine(rag, observed=RagApiServer().observed(), catalog=CATALOG, now=NOW)
    assert failed.error is not None
    check_ragengine(attrs.evolve(rag, status=failed.status).to_manifest())
    meta = attrs.evolve(rag.metadata, deletion_timestamp=NOW)
    deleting = plan_ragengine(
        attrs.evolve(rag, metadata=meta),
        observed=RagApiServer().observed(),
        catalog=CATALOG,
        now=NOW,
    )
    check_ragengine(attrs.evolve(rag, status=deleting.status).to_manifest())


@pytest.mark.upstream
def test_upstream_examples_fit_upstreams_crd(reference: Path) -> None:
    """Every RAGEngine of upstream's examples, read and written back, fits the CRD."""
    count = 0
    for path in sorted((reference / "examples" / "RAG").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "RAGEngine":
                check_ragengine(RAGEngine.from_manifest(doc).to_manifest())
                count += 1
    assert count == 3
