"""Karpenter provisioner modes, readiness from claims and Node GPU capacity, and BYO nodes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.errors import InsufficientCapacity, Invalid, KindNotServed, NotFound
from kaito_backends.karpenter import (
    ByoProvisioner,
    KarpenterProvisioner,
    NodeClass,
    Readiness,
    claim_problem,
    gpu_config_from_nodes,
    node_pool_from_claims,
    pool_name,
)
from kaito_backends.kubernetes import KubernetesClient
from kaito_backends.objects import Key, Manifest, ObjectRef, WorkspaceKey
from kaito_core.gpu import GpuLabelsError

A100 = "Standard_NC24ads_A100_v4"
KEY = WorkspaceKey("team", "phi")
POOL = "team-phi"


def claim(name: str, instance_type: str = A100, **annotations: str) -> Manifest:
    """A NodeClaim as the planner renders it."""
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": {"karpenter.sh/nodepool": "kaito", "apps": "phi"},
            "annotations": dict(annotations),
        },
        "spec": {
            "nodeClassRef": {"group": "kaito.sh", "kind": "KaitoNodeClass", "name": "default"},
            "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
            "requirements": [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": [instance_type],
                },
            ],
            "resources": {"requests": {"storage": "128Gi"}},
        },
    }


async def eventually(
    advance: Callable[[float], Awaitable[None]], check: Any, within: float
) -> None:
    waited = 0.0
    while not await check():
        assert waited < within, f"not within {within}s"
        await advance(15.0)
        waited += 15.0


# -- NodePool mode ---------------------------------------------------------------------------------
async def test_nodepool_mode_makes_one_pool_whose_replicas_only_grow(
    kube: KubernetesClient,
) -> None:
    """provision: one NodePool per workspace; replicas = claims asked for, never lowered."""
    nodes = KarpenterProvisioner(kube, mode="nodepool")
    ref = ObjectRef("karpenter.sh/v1", "NodePool", POOL)
    await nodes.provision(KEY, [claim("ws1-0"), claim("ws1-1")])
    pool = await kube.get(ref)
    assert pool["spec"]["replicas"] == 2
    assert pool["metadata"]["labels"] == {
        "karpenter.kaito.sh/managed-by": "kaito",
        "karpenter.kaito.sh/workspace-name": "phi",
        "karpenter.kaito.sh/workspace-namespace": "team",
    }
    template = pool["spec"]["template"]
    assert "karpenter.sh/nodepool" not in template["metadata"]["labels"]
    assert template["metadata"]["labels"]["kaito.sh/workspace"] == "phi"
    assert template["spec"]["nodeClassRef"] == {
        "group": "karpenter.azure.com",
        "kind": "AKSNodeClass",
        "name": "default",
    }
    version = pool["metadata"]["resourceVersion"]
    await nodes.provision(KEY, [claim("ws1-0")])
    await nodes.provision(KEY, [])
    same = await kube.get(ref)
    assert same["spec"]["replicas"] == 2
    assert same["metadata"]["resourceVersion"] == version  # nothing was written
    await nodes.provision(KEY, [claim(f"ws1-{i}") for i in range(3)])
    assert (await kube.get(ref))["spec"]["replicas"] == 3


async def test_nodepool_mode_observes_and_releases_karpenters_claims(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """observe: the claims labelled karpenter.sh/nodepool=<pool>; release: pool and claims go."""
    nodes = KarpenterProvisioner(kube, mode="nodepool")
    await nodes.provision(KEY, [claim("ws1-0")])
    for name, pool in (("team-phi-b", POOL), ("team-phi-a", POOL), ("other-x", "other")):
        made = claim(name)
        made["metadata"]["labels"]["karpenter.sh/nodepool"] = pool  # as Karpenter names them
        await kube.create(made)
    assert [c["metadata"]["name"] for c in await nodes.observe(KEY)] == ["team-phi-a", "team-phi-b"]
    await nodes.release(KEY)
    await nodes.release(KEY)
    with pytest.raises(NotFound):
        await kube.get(ObjectRef("karpenter.sh/v1", "NodePool", POOL))

    async def gone() -> bool:
        return await nodes.observe(KEY) == ()

    await eventually(fake_apiserver.cluster.advance, gone, within=900)


async def test_nodepool_mode_gives_a_ragengine_its_own_pool(kube: KubernetesClient) -> None:
    """A RAGEngine and a Workspace of one name: two NodePools (the Workspace's name as
    before), each labelled for its owner, and releasing one leaves the other."""
    rag = Key("RAGEngine", "team", "phi")
    nodes = KarpenterProvisioner(kube, mode="nodepool")
    await nodes.provision(KEY, [claim("ws1-0")])
    await nodes.provision(rag, [claim("rag1")])
    workspace_pool = await kube.get(ObjectRef("karpenter.sh/v1", "NodePool", POOL))
    rag_pool = await kube.get(ObjectRef("karpenter.sh/v1", "NodePool", "ragengine.team.phi"))
    assert rag_pool["metadata"]["labels"] == {
        "kaito.sh/ragengine": "phi",
        "kaito.sh/ragenginenamespace": "team",
        "karpenter.kaito.sh/managed-by": "kaito",
    }
    template = rag_pool["spec"]["template"]["metadata"]["labels"]
    assert not [k for k in template if "workspace" in k]
    assert workspace_pool["metadata"]["labels"]["karpenter.kaito.sh/workspace-name"] == "phi"
    await nodes.release(rag)
    assert (await kube.get(ObjectRef("karpenter.sh/v1", "NodePool", POOL)))["spec"]
    with pytest.raises(NotFound):
        await kube.get(ObjectRef("karpenter.sh/v1", "NodePool", "ragengine.team.phi"))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (WorkspaceKey("team", "phi"), "team-phi"),
        (Key("RAGEngine", "team", "phi"), "ragengine.team.phi"),
        (Key("RAGEngine", "team-phi", "x"), "ragengine.team-phi.x"),
        (Key("RAGEngine", "team", "phi-x"), "ragengine.team.phi-x"),
    ],
    ids=["workspace-unchanged", "ragengine", "namespace-dash", "name-dash"],
)
def test_node_pool_names_are_keyed_by_kind(key: Key, expected: str) -> None:
    """A Workspace's NodePool keeps its name; another kind's cannot equal any Workspace's."""
    assert pool_name(key) == expected


