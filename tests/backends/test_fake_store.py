"""The fake API server beyond conformance: determinism, admission, GC, indexes, watches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_backends.errors import Gone, Invalid, NotFound
from kaito_backends.fake import FakeCluster
from kaito_backends.fake.store import Store
from kaito_backends.objects import Manifest, ObjectRef, WorkspaceKey, matches_labels, ref_of
from tests.backends import manifests as m


def cm(name: str, **meta: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": m.NS, **meta},
    }


async def scenario(cluster: FakeCluster) -> list[Manifest]:
    client, nodes = cluster.client(), cluster.provisioner()
    await nodes.provision(WorkspaceKey(m.NS, "ws"), [m.node_claim("wsa")])
    await client.apply(m.statefulset("ws"))
    await client.create(m.job("tune"))
    await client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ws", "namespace": m.NS},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    cluster.run_until_idle()
    return cluster.snapshot()


async def test_same_calls_in_the_same_order_give_the_same_store() -> None:
    """Determinism: uids, versions, timestamps, IPs and pod states repeat exactly."""
    first = await scenario(m.cluster())
    second = await scenario(m.cluster())
    assert first == second
    assert any(o["kind"] == "Pod" for o in first)


async def test_resource_versions_are_one_global_counter() -> None:
    """Every write, of any kind, takes the next resourceVersion."""
    client = m.cluster().client()
    a = await client.create(cm("a"))
    b = await client.create(m.statefulset("b", replicas=0))
    c = await client.apply({**cm("a"), "data": {"x": "1"}})
    versions = [int(o["metadata"]["resourceVersion"]) for o in (a, b, c)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3
    assert a["metadata"]["uid"] != b["metadata"]["uid"]


def _mutate_selector(obj: Manifest) -> None:
    obj["spec"]["selector"] = {"matchLabels": {"other": "x"}}


def _mutate_job_template(obj: Manifest) -> None:
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "other:1"


def _mutate_revision(obj: Manifest) -> None:
    obj["data"] = {"changed": True}


def _mutate_cluster_ip(obj: Manifest) -> None:
    obj["spec"]["clusterIP"] = "10.9.9.9"


@pytest.mark.parametrize(
    ("obj", "mutate", "field"),
    [
        (m.statefulset("s", replicas=0), _mutate_selector, "spec: Forbidden"),
        (m.job("j"), _mutate_job_template, "spec.template"),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {"name": "r", "namespace": m.NS},
                "revision": 1,
                "data": {"a": 1},
            },
            _mutate_revision,
            "data",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "svc", "namespace": m.NS},
                "spec": {"ports": [{"port": 80}]},
            },
            _mutate_cluster_ip,
            "spec.clusterIPs[0]",
        ),
    ],
    ids=["statefulset-selector", "job-template", "controllerrevision-data", "service-clusterip"],
)
async def test_immutable_fields_are_rejected(obj: Manifest, mutate: Any, field: str) -> None:
    """Changing an immutable field is Invalid, by apply and by update alike."""
    client = m.cluster().client()
    created = await client.apply(obj)
    mutate(created)
    with pytest.raises(Invalid, match=field.replace("[", r"\[").replace("]", r"\]")):
        await client.update(created)


async def test_statefulset_replicas_and_template_may_change() -> None:
    """replicas and template are mutable on a StatefulSet."""
    client = m.cluster().client()
    obj = m.statefulset("s", replicas=0)
    await client.apply(obj)
    obj["spec"]["replicas"] = 2
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "new:1"
    result = await client.apply(obj)
    assert result["metadata"]["generation"] == 2


async def test_service_cluster_ip_is_allocated_once_and_kept() -> None:
    """A Service gets a cluster IP and defaults; applies and updates without one keep it."""
    client = m.cluster().client()
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": m.NS},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }
    created = await client.apply(svc)
    ip = created["spec"]["clusterIP"]
    assert created["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}
    ]
    assert created["spec"]["type"] == "ClusterIP"
    again = await client.apply(svc)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    replaced = await client.update({**svc, "spec": {"ports": [{"port": 81}]}})
    assert replaced["spec"]["clusterIP"] == ip
    headless = await client.apply(
        {**svc, "metadata": {"name": "h", "namespace": m.NS}, "spec": {"clusterIP": "None"}}
    )
    assert headless["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (cm("bad", labels={"k": "x" * 64}), "metadata.labels"),
        (cm("bad", labels={"bad key!": "v"}), "metadata.labels"),
        (
            cm("bad", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "o"}]),
            "ownerReferences",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-ns"}},
            "metadata.namespace",
        ),
        ({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "d"}}, "apiVersion"),
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "9svc", "namespace": "d"}},
            "DNS-1035",
        ),
    ],
    ids=[
        "long-label-value",
        "bad-label-key",
        "owner-without-uid",
        "missing-namespace",
        "missing-apiversion",
        "service-name",
    ],
)
async def test_admission_rejects_malformed_objects(obj: Manifest, message: str) -> None:
    """What the API server validates on every object is Invalid here too."""
    with pytest.raises(Invalid, match=message):
        await m.cluster().client().create(obj)


async def test_generate_name_gives_a_deterministic_suffix() -> None:
    """metadata.generateName + 5 characters of Kubernetes' safe alphabet."""
    client = m.cluster().client()
    created = await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"generateName": "x-", "namespace": m.NS},
        }
    )
    name = created["metadata"]["name"]
    assert name.startswith("x-")
    assert len(name) == 7
    again = (
        await m.cluster()
        .client()
        .create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"generateName": "x-", "namespace": m.NS},
            }
        )
    )
    assert again["metadata"]["name"] == name


