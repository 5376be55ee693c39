"""The operator's RBAC: exactly the rules it needs, each for a reason, confined to one namespace
with ``--namespace-scope``; and every request the engine makes is allowed by what is rendered."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito_backends.cli import main
from kaito_backends.engine.controller import Controller
from kaito_backends.fake import FakeCluster
from kaito_backends.karpenter import KarpenterProvisioner
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.objects import Manifest, ObjectRef, group_of, resource_of
from kaito_backends.operator.backends import ScopedClient
from kaito_backends.operator.manifests import InstallOptions, install_manifests
from kaito_backends.operator.rbac import allows, cluster_rules, namespaced_rules
from kaito_core.kinds import Registry
from kaito_core.registry import default_registry
from kaito_core.workspace_kind import WORKSPACE
from tests.engine.conftest import workspace
from tests.inferenceset.support import manifest as iset_manifest

_R = ["get", "list", "watch"]
_OWN = ["get", "list", "watch", "create", "update", "patch", "delete"]

#: (group, resources, verbs): the rendered table, rule by rule (the reasons are in rbac.py and
#: docs/security.md).
NAMESPACED = [
    ("kaito.sh", ["workspaces"], _OWN),  # an InferenceSet's replicas are Workspaces
    ("kaito.sh", ["workspaces/status"], ["patch"]),
    ("kaito.sh", ["workspaces/finalizers"], ["update"]),
    ("kaito.sh", ["inferencesets"], ["get", "list", "watch", "update", "patch"]),
    ("kaito.sh", ["inferencesets/status"], ["patch"]),
    ("kaito.sh", ["inferencesets/finalizers"], ["update"]),
    ("kaito.sh", ["ragengines"], ["get", "list", "watch", "update", "patch"]),
    ("kaito.sh", ["ragengines/status"], ["patch"]),
    ("kaito.sh", ["ragengines/finalizers"], ["update"]),
    ("apps", ["controllerrevisions", "deployments", "statefulsets"], _OWN),
    ("batch", ["jobs"], _OWN),
    ("", ["configmaps", "services"], _OWN),
    ("", ["pods"], ["list", "watch"]),
    ("", ["secrets"], ["list", "watch"]),
    ("", ["events"], ["get", "list", "create", "update", "patch", "delete"]),
]


def _table(rules: list[dict[str, Any]]) -> list[tuple[str, list[str], list[str]]]:
    return [(r["apiGroups"][0], r["resources"], r["verbs"]) for r in rules]


@pytest.mark.parametrize(
    ("backend", "claims"),
    [("karpenter", [*_R, "create", "patch", "delete"]), ("byo", _R), ("aks", _R)],
    ids=["karpenter", "byo", "aks"],
)
def test_the_cluster_role_is_the_table(backend: Any, claims: list[str]) -> None:
    """Cluster-wide: the namespaced table, then Nodes and NodeClaims."""
    expected = [*NAMESPACED, ("", ["nodes"], _R), ("karpenter.sh", ["nodeclaims"], claims)]
    assert _table(cluster_rules(backend)) == expected
    assert _table(cluster_rules(backend, namespace_scoped=True)) == expected[-2:]


def test_secrets_are_never_granted_get_and_deployments_only_what_a_kind_needs() -> None:
    """Secrets: list/watch (metadata only), no get. Deployments: a RAGEngine makes one (full
    verbs); with Workspaces alone only a legacy one is deleted (no create, update or patch)."""
    rules = namespaced_rules()
    assert not allows(rules, verb="get", group="", resource="secrets", name="any")
    assert allows(rules, verb="watch", group="", resource="secrets")
    for verb in ("create", "update", "patch", "get"):
        assert allows(rules, verb=verb, group="apps", resource="deployments", name="x")
    workspaces_only = namespaced_rules(Registry((WORKSPACE,)))
    assert allows(workspaces_only, verb="delete", group="apps", resource="deployments", name="x")
    for verb in ("create", "update", "patch", "get"):
        assert not allows(
            workspaces_only, verb=verb, group="apps", resource="deployments", name="x"
        )


def _by(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def test_namespace_scope_renders_roles_in_that_namespace() -> None:
    """--namespace-scope team-a: namespaced rules in a Role (and RoleBinding) in team-a, the
    ClusterRole keeps Nodes and NodeClaims, the operator and the webhook are scoped too."""
    options = InstallOptions(namespace_scope="team-a", certificate="cert-manager")
    objects = install_manifests(options)
    (cluster_role,) = _by(objects, "ClusterRole")
    assert [r["resources"] for r in cluster_role["rules"]] == [["nodes"], ["nodeclaims"]]
    roles = {r["metadata"]["namespace"]: r for r in _by(objects, "Role")}
    assert set(roles) == {"kaito-system", "team-a"}
    assert roles["team-a"]["metadata"]["name"] == "kaito-workspace-workspaces"
    assert _table(roles["team-a"]["rules"]) == NAMESPACED
    bindings = {b["metadata"]["namespace"]: b for b in _by(objects, "RoleBinding")}
    assert bindings["team-a"]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "kaito-workspace-workspaces",
    }
    assert bindings["team-a"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "kaito-workspace", "namespace": "kaito-system"}
    ]
    (deployment,) = _by(objects, "Deployment")
    assert (
        "--namespace-scope=team-a"
        in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    hooks = _by(objects, "ValidatingWebhookConfiguration")
    assert len(hooks) == 3  # one per registered kind: Workspace, InferenceSet, RAGEngine
    for hook in hooks:
        assert hook["webhooks"][0]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": "team-a"}
        }
    unscoped = install_manifests(InstallOptions())
    assert (
        "namespaceSelector" not in _by(unscoped, "ValidatingWebhookConfiguration")[0]["webhooks"][0]
    )


@pytest.mark.parametrize("scope", ["Team_A", "-a", "a" * 64], ids=["case", "dash", "long"])
def test_a_bad_namespace_scope_is_refused(scope: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One line, exit 2, from the CLI; ValueError from the library."""
    with pytest.raises(ValueError, match="not a valid namespace name"):
        install_manifests(InstallOptions(namespace_scope=scope))
    assert main(["manifests", f"--namespace-scope={scope}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--namespace-scope" in err[0]


class _Audit:
    """A `ClusterClient` wrapper recording each request as RBAC attributes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        #: (verb, group, resource, namespace, name)
        self.requests: list[tuple[str, str, str, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _note(
        self, verb: str, api_version: str, kind: str, namespace: Any, name: Any, sub: str = ""
    ) -> None:
        plural = resource_of(api_version, kind).partition(".")[0]
        resource = f"{plural}/{sub}" if sub else plural
        self.requests.append((verb, group_of(api_version), resource, namespace or "", name or ""))

    def _object(self, verb: str, obj: Manifest, sub: str = "") -> None:
        meta = obj.get("metadata") or {}
        self._note(
            verb, obj["apiVersion"], obj["kind"], meta.get("namespace"), meta.get("name"), sub
        )
        for ref in meta.get("ownerReferences") or ():
            if ref.get("blockOwnerDeletion") and verb == "create":
                # OwnerReferencesPermissionEnforcement: update of the owner's finalizers
                self._note(
                    "update",
                    ref["apiVersion"],
                    ref["kind"],
                    meta.get("namespace"),
                    ref["name"],
                    "finalizers",
                )

    async def get(self, ref: ObjectRef) -> Manifest:
        self._note("get", ref.api_version, ref.kind, ref.namespace, ref.name)
        found: Manifest = await self.inner.get(ref)
        return found

    async def list(self, api_version: str, kind: str, **options: Any) -> Any:
        self._note("list", api_version, kind, options.get("namespace"), "")
        return await self.inner.list(api_version, kind, **options)

    def watch(self, api_version: str, kind: str, **options: Any) -> Any:
        self._note("watch", api_version, kind, options.get("namespace"), "")
        return self.inner.watch(api_version, kind, **options)

    async def create(self, obj: Manifest) -> Manifest:
        self._object("create", obj)
        created: Manifest = await self.inner.create(obj)
        return created

    async def apply(self, obj: Manifest, **options: Any) -> Manifest:
        self._object("patch", obj)
        try:
            await self.inner.get(ObjectRef.of_(obj))
        except Exception:  # absent: server-side apply creates it, which needs create too
            self._object("create", obj)
        applied: Manifest = await self.inner.apply(obj, **options)
        return applied

    async def update(self, obj: Manifest) -> Manifest:
        self._object("update", obj)
        updated: Manifest = await self.inner.update(obj)
        return updated

    async def apply_status(self, obj: Manifest) -> Manifest:
        self._object("patch", obj, "status")
        written: Manifest = await self.inner.apply_status(obj)
        return written

    async def delete(self, ref: ObjectRef, **options: Any) -> None:
        self._note("delete", ref.api_version, ref.kind, ref.namespace, ref.name)
        await self.inner.delete(ref, **options)


def _granted(objects: list[Manifest], request: tuple[str, str, str, str, str]) -> bool:
    verb, group, resource, namespace, name = request
    for role in objects:
        applies = role["kind"] == "ClusterRole" or (
            role["kind"] == "Role" and namespace and role["metadata"]["namespace"] == namespace
        )
        if applies and allows(role["rules"], verb=verb, group=group, resource=resource, name=name):
            return True
    return False


@pytest.mark.parametrize("scope", [None, "team-a"], ids=["cluster-wide", "namespace-scoped"])
async def test_every_request_of_the_engine_is_allowed(scope: str | None) -> None:
    """Converge and delete an inference and a tuning Workspace with the Karpenter provisioner:
    every request the engine makes is granted by the rendered RBAC (and Secrets are only ever
    listed and watched)."""
    namespace = scope or "default"
    cluster = FakeCluster()
    for ws in (
        workspace("phi", namespace=namespace),
        workspace("tune", namespace=namespace, tuning=True),
        iset_manifest("set", replicas=2, namespace=namespace, uid=None),
    ):
        cluster.store.create(copy.deepcopy(ws))
    audit = _Audit(cluster.client())
    client: Any = ScopedClient(audit, scope) if scope else audit
    async with Controller(client, KarpenterProvisioner(audit), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(3600)
        for kind, name in (("Workspace", "phi"), ("Workspace", "tune"), ("InferenceSet", "set")):
            ref = ObjectRef("kaito.sh/v1beta1", kind, name, namespace)
            await cluster.client().delete(ref)  # the user deletes them (not the operator)
        await ctl.run_until_settled(3600)
    objects = install_manifests(InstallOptions(namespace_scope=scope))
    denied = sorted({r for r in audit.requests if not _granted(objects, r)})
    assert denied == []
    verbs = {(r[0], r[2]) for r in audit.requests}
    assert {
        ("create", "nodeclaims"),
        ("patch", "workspaces/status"),
        ("delete", "nodeclaims"),
        ("create", "workspaces"),  # an InferenceSet's replicas
        ("update", "inferencesets/finalizers"),
        ("patch", "inferencesets/status"),
    } <= verbs
    assert {v for v, resource in verbs if resource == "secrets"} == {"list", "watch"}


async def test_keda_scaled_objects_are_granted_only_when_provisioned() -> None:
    """With ``--keda-scaled-objects`` the engine creates and deletes a ScaledObject for an
    autoscaled InferenceSet, and the rendered RBAC grants exactly that; without, nothing."""
    cluster = FakeCluster()
    body = iset_manifest(
        "auto",
        replicas=1,
        uid=None,
        annotations={
            "scaledobject.kaito.sh/auto-provision": "true",
            "scaledobject.kaito.sh/threshold": "10",
            "scaledobject.kaito.sh/max-replicas": "3",
        },
    )
    cluster.store.create(copy.deepcopy(body))
    audit = _Audit(cluster.client())
    registry = with_keda(default_registry())
    async with Controller(
        audit, KarpenterProvisioner(audit), clock=cluster.clock, registry=registry
    ) as ctl:
        await ctl.run_until_settled(3600)
        assert cluster.store.find("keda.sh/v1alpha1", "ScaledObject", "default", "auto")
        off = copy.deepcopy(
            cluster.store.find("kaito.sh/v1beta1", "InferenceSet", "default", "auto")
        )
        del off["metadata"]["annotations"]["scaledobject.kaito.sh/auto-provision"]
        cluster.store.update(off)
        await ctl.run_until_settled(3600)
        assert not cluster.store.find("keda.sh/v1alpha1", "ScaledObject", "default", "auto")
    with_it = install_manifests(InstallOptions(keda_scaled_objects=True))
    assert sorted({r for r in audit.requests if not _granted(with_it, r)}) == []
    keda = {(r[0], r[2]) for r in audit.requests if r[1] == "keda.sh"}
    assert {("create", "scaledobjects"), ("delete", "scaledobjects")} <= keda
    without = install_manifests(InstallOptions())
    assert not any(_granted(without, r) for r in audit.requests if r[1] == "keda.sh")
    (deployment,) = _by(with_it, "Deployment")
    assert (
        "--keda-scaled-objects" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )


@pytest.mark.parametrize("mode", ["nodeclaim", "nodepool"])
async def test_the_nodepool_mode_gets_nodepools_and_needs_them(mode: str) -> None:
    """--karpenter-mode nodepool: the ClusterRole grants NodePools (get, create, patch,
    delete), the operator is passed the flag, and every request of the engine in that mode is
    granted; NodeClaim mode grants no NodePools and passes no flag."""
    cluster = FakeCluster()
    cluster.store.create(copy.deepcopy(workspace("phi")))
    audit = _Audit(cluster.client())
    nodes = KarpenterProvisioner(audit, mode=mode)  # type: ignore[arg-type]
    async with Controller(audit, nodes, clock=cluster.clock) as ctl:
        await ctl.run_until_settled(600)  # the fake does not act on NodePools: no machines
        await cluster.client().delete(ObjectRef("kaito.sh/v1beta1", "Workspace", "phi", "default"))
        await ctl.run_until_settled(600)
    objects = install_manifests(InstallOptions(karpenter_mode=mode))
    assert sorted({r for r in audit.requests if not _granted(objects, r)}) == []
    (role,) = _by(objects, "ClusterRole")
    (deployment,) = _by(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    pools = [r["verbs"] for r in role["rules"] if "nodepools" in r["resources"]]
    pool_requests = {r[0] for r in audit.requests if r[2] == "nodepools"}
    if mode == "nodepool":
        assert pools == [["get", "create", "patch", "delete"]]
        assert "--karpenter-mode=nodepool" in args
        assert pool_requests == {"get", "patch", "create", "delete"}
        default = install_manifests(InstallOptions())
        assert any(not _granted(default, r) for r in audit.requests), "needs the mode's RBAC"
    else:
        assert pools == []
        assert not any(a.startswith("--karpenter-mode") for a in args)
        assert pool_requests == set()


def test_the_nodepool_rules_are_for_karpenter_only() -> None:
    """Other backends make no NodePools, whatever the mode says; a bad mode is refused."""
    for backend in ("aks", "byo"):
        rules = cluster_rules(backend, karpenter_mode="nodepool")  # type: ignore[arg-type]
        assert not any("nodepools" in r["resources"] for r in rules)
    with pytest.raises(ValueError, match="nodeclaim or nodepool"):
        cluster_rules("karpenter", karpenter_mode="pools")
