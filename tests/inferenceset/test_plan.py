"""`plan_inferenceset`: replicas, their shape, the node limit, conflicts, deletion, status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from kaito_core import inferenceset as kis
from kaito_core.api import Condition, InferenceSet, Workspace
from kaito_core.decision import PlanSettings
from kaito_core.inferenceset import InferenceSetOptions, KedaScaler
from kaito_core.observed import Observed
from kaito_core.plan import plan
from tests.inferenceset.support import (
    CATALOG,
    LATER,
    NOW,
    V1ALPHA1,
    condition,
    iset,
    names,
    replica,
    run,
)

BYO = PlanSettings(provisioner="byo")


# -- the replicas ----------------------------------------------------------------------------


def test_replicas_are_workspaces_named_by_slot() -> None:
    """Two replicas from nothing: phi-0 and phi-1, created in slot order."""
    outcome = run(iset(replicas=2))
    assert names(outcome.apply) == ["phi-0", "phi-1"]
    assert names(outcome.desired) == ["phi-0", "phi-1"]
    assert outcome.delete == ()
    assert [e.message for e in outcome.events] == [
        "Creating Workspace default/phi-0 (replica 0)",
        "Creating Workspace default/phi-1 (replica 1)",
    ]


def test_a_replica_is_upstreams_child_workspace() -> None:
    """Labels, annotations, owner reference, resource and inference as upstream builds them."""
    obj = iset(
        replicas=1,
        labels={"kaito.sh/inference-role": "decode", "other": "x"},
        annotations={"kaito.sh/disable-benchmark": "true"},
        template_metadata={"labels": {"tier": "gold"}, "annotations": {"note": "n"}},
    )
    (child,) = run(obj).apply
    labels = child["metadata"].pop("labels")
    assert labels == {
        "inferenceset.kaito.sh/created-by": "phi",
        "inferenceset.kaito.sh/template-hash": labels["inferenceset.kaito.sh/template-hash"],
        "kaito.sh/inference-role": "decode",
        "tier": "gold",
    }
    assert child == {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {
            "name": "phi-0",
            "namespace": "default",
            "annotations": {"kaito.sh/disable-benchmark": "true", "note": "n"},
            "ownerReferences": [
                {
                    "apiVersion": "kaito.sh/v1beta1",
                    "kind": "InferenceSet",
                    "name": "phi",
                    "uid": "uid-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": "phi"}},
        },
        "inference": {"preset": {"name": "phi-4-mini-instruct", "accessMode": "public"}},
    }


def test_with_byo_nodes_the_instance_type_is_left_out() -> None:
    """The Workspace webhook rejects an instance type with bring-your-own nodes."""
    obj = iset(replicas=1, instance=None)
    (child,) = run(obj, settings=BYO).apply
    assert child["resource"] == {"labelSelector": {"matchLabels": {"apps": "phi"}}}


def test_each_replica_serves_the_model_under_the_set_name() -> None:
    """The replica's vLLM command says --served-model-name=<set>, as upstream's."""
    (child,) = run(iset(replicas=1)).apply
    outcome = plan(Workspace.from_manifest(child), observed=Observed(), catalog=CATALOG, now=NOW)
    (sts,) = [o for o in outcome.desired if o["kind"] == "StatefulSet"]
    command = " ".join(
        " ".join(c.get("command", []) + c.get("args", []))
        for c in sts["spec"]["template"]["spec"]["containers"]
    )
    assert "--served-model-name=phi" in command
    assert sts["spec"]["selector"]["matchLabels"]["inferenceset.kaito.sh/created-by"] == "phi"


def test_the_template_hash_follows_the_template() -> None:
    """Same template, same hash; a changed preset, label or instance type, another."""

    def hash_of(obj: InferenceSet) -> str:
        (child, *_) = run(obj).apply
        return str(child["metadata"]["labels"]["inferenceset.kaito.sh/template-hash"])

    base = hash_of(iset())
    assert hash_of(iset(replicas=5)) == base
    assert hash_of(iset(preset="phi-3-mini-4k-instruct")) != base
    assert hash_of(iset(template_metadata={"labels": {"a": "b"}})) != base
    assert hash_of(iset(instance="Standard_NC96ads_A100_v4")) != base


def test_a_current_replica_missing_a_label_is_applied_again() -> None:
    """Someone removed a label the set gives its replicas: the replica is re-applied."""
    obj = iset(replicas=1, template_metadata={"labels": {"tier": "gold"}})
    stripped = replica(obj, 0)
    del stripped["metadata"]["labels"]["tier"]
    assert names(run(obj, stripped).apply) == ["phi-0"]
    extra = replica(obj, 0)
    extra["metadata"]["labels"]["added-by-someone"] = "x"
    extra["resource"]["count"] = 1  # a server default
    assert run(obj, extra).apply == ()


def test_v1alpha1_sets_make_v1beta1_replicas() -> None:
    """A v1alpha1 InferenceSet is planned as the v1beta1 object it is stored as."""
    (child, *_) = run(iset(api=V1ALPHA1)).apply
    assert child["apiVersion"] == "kaito.sh/v1beta1"


# -- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "ready", "status", "reason", "message"),
    [
        pytest.param(
            2, [True, True], "True", "inferencesetReady", "inferenceset is ready", id="2/2"
        ),
        pytest.param(
            2,
            [True, False],
            "False",
            "inferencesetNotReady",
            "inferenceset is not ready, 1/2 replicas are ready",
            id="1/2",
        ),
        pytest.param(
            3,
            [],
            "False",
            "inferencesetNotReady",
            "inferenceset is not ready, 0/3 replicas are ready",
            id="0/3",
        ),
        pytest.param(0, [], "True", "inferencesetReady", "inferenceset is ready", id="scaled to 0"),
    ],
)
def test_ready_condition(
    replicas: int, ready: list[bool], status: str, reason: str, message: str
) -> None:
    """InferenceSetReady with upstream's reasons and messages."""
    obj = iset(replicas=replicas)
    outcome = run(obj, *(replica(obj, s, ready=r) for s, r in enumerate(ready)))
    found = condition(outcome, kis.CONDITION_READY)
    assert (found.status, found.reason, found.message) == (status, reason, message)
    assert outcome.status.ready_replicas == sum(ready)
    assert outcome.status.replicas == len(ready)
    assert outcome.status.selector == "inferenceset.kaito.sh/created-by=phi"


