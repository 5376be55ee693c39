"""The backend conformance suite: the protocols' docstrings, executable.

Every backend runs these tests, so the fake never drifts from the real ones. A backend's test
module provides a ``backend`` fixture giving a `Backend` (from `contract_support`) and
subclasses the contracts::

    @pytest.fixture
    def backend() -> Backend:  # or an async fixture that yields and cleans up
        cluster = FakeCluster(watch_history=50)
        return Backend(client=cluster.client(), provisioner=cluster.provisioner(),
                       advance=cluster.advance, instance_type="Standard_NC24ads_A100_v4",
                       watch_history=50)

    class TestFakeClient(ClusterClientContract): ...
    class TestFakeProvisioner(NodeProvisionerContract): ...

Requirements on a real cluster: the namespace exists, the KAITO CRDs (``kaito.sh`` Workspace
v1alpha1 + v1beta1) are installed, and no controller acts on the test objects (StatefulSets
here have zero replicas; the operator is stopped). Names are unique per test run, so runs can
share a cluster. tests/realcluster/test_conformance.py runs the suite on the real-cluster tier.
"""

from __future__ import annotations

import pytest

from kaito_backends.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound
from kaito_backends.objects import ObjectRef, WorkspaceKey, ref_of
from tests.backends.contract_support import (
    Backend,
    condition_status,
    config_map,
    eventually,
    is_gone,
    next_event,
    node_claim,
    statefulset,
    unique,
    workspace,
)

__all__ = ["Backend", "ClusterClientContract", "NodeProvisionerContract", "eventually"]


