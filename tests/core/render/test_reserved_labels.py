"""Reserved label keys (issue #11, item 7): what Kubernetes, Karpenter and KAITO own is never
copied from matchLabels onto the nodes KAITO creates, and validation says so under NAP."""

from __future__ import annotations

import pytest

from kaito_core.api import from_manifest
from kaito_core.render.inference import affinity
from kaito_core.render.meta import node_labels, reserved_label_owner
from kaito_core.render.nodeclaims import node_claims, node_pool
from kaito_core.validation import ValidationContext, validate
from tests.core.render.test_nodeclaims import context, workspace
from tests.validation.helpers import edit, inference

HOSTILE = {
    "apps": "mine",
    "karpenter.sh/nodepool": "evil",
    "kubernetes.io/hostname": "node-1",
    "node.kubernetes.io/instance-type": "Standard_ND96",
    "karpenter.kaito.sh/workspace-name": "other",
    "kaito.sh/anything": "x",
}


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        pytest.param("kubernetes.io/hostname", "Kubernetes", id="kubernetes.io"),
        pytest.param("node.kubernetes.io/instance-type", "Kubernetes", id="node.kubernetes.io"),
        pytest.param("topology.kubernetes.io/zone", "Kubernetes", id="topology"),
        pytest.param("node-role.kubernetes.io/gpu", "Kubernetes", id="node-role"),
        pytest.param("k8s.io/x", "Kubernetes", id="k8s.io"),
        pytest.param("storage.k8s.io/x", "Kubernetes", id="sub.k8s.io"),
        pytest.param("karpenter.sh/nodepool", "Karpenter", id="karpenter.sh"),
        pytest.param("karpenter.k8s.io/x", "Karpenter", id="karpenter.k8s.io"),
        pytest.param("karpenter.k8s.aws/instance-family", "Karpenter", id="aws"),
        pytest.param("karpenter.azure.com/sku-name", "Karpenter", id="azure"),
        pytest.param("kaito.sh/workspace", "KAITO", id="kaito.sh"),
        pytest.param("karpenter.kaito.sh/workspace-name", "KAITO", id="karpenter.kaito.sh"),
        pytest.param("workspace.kaito.io/name", "KAITO", id="kaito.io"),
        pytest.param("KUBERNETES.IO/hostname", "Kubernetes", id="upper-case-prefix"),
        pytest.param("apps", None, id="no-prefix"),
        pytest.param("example.com/role", None, id="own-domain"),
        pytest.param("notkubernetes.io/x", None, id="look-alike"),
        pytest.param("nvidia.com/gpu.product", None, id="gfd"),
    ],
)
def test_reserved_label_owner(key: str, owner: str | None) -> None:
    """Domains and their subdomains belong to their owner; look-alikes do not."""
    assert reserved_label_owner(key) == owner


def test_node_claims_never_carry_reserved_keys() -> None:
    """karpenter.sh/nodepool stays KAITO's own value; no Kubernetes/KAITO key is copied."""
    claims = node_claims(context(workspace(match_labels=HOSTILE)))
    for claim in claims:
        labels = claim["metadata"]["labels"]
        assert labels["karpenter.sh/nodepool"] == "kaito"
        assert labels["apps"] == "mine"
        assert "kubernetes.io/hostname" not in labels
        assert "node.kubernetes.io/instance-type" not in labels
        assert "kaito.sh/anything" not in labels
        assert "karpenter.kaito.sh/workspace-name" not in labels
        assert labels["kaito.sh/workspace"] == "ws1"


def test_node_pool_template_never_carries_reserved_keys() -> None:
    """The NodePool's node template gets the user's own labels and KAITO's, nothing else."""
    pool = node_pool(context(workspace(match_labels=HOSTILE)))
    labels = pool["spec"]["template"]["metadata"]["labels"]
    assert labels["apps"] == "mine"
    assert labels["karpenter.kaito.sh/workspace-name"] == "ws1"
    assert not {"karpenter.sh/nodepool", "kubernetes.io/hostname", "kaito.sh/anything"} & set(
        labels
    )


def test_node_labels_keep_only_unowned_keys() -> None:
    """node_labels is the sanitized selector minus every reserved domain."""
    assert node_labels(workspace(match_labels=HOSTILE)) == {"apps": "mine"}


def test_affinity_still_selects_with_the_whole_selector() -> None:
    """Pods keep the user's selector (a BYO node may be picked by hostname)."""
    ws = workspace(match_labels={"apps": "mine", "kubernetes.io/hostname": "node-1"})
    terms = affinity(context(ws))["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    keys = [e["key"] for e in terms["nodeSelectorTerms"][0]["matchExpressions"]]
    assert "kubernetes.io/hostname" in keys


# --- validation ---------------------------------------------------------------------------------

MATCH = 'spec.resource.labelSelector.matchLabels["{}"]'


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        pytest.param("karpenter.sh/nodepool", "Karpenter", id="nodepool"),
        pytest.param("kubernetes.io/hostname", "Kubernetes", id="hostname"),
        pytest.param("node.kubernetes.io/instance-type", "Kubernetes", id="instance-type"),
        pytest.param("kaito.sh/anything", "KAITO", id="kaito"),
    ],
)
@pytest.mark.parametrize("api", ["kaito.sh/v1beta1", "kaito.sh/v1alpha1"])
def test_reserved_keys_are_refused_under_nap(key: str, owner: str, api: str) -> None:
    """Creating a NAP Workspace with a reserved matchLabels key is a field error naming it."""
    manifest = edit(
        inference(api=api), {"resource.labelSelector.matchLabels": {"a": "b", key: "v"}}
    )
    problems = [p for p in validate(from_manifest(manifest)) if p.path == MATCH.format(key)]
    assert len(problems) == 1
    assert f"is owned by {owner}" in problems[0].message


def test_reserved_keys_are_fine_with_your_own_nodes() -> None:
    """BYO: the selector only selects existing nodes, so kubernetes.io/hostname is allowed."""
    manifest = edit(
        inference(instance=None),
        {"resource.labelSelector.matchLabels": {"kubernetes.io/hostname": "gpu-node-1"}},
    )
    problems = validate(
        from_manifest(manifest), context=ValidationContext(node_auto_provisioning=False)
    )
    assert not [p for p in problems if "owned by" in p.message]


def test_kaito_workspace_keys_are_stripped_not_refused() -> None:
    """KAITO's eight workspace keys keep upstream's treatment: stripped (R3), never an error."""
    labels = {"a": "b", "kaito.sh/workspace": "x", "karpenter.kaito.sh/workspace-name": "y"}
    manifest = edit(inference(), {"resource.labelSelector.matchLabels": labels})
    assert not [p for p in validate(from_manifest(manifest)) if "owned by" in p.message]


def test_an_unchanged_selector_does_not_block_updates() -> None:
    """A stored Workspace with a reserved key can still be updated (and its finalizer removed)."""
    manifest = edit(inference(), {"resource.labelSelector.matchLabels": {"karpenter.sh/x": "v"}})
    ws = from_manifest(manifest)
    assert not [p for p in validate(ws, old=ws) if "owned by" in p.message]