def test_readiness_comes_from_the_replicas_own_condition() -> None:
    """WorkspaceSucceeded about an older generation, or a replica being deleted, is not ready."""
    obj = iset(replicas=2)
    stale = replica(obj, 0, generation=3, observed_generation=2)
    deleting = replica(obj, 1, deleting=True)
    outcome = run(obj, stale, deleting)
    assert (outcome.status.replicas, outcome.status.ready_replicas) == (1, 0)


def test_conditions_of_other_types_are_kept_and_times_stay() -> None:
    """Someone else's condition stays; an unchanged condition keeps its transition time."""
    obj = iset(replicas=1)
    first = run(obj, replica(obj, 0))
    theirs = Condition(
        type="Other", status="True", reason="X", message="", last_transition_time=NOW
    )
    settled = attrs.evolve(
        obj,
        status=attrs.evolve(first.status, conditions=(*(first.status.conditions or ()), theirs)),
    )
    again = run(settled, replica(obj, 0), now=LATER)
    assert again.status.condition("Other") == theirs
    assert condition(again, kis.CONDITION_READY).last_transition_time == NOW
    assert again.events == ()


def _with_tpm(obj: InferenceSet, slot: int, value: str, **kwargs: Any) -> dict[str, Any]:
    child = replica(obj, slot, **kwargs)
    child["status"]["performance"] = {
        "metrics": {
            "peakTokensPerMinute": {
                "description": "stress/high-concurrency",
                "value": value,
                "config": {"engine": "vllm"},
            }
        }
    }
    return child