class ClusterClientContract:
    """`ClusterClient` semantics every backend must have."""

    # -- get / create ----------------------------------------------------------------------------
    async def test_get_of_a_missing_object_raises_not_found(self, backend: Backend) -> None:
        """get: NotFound when absent."""
        with pytest.raises(NotFound):
            await backend.client.get(
                ObjectRef("v1", "ConfigMap", unique("absent"), backend.namespace)
            )

    async def test_create_returns_the_stored_object(self, backend: Backend) -> None:
        """create: returns uid, resourceVersion, creationTimestamp; get returns the same."""
        created = await backend.client.create(config_map(backend, unique("cm")))
        meta = created["metadata"]
        assert meta["uid"]
        assert meta["resourceVersion"]
        assert meta["creationTimestamp"].endswith("Z")
        got = await backend.client.get(ref_of(created))
        assert got["metadata"]["uid"] == meta["uid"]
        assert got["data"] == {"k": "v"}

    async def test_create_of_a_taken_name_raises_already_exists(self, backend: Backend) -> None:
        """create: AlreadyExists (a Conflict) when the name is taken."""
        obj = config_map(backend, unique("cm"))
        await backend.client.create(obj)
        with pytest.raises(AlreadyExists) as caught:
            await backend.client.create(obj)
        assert isinstance(caught.value, Conflict)

    @pytest.mark.parametrize("name", ["Upper-Case", "under_score", "-leading"], ids=str)
    async def test_create_of_an_invalid_name_raises_invalid(
        self, backend: Backend, name: str
    ) -> None:
        """create: Invalid for a name that is not a DNS subdomain."""
        with pytest.raises(Invalid):
            await backend.client.create(config_map(backend, name))

    async def test_returned_objects_are_copies(self, backend: Backend) -> None:
        """Mutating what a call returned (or passed) never changes the stored object."""
        obj = config_map(backend, unique("cm"))
        created = await backend.client.create(obj)
        obj["data"]["k"] = "changed-input"
        created["data"]["k"] = "changed-output"
        got = await backend.client.get(ref_of(created))
        assert got["data"] == {"k": "v"}

    # -- list ------------------------------------------------------------------------------------
    async def test_list_filters_by_labels_and_sorts_by_name(self, backend: Backend) -> None:
        """list: equality label selectors; items sorted by name; a resourceVersion."""
        group = unique("grp")
        names = [unique("cm") for _ in range(3)]
        for name in reversed(names):
            await backend.client.create(config_map(backend, name, labels={"group": group}))
        await backend.client.create(config_map(backend, unique("cm"), labels={"group": "other"}))
        listed = await backend.client.list(
            "v1", "ConfigMap", namespace=backend.namespace, labels={"group": group}
        )
        assert [o["metadata"]["name"] for o in listed.items] == sorted(names)
        assert listed.resource_version

    async def test_list_of_nothing_is_empty(self, backend: Backend) -> None:
        """list: no match is an empty list, not an error."""
        listed = await backend.client.list("v1", "ConfigMap", labels={"group": unique("none")})
        assert listed.items == ()

    # -- apply -----------------------------------------------------------------------------------
    async def test_apply_creates_when_absent(self, backend: Backend) -> None:
        """apply: creates the object, generation 1."""
        applied = await backend.client.apply(statefulset(backend, unique("sts")))
        assert applied["metadata"]["generation"] == 1
        assert applied["metadata"]["uid"]

    async def test_apply_twice_changes_nothing(self, backend: Backend) -> None:
        """apply: idempotent. A second identical apply writes nothing (the resourceVersion of a
        ConfigMap, which no controller touches, stays) and keeps a StatefulSet's generation
        and spec (its controller may write its status in between, on a real cluster)."""
        config = config_map(backend, unique("cm"))
        first = await backend.client.apply(config)
        second = await backend.client.apply(config)
        assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        obj = statefulset(backend, unique("sts"))
        first = await backend.client.apply(obj)
        second = await backend.client.apply(obj)
        assert second["metadata"]["generation"] == first["metadata"]["generation"]
        assert second["spec"] == first["spec"]

    async def test_apply_merges_maps_and_removes_what_the_manager_dropped(
        self, backend: Backend
    ) -> None:
        """apply: other writers' fields stay; fields this manager stops applying go."""
        name = unique("cm")
        await backend.client.apply(config_map(backend, name, labels={"a": "1", "b": "2"}))
        current = await backend.client.get(ObjectRef("v1", "ConfigMap", name, backend.namespace))
        current["metadata"]["labels"]["c"] = "3"
        await backend.client.update(current)
        result = await backend.client.apply(config_map(backend, name, labels={"a": "1"}))
        assert result["metadata"]["labels"] == {"a": "1", "c": "3"}

    async def test_apply_replaces_lists(self, backend: Backend) -> None:
        """apply: a list in the applied object replaces the stored list."""
        name = unique("sts")
        obj = statefulset(backend, name)
        obj["spec"]["template"]["spec"]["containers"].append(
            {"name": "side", "image": "busybox:1.36"}
        )
        await backend.client.apply(obj)
        result = await backend.client.apply(statefulset(backend, name))
        assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["main"]

    async def test_apply_with_a_stale_resource_version_conflicts(self, backend: Backend) -> None:
        """apply: a resourceVersion in the object is a precondition."""
        obj = config_map(backend, unique("cm"))
        first = await backend.client.apply(obj)
        await backend.client.apply({**obj, "data": {"k": "w"}})
        stale = {
            **obj,
            "metadata": {
                **obj["metadata"],
                "resourceVersion": first["metadata"]["resourceVersion"],
            },
        }
        with pytest.raises(Conflict):
            await backend.client.apply({**stale, "data": {"k": "x"}})

    # -- generation ------------------------------------------------------------------------------
    async def test_generation_counts_spec_changes_only(self, backend: Backend) -> None:
        """metadata changes keep the generation; spec changes bump it."""
        obj = statefulset(backend, unique("sts"))
        first = await backend.client.apply(obj)
        obj["metadata"]["labels"] = {"extra": "label"}
        relabelled = await backend.client.apply(obj)
        assert relabelled["metadata"]["generation"] == first["metadata"]["generation"]
        assert relabelled["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
        changed = await backend.client.apply(obj)
        assert changed["metadata"]["generation"] == first["metadata"]["generation"] + 1

    # -- update ----------------------------------------------------------------------------------
    async def test_update_replaces_and_checks_the_resource_version(self, backend: Backend) -> None:
        """update: full replace with the current version; Conflict with a stale one."""
        created = await backend.client.create(config_map(backend, unique("cm")))
        created["data"] = {"new": "data"}
        updated = await backend.client.update(created)
        assert updated["data"] == {"new": "data"}
        assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
        created["data"] = {"stale": "write"}
        with pytest.raises(Conflict):
            await backend.client.update(created)

    async def test_update_of_a_missing_object_raises_not_found(self, backend: Backend) -> None:
        """update: NotFound when absent."""
        with pytest.raises(NotFound):
            await backend.client.update(config_map(backend, unique("absent")))

    # -- status subresource ----------------------------------------------------------------------
    async def test_status_is_written_only_through_apply_status(self, backend: Backend) -> None:
        """create/update ignore status; apply_status sets it without bumping the generation."""
        obj = workspace(backend, unique("ws"))
        obj["status"] = {"state": "Ready"}
        created = await backend.client.create(obj)
        assert "state" not in (created.get("status") or {})
        created["status"] = {"state": "Pending"}
        written = await backend.client.apply_status(created)
        assert written["status"] == {"state": "Pending"}
        assert written["metadata"]["generation"] == created["metadata"]["generation"]
        written["status"] = {"state": "Failed"}
        written["metadata"]["labels"] = {"x": "y"}
        updated = await backend.client.update(written)
        assert updated["status"] == {"state": "Pending"}
        assert updated["metadata"]["labels"] == {"x": "y"}

    async def test_apply_status_checks_the_resource_version(self, backend: Backend) -> None:
        """apply_status: a stale resourceVersion conflicts; a missing object is NotFound."""
        created = await backend.client.create(workspace(backend, unique("ws")))
        await backend.client.apply_status({**created, "status": {"state": "Pending"}})
        with pytest.raises(Conflict):
            await backend.client.apply_status({**created, "status": {"state": "Ready"}})
        with pytest.raises(NotFound):
            await backend.client.apply_status(workspace(backend, unique("absent")))

    async def test_workspace_versions_share_storage(self, backend: Backend) -> None:
        """A v1beta1 Workspace reads as v1alpha1 too: one object, two versions."""
        if not backend.shared_versions:
            pytest.skip("backend serves one Workspace version")
        created = await backend.client.create(workspace(backend, unique("ws")))
        name = created["metadata"]["name"]
        alpha = await backend.client.get(
            ObjectRef("kaito.sh/v1alpha1", "Workspace", name, backend.namespace)
        )
        assert alpha["apiVersion"] == "kaito.sh/v1alpha1"
        assert alpha["metadata"]["uid"] == created["metadata"]["uid"]

    # -- delete, finalizers, garbage collection --------------------------------------------------
    async def test_delete_removes_and_a_second_delete_raises_not_found(
        self, backend: Backend
    ) -> None:
        """delete: the object is gone; deleting again is NotFound."""
        created = await backend.client.create(config_map(backend, unique("cm")))
        await backend.client.delete(ref_of(created))
        assert await is_gone(backend.client, ref_of(created))
        with pytest.raises(NotFound):
            await backend.client.delete(ref_of(created))

    async def test_finalizers_hold_deletion_until_removed(self, backend: Backend) -> None:
        """delete with finalizers only sets deletionTimestamp; removing them removes the object."""
        obj = config_map(backend, unique("cm"), metadata={"finalizers": ["example.com/hold"]})
        created = await backend.client.create(obj)
        await backend.client.delete(ref_of(created))
        held = await backend.client.get(ref_of(created))
        assert held["metadata"]["deletionTimestamp"]
        held["metadata"]["finalizers"] = [*held["metadata"]["finalizers"], "example.com/another"]
        with pytest.raises(Invalid):
            await backend.client.update(held)
        held["metadata"]["finalizers"] = []
        await backend.client.update(held)
        await eventually(
            backend, lambda: is_gone(backend.client, ref_of(created)), within=60, step=1
        )

    async def test_dependents_are_garbage_collected(self, backend: Backend) -> None:
        """Background deletion removes objects whose owners are all gone."""
        owner = await backend.client.create(config_map(backend, unique("owner")))
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }
        dependent = await backend.client.create(
            config_map(backend, unique("dep"), metadata={"ownerReferences": [ref]})
        )
        await backend.client.delete(ref_of(owner))
        await eventually(
            backend, lambda: is_gone(backend.client, ref_of(dependent)), within=120, step=1
        )

    async def test_orphan_deletion_keeps_dependents(self, backend: Backend) -> None:
        """Orphan deletion keeps dependents and drops their owner references."""
        owner = await backend.client.create(config_map(backend, unique("owner")))
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }
        dependent = await backend.client.create(
            config_map(backend, unique("dep"), metadata={"ownerReferences": [ref]})
        )
        await backend.client.delete(ref_of(owner), propagation="Orphan")

        async def orphaned() -> bool:
            got = await backend.client.get(ref_of(dependent))
            return not got["metadata"].get("ownerReferences")

        await eventually(backend, orphaned, within=120, step=1)
        await backend.advance(5)
        assert not await is_gone(backend.client, ref_of(dependent))

    # -- watch -----------------------------------------------------------------------------------
    async def test_watch_from_a_list_sees_each_change_in_order(self, backend: Backend) -> None:
        """watch: ADDED, MODIFIED, DELETED after the list's resourceVersion, in order."""
        label = {"watch": unique("w")}
        listed = await backend.client.list("v1", "ConfigMap", namespace=backend.namespace)
        events = aiter(
            backend.client.watch(
                "v1",
                "ConfigMap",
                namespace=backend.namespace,
                resource_version=listed.resource_version,
            )
        )
        try:
            created = await backend.client.create(config_map(backend, unique("cm"), labels=label))
            await backend.client.apply(
                {
                    **config_map(backend, created["metadata"]["name"], labels=label),
                    "data": {"k": "2"},
                }
            )
            await backend.client.delete(ref_of(created))
            seen: list[tuple[str, str]] = []
            while len(seen) < 3:
                event = await next_event(events)
                if (event.object["metadata"].get("labels") or {}) == label:
                    seen.append((event.type, event.object["metadata"].get("name", "")))
            name = created["metadata"]["name"]
            assert seen == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def test_watch_without_a_version_starts_with_the_current_objects(
        self, backend: Backend
    ) -> None:
        """watch: no resourceVersion -> one ADDED per existing object first."""
        created = await backend.client.create(config_map(backend, unique("cm")))
        events = aiter(backend.client.watch("v1", "ConfigMap", namespace=backend.namespace))
        try:
            names: set[str] = set()
            while created["metadata"]["name"] not in names:
                event = await next_event(events)
                assert event.type == "ADDED"
                names.add(event.object["metadata"]["name"])
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def test_watch_from_a_compacted_version_raisesis_gone(self, backend: Backend) -> None:
        """watch: Gone (410) when the resourceVersion is older than the retained history."""
        if backend.watch_history is None and backend.compact is None:
            pytest.skip("backend cannot force compaction")
        obj = config_map(backend, unique("cm"))
        first = await backend.client.create(obj)
        for i in range((backend.watch_history or 0) + 5):
            await backend.client.apply({**obj, "data": {"k": str(i)}})
        if backend.compact is not None:
            await backend.compact()
        events = aiter(
            backend.client.watch(
                "v1",
                "ConfigMap",
                namespace=backend.namespace,
                resource_version=first["metadata"]["resourceVersion"],
            )
        )
        with pytest.raises(Gone):
            await next_event(events)


