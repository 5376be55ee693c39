"""The fake cluster where a real cluster was seen to differ: namespace termination and Events.

A real kube-apiserver refuses new content in a namespace being terminated (403), the namespace
controller keeps the Namespace until everything in it is gone, and kube-controller-manager's
garbage collector ignores Events (they outlive their owner).
"""

from __future__ import annotations

from typing import Any

import pytest

from kaito_backends.errors import Forbidden, NamespaceTerminating, NotFound
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest, ObjectRef

NS = ObjectRef("v1", "Namespace", "team-a")


def _config_map(name: str, **meta: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "team-a", **meta},
        "data": {"k": "v"},
    }


async def _namespace(cluster: FakeCluster) -> Manifest:
    return await cluster.client().create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    )


async def test_a_new_namespace_is_active_with_the_kubernetes_finalizer() -> None:
    """Created Namespaces carry spec.finalizers [kubernetes] and phase Active, as on a server."""
    created = await _namespace(FakeCluster())
    assert created["spec"]["finalizers"] == ["kubernetes"]
    assert created["status"] == {"phase": "Active"}


async def test_a_namespace_holding_objects_terminates_until_they_are_gone() -> None:
    """Deletion is not instant: Terminating while a finalizer holds content, then gone."""
    cluster = FakeCluster()
    client = cluster.client()
    await _namespace(cluster)
    await client.create(_config_map("held", finalizers=["example.com/hold"]))
    await client.create(_config_map("free"))
    await client.delete(NS)
    assert (await client.get(NS))["status"]["phase"] == "Terminating"
    cluster.run_until_idle()
    namespace = await client.get(NS)
    assert namespace["status"]["phase"] == "Terminating"
    conditions = {c["type"]: c for c in namespace["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps has 1 resource instances"
    )
    assert (
        "example.com/hold in 1 resource instances"
        in (conditions["NamespaceFinalizersRemaining"]["message"])
    )
    with pytest.raises(NotFound):
        await client.get(ObjectRef("v1", "ConfigMap", "free", "team-a"))
    held = await client.get(ObjectRef("v1", "ConfigMap", "held", "team-a"))
    assert held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    await client.update(held)
    cluster.run_until_idle()
    with pytest.raises(NotFound):
        await client.get(NS)


@pytest.mark.parametrize("verb", ["create", "apply"], ids=["create", "apply"])
async def test_new_content_in_a_terminating_namespace_is_forbidden(verb: str) -> None:
    """Creates (and applies that would create) are refused; updates and deletes are not."""
    cluster = FakeCluster()
    client = cluster.client()
    await _namespace(cluster)
    await client.create(_config_map("held", finalizers=["example.com/hold"]))
    await client.delete(NS)
    with pytest.raises(NamespaceTerminating) as refused:
        await getattr(client, verb)(_config_map("late"))
    assert isinstance(refused.value, Forbidden)
    assert refused.value.namespace == "team-a"
    assert str(refused.value) == (
        'configmaps "late" is forbidden: unable to create new content in namespace team-a '
        "because it is being terminated"
    )
    held = await client.get(ObjectRef("v1", "ConfigMap", "held", "team-a"))
    held["metadata"]["labels"] = {"still": "writable"}
    await client.update(held)
    await client.apply(_config_map("held", labels={"again": "yes"}))
    await client.delete(ObjectRef("v1", "ConfigMap", "held", "team-a"))


async def test_custom_resources_go_after_the_built_in_kinds() -> None:
    """As the real namespace controller walks discovery (core and built-in groups first): a
    Workspace is deleted a virtual second after the ConfigMap beside it."""
    cluster = FakeCluster()
    client = cluster.client()
    await _namespace(cluster)
    await client.create(_config_map("cm"))
    workspace = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "team-a", "finalizers": ["example.com/hold"]},
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
    }
    await client.create(workspace)
    ws = ObjectRef("kaito.sh/v1beta1", "Workspace", "ws", "team-a")
    await client.delete(NS)
    cluster.clock.run_due()
    with pytest.raises(NotFound):
        await client.get(ObjectRef("v1", "ConfigMap", "cm", "team-a"))
    assert not (await client.get(ws))["metadata"].get("deletionTimestamp")
    cluster.clock.advance(1.0)
    assert (await client.get(ws))["metadata"]["deletionTimestamp"]


async def test_a_namespace_without_a_namespace_object_is_not_checked() -> None:
    """The in-memory cluster needs no Namespace objects: any namespace takes content."""
    client = FakeCluster().client()
    assert (await client.create(_config_map("x")))["metadata"]["namespace"] == "team-a"


async def test_events_are_not_garbage_collected_with_their_owner() -> None:
    """An owned ConfigMap goes with its owner; an owned Event stays (as kube-controller-manager
    ignores events in both API groups)."""
    cluster = FakeCluster()
    client = cluster.client()
    owner = await client.create(_config_map("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    await client.create(_config_map("child", ownerReferences=[ref]))
    for api_version in ("v1", "events.k8s.io/v1"):
        await client.create(
            {
                "apiVersion": api_version,
                "kind": "Event",
                "metadata": {
                    "name": f"owner.{api_version[:2]}",
                    "namespace": "team-a",
                    "ownerReferences": [ref],
                },
                "reason": "Seen",
            }
        )
    await client.delete(ObjectRef("v1", "ConfigMap", "owner", "team-a"))
    cluster.run_until_idle()
    with pytest.raises(NotFound):
        await client.get(ObjectRef("v1", "ConfigMap", "child", "team-a"))
    assert (await client.get(ObjectRef("v1", "Event", "owner.v1", "team-a")))["reason"] == "Seen"
    assert await client.get(ObjectRef("events.k8s.io/v1", "Event", "owner.ev", "team-a"))