def test_performance_sums_the_ready_replicas_peak_throughput() -> None:
    """aggregatedPeakTokensPerMinute: ready replicas only, two decimals, with the config."""
    obj = iset(replicas=3)
    outcome = run(
        obj,
        _with_tpm(obj, 0, "1000.5"),
        _with_tpm(obj, 1, "250"),
        _with_tpm(obj, 2, "999", ready=False),
    )
    assert outcome.status.performance == {
        "metrics": {
            "aggregatedPeakTokensPerMinute": {
                "description": "stress/high-concurrency",
                "value": "1250.50",
                "unit": "tokens/min",
                "config": {"engine": "vllm"},
            }
        }
    }


def test_no_performance_when_the_benchmark_is_off() -> None:
    """kaito.sh/disable-benchmark: "true" on the set: no aggregate."""
    obj = iset(replicas=1, annotations={"kaito.sh/disable-benchmark": "true"})
    assert run(obj, _with_tpm(obj, 0, "10")).status.performance is None


# -- spec.nodeCountLimit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "settings", "created", "status", "reason"),
    [
        pytest.param(
            {"replicas": 3, "nodeCountLimit": 2}, None, 2, "True", "ReplicasHeldBack", id="held"
        ),
        pytest.param(
            {"replicas": 3, "nodeCountLimit": 10},
            None,
            3,
            "False",
            "WithinNodeCountLimit",
            id="within",
        ),
        pytest.param(
            {"replicas": 2, "nodeCountLimit": 5, "preset": "llama-3.3-70b-instruct"},
            None,
            1,
            "True",
            "ReplicasHeldBack",
            id="three nodes a replica",
        ),
        pytest.param(
            {"replicas": 2, "nodeCountLimit": 1, "instance": None},
            BYO,
            2,
            "False",
            "NotApplicableToBYO",
            id="bring your own nodes",
        ),
        pytest.param(
            {"replicas": 2, "nodeCountLimit": 1, "preset": "no-such-model"},
            None,
            2,
            "Unknown",
            "ReplicaSizeUnknown",
            id="size unknown",
        ),
        pytest.param({"replicas": 2, "nodeCountLimit": 0}, None, 2, None, None, id="0: no limit"),
    ],
)
def test_node_count_limit_is_enforced(
    kwargs: dict[str, Any],
    settings: PlanSettings | None,
    created: int,
    status: str | None,
    reason: str | None,
) -> None:
    """Replicas beyond what the limit fits are held back, and a condition says why."""
    outcome = run(iset(**kwargs), settings=settings)
    assert len(outcome.apply) == created
    found = outcome.status.condition(kis.CONDITION_NODE_COUNT_LIMIT)
    if status is None:
        assert found is None
    else:
        assert found is not None
        assert (found.status, found.reason) == (status, reason)


def test_held_back_message_and_surplus() -> None:
    """Lowering the limit makes the highest slots surplus; the message gives the arithmetic."""
    obj = iset(replicas=3, nodeCountLimit=2)
    outcome = run(obj, *(replica(obj, s) for s in range(3)))
    assert [k.name for k in outcome.delete] == ["phi-2"]
    assert condition(outcome, kis.CONDITION_NODE_COUNT_LIMIT).message == (
        "1 of 3 replica(s) held back: each needs 1 GPU node(s) and spec.nodeCountLimit is 2, "
        "so 2 fit"
    )
    later = run(obj, replica(obj, 0), replica(obj, 1))
    assert condition(later, kis.CONDITION_READY).message == (
        "inferenceset is not ready, 2/3 replicas are ready"
    )
    assert [e.reason for e in outcome.events if e.type == "Warning"] == ["ReplicasHeldBack"]
    assert outcome.target_node_count == 2


