"""Owner references and finalizers, over the fake API server."""

from __future__ import annotations

import pytest

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.errors import Invalid, NotFound
from kaito_backends.kubernetes import (
    KubernetesClient,
    add_finalizer,
    owner_reference,
    remove_finalizer,
    with_owner,
)
from kaito_backends.objects import Manifest, ObjectRef

FINALIZER = "workspace.finalizer.kaito.sh"


def config_map(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": "v"},
    }


async def test_finalizers_are_added_once_and_removed(kube: KubernetesClient) -> None:
    """add_finalizer twice keeps one; remove_finalizer of the last one lets a delete finish."""
    created = await kube.create(config_map("held"))
    ref = ObjectRef("v1", "ConfigMap", "held", "default")
    await add_finalizer(kube, ref, FINALIZER)
    held = await add_finalizer(kube, ref, FINALIZER)
    assert held["metadata"]["finalizers"] == [FINALIZER]
    assert held["metadata"]["uid"] == created["metadata"]["uid"]
    await kube.delete(ref)
    with pytest.raises(Invalid):
        await add_finalizer(kube, ref, "example.com/late")
    last = await remove_finalizer(kube, ref, FINALIZER)
    assert last is None or not last["metadata"].get("finalizers")
    with pytest.raises(NotFound):
        await kube.get(ref)
    assert await remove_finalizer(kube, ref, FINALIZER) is None  # gone: nothing to do


async def test_owned_objects_follow_their_owner(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """with_owner: a controller reference by uid; deleting the owner collects the dependent."""
    owner = await kube.create(config_map("owner"))
    dependent = with_owner(config_map("dependent"), owner)
    (ref,) = dependent["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    again = with_owner(dependent, owner)
    assert again["metadata"]["ownerReferences"] == [ref]  # replaced, not duplicated
    await kube.apply(dependent)
    await kube.delete(ObjectRef("v1", "ConfigMap", "owner", "default"))
    await fake_apiserver.cluster.advance(5)
    with pytest.raises(NotFound):
        await kube.get(ObjectRef("v1", "ConfigMap", "dependent", "default"))
    with pytest.raises(Invalid, match="no uid"):
        owner_reference(config_map("never-stored"))