def test_long_node_pool_names_are_hashed_and_distinct() -> None:
    """Past 63 characters: truncated with a hash of the whole, still unique per object."""
    first = pool_name(Key("RAGEngine", "n" * 40, "r" * 40))
    second = pool_name(Key("RAGEngine", "n" * 40, "r" * 39 + "s"))
    assert max(len(first), len(second)) <= 63
    assert first != second
    assert first.startswith("ragengine.")


# -- NodeClaim mode --------------------------------------------------------------------------------
async def test_readiness_waits_for_the_nodes_gpus(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """readiness: not ready until the claim is Ready and its Node advertises nvidia.com/gpu."""
    nodes = KarpenterProvisioner(kube)
    await nodes.provision(KEY, [claim("ws1-0")])
    first = await nodes.readiness(KEY, wanted=1)
    assert not first.is_ready
    assert first.problems

    async def ready() -> bool:
        return (await nodes.readiness(KEY, wanted=1)).is_ready

    await eventually(fake_apiserver.cluster.advance, ready, within=1800)
    done = await nodes.readiness(KEY, wanted=2)
    assert done.ready == ("ws1-0",)
    assert done.problems == ("1 of 2 NodeClaims do not exist yet",)
    assert not done.is_ready
    await nodes.release(KEY)


@pytest.mark.parametrize(
    ("node_class", "expected"),
    [
        pytest.param(
            None,
            {"group": "kaito.sh", "kind": "KaitoNodeClass", "name": "default"},
            id="default-keeps-the-rendered-ref",
        ),
        pytest.param(
            NodeClass(group="karpenter.kwok.sh", kind="KWOKNodeClass", name="default"),
            {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": "default"},
            id="given-replaces-it",
        ),
    ],
)
async def test_claims_point_at_the_node_class_given(
    kube: KubernetesClient, node_class: NodeClass | None, expected: dict[str, str]
) -> None:
    """provision: an explicit node class becomes each NodeClaim's nodeClassRef."""
    nodes = KarpenterProvisioner(kube, node_class=node_class)
    await nodes.provision(KEY, [claim("ws1-0")])
    (stored,) = await nodes.observe(KEY)
    assert stored["spec"]["nodeClassRef"] == expected
    await nodes.release(KEY)


async def test_a_claim_refused_for_capacity_raises(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """provision: Launched=False/InsufficientCapacity on a wanted claim -> the provider's words."""
    nodes = KarpenterProvisioner(kube)
    await nodes.provision(KEY, [claim("ws1-0")])
    await fake_apiserver.cluster.advance(0)
    (stored,) = await nodes.observe(KEY)
    message = "Operation could not be completed as it results in exceeding approved quota"
    refused = {
        "type": "Launched",
        "status": "False",
        "reason": "InsufficientCapacity",
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    await kube.apply_status({**stored, "status": {"conditions": [refused]}})
    with pytest.raises(InsufficientCapacity, match="approved quota"):
        await nodes.provision(KEY, [claim("ws1-0")])
    assert len(await nodes.observe(KEY)) == 1  # no second claim


async def test_instance_types_come_from_the_catalog(kube: KubernetesClient) -> None:
    """instance_types: the catalog's GPU SKUs, of one cloud when asked."""
    aws = await KarpenterProvisioner(kube, cloud="aws").instance_types()
    everything = await KarpenterProvisioner(kube).instance_types()
    assert aws
    assert {s.cloud for s in aws} == {"aws"}
    assert len(everything) > len(aws)
    with pytest.raises(ValueError, match="mode"):
        KarpenterProvisioner(kube, mode="nodegroups")  # type: ignore[arg-type]


# -- readiness rules (pure) ------------------------------------------------------------------------
def _claim_status(ready: str | None, node: str = "n1", deleting: bool = False) -> Manifest:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": "R"}]
    meta: Manifest = {"name": "c1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"nodeName": node, "conditions": conditions}}


def _node(ready: str = "True", gpus: str | None = "1") -> Manifest:
    capacity = {"cpu": "8"} if gpus is None else {"cpu": "8", "nvidia.com/gpu": gpus}
    return {
        "metadata": {"name": "n1"},
        "status": {"capacity": capacity, "conditions": [{"type": "Ready", "status": ready}]},
    }


@pytest.mark.parametrize(
    ("claim_obj", "node", "problem"),
    [
        (_claim_status("True"), _node(), None),
        (_claim_status(None), _node(), None),
        (_claim_status("False"), _node(), "NodeClaim c1 is not ready: R"),
        (_claim_status("True", node=""), None, "NodeClaim c1 has no node yet"),
        (_claim_status("True"), None, "node n1 of NodeClaim c1 does not exist"),
        (_claim_status("True"), _node(ready="False"), "node n1 is not ready"),
        (
            _claim_status("True"),
            _node(gpus=None),
            "node n1 advertises no nvidia.com/gpu capacity yet",
        ),
        (
            _claim_status("True"),
            _node(gpus="0"),
            "node n1 advertises no nvidia.com/gpu capacity yet",
        ),
        (_claim_status("True", deleting=True), _node(), "NodeClaim c1 is being deleted"),
    ],
    ids=[
        "ready",
        "no-ready-condition-but-bound",
        "claim-not-ready",
        "no-node-yet",
        "node-missing",
        "node-not-ready",
        "no-gpu-capacity",
        "zero-gpus",
        "deleting",
    ],
)
def test_claim_readiness_rules(
    claim_obj: Manifest, node: Manifest | None, problem: str | None
) -> None:
    """A claim is ready when Ready (or bound), its Node Ready, and nvidia.com/gpu > 0."""
    assert claim_problem(claim_obj, node) == problem
    summary = Readiness.of([claim_obj], {"n1": node} if node else {})
    assert summary.is_ready is (problem is None)


# -- the NodePool object (pure) --------------------------------------------------------------------
def test_the_node_pool_is_a_function_of_its_claims() -> None:
    """Same claims, same NodePool; the node-class annotation wins; AKS adds a placement scope."""
    claims = [claim("ws1-0"), claim("ws1-1")]
    assert node_pool_from_claims(KEY, claims) == node_pool_from_claims(KEY, claims)
    named = node_pool_from_claims(KEY, [claim("ws1-0", **{"kaito.sh/node-class-name": "gpu"})])
    assert named["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "gpu"
    aws = node_pool_from_claims(
        KEY, claims, node_class=NodeClass(group="karpenter.k8s.aws", kind="EC2NodeClass")
    )
    keys = [r["key"] for r in aws["spec"]["template"]["spec"]["requirements"]]
    assert keys == ["node.kubernetes.io/instance-type"]
    long_key = WorkspaceKey("n" * 40, "w" * 40)
    assert len(node_pool_from_claims(long_key, claims)["metadata"]["name"]) <= 63


@pytest.mark.parametrize(
    "claims",
    [[], [claim("a", A100), claim("b", "Standard_NC6s_v3")]],
    ids=["no-claims", "mixed-instance-types"],
)
def test_a_node_pool_needs_claims_of_one_type(claims: list[Manifest]) -> None:
    """No claim, or claims of several instance types: Invalid."""
    with pytest.raises(Invalid):
        node_pool_from_claims(KEY, claims)


# -- bring your own nodes --------------------------------------------------------------------------
GPU_LABELS = {
    "apps": "phi",
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    "nvidia.com/gpu.count": "2",
    "nvidia.com/gpu.memory": "81920",
}


async def test_byo_provisions_nothing_and_reads_gpus_from_node_labels(
    fake_apiserver: FakeApiServer, kube: KubernetesClient
) -> None:
    """BYO: no writes, no claims; the GPU config of the first Ready matching node's labels."""
    cluster = fake_apiserver.cluster
    cluster.add_node("b-node", labels=GPU_LABELS, gpus=2)
    cluster.add_node("a-node", labels=GPU_LABELS, gpus=2, ready=False)
    byo = ByoProvisioner(kube)
    cluster.reset_counters()
    await byo.provision(KEY, [claim("ws1-0")])
    await byo.release(KEY)
    assert await byo.observe(KEY) == ()
    assert await byo.instance_types() == ()
    assert cluster.writes == 0
    gpu = await byo.gpu_config({"apps": "phi"})
    assert (gpu.gpu_count, gpu.gpu_memory_gib, gpu.gpu_model) == (2, 160.0, "NVIDIA-A100-SXM4-80GB")
    assert [n["metadata"]["name"] for n in await byo.nodes({"apps": "phi"})] == ["a-node", "b-node"]
    with pytest.raises(GpuLabelsError):
        await byo.gpu_config({"apps": "nothing-matches"})


def test_gpu_config_from_nodes_needs_complete_labels() -> None:
    """A ready node without nvidia.com/gpu.memory: GpuLabelsError naming the node."""
    labels = {k: v for k, v in GPU_LABELS.items() if k != "nvidia.com/gpu.memory"}
    node = {
        "metadata": {"name": "n1", "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    with pytest.raises(GpuLabelsError, match="n1"):
        gpu_config_from_nodes([node])


@pytest.mark.parametrize(
    ("mode", "crd", "reason"),
    [
        ("nodeclaim", "nodeclaims.karpenter.sh", "NodeClaimCRDMissing"),
        ("nodepool", "nodepools.karpenter.sh", "NodePoolCRDMissing"),
    ],
)
async def test_without_karpenters_crd_provision_says_what_is_missing(
    fake_apiserver: FakeApiServer, kube: KubernetesClient, mode: Any, crd: str, reason: str
) -> None:
    """The server serves no NodeClaims (NodePools): provision raises KindNotServed with the
    CRD's name and how to install it; observe is empty and release has nothing to do."""
    fake_apiserver.cluster.store.delete(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", None, crd
    )
    nodes = KarpenterProvisioner(kube, mode=mode)
    with pytest.raises(KindNotServed) as caught:
        await nodes.provision(KEY, [claim("ws1-0")])
    assert caught.value.reason == reason
    assert f"{crd} is not installed" in str(caught.value)
    assert "Install Karpenter" in str(caught.value)
    if mode == "nodeclaim":
        assert await nodes.observe(KEY) == ()
    await nodes.release(KEY)
