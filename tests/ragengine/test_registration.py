"""The RAGEngine's registration: its `KindSpec` in the default registry, its state function,
the settings adapter, and its shell hooks (indexes, watches, admission)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kaito_backends.fake import FakeCluster
from kaito_backends.kinds import DEFAULT_HOOKS
from kaito_backends.objects import Key
from kaito_backends.operator.ragengine_crd import ragengine_crd
from kaito_backends.operator.webhook import AdmissionValidator
from kaito_core.api.ragengine import RAGEngineStatus
from kaito_core.api.types import Condition
from kaito_core.observed import Observed
from kaito_core.plan import PlanSettings
from kaito_core.ragengine import RAGENGINE, RAGEngineSettings, ragengine_state
from kaito_core.ragengine.registration import plan_with_engine_settings
from kaito_core.registry import default_registry
from tests.ragengine.support import CATALOG, NOW, materialize, policy_config_map, rag_manifest

LATER = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)  # NOW + 20 minutes
HOOKS = DEFAULT_HOOKS["RAGEngine"]


def _status(*conditions: tuple[str, str, str], since: str = NOW) -> RAGEngineStatus:
    return RAGEngineStatus(
        conditions=tuple(
            Condition(type=t, status=s, reason=r, message=f"{r}!", last_transition_time=since)
            for t, s, r in conditions
        )
    )


@pytest.mark.parametrize(
    ("status", "grace", "expected"),
    [
        (None, 600.0, ("Pending", "")),
        (
            _status(("RAGEngineSucceeded", "True", "ragengineSucceeded")),
            600.0,
            ("Succeeded", "ragengineSucceeded"),
        ),
        (_status(("RAGEngineSucceeded", "False", "ragenginePending")), 600.0, ("Pending", "")),
        (
            _status(("RAGEngineSucceeded", "False", "ObjectConflict")),
            600.0,
            ("Failed", "ObjectConflict"),
        ),
        (
            _status(("RAGEngineSucceeded", "False", "GuardrailsPolicyNotFound")),
            600.0,
            ("Failed", "GuardrailsPolicyNotFound"),
        ),
        (
            _status(
                ("RAGEngineSucceeded", "False", "ragenginePending"),
                ("ServiceReady", "False", "ContainerCrashLoopBackOff"),
            ),
            600.0,
            ("Failed", "ContainerCrashLoopBackOff"),
        ),
        (
            _status(
                ("RAGEngineSucceeded", "False", "ragenginePending"),
                ("ServiceReady", "False", "ContainerCrashLoopBackOff"),
            ),
            3600.0,
            ("Pending", ""),
        ),
        (
            _status(
                ("ServiceReady", "False", "Unschedulable"),
                ("ResourceReady", "False", "InsufficientCapacity"),
            ),
            600.0,
            ("Failed", "InsufficientCapacity"),
        ),
        (
            _status(("ResourceReady", "False", "checkNodeClaimStatusFailed")),
            600.0,
            ("Failed", "checkNodeClaimStatusFailed"),
        ),
        (_status(("ResourceReady", "False", "CreateNodeClaimPending")), 600.0, ("Pending", "")),
        (
            _status(
                ("RAGEngineSucceeded", "False", "ObjectConflict"),
                ("RAGEngineDeleting", "True", "ragengineDeleted"),
            ),
            600.0,
            ("Pending", ""),
        ),
        (
            _status(
                ("RAGEngineSucceeded", "True", "ragengineSucceeded"),
                ("InferenceServiceReady", "False", "InferenceServiceNotFound"),
            ),
            0.0,
            ("Succeeded", "ragengineSucceeded"),
        ),
    ],
    ids=[
        "no-status",
        "succeeded",
        "pending",
        "plan-error",
        "guardrails-missing",
        "crash-loop-past-grace",
        "crash-loop-within-grace",
        "capacity-first",
        "claim-failed",
        "waiting-for-claim",
        "deleting",
        "wiring-never-decides",
    ],
)
def test_the_state_of_a_ragengine_is_read_from_its_status(
    status: RAGEngineStatus | None, grace: float, expected: tuple[str, str]
) -> None:
    """Plan errors are terminal at once; recoverable failures once they last the grace."""
    state, reason, _ = ragengine_state(status, now=LATER, failure_grace=grace)
    assert (state, reason) == expected


def test_ragengine_is_registered_after_workspace() -> None:
    """The default registry's second kind, with upstream's names and the CRD's columns."""
    registry = default_registry()
    assert registry.names[:1] == ("Workspace",)
    assert registry["RAGEngine"] is RAGENGINE
    assert registry.find("kaito.sh/v1alpha1", "RAGEngine") is RAGENGINE
    assert (RAGENGINE.qualified, RAGENGINE.short_names, RAGENGINE.finalizer) == (
        "ragengines.kaito.sh",
        ("rag",),
        "ragengine.finalizer.kaito.sh",
    )
    crd = ragengine_crd()
    for version in crd["spec"]["versions"]:
        columns = [c.to_crd() for c in RAGENGINE.columns(version["name"])]
        assert columns == version["additionalPrinterColumns"]
    assert [column.name for column, _ in RAGENGINE.summary()] == [
        "Instance",
        "ResourceReady",
        "ServiceReady",
        "Age",
    ]
    assert HOOKS.crd is not None
    assert HOOKS.crd() == crd