async def test_apply_status_on_a_kind_without_status_subresource_is_not_found() -> None:
    """ConfigMaps have no status subresource."""
    client = m.cluster().client()
    created = await client.create(cm("a"))
    with pytest.raises(NotFound, match="status"):
        await client.apply_status({**created, "status": {"x": 1}})


async def test_foreground_deletion_removes_dependents_first() -> None:
    """Foreground: the owner waits (deletionTimestamp) until its dependents are gone."""
    cluster = m.cluster()
    client = cluster.client()
    owner = await client.create(cm("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    await client.create(cm("dep", ownerReferences=[ref], finalizers=["example.com/hold"]))
    await client.delete(ref_of(owner), propagation="Foreground")
    waiting = await client.get(ref_of(owner))
    assert "foregroundDeletion" in waiting["metadata"]["finalizers"]
    cluster.run_until_idle()
    dep = await client.get(ObjectRef("v1", "ConfigMap", "dep", m.NS))
    assert dep["metadata"]["deletionTimestamp"]
    assert (await client.get(ref_of(owner)))["metadata"]["deletionTimestamp"]
    await client.update({**dep, "metadata": {**dep["metadata"], "finalizers": []}})
    cluster.run_until_idle()
    with pytest.raises(NotFound):
        await client.get(ref_of(owner))


async def test_objects_whose_owner_never_existed_are_collected() -> None:
    """An ownerReference to a uid that does not exist makes the object garbage."""
    cluster = m.cluster()
    client = cluster.client()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-dead"}
    await client.create(cm("orphan", ownerReferences=[ref]))
    cluster.run_until_idle()
    with pytest.raises(NotFound):
        await client.get(ObjectRef("v1", "ConfigMap", "orphan", m.NS))


async def test_cluster_scoped_objects_ignore_namespaced_owners() -> None:
    """A NodeClaim owned by a (namespaced) Workspace is not collected with it, as in Kubernetes."""
    cluster = m.cluster()
    client = cluster.client()
    ws = await client.create(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": "ws", "namespace": m.NS},
        }
    )
    ref = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "name": "ws",
        "uid": ws["metadata"]["uid"],
    }
    claim = m.node_claim("wsclaim")
    claim["metadata"]["ownerReferences"] = [ref]
    await client.create(claim)
    await client.delete(ref_of(ws))
    cluster.run_until_idle()
    assert (await client.get(ObjectRef("karpenter.sh/v1", "NodeClaim", "wsclaim")))["metadata"][
        "name"
    ] == "wsclaim"


labels = st.dictionaries(
    st.sampled_from(["kaito.sh/workspace", "app", "tier"]), st.sampled_from(["a", "b"]), max_size=3
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["ns1", "ns2"]), labels), max_size=12),
    labels,
    st.sampled_from([None, "ns1"]),
)
def test_indexed_selection_equals_a_full_scan(
    objects: list[tuple[str, dict[str, str]]], selector: dict[str, str], namespace: str | None
) -> None:
    """select() through the label index returns exactly what filtering every object would."""
    from kaito_backends.clock import VirtualClock

    store = Store(VirtualClock())
    for i, (ns, obj_labels) in enumerate(objects):
        store.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": ns, "labels": dict(obj_labels)},
            }
        )
    everything = store.select("v1", "Pod")
    expected = [
        o
        for o in everything
        if matches_labels(o, selector)
        and (namespace is None or o["metadata"]["namespace"] == namespace)
    ]
    assert store.select("v1", "Pod", namespace, selector) == expected


async def test_watch_sees_one_namespace_and_the_version_asked_for() -> None:
    """A namespaced watch skips other namespaces; Workspaces come in the watched apiVersion."""
    client = m.cluster().client()
    listed = await client.list("kaito.sh/v1alpha1", "Workspace")
    events = aiter(
        client.watch(
            "kaito.sh/v1alpha1",
            "Workspace",
            namespace="mine",
            resource_version=listed.resource_version,
        )
    )
    await client.create(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": "other", "namespace": "theirs"},
        }
    )
    await client.create(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": "ws", "namespace": "mine"},
        }
    )
    event = await asyncio.wait_for(anext(events), 1)
    assert (event.type, event.object["metadata"]["name"], event.object["apiVersion"]) == (
        "ADDED",
        "ws",
        "kaito.sh/v1alpha1",
    )


async def test_a_watch_that_falls_too_far_behind_is_closed_with_gone() -> None:
    """The server drops a slow consumer: the iterator raises Gone once its queue overflows."""
    cluster = m.cluster()
    cluster.store.watch_queue = 5
    client = cluster.client()
    events = aiter(client.watch("v1", "ConfigMap"))
    await client.create(cm("first"))
    assert (await asyncio.wait_for(anext(events), 1)).type == "ADDED"
    for i in range(10):
        await client.create(cm(f"c{i}"))
    with pytest.raises(Gone):
        await asyncio.wait_for(anext(events), 1)


async def test_deleted_events_carry_the_last_state() -> None:
    """DELETED shows the object as it was, with a new resourceVersion."""
    client = m.cluster().client()
    created = await client.create(cm("a", labels={"x": "y"}))
    events = aiter(
        client.watch("v1", "ConfigMap", resource_version=created["metadata"]["resourceVersion"])
    )
    await client.delete(ref_of(created))
    event = await asyncio.wait_for(anext(events), 1)
    assert event.type == "DELETED"
    assert event.object["metadata"]["labels"] == {"x": "y"}
    assert int(event.object["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
