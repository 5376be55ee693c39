"""`kaito_core.diff`: when an observed object satisfies a desired one, and when it must be
recreated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kaito_core.api import Workspace
from kaito_core.diff import (
    OWNED_KINDS,
    changes,
    check_ownership,
    controlled_by,
    needs_replace,
    parse_quantity,
    satisfies,
)
from kaito_core.errors import SpecError
from kaito_core.outcome import ObjectKey
from kaito_core.render.revision import ANNOTATION_TEMPLATE_HASH

WS = Workspace.from_manifest(
    {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default", "uid": "uid-1"},
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }
)


def _owner(name: str = "ws", uid: str = "uid-1", controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "name": name,
        "uid": uid,
        "controller": controller,
    }


def _obj(kind: str, name: str, *, api: str = "apps/v1", owned: bool = True, **extra: Any) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if owned:
        meta["ownerReferences"] = [_owner()]
    meta.update(extra.pop("metadata", {}))
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


# --- satisfies --------------------------------------------------------------------------------


def test_server_additions_are_satisfied() -> None:
    desired = {"spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    observed = {
        "metadata": {"uid": "x", "resourceVersion": "7"},
        "spec": {
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"a": "b"},
            "clusterIP": "10.0.0.1",
        },
        "status": {},
    }
    assert satisfies(observed, desired)


@pytest.mark.parametrize(
    ("observed", "desired"),
    [
        ({"a": 1}, {"a": 2}),
        ({}, {"a": 1}),
        ({"a": [1, 2]}, {"a": [1]}),
        ({"a": [1]}, {"a": [1, 2]}),
        ({"a": [{"x": 1}]}, {"a": [{"x": 2}]}),
        ({"a": "1"}, {"a": 1}),
        ({"a": 1}, {"a": True}),
        ({"a": "x"}, {"a": ["x"]}),
        ({"a": ["x"]}, {"a": {"0": "x"}}),
        ({"a": "abc"}, {"a": ["a", "b", "c"]}),
    ],
)
def test_differences_are_seen(observed: Any, desired: Any) -> None:
    assert not satisfies(observed, desired)


@pytest.mark.parametrize("zero", [{}, [], "", None, False, 0])
def test_zero_values_the_server_drops_may_be_missing(zero: Any) -> None:
    assert satisfies({}, {"readOnly": zero})
    assert satisfies({"other": 1}, {"other": 1, "dropped": zero})


def test_one_and_one_point_zero_are_one_json_number() -> None:
    assert satisfies({"a": 1.0}, {"a": 1})
    assert satisfies({"a": 1}, {"a": 1.0})


@pytest.mark.parametrize(
    ("stored", "applied"),
    [
        ("500m", "0.5"),
        ("1Gi", "1024Mi"),
        ("1k", "1000"),
        ("2", 2),
        ("1e3", "1k"),
        ("100Mi", "100Mi"),
    ],
)
def test_quantities_compare_by_value_under_resources(stored: Any, applied: Any) -> None:
    observed = {"resources": {"limits": {"cpu": stored}, "requests": {"memory": stored}}}
    desired = {"resources": {"limits": {"cpu": applied}, "requests": {"memory": applied}}}
    assert satisfies(observed, desired)


def test_quantities_elsewhere_compare_as_strings() -> None:
    # an env var "0.5" is not "500m": only resource maps are canonicalised by the server
    assert not satisfies({"env": [{"value": "500m"}]}, {"env": [{"value": "0.5"}]})
    assert not satisfies(
        {"resources": {"limits": {"cpu": "2"}}}, {"resources": {"limits": {"cpu": "1"}}}
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("2Ki", Decimal(2048)),
        ("1.5Gi", Decimal(1.5 * 2**30)),
        ("3M", Decimal(3_000_000)),
        ("1e3", Decimal(1000)),
        ("7n", Decimal("7e-9")),
        (4, Decimal(4)),
        (" 10 ", Decimal(10)),
    ],
)
def test_parse_quantity(text: Any, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1x", "1Gii", None, True, [], "1.2.3"])
def test_parse_quantity_rejects_non_quantities(text: Any) -> None:
    assert parse_quantity(text) is None


# --- needs_replace ----------------------------------------------------------------------------


def _sts(**spec: Any) -> dict[str, Any]:
    base = {
        "selector": {"matchLabels": {"kaito.sh/workspace": "ws"}},
        "serviceName": "ws-headless",
        "podManagementPolicy": "Parallel",
        "template": {"spec": {"containers": [{"name": "ws"}]}},
    }
    base.update(spec)
    return {"kind": "StatefulSet", "metadata": {"name": "ws"}, "spec": base}


def test_statefulset_template_and_replicas_change_in_place() -> None:
    old = _sts(replicas=1)
    new = _sts(replicas=3, template={"spec": {"containers": [{"name": "other"}]}})
    assert not needs_replace(old, new)


@pytest.mark.parametrize(
    "change",
    [
        {"selector": {"matchLabels": {"kaito.sh/workspace": "other"}}},
        {"serviceName": "elsewhere"},
        {"podManagementPolicy": "OrderedReady"},
        {"volumeClaimTemplates": [{"metadata": {"name": "model-weights-volume"}}]},
    ],
)
def test_statefulset_immutable_fields(change: dict[str, Any]) -> None:
    assert needs_replace(_sts(), _sts(**change))


def test_a_left_out_immutable_field_means_the_server_default() -> None:
    """Template inference renders no serviceName/podManagementPolicy: from a preset
    StatefulSet (Parallel, <ws>-headless) that is a change the server refuses in place."""
    preset = _sts()
    template = _sts()
    del template["spec"]["serviceName"]
    del template["spec"]["podManagementPolicy"]
    assert needs_replace(preset, template)
    # ... but not when the stored object already has the defaults
    stored = _sts(podManagementPolicy="OrderedReady")
    del stored["spec"]["serviceName"]
    assert not needs_replace(stored, template)


def test_dropping_volume_claim_templates_is_a_replacement() -> None:
    with_claims = _sts(volumeClaimTemplates=[{"metadata": {"name": "model-weights-volume"}}])
    assert needs_replace(with_claims, _sts())
    assert not needs_replace(_sts(), _sts())


def _job(template_hash: str, image: str = "a") -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": "ws", "annotations": {ANNOTATION_TEMPLATE_HASH: template_hash}},
        "spec": {"template": {"spec": {"containers": [{"name": "ws", "image": image}]}}},
    }


def test_job_template_change_is_a_replacement() -> None:
    assert needs_replace(_job("h1", "a"), _job("h1", "b"))
    # a removed field is invisible to `satisfies`; the template hash tells
    assert needs_replace(_job("h1"), _job("h2"))
    assert not needs_replace(_job("h1"), _job("h1"))


def test_job_generated_selector_is_not_a_change() -> None:
    observed = _job("h")
    observed["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}
    assert not needs_replace(observed, _job("h"))


def test_service_cluster_ip_and_revision_data_are_immutable() -> None:
    headless = {"kind": "Service", "spec": {"clusterIP": "None"}}
    allocated = {"kind": "Service", "spec": {"clusterIP": "10.0.0.3"}}
    assert needs_replace(allocated, headless)
    assert not needs_replace(allocated, {"kind": "Service", "spec": {"type": "ClusterIP"}})
    old = {"kind": "ControllerRevision", "data": {"a": 1}, "revision": 1}
    assert needs_replace(old, {**old, "data": {"a": 2}})
    assert not needs_replace(old, {**old, "revision": 2})


# --- changes ----------------------------------------------------------------------------------


def test_missing_objects_are_applied_and_satisfied_ones_are_not() -> None:
    svc = _obj("Service", "ws", api="v1", spec={"type": "ClusterIP"})
    cm = _obj("ConfigMap", "ws-tuning-config", api="v1", data={"k": "v"})
    stored_svc = {**svc, "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.9"}}
    result = changes([svc, cm], [stored_svc], workspace=WS)
    assert result.apply == (cm,)
    assert result.delete == ()
    assert not result.waiting


def test_an_unsatisfied_object_is_applied_whole() -> None:
    svc = _obj("Service", "ws", api="v1", spec={"type": "LoadBalancer"})
    stored = _obj("Service", "ws", api="v1", spec={"type": "ClusterIP"})
    assert changes([svc], [stored], workspace=WS).apply == (svc,)


def test_immutable_change_deletes_and_waits() -> None:
    desired = {**_sts(serviceName="x"), "apiVersion": "apps/v1"}
    desired["metadata"] = {"name": "ws", "namespace": "default"}
    stored = {**_sts(), "apiVersion": "apps/v1", "metadata": {"name": "ws", "namespace": "default"}}
    result = changes([desired], [stored], workspace=WS)
    assert result.apply == ()
    assert result.delete == (ObjectKey.of(stored),)
    assert result.waiting


def test_a_deleting_object_is_waited_for_not_recreated() -> None:
    desired = _obj("Job", "ws", api="batch/v1", spec={})
    stored = _obj("Job", "ws", api="batch/v1", spec={}, metadata={"deletionTimestamp": "t"})
    result = changes([desired], [stored], workspace=WS)
    assert (result.apply, result.delete, result.waiting) == ((), (), True)


def test_unwanted_owned_children_are_deleted_sorted() -> None:
    observed = [
        _obj("Job", "ws", api="batch/v1"),
        _obj("Deployment", "ws"),
        _obj("ConfigMap", "ws-tuning-config", api="v1"),
        _obj("Service", "ws", api="v1"),
    ]
    result = changes([], observed, workspace=WS)
    assert [str(k) for k in result.delete] == [
        "Deployment/default/ws",
        "Job/default/ws",
        "ConfigMap/default/ws-tuning-config",
        "Service/default/ws",
    ]
    assert result.migrating  # the legacy Deployment <ws>


def test_children_not_controlled_by_the_workspace_are_left_alone() -> None:
    labelled_only = _obj(
        "ConfigMap", "users-config", api="v1", owned=False,
        metadata={"labels": {"kaito.sh/workspace": "ws"}},
    )  # fmt: skip
    other_owner = _obj("ConfigMap", "b", api="v1", owned=False)
    other_owner["metadata"]["ownerReferences"] = [_owner(name="other")]
    old_uid = _obj("ConfigMap", "c", api="v1", owned=False)
    old_uid["metadata"]["ownerReferences"] = [_owner(uid="uid-of-a-deleted-workspace")]
    not_controller = _obj("ConfigMap", "d", api="v1", owned=False)
    not_controller["metadata"]["ownerReferences"] = [_owner(controller=False)]
    pod = _obj("Pod", "ws-0", api="v1")
    deleting = _obj("Service", "gone", api="v1", metadata={"deletionTimestamp": "t"})
    observed = [labelled_only, other_owner, old_uid, not_controller, pod, deleting]
    assert changes([], observed, workspace=WS).delete == ()
    assert not controlled_by(labelled_only, WS)
    assert "Pod" not in OWNED_KINDS


def test_revisions_go_only_when_stale() -> None:
    revs = [_obj("ControllerRevision", f"ws-{i}", metadata={"labels": {}}) for i in range(3)]
    result = changes([], revs, workspace=WS, stale_revisions=["ws-0"])
    assert [k.name for k in result.delete] == ["ws-0"]


def _service(*refs: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "ws", "namespace": "default"}
    if refs:
        meta["ownerReferences"] = list(refs)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta}


_RAG_OWNER = {"apiVersion": "kaito.sh/v1beta1", "kind": "RAGEngine", "name": "ws", "uid": "r"}


@pytest.mark.parametrize(
    ("observed", "conflict"),
    [
        (None, None),
        (_service(), None),
        (_service(_owner()), None),
        (_service(_owner(uid="an-older-workspace")), None),
        (_service(_owner(controller=False)), None),
        (_service({**_RAG_OWNER, "controller": False}), None),
        (_service({**_RAG_OWNER, "controller": True}), "belongs to RAGEngine ws"),
        (_service(_owner(name="other")), "belongs to Workspace other"),
    ],
    ids=[
        "absent",
        "unowned-adopted",
        "ours",
        "our-name-older-uid",
        "ours-not-controller",
        "rag-not-controller",
        "a-ragengine-of-the-same-name",
        "another-workspace",
    ],
)
def test_a_child_name_another_controller_holds_is_a_conflict(
    observed: dict[str, Any] | None, conflict: str | None
) -> None:
    """ObjectConflict when another object controls an object of a desired child's name."""
    desired = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ws"}}]
    if conflict is None:
        check_ownership(desired, [observed] if observed else [], workspace=WS)
        return
    assert observed is not None
    with pytest.raises(SpecError) as caught:
        check_ownership(desired, [observed], workspace=WS)
    assert caught.value.reason == "ObjectConflict"
    assert caught.value.path == "metadata.name"
    assert conflict in caught.value.message
    assert caught.value.message.startswith("Service default/ws already exists")