class NodeProvisionerContract:
    """`NodeProvisioner` semantics every backend must have."""

    async def test_instance_types_are_listed(self, backend: Backend) -> None:
        """instance_types: the SKUs the provisioner can launch, including the suite's."""
        skus = await backend.provisioner.instance_types()
        assert backend.instance_type.lower() in {s.instance_type.lower() for s in skus}
        assert all(s.gpu_count > 0 for s in skus)

    async def test_provision_creates_the_named_claims_with_workspace_labels(
        self, backend: Backend
    ) -> None:
        """provision: the claims exist by name, labelled with the workspace."""
        key = WorkspaceKey(backend.namespace, unique("ws"))
        names = sorted([unique("wsnc"), unique("wsnc")])
        await backend.provisioner.provision(key, [node_claim(backend, n) for n in names])
        claims = await backend.provisioner.observe(key)
        assert [c["metadata"]["name"] for c in claims] == names
        for claim in claims:
            labels = claim["metadata"]["labels"]
            assert labels["kaito.sh/workspace"] == key.name
            assert labels["kaito.sh/workspacenamespace"] == key.namespace
        await backend.provisioner.release(key)

    async def test_provision_twice_makes_no_duplicates(self, backend: Backend) -> None:
        """provision: idempotent, the same claims (same uids) after a second call."""
        key = WorkspaceKey(backend.namespace, unique("ws"))
        claims = [node_claim(backend, unique("wsnc"))]
        await backend.provisioner.provision(key, claims)
        first = await backend.provisioner.observe(key)
        await backend.provisioner.provision(key, claims)
        second = await backend.provisioner.observe(key)
        assert [c["metadata"]["uid"] for c in second] == [c["metadata"]["uid"] for c in first]
        await backend.provisioner.release(key)

    async def test_provision_removes_claims_no_longer_asked_for(self, backend: Backend) -> None:
        """provision: exactly these claims, the workspace's others are deleted."""
        key = WorkspaceKey(backend.namespace, unique("ws"))
        keep, drop = unique("wsnc"), unique("wsnc")
        await backend.provisioner.provision(
            key, [node_claim(backend, keep), node_claim(backend, drop)]
        )
        await backend.provisioner.provision(key, [node_claim(backend, keep)])

        async def only_kept() -> bool:
            claims = await backend.provisioner.observe(key)
            live = [
                c["metadata"]["name"] for c in claims if not c["metadata"].get("deletionTimestamp")
            ]
            return live == [keep]

        await eventually(backend, only_kept, within=600, step=5)
        await backend.provisioner.release(key)

    async def test_observe_reflects_readiness_as_time_passes(self, backend: Backend) -> None:
        """observe: Launched, Registered, Initialized, Ready become True, with a nodeName."""
        key = WorkspaceKey(backend.namespace, unique("ws"))
        await backend.provisioner.provision(key, [node_claim(backend, unique("wsnc"))])

        async def ready() -> bool:
            claims = await backend.provisioner.observe(key)
            return len(claims) == 1 and condition_status(claims[0], "Ready") == "True"

        await eventually(backend, ready, within=1800, step=15)
        (claim,) = await backend.provisioner.observe(key)
        for kind in ("Launched", "Registered", "Initialized"):
            assert condition_status(claim, kind) == "True"
        assert claim["status"]["nodeName"]
        await backend.provisioner.release(key)

    async def test_release_is_idempotent_and_empties_observe(self, backend: Backend) -> None:
        """release: twice is fine; observe ends up empty."""
        key = WorkspaceKey(backend.namespace, unique("ws"))
        await backend.provisioner.provision(key, [node_claim(backend, unique("wsnc"))])
        await backend.provisioner.release(key)
        await backend.provisioner.release(key)

        async def empty() -> bool:
            return await backend.provisioner.observe(key) == ()

        await eventually(backend, empty, within=900, step=5)

    async def test_an_unknown_workspace_has_nothing(self, backend: Backend) -> None:
        """observe / release of a workspace never provisioned: empty, no error."""
        key = WorkspaceKey(backend.namespace, unique("never"))
        assert await backend.provisioner.observe(key) == ()
        await backend.provisioner.release(key)