def test_a_replica_reported_size_is_used_when_the_template_cannot_be_sized() -> None:
    """An unknown model here, but the replicas know their node count: the limit applies."""
    obj = iset(replicas=3, nodeCountLimit=4, preset="no-such-model")
    outcome = run(obj, replica(obj, 0, target_node_count=2))
    assert names(outcome.apply) == ["phi-1"]
    assert condition(outcome, kis.CONDITION_NODE_COUNT_LIMIT).reason == "ReplicasHeldBack"


# -- conflicts -------------------------------------------------------------------------------


def test_a_name_held_by_another_workspace_is_left_alone() -> None:
    """phi-1 exists without the set's label: slot 1 stays empty and a condition says why."""
    obj = iset(replicas=2)
    theirs = {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "metadata": {"name": "phi-1"}}
    outcome = run(obj, theirs)
    assert names(outcome.apply) == ["phi-0"]
    assert outcome.delete == ()
    found = condition(outcome, kis.CONDITION_REPLICA_CONFLICT)
    assert (found.status, found.reason) == ("True", "NameTaken")
    assert "phi-1" in (found.message or "")


def test_a_replica_of_an_earlier_set_of_the_same_name_is_not_adopted() -> None:
    """Labelled as ours but controlled by another uid: a conflict, never written over."""
    obj = iset(replicas=1)
    old = replica(obj, 0)
    old["metadata"]["ownerReferences"][0]["uid"] = "uid-0"
    outcome = run(obj, old)
    assert outcome.apply == ()
    assert outcome.delete == ()
    assert condition(outcome, kis.CONDITION_REPLICA_CONFLICT).status == "True"


def test_an_upstream_named_replica_is_adopted_then_replaced() -> None:
    """A replica named by upstream's generateName counts, and goes once slots are ready."""
    obj = iset(replicas=2)
    legacy = replica(obj, None, name="phi-x7k2q")
    first = run(obj, legacy)
    assert names(first.apply) == ["phi-0", "phi-1"]
    assert first.delete == ()  # it is all that serves: kept (2 - maxUnavailable 1 = 1 ready)
    assert first.status.ready_replicas == 1
    second = run(obj, legacy, replica(obj, 0), replica(obj, 1, ready=False))
    assert [k.name for k in second.delete] == ["phi-x7k2q"]


# -- deletion and errors ---------------------------------------------------------------------


def test_a_deleted_set_deletes_its_replicas() -> None:
    """deletionTimestamp set: every live replica is deleted, InferenceSetDeleting is True."""
    obj = iset(replicas=2)
    deleting = attrs.evolve(obj, metadata=attrs.evolve(obj.metadata, deletion_timestamp=NOW))
    outcome = run(deleting, replica(obj, 0), replica(obj, 1, deleting=True))
    assert outcome.deleting
    assert [k.name for k in outcome.delete] == ["phi-0"]
    assert outcome.apply == ()
    found = condition(outcome, kis.CONDITION_DELETING)
    assert (found.status, found.reason, found.message) == (
        "True",
        "inferencesetDeleted",
        "inferenceset is being deleted",
    )


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        pytest.param(
            {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "lots"}}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            id="bad maxUnavailable",
        ),
        pytest.param(
            {"name": "a" * 62, "replicas": 10}, "metadata.name", id="no room for the slot"
        ),
        pytest.param({"name": ""}, "metadata.name", id="no name"),
    ],
)
def test_a_spec_that_cannot_be_planned_is_an_error(kwargs: dict[str, Any], path: str) -> None:
    """A SpecError with its path, Ready False (inferencesetFailed), nothing written."""
    name = kwargs.pop("name", "phi")
    outcome = run(iset(name, **kwargs))
    assert outcome.error is not None
    assert outcome.error.path == path
    assert outcome.apply == ()
    assert outcome.delete == ()
    found = condition(outcome, kis.CONDITION_READY)
    assert (found.status, found.reason) == ("False", "inferencesetFailed")
    assert [e.reason for e in outcome.events] == ["inferencesetFailed"]


