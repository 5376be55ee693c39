"""`plan_ragengine` as a whole: deletion, errors, the diff, revisions, events, status."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kaito_core.errors import SpecError
from kaito_core.observed import Observed
from kaito_core.outcome import ObjectKey
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from tests.ragengine.support import (
    CATALOG,
    NOW,
    RagApiServer,
    converge,
    materialize,
    policy_config_map,
    rag_manifest,
    workspace_references,
)


def _plan(rag: Any, **observed: Any) -> Any:
    return plan_ragengine(
        rag, observed=Observed(**observed), catalog=CATALOG, now=NOW, settings=RAGEngineSettings()
    )


def _types(outcome: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in outcome.status.conditions}


def test_a_new_ragengine_plans_its_objects_in_a_stable_order() -> None:
    """ControllerRevision, Service, (policy ConfigMap,) Deployment; all applied at first."""
    outcome = _plan(materialize(rag_manifest(guardrails={"enabled": True})))
    assert [o["kind"] for o in outcome.desired] == [
        "ControllerRevision",
        "Service",
        "ConfigMap",
        "Deployment",
    ]
    assert outcome.apply == outcome.desired
    assert outcome.delete == ()
    assert outcome.target_node_count == 1
    assert _types(outcome)["RAGEngineSucceeded"] == ("False", "ragenginePending")
    assert [e.reason for e in outcome.events] == ["NodeClaimCreated"]


def test_a_converged_ragengine_succeeds_and_says_so_once() -> None:
    """Nodes and the Deployment ready: every condition True, one Normal event."""
    server = RagApiServer()
    rag = materialize(rag_manifest())
    last = converge(rag, server, references=workspace_references())
    assert _types(last) == {
        "ContextWindowFits": ("True", "ContextWindowFits"),
        "InferenceServiceReady": ("True", "WorkspaceServiceReady"),
        "NodeClaimReady": ("True", "installNodePluginsSuccess"),
        "RAGEngineSucceeded": ("True", "ragengineSucceeded"),
        "ResourceReady": ("True", "ragengineResourceStatusSuccess"),
        "ServiceReady": ("True", "RAGEngineServiceSuccess"),
    }
    assert last.status.worker_nodes is not None
    assert all(c.observed_generation == 1 for c in last.status.conditions)


def test_deleting_only_says_so() -> None:
    """A RAGEngine being deleted plans nothing; RAGEngineDeleting joins the kept conditions."""
    rag = materialize(rag_manifest())
    before = _plan(rag)
    meta = attrs.evolve(rag.metadata, deletion_timestamp=NOW)
    outcome = _plan(attrs.evolve(rag, metadata=meta, status=before.status))
    assert outcome.deleting
    assert outcome.desired == outcome.apply == outcome.node_claims == ()
    assert _types(outcome)["RAGEngineDeleting"] == ("True", "ragengineDeleted")
    assert _types(outcome)["ResourceReady"] == _types(before)["ResourceReady"]


ERRORS = {
    "no-spec": (
        {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "metadata": {"name": "rag"}},
        {},
        ("InvalidSpec", "spec.embedding"),
    ),
    "both-embeddings": (
        rag_manifest(embedding={"local": {"modelID": "a/b"}, "remote": {"url": "https://e"}}),
        {},
        ("InvalidSpec", "spec.embedding"),
    ),
    "policy-missing": (
        rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "mine"}}),
        {},
        ("GuardrailsPolicyNotFound", "spec.guardrails.configMapRef.name"),
    ),
    "policy-without-key": (
        rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "mine"}}),
        {"config_maps": {"mine": policy_config_map("mine", key="x.yaml")}},
        ("GuardrailsPolicyInvalid", "spec.guardrails.configMapRef.name"),
    ),
    "someone-elses-service": (
        rag_manifest(),
        {
            "objects": (
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "rag", "namespace": "default"},
                },
            )
        },
        ("ObjectConflict", "metadata.name"),
    ),
}


@pytest.mark.parametrize(("manifest", "observed", "expected"), ERRORS.values(), ids=ERRORS.keys())
def test_what_cannot_be_rendered_is_a_spec_error_with_no_objects(
    manifest: dict[str, Any], observed: dict[str, Any], expected: tuple[str, str]
) -> None:
    """The error is returned with the False condition; nothing is applied or claimed."""
    outcome = _plan(materialize(manifest), **observed)
    assert isinstance(outcome.error, SpecError)
    assert (outcome.error.reason, outcome.error.path) == expected
    assert outcome.desired == outcome.apply == outcome.node_claims == ()
    assert _types(outcome)["RAGEngineSucceeded"] == ("False", expected[0])
    assert [e.reason for e in outcome.events if e.type == "Warning"] == [expected[0]]


def test_turning_guardrails_off_deletes_the_policy_copy() -> None:
    """The owned default-policy ConfigMap goes when no longer wanted; a user's never does."""
    server = RagApiServer()
    on = materialize(rag_manifest(guardrails={"enabled": True}))
    converge(on, server)
    user_cm = policy_config_map("mine")
    server.seed(user_cm)
    off = materialize(rag_manifest(guardrails={"enabled": False}))
    outcome = plan_ragengine(off, observed=server.observed(), catalog=CATALOG, now=NOW)
    assert outcome.delete == (
        ObjectKey(
            api_version="v1", kind="ConfigMap", namespace="default", name="rag-guardrails-policy"
        ),
    )