@pytest.mark.parametrize(
    ("settings", "claims"),
    [
        (PlanSettings(provisioner="byo"), 0),
        (PlanSettings(provisioner="karpenter"), 1),
        (RAGEngineSettings(provisioner="byo"), 0),
        (None, 1),
        ("not settings", 1),
    ],
    ids=["plan-settings-byo", "plan-settings", "rag-settings", "none", "anything-else"],
)
def test_the_planner_takes_the_engine_settings(settings: Any, claims: int) -> None:
    """PlanSettings become RAGEngineSettings; RAGEngineSettings pass; anything else is the
    default (which provisions)."""
    outcome = plan_with_engine_settings(
        materialize(rag_manifest()),
        observed=Observed(),
        catalog=CATALOG,
        now=NOW,
        settings=settings,
    )
    assert outcome.error is None
    assert len(outcome.node_claims) == claims


# -- the shell's hooks ----------------------------------------------------------------------------
def _indexes(rag: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: list(index(rag)) for name, index in HOOKS.indexers.items()}


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://phi-3/v1/completions", [("team", "phi-3")]),
        ("http://phi-3.models.svc.cluster.local/v1/completions", [("models", "phi-3")]),
        ("https://api.example.com/v1/completions", []),
        (None, []),
    ],
    ids=["short", "other-namespace", "outside", "retrieve-only"],
)
def test_a_ragengine_is_indexed_by_the_service_its_url_names(
    url: str | None, target: list[tuple[str, str]]
) -> None:
    """``target`` and ``target-namespace`` come from the URL; none for outside URLs."""
    service = {"contextWindowSize": 4096, **({"url": url} if url else {})}
    indexes = _indexes(rag_manifest(namespace="team", inference_service=service))
    assert indexes["target"] == target
    assert indexes["target-namespace"] == [ns for ns, _ in target]


def test_guardrails_and_compute_are_indexed() -> None:
    """The configMapRef (or the policy template) and whether it selects nodes."""
    ref = rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "pol"}})
    template = rag_manifest(guardrails={"enabled": True}, compute=None)
    assert _indexes(ref)["config"] == [("default", "pol")]
    assert _indexes(ref)["byo"] == ["byo"]
    assert _indexes(template)["config"] == [
        ("kaito-system", "ragengine-guardrails-policy-template")
    ]
    assert _indexes(template)["byo"] == []
    broken = {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "spec": {"compute": 1}}
    assert all(values == [] for values in _indexes(broken).values())


def _watch(kind: str) -> Any:
    (watch,) = [w for w in HOOKS.watches if w.kind == kind]
    return watch.enqueue


def _lookup(table: dict[tuple[str, Any], list[str]]) -> Any:
    def index(name: str, value: Any) -> list[dict[str, Any]]:
        return [
            {"metadata": {"name": n, "namespace": "default"}} for n in table.get((name, value), [])
        ]

    return index


def _names(found: Any) -> list[str]:
    return [o["metadata"]["name"] for o in found]


def test_what_wakes_a_ragengine() -> None:
    """Its Service; any Workspace or unowned ConfigMap of the target namespace; its guardrails
    ConfigMap; an unowned Node its selector matches."""
    table = {
        ("target", ("models", "phi-3")): ["a"],
        ("target-namespace", "models"): ["a", "b"],
        ("config", ("default", "pol")): ["c"],
        ("byo", "byo"): [],
    }
    index = _lookup(table)
    service = {"metadata": {"name": "phi-3", "namespace": "models"}}
    assert _names(_watch("Service")("MODIFIED", service, [], index)) == ["a"]
    assert _names(_watch("Workspace")("MODIFIED", service, [], index)) == ["a", "b"]
    config = {"metadata": {"name": "pol", "namespace": "default"}}
    assert _names(_watch("ConfigMap")("ADDED", config, [], index)) == ["c"]
    owned = [Key("Workspace", "models", "phi-3")]
    in_models = {"metadata": {"name": "cfg", "namespace": "models"}}
    assert _names(_watch("ConfigMap")("MODIFIED", in_models, [], index)) == ["a", "b"]
    assert _names(_watch("ConfigMap")("MODIFIED", in_models, owned, index)) == []


def test_a_matching_unowned_node_wakes_a_ragengine_that_selects_nodes() -> None:
    """BYO nodes: labels must match the compute selector; machines of ours never do."""
    rag = rag_manifest("r")

    def index(name: str, value: Any) -> list[dict[str, Any]]:
        return [rag] if (name, value) == ("byo", "byo") else []

    node = {"metadata": {"name": "n", "labels": {"apps": "r"}}}
    assert _names(_watch("Node")("ADDED", node, [], index)) == ["r"]
    other = {"metadata": {"name": "n", "labels": {"apps": "x"}}}
    assert _names(_watch("Node")("ADDED", other, [], index)) == []
    assert _names(_watch("Node")("ADDED", node, [Key("RAGEngine", "default", "r")], index)) == []


def _review(obj: dict[str, Any]) -> str:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u-1",
                "kind": {"group": "kaito.sh", "version": "v1beta1", "kind": "RAGEngine"},
                "operation": "CREATE",
                "namespace": "default",
                "name": obj["metadata"]["name"],
                "object": obj,
            },
        }
    )


async def test_admission_reads_the_guardrails_config_map() -> None:
    """On CREATE the webhook reads the ConfigMap ``configMapRef`` names: missing is refused."""
    cluster = FakeCluster()
    validator = AdmissionValidator(client=cluster.client())
    body = rag_manifest(guardrails={"enabled": True, "configMapRef": {"name": "pol"}})
    answer = await validator.review(_review(body))
    assert answer["response"]["allowed"] is False
    assert 'ConfigMap "pol"' in answer["response"]["status"]["message"]
    cluster.store.create(policy_config_map("pol"))
    answer = await validator.review(_review(body))
    assert answer["response"]["allowed"] is True
