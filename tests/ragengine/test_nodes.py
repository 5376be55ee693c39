"""The node a RAGEngine runs on: NodeClaims, ResourceReady, NodeClaimReady and workerNodes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kaito_core.observed import Manifest, Observed
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from kaito_core.ragengine.nodes import node_claim_name
from tests.core.test_plan_support import ready_node
from tests.ragengine.support import CATALOG, NOW, materialize, rag_manifest

SKU = "Standard_NC24ads_A100_v4"


def _node(name: str, *, instance_type: str = SKU, gpu: bool = True, **labels: str) -> Manifest:
    node = ready_node(
        name, labels={"apps": "rag", "node.kubernetes.io/instance-type": instance_type, **labels}
    )
    if not gpu:
        node["status"]["capacity"] = {}
    return node


def _claim(
    name: str, *, node: str | None = None, deleting: bool = False, **status: Any
) -> Manifest:
    claim: Manifest = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": {"kaito.sh/ragengine": "rag", "kaito.sh/ragenginenamespace": "default"},
        },
        "status": dict(status),
    }
    if node is not None:
        claim["status"]["nodeName"] = node
    if deleting:
        claim["metadata"]["deletionTimestamp"] = NOW
    return claim


def _plan(
    manifest: dict[str, Any] | None = None,
    settings: RAGEngineSettings | None = None,
    **observed: Any,
) -> Any:
    return plan_ragengine(
        materialize(manifest or rag_manifest()),
        observed=Observed(**observed),
        catalog=CATALOG,
        now=NOW,
        settings=settings or RAGEngineSettings(),
    )


def _conditions(outcome: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in outcome.status.conditions}


CLAIM = node_claim_name(materialize(rag_manifest()))

CLAIMS: dict[str, tuple[dict[str, Any], RAGEngineSettings, dict[str, Any], list[str]]] = {
    "gpu-nothing-there": (rag_manifest(), RAGEngineSettings(), {}, [CLAIM]),
    "no-compute": (rag_manifest(compute=None), RAGEngineSettings(), {}, []),
    "byo": (rag_manifest(), RAGEngineSettings(provisioner="byo"), {}, []),
    "byo-without-instance-type": (
        rag_manifest(compute={"labelSelector": {"matchLabels": {"apps": "rag"}}}),
        RAGEngineSettings(provisioner="byo"),
        {},
        [],
    ),
    "an-existing-node-qualifies": (
        rag_manifest(),
        RAGEngineSettings(),
        {"nodes": (_node("byo-1"),)},
        [],
    ),
    "wrong-instance-type-does-not": (
        rag_manifest(),
        RAGEngineSettings(),
        {"nodes": (_node("n", instance_type="Standard_NC6s_v3"),)},
        [CLAIM],
    ),
    "not-matching-labels-does-not": (
        rag_manifest(),
        RAGEngineSettings(),
        {"nodes": (_node("n", apps="other"),)},
        [CLAIM],
    ),
    "our-claim-is-kept-under-its-name": (
        rag_manifest(),
        RAGEngineSettings(),
        {"node_claims": (_claim("ws1234abcd", node="n1"),), "nodes": (_node("n1"), _node("byo"))},
        ["ws1234abcd"],
    ),
    "a-deleting-claim-is-replaced": (
        rag_manifest(),
        RAGEngineSettings(),
        {"node_claims": (_claim(CLAIM, deleting=True),)},
        [CLAIM],
    ),
}


@pytest.mark.parametrize(
    ("manifest", "settings", "observed", "names"), CLAIMS.values(), ids=CLAIMS.keys()
)
def test_a_claim_is_wanted_only_when_no_other_node_qualifies(
    manifest: dict[str, Any],
    settings: RAGEngineSettings,
    observed: dict[str, Any],
    names: list[str],
) -> None:
    """One NodeClaim for an instance type with auto-provisioning, kept once it exists."""
    outcome = _plan(manifest, settings, **observed)
    assert [c["metadata"]["name"] for c in outcome.node_claims] == names


def test_the_claim_carries_the_ragengine_labels_and_a_200gi_disk() -> None:
    """Upstream's labels and disk; a stable name unlike a Workspace's."""
    (claim,) = _plan().node_claims
    assert claim["metadata"]["name"].startswith("rag")
    assert claim["metadata"]["labels"] == {
        "apps": "rag",
        "kaito.sh/ragengine": "rag",
        "kaito.sh/ragenginenamespace": "default",
        "karpenter.sh/nodepool": "kaito",
    }
    assert claim["spec"]["resources"] == {"requests": {"storage": "200Gi"}}
    assert claim["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert claim["spec"]["nodeClassRef"]["kind"] == "KaitoNodeClass"
    aws = _plan(settings=RAGEngineSettings(cloud="aws")).node_claims[0]
    assert aws["spec"]["nodeClassRef"]["kind"] == "EC2NodeClass"
    assert (
        node_claim_name(materialize(rag_manifest(namespace="other"))) != claim["metadata"]["name"]
    )


STATES: dict[
    str,
    tuple[
        dict[str, Any],
        RAGEngineSettings,
        dict[str, Any],
        dict[str, tuple[str, str]],
        list[str] | None,
    ],
] = {
    "no-compute-is-ready-at-once": (
        rag_manifest(compute=None),
        RAGEngineSettings(),
        {},
        {"ResourceReady": ("True", "ragengineResourceStatusSuccess")},
        None,
    ),
    "claim-pending": (
        rag_manifest(),
        RAGEngineSettings(),
        {},
        {
            "ResourceReady": ("False", "CreateNodeClaimPending"),
            "NodeClaimReady": ("Unknown", "CreateNodeClaimPending"),
        },
        None,
    ),
    "claim-failed-to-launch": (
        rag_manifest(),
        RAGEngineSettings(),
        {
            "node_claims": (
                _claim(
                    CLAIM,
                    conditions=[
                        {
                            "type": "Launched",
                            "status": "False",
                            "reason": "LaunchFailed",
                            "message": "quota",
                        }
                    ],
                ),
            )
        },
        {
            "ResourceReady": ("False", "checkNodeClaimStatusFailed"),
            "NodeClaimReady": ("False", "checkNodeClaimStatusFailed"),
        },
        None,
    ),
    "provisioner-refused": (
        rag_manifest(),
        RAGEngineSettings(),
        {"provision_error": "no capacity for Standard_NC24ads_A100_v4"},
        {
            "ResourceReady": ("False", "InsufficientCapacity"),
            "NodeClaimReady": ("False", "InsufficientCapacity"),
        },
        None,
    ),
    "quota-refused": (
        rag_manifest(),
        RAGEngineSettings(),
        {"provision_error": "quota", "provision_reason": "QuotaExceeded"},
        {
            "ResourceReady": ("False", "QuotaExceeded"),
            "NodeClaimReady": ("False", "QuotaExceeded"),
        },
        None,
    ),
    "node-not-ready": (
        rag_manifest(),
        RAGEngineSettings(),
        {"node_claims": (_claim(CLAIM, node="n1"),)},
        {"ResourceReady": ("False", "NodeNotReady"), "NodeClaimReady": ("False", "NodeNotReady")},
        None,
    ),
    "gpu-plugin-not-ready": (
        rag_manifest(),
        RAGEngineSettings(),
        {"node_claims": (_claim(CLAIM, node="n1"),), "nodes": (_node("n1", gpu=False),)},
        {
            "ResourceReady": ("False", "NodePluginsNotReady"),
            "NodeClaimReady": ("False", "NodePluginsNotReady"),
        },
        None,
    ),
    "cpu-sku-needs-no-gpu": (
        rag_manifest(
            compute={
                "instanceType": "Standard_D8s_v3",
                "labelSelector": {"matchLabels": {"apps": "rag"}},
            }
        ),
        RAGEngineSettings(),
        {"nodes": (_node("cpu-1", instance_type="standard_d8s_v3", gpu=False),)},
        {
            "ResourceReady": ("True", "ragengineResourceStatusSuccess"),
            "NodeClaimReady": ("True", "installNodePluginsSuccess"),
        },
        ["cpu-1"],
    ),
    "node-ready": (
        rag_manifest(),
        RAGEngineSettings(),
        {"node_claims": (_claim(CLAIM, node="n1"),), "nodes": (_node("a0"), _node("n1"))},
        {
            "ResourceReady": ("True", "ragengineResourceStatusSuccess"),
            "NodeClaimReady": ("True", "installNodePluginsSuccess"),
        },
        ["n1"],
    ),
    "byo-without-nodes": (
        rag_manifest(),
        RAGEngineSettings(provisioner="byo"),
        {},
        {"ResourceReady": ("False", "NodeNotReady")},
        None,
    ),
    "byo-with-node": (
        rag_manifest(),
        RAGEngineSettings(provisioner="byo"),
        {"nodes": (_node("byo-2"), _node("byo-1"))},
        {"ResourceReady": ("True", "ragengineResourceStatusSuccess")},
        ["byo-1"],
    ),
}


@pytest.mark.parametrize(
    ("manifest", "settings", "observed", "expected", "workers"), STATES.values(), ids=STATES.keys()
)
def test_resource_conditions_and_worker_nodes_follow_what_is_observed(
    manifest: dict[str, Any],
    settings: RAGEngineSettings,
    observed: dict[str, Any],
    expected: dict[str, tuple[str, str]],
    workers: list[str] | None,
) -> None:
    """ResourceReady, NodeClaimReady (auto-provisioning only) and the chosen worker node."""
    outcome = _plan(manifest, settings, **observed)
    found = _conditions(outcome)
    for type_, value in expected.items():
        assert found[type_] == value, type_
    if "NodeClaimReady" not in expected:
        assert "NodeClaimReady" not in found
    assert outcome.status.worker_nodes == (tuple(workers) if workers else None)


def test_a_previous_worker_node_stays_chosen() -> None:
    """The worker node does not jump between equally good nodes."""
    rag = materialize(rag_manifest())
    nodes = (_node("a"), _node("b"))
    first = plan_ragengine(rag, observed=Observed(nodes=nodes), catalog=CATALOG, now=NOW)
    assert first.status.worker_nodes == ("a",)
    moved = attrs.evolve(rag, status=attrs.evolve(first.status, worker_nodes=("b",)))
    again = plan_ragengine(moved, observed=Observed(nodes=nodes), catalog=CATALOG, now=NOW)
    assert again.status.worker_nodes == ("b",)


@pytest.mark.parametrize(
    ("default", "annotation"),
    [(None, "ubuntu"), ("AzureLinux", "azurelinux"), ("windows", None)],
    ids=["no-default", "valid-default", "unsupported-default"],
)
def test_the_node_image_family_follows_the_operator_default(
    default: str | None, annotation: str | None
) -> None:
    """As for Workspaces: an unsupported default leaves the choice to the NodeClass."""
    (claim,) = _plan(settings=RAGEngineSettings(default_node_image_family=default)).node_claims
    assert claim["metadata"]["annotations"].get("kaito.sh/node-image-family") == annotation