def test_revisions_are_numbered_reused_and_pruned() -> None:
    """A new spec is revision 2 on the Deployment; reverting reuses 1; at most 10 are kept."""
    server = RagApiServer()
    specs = [rag_manifest(inference_service={"contextWindowSize": n}) for n in range(1, 13)]
    numbers = []
    for doc in [specs[0], specs[1], specs[0]]:
        last = converge(materialize(doc), server)
        (deployment,) = [o for o in last.desired if o["kind"] == "Deployment"]
        numbers.append(deployment["metadata"]["annotations"]["ragengine.kaito.io/revision"])
    assert numbers == ["1", "2", "1"]
    for doc in specs[2:]:
        converge(materialize(doc), server)
    revisions = [k for k in server.objects if k[0] == "ControllerRevision"]
    assert len(revisions) == 10


def test_a_v1alpha1_ragengine_plans_as_its_v1beta1_conversion() -> None:
    """The flat storage becomes the PVC volume; the children are the same as for v1beta1."""
    alpha = rag_manifest(
        api_version="kaito.sh/v1alpha1",
        storage={"persistentVolumeClaim": "pvc", "mountPath": "/mnt/v"},
        queryServiceName="ignored",
    )
    beta = rag_manifest(
        storage={"persistentVolume": {"persistentVolumeClaim": "pvc", "mountPath": "/mnt/v"}}
    )
    assert _plan(materialize(alpha)).desired == _plan(materialize(beta)).desired


def test_a_deleting_child_is_waited_for() -> None:
    """A child still being deleted is not applied over; the plan looks again soon."""
    server = RagApiServer()
    rag = materialize(rag_manifest())
    converge(rag, server)
    key = ("Service", "default", "rag")
    server.objects[key]["metadata"]["deletionTimestamp"] = NOW
    outcome = plan_ragengine(rag, observed=server.observed(), catalog=CATALOG, now=NOW)
    assert all(o["kind"] != "Service" for o in outcome.apply)
    assert outcome.requeue_after is not None


def test_a_crash_looping_rag_service_is_named_in_service_ready() -> None:
    """ServiceReady carries the pod failure, not a generic pending message."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "rag-abc",
            "namespace": "default",
            "labels": {"kaito.sh/ragengine": "rag"},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "rag",
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        },
    }
    outcome = _plan(materialize(rag_manifest(compute=None)), pods=(pod,))
    status, reason = _types(outcome)["ServiceReady"]
    assert status == "False"
    assert reason != "RAGEngineServicePending"
