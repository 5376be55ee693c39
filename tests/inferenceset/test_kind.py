"""The InferenceSet's registration: its facts, its scale subresource, and how the engine (and
``kaito up``) reads its status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.kinds import DEFAULT_HOOKS
from kaito_backends.kinds.crd import custom_resource_definition
from kaito_backends.kinds.inferenceset import slot_names, with_keda
from kaito_backends.operator.inferenceset_crd import inferenceset_crd
from kaito_backends.operator.rbac import cluster_rules
from kaito_core.api import Condition, InferenceSet
from kaito_core.api.inferenceset import InferenceSetStatus
from kaito_core.inferenceset.kind import INFERENCESET, SCALE, inferenceset_kind, inferenceset_state
from kaito_core.registry import default_registry
from kaito_core.validation.inferenceset import validate_inferenceset
from tests.inferenceset.support import NOW, condition, iset, manifest, replica, run

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _status(*conditions: Condition, replicas: int = 2, ready: int = 1) -> InferenceSetStatus:
    return InferenceSetStatus(replicas=replicas, ready_replicas=ready, conditions=conditions)


def _c(type_: str, status: str, reason: str, message: str = "m", at: str = NOW) -> Condition:
    return Condition(
        type=type_, status=status, reason=reason, message=message, last_transition_time=at
    )


READY = _c("InferenceSetReady", "True", "inferencesetReady")
NOT_READY = _c("InferenceSetReady", "False", "inferencesetNotReady")
FAILED = _c("InferenceSetReady", "False", "inferencesetFailed", "bad strategy")
HELD = _c("NodeCountLimitReached", "True", "ReplicasHeldBack", "1 of 3 held back")
WITHIN = _c("NodeCountLimitReached", "False", "WithinNodeCountLimit")
CRASHING = _c("ReplicasHealthy", "False", "ContainerCrashLoopBackOff", "Workspace default/p-1")
TUNING_FAILED = _c("ReplicasHealthy", "False", "workspaceFailed", "Workspace default/p-0")


@pytest.mark.parametrize(
    ("status", "minutes", "expected"),
    [
        (None, 0, ("Pending", "", "")),
        (_status(), 0, ("Pending", "", "")),
        (_status(READY), 0, ("Succeeded", "inferencesetReady", "m")),
        (_status(NOT_READY), 0, ("Pending", "", "")),
        (_status(FAILED), 0, ("Failed", "inferencesetFailed", "bad strategy")),
        (_status(NOT_READY, HELD, replicas=2, ready=1), 0, ("Pending", "", "")),
        (
            _status(NOT_READY, HELD, replicas=2, ready=2),
            0,
            ("Failed", "ReplicasHeldBack", "1 of 3 held back"),
        ),
        (
            _status(NOT_READY, HELD, replicas=0, ready=0),
            0,
            ("Failed", "ReplicasHeldBack", "1 of 3 held back"),
        ),
        (_status(NOT_READY, WITHIN, replicas=2, ready=2), 0, ("Pending", "", "")),
        (_status(NOT_READY, CRASHING), 9, ("Pending", "", "")),
        (
            _status(NOT_READY, CRASHING),
            10,
            ("Failed", "ContainerCrashLoopBackOff", "Workspace default/p-1"),
        ),
        (
            _status(NOT_READY, TUNING_FAILED),
            0,
            ("Failed", "workspaceFailed", "Workspace default/p-0"),
        ),
        (_status(READY, CRASHING), 60, ("Succeeded", "inferencesetReady", "m")),
    ],
    ids=[
        "no-status",
        "no-condition",
        "ready",
        "not-ready",
        "spec-failed",
        "held-back-while-coming-up",
        "held-back-and-settled",
        "held-back-nothing-fits",
        "within-limit",
        "crash-loop-within-grace",
        "crash-loop-past-grace",
        "terminal-replica-failure",
        "ready-wins",
    ],
)
def test_the_state_of_an_inferenceset(
    status: InferenceSetStatus | None, minutes: int, expected: tuple[str, str, str]
) -> None:
    """How the engine (and ``kaito up``) reads a status, with a 10-minute failure grace."""
    now = T0 + timedelta(minutes=minutes)
    assert inferenceset_state(status, now=now, failure_grace=600.0) == expected


def test_the_registration_has_upstreams_facts() -> None:
    """Names, versions, finalizer, owned kinds, owner label, scale subresource, columns."""
    spec = INFERENCESET
    assert default_registry().names[:2] == ("Workspace", "InferenceSet")
    assert default_registry()["InferenceSet"] is spec
    assert (spec.group, spec.kind, spec.plural, spec.singular) == (
        "kaito.sh",
        "InferenceSet",
        "inferencesets",
        "inferenceset",
    )
    assert spec.short_names == ("is", "isets")
    assert spec.versions == ("v1beta1", "v1alpha1")
    assert spec.finalizer == "inferenceset.finalizer.kaito.sh"
    assert [(r.api_version, r.kind) for r in spec.owns] == [("kaito.sh/v1beta1", "Workspace")]
    assert [o.name for o in spec.owner_labels] == ["inferenceset.kaito.sh/created-by"]
    assert [c.name for c in spec.columns()] == ["Replicas", "ReadyReplicas", "Age"]
    assert spec.scale is SCALE
    assert SCALE.to_crd() == {
        "labelSelectorPath": ".status.selector",
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
    }
    assert "InferenceSet" in DEFAULT_HOOKS


def test_the_crds_agree_on_the_subresources() -> None:
    """The model-generated CRD (``kaito manifests``) and the one a KindSpec alone gives (the
    fake API server's) have the same subresources and printer columns."""
    full = inferenceset_crd()
    bare = custom_resource_definition(INFERENCESET)
    for mine, theirs in zip(bare["spec"]["versions"], full["spec"]["versions"], strict=True):
        assert mine["subresources"] == theirs["subresources"]
        assert mine["additionalPrinterColumns"] == theirs["additionalPrinterColumns"]
    assert bare["spec"]["names"] == full["spec"]["names"]


def _verbs(registry: Any) -> dict[str, list[str]]:
    return {res: r["verbs"] for r in cluster_rules("karpenter", registry) for res in r["resources"]}


def test_keda_scaled_objects_are_an_option() -> None:
    """Off by default: no ScaledObject is owned or granted. ``with_keda``: the planner
    provisions them, the set owns them, RBAC grants them."""
    assert "scaledobjects" not in _verbs(default_registry())
    keda = with_keda(default_registry())
    spec = keda["InferenceSet"]
    assert [r.kind for r in spec.owns] == ["Workspace", "ScaledObject"]
    assert _verbs(keda)["scaledobjects"] == [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
    ]
    body = iset(
        "phi",
        annotations={
            "scaledobject.kaito.sh/auto-provision": "true",
            "scaledobject.kaito.sh/threshold": "10",
            "scaledobject.kaito.sh/max-replicas": "4",
        },
    )
    planned = spec.plan(body, observed=_empty(), catalog=_catalog(), now=NOW, settings=None)
    assert [o["kind"] for o in planned.apply][-1] == "ScaledObject"
    plain = INFERENCESET.plan(body, observed=_empty(), catalog=_catalog(), now=NOW, settings=None)
    assert "ScaledObject" not in [o["kind"] for o in plain.apply]
    assert inferenceset_kind().owns == INFERENCESET.owns


def _empty() -> Any:
    from kaito_core.observed import Observed

    return Observed()


def _catalog() -> Any:
    from kaito_presets import default_catalog

    return default_catalog()


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [(None, ["p-0"]), (3, ["p-0", "p-1", "p-2"]), (0, []), ("x", ["p-0"]), (10**9, 1000)],
    ids=["default", "three", "zero", "not-a-number", "bounded"],
)
def test_slot_names(replicas: Any, expected: Any) -> None:
    """The names the hooks look up: one per slot below spec.replicas, at most 1,000."""
    body = manifest("p", replicas=None)
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    found = slot_names(body)
    assert (len(found) if isinstance(expected, int) else found) == expected


def test_a_failing_replica_shows_on_the_set() -> None:
    """ReplicasHealthy False carries the first failing replica's reason; it goes away with it."""
    obj = iset("p", replicas=2)
    ok, bad = replica(obj, 0), replica(obj, 1, ready=False)
    bad["status"]["conditions"].append(
        {
            "type": "InferenceReady",
            "status": "False",
            "reason": "ContainerCrashLoopBackOff",
            "message": "back-off restarting",
            "lastTransitionTime": NOW,
        }
    )
    health = condition(run(obj, ok, bad), "ReplicasHealthy")
    assert (health.status, health.reason) == ("False", "ContainerCrashLoopBackOff")
    assert health.message == "Workspace default/p-1: back-off restarting"
    assert run(obj, ok, replica(obj, 1)).status.condition("ReplicasHealthy") is None


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("inferenceset-*.yaml")), ids=lambda p: p.name)
def test_the_examples_are_valid_and_round_trip(path: Path) -> None:
    """Each InferenceSet of docs/examples parses, writes back as written, and validates."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        obj = InferenceSet.from_manifest(doc)
        assert obj.to_manifest() == doc
        assert validate_inferenceset(obj, catalog=_catalog()) == []
