"""InferenceSet and RAGEngine, registered by default, run in the engine, the CLI and
``kaito manifests``.

The slices landed without the shared code knowing them; registering them is all it takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.cli import main
from kaito_backends.engine import Controller
from kaito_backends.kinds import DEFAULT_HOOKS
from kaito_backends.objects import Key, ObjectRef
from kaito_backends.operator.manifests import install_manifests
from kaito_backends.operator.rbac import cluster_rules
from kaito_core.ragengine import RAGENGINE
from kaito_core.registry import default_registry
from tests.engine.conftest import cluster_with
from tests.inferenceset.support import manifest as iset_manifest
from tests.ragengine.support import rag_manifest

REGISTRY = default_registry()
HOOKS = DEFAULT_HOOKS


def _stored(cluster: Any, api: str, kind: str, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = cluster.store.find(api, kind, "default", name)
    return found


async def test_an_inferenceset_makes_workspaces_that_come_up() -> None:
    """Two replica Workspaces, each reconciled to Succeeded by the same engine; their status
    changes wake the InferenceSet (owner references), which ends Ready with 2/2."""
    body = iset_manifest("phi", replicas=2, uid=None)
    cluster = cluster_with(body)
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=REGISTRY
    ) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert ctl.errors == 0
    assert settled.succeeded, {str(k.qualified): r.state for k, r in settled.results.items()}
    assert sorted(k.qualified for k in settled.results) == [
        "InferenceSet/default/phi",
        "Workspace/default/phi-0",
        "Workspace/default/phi-1",
    ]
    stored = _stored(cluster, "kaito.sh/v1beta1", "InferenceSet", "phi")
    assert stored is not None
    assert stored["status"]["readyReplicas"] == 2
    assert stored["metadata"]["finalizers"] == ["inferenceset.finalizer.kaito.sh"]


async def test_a_ragengine_gets_its_machine_and_children() -> None:
    """NodeClaims labelled for the RAGEngine, its Deployment and Service, and a status: the
    fake runs the Deployment, so it succeeds."""
    cluster = cluster_with(rag_manifest("rag"))
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=REGISTRY
    ) as ctl:
        settled = await ctl.run_until_settled(3600)
        claims = await cluster.provisioner().observe(Key("RAGEngine", "default", "rag"))
    assert ctl.errors == 0
    assert settled.state(Key("RAGEngine", "default", "rag")) == "Succeeded"
    assert claims
    assert claims[0]["metadata"]["labels"]["kaito.sh/ragengine"] == "rag"
    assert _stored(cluster, "apps/v1", "Deployment", "rag") is not None
    assert _stored(cluster, "v1", "Service", "rag") is not None
    stored = _stored(cluster, "kaito.sh/v1beta1", "RAGEngine", "rag")
    assert stored is not None
    assert {c["type"] for c in stored["status"]["conditions"]} >= {"ResourceReady"}


async def test_a_deleted_ragengine_releases_its_machines() -> None:
    """Its finalizer holds it until the NodeClaims labelled for it are gone."""
    cluster = cluster_with(rag_manifest("rag"))
    key = Key("RAGEngine", "default", "rag")
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, registry=REGISTRY
    ) as ctl:
        await ctl.run_until_settled(300)
        await cluster.client().delete(ObjectRef("kaito.sh/v1beta1", "RAGEngine", "rag", "default"))
        await ctl.run_until_settled(600)
        assert await cluster.provisioner().observe(key) == ()
    assert _stored(cluster, "kaito.sh/v1beta1", "RAGEngine", "rag") is None


def _write(tmp_path: Path, *docs: dict[str, Any]) -> str:
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_the_cli_validates_and_runs_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kaito validate`` judges both kinds; ``kaito up`` brings an InferenceSet up, its lines
    naming the kind (it makes Workspaces)."""
    both = _write(tmp_path, iset_manifest("phi", replicas=1, uid=None), rag_manifest("rag"))
    assert main(["validate", both], registry=REGISTRY) == 0
    assert capsys.readouterr().err.strip() == "1 InferenceSet(s), 1 RAGEngine(s) valid"
    one = _write(tmp_path, iset_manifest("phi", replicas=1, uid=None))
    assert main(["up", "--quiet", one], registry=REGISTRY) == 0
    out = capsys.readouterr().out
    assert "InferenceSet/phi" in out
    assert "REPLICAS" in out


def test_manifests_carry_their_crds_and_rbac(capsys: pytest.CaptureFixture[str]) -> None:
    """Their hooks' CRDs (the InferenceSet's has the scale subresource); RBAC lets the
    operator make Workspaces (an InferenceSet's) and Deployments (a RAGEngine's)."""
    objects = install_manifests(registry=REGISTRY, hooks=HOOKS)
    crds = {o["metadata"]["name"]: o for o in objects if o["kind"] == "CustomResourceDefinition"}
    assert list(crds) == ["workspaces.kaito.sh", "inferencesets.kaito.sh", "ragengines.kaito.sh"]
    assert "scale" in crds["inferencesets.kaito.sh"]["spec"]["versions"][0]["subresources"]
    rules = cluster_rules("karpenter", REGISTRY)
    verbs = {resource: r["verbs"] for r in rules for resource in r["resources"]}
    assert "create" in verbs["workspaces"]
    assert "create" in verbs["deployments"]
    assert "scaledobjects" not in verbs  # KEDA ScaledObjects only with --keda-scaled-objects
    webhooks = [o["metadata"]["name"] for o in objects if o["kind"].startswith("Validating")]
    assert webhooks == [
        "validation.workspace.kaito.sh",
        "validation.inferenceset.kaito.sh",
        "validation.ragengine.kaito.sh",
    ]


def test_a_kind_with_its_own_converter_writes_its_status_in_camel_case() -> None:
    """RAGEngine's model has a converter of its own: its status goes over the wire with it."""
    from kaito_core.api.ragengine import RAGEngineStatus

    status = RAGEngineStatus(worker_nodes=("n1",))
    wire = RAGENGINE.dump_status(status)
    assert wire == {"workerNodes": ["n1"]}
    assert RAGENGINE.read_status({"status": wire}) == status