def test_surplus_and_outdated_events_say_why() -> None:
    """ReplicaDeleted events name the reason."""
    obj = iset(replicas=2, updateStrategy={"rollingUpdate": {"maxUnavailable": 3}})
    outcome = run(
        obj,
        replica(obj, 0),
        replica(obj, 1, current=False),
        replica(obj, 2),
        replica(obj, None, name="phi-zz"),
    )
    assert [e.message for e in outcome.events] == [
        "Deleting Workspace default/phi-zz: not named by slot (made by another controller)",
        "Deleting Workspace default/phi-2: surplus replica",
        "Deleting Workspace default/phi-1: outdated template (rolling update)",
    ]


# -- automatic upgrades ----------------------------------------------------------------------


def _sts(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}},
    }


def test_auto_upgrade_drift_is_reported_behind_the_gate() -> None:
    """Gate off: nothing; gate on: replicas on another image counted, success stamped at 0."""
    obj = iset(replicas=2, autoUpgrade={"enabled": True})
    current = f"{PlanSettings().registry}/kaito-base:{__import__('kaito_presets').BASE_IMAGE_TAG}"
    observed = (replica(obj, 0), replica(obj, 1), _sts("phi-0", "old/kaito-base:0.0.1"))
    assert run(obj, *observed).status.auto_upgrade is None
    gate = InferenceSetOptions(base_image_auto_upgrade=True)
    drifting = run(obj, *observed, options=gate).status.auto_upgrade
    assert drifting is not None
    assert drifting.num_drifted_workspaces == 1
    settled = attrs.evolve(
        obj, status=attrs.evolve(run(obj, options=gate).status, auto_upgrade=drifting)
    )
    done = run(
        settled, replica(obj, 0), replica(obj, 1), _sts("phi-0", current), options=gate, now=LATER
    ).status.auto_upgrade
    assert done is not None
    assert (done.num_drifted_workspaces, done.last_successful_upgrade_time) == (0, LATER)
    disabled = iset(replicas=2, autoUpgrade={"enabled": False})
    assert run(disabled, *observed, options=gate).status.auto_upgrade is None


# -- upstream's examples ---------------------------------------------------------------------

#: The MIG examples are written for bring-your-own nodes.
EXAMPLE_SETTINGS = {
    "kaito_inferenceset_mig_mixed_strategy.yaml": BYO,
    "kaito_inferenceset_mig_single_strategy.yaml": BYO,
}


@pytest.mark.upstream
def test_upstream_examples_plan(reference: Path) -> None:
    """Each upstream example plans its replicas and, with KEDA on, the ScaledObject it asks for."""
    seen = 0
    for path in sorted(reference.glob("examples/**/kaito_inferenceset_*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not (isinstance(doc, dict) and doc.get("kind") == "InferenceSet"):
                continue
            obj = InferenceSet.from_manifest(doc)
            settings = EXAMPLE_SETTINGS.get(path.name)
            outcome = run(obj, settings=settings, options=InferenceSetOptions(keda=KedaScaler()))
            assert outcome.error is None, path.name
            workspaces = [o for o in outcome.apply if o["kind"] == "Workspace"]
            assert names(workspaces) == [f"{obj.name}-{i}" for i in range(obj.replicas)]
            for child in workspaces:
                assert Workspace.from_manifest(child).labels["inferenceset.kaito.sh/created-by"]
            scaled = [o for o in outcome.apply if o["kind"] == "ScaledObject"]
            found = condition(outcome, kis.CONDITION_SCALED_OBJECT)
            if obj.spec.node_count_limit:  # one A100 node a replica: the limit is the maximum
                assert scaled[0]["spec"]["maxReplicaCount"] == obj.spec.node_count_limit
                assert found.status == "True"
            else:  # the MIG examples name no maximum: keda-kaito-scaler would make nothing
                assert scaled == []
                assert found.reason == "AutoscalingNotConfigured"
            seen += 1
    assert seen == 5
