"""Pool names, the pool a Workspace's NodeClaims ask for, and the NodeClaims a pool stands for.

None of these needs Azure: they are the pure parts of the AKS backend.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_backends.aks import desired_pool, node_claims_of_pool, pool_name
from kaito_backends.aks.naming import POOL_NAME_PATTERN, TAG_CLAIM_STEM, TAG_CLAIMS
from kaito_backends.aks.pools import claim_names, disk_gib, needs_update, owner_of, pool_body
from kaito_backends.errors import Invalid
from kaito_backends.objects import Key, WorkspaceKey
from tests.aks.conftest import A100, KEY, condition, rendered_claims

_DNS = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True)


@given(namespace=_DNS, name=_DNS)
def test_pool_names_are_valid_aks_names(namespace: str, name: str) -> None:
    """``^[a-z][a-z0-9]{0,11}$``, 12 characters, the same every time."""
    key = WorkspaceKey(namespace, name)
    got = pool_name(key)
    assert POOL_NAME_PATTERN.fullmatch(got)
    assert len(got) == 12
    assert got == pool_name(WorkspaceKey(namespace, name))


def test_pool_names_differ_between_workspaces() -> None:
    """No collisions among a few thousand Workspaces; namespace and name both count."""
    keys = [WorkspaceKey(f"ns{i % 50}", f"ws-{i}") for i in range(5000)]
    assert len({pool_name(k) for k in keys}) == len(keys)
    assert pool_name(WorkspaceKey("a", "b-c")) != pool_name(WorkspaceKey("a-b", "c"))


def test_the_desired_pool_of_rendered_claims() -> None:
    """vmSize, count, disk, osSKU; Karpenter labels dropped; workspace labels and GPU taint."""
    spec = desired_pool(KEY, rendered_claims(count=3), name="wsx")
    assert spec is not None
    assert (spec.vm_size, spec.count, spec.os_disk_gb, spec.os_sku) == (A100, 3, 87, "Ubuntu")
    assert dict(spec.node_labels) == {
        "apps": "phi",
        "kaito.sh/workspace": "phi",
        "kaito.sh/workspacenamespace": "default",
    }
    assert spec.node_taints == ("sku=gpu:NoSchedule",)
    stem = rendered_claims()[0]["metadata"]["name"].rpartition("-")[0]
    assert spec.tags[TAG_CLAIM_STEM] == stem
    assert TAG_CLAIMS not in spec.tags


def test_no_claims_no_pool() -> None:
    assert desired_pool(KEY, [], name="wsx") is None


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda c: c["metadata"].pop("name"), "needs metadata.name"),
        (lambda c: c["spec"].pop("requirements"), "names no instance type"),
        (lambda c: c["spec"]["resources"]["requests"].update(storage="lots"), "not a quantity"),
    ],
    ids=["no-name", "no-instance-type", "bad-storage"],
)
def test_malformed_claims_are_invalid(mutate: object, match: str) -> None:
    claims = rendered_claims()
    mutate(claims[0])  # type: ignore[operator]
    with pytest.raises(Invalid, match=match):
        desired_pool(KEY, claims, name="wsx")


@pytest.mark.parametrize(
    ("quantity", "gib"),
    [("87Gi", 87), ("1Ti", 1024), ("100G", 94), ("1.5Gi", 2), ("1073741824", 1), (None, None)],
    ids=["Gi", "Ti", "G", "fraction", "bytes", "absent"],
)
def test_disk_quantities_round_up_to_gib(quantity: str | None, gib: int | None) -> None:
    assert disk_gib(quantity) == gib


def test_the_os_disk_is_clamped_to_what_aks_accepts() -> None:
    claims = rendered_claims()
    claims[0]["spec"]["resources"]["requests"]["storage"] = "10Ti"
    spec = desired_pool(KEY, claims, name="wsx")
    assert spec is not None
    assert spec.os_disk_gb == 2048


def test_other_claim_names_are_kept_in_a_tag() -> None:
    """Names that are not ``<stem>-<i>`` round-trip through the pool's tags."""
    claims = rendered_claims(count=2)
    claims[0]["metadata"]["name"], claims[1]["metadata"]["name"] = "gpu-b", "gpu-a"
    spec = desired_pool(KEY, claims, name="wsx")
    assert spec is not None
    pool = {"name": "wsx", **pool_body(spec)}
    assert claim_names(pool) == ["gpu-b", "gpu-a"]
    assert owner_of(pool) == KEY


def test_claim_names_follow_a_count_changed_behind_our_back() -> None:
    pool: dict[str, Any] = {"name": "wsx", "properties": {"count": 3, "tags": {TAG_CLAIMS: "a,b"}}}
    assert claim_names(pool) == ["a", "b", "wsx-0"]
    pool["properties"]["count"] = 1
    assert claim_names(pool) == ["a"]


def test_an_update_keeps_the_pools_other_settings_and_drops_read_only_ones() -> None:
    spec = desired_pool(KEY, rendered_claims(count=2), name="wsx")
    assert spec is not None
    existing = {
        "name": "wsx",
        "properties": {
            **pool_body(spec)["properties"],
            "count": 1,
            "osDiskSizeGB": 128,
            "orchestratorVersion": "1.33.2",
            "provisioningState": "Succeeded",
            "nodeImageVersion": "AKSUbuntu-2204gen2containerd-2026.01.01",
            "tags": {"cost-center": "42"},
        },
    }
    assert needs_update(existing, spec)
    body = pool_body(spec, existing)["properties"]
    assert body["count"] == 2
    assert body["osDiskSizeGB"] == 128
    assert body["orchestratorVersion"] == "1.33.2"
    assert body["tags"]["cost-center"] == "42"
    assert "provisioningState" not in body
    assert "nodeImageVersion" not in body
    assert not needs_update({"properties": body}, spec)


def _pool(state: str, *, count: int = 2, error: dict[str, str] | None = None) -> dict[str, object]:
    spec = desired_pool(KEY, rendered_claims(count=count), name="wsx")
    assert spec is not None
    props = {**pool_body(spec)["properties"], "provisioningState": state}
    if error is not None:
        props["status"] = {"provisioningError": error}
    return {"name": "wsx", "properties": props}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("Creating", ("Unknown", "Unknown", "Unknown", "Unknown")),
        ("Scaling", ("Unknown", "Unknown", "Unknown", "Unknown")),
        ("Succeeded", ("True", "True", "True", "True")),
        ("Failed", ("False", "Unknown", "Unknown", "False")),
    ],
    ids=["creating", "scaling", "succeeded", "failed"],
)
def test_claim_conditions_from_the_pool_state_alone(state: str, expected: tuple[str, ...]) -> None:
    """Without Nodes, the pool's provisioningState decides (see the table in claims.py)."""
    claims = node_claims_of_pool(
        KEY, _pool(state), nodes=None, failure=None, now="2026-01-01T00:00:00Z"
    )
    assert len(claims) == 2
    for claim in claims:
        got = tuple(
            condition(claim, t)["status"]
            for t in ("Launched", "Registered", "Initialized", "Ready")
        )
        assert got == expected
        assert claim["apiVersion"] == "karpenter.sh/v1"
        assert claim["kind"] == "NodeClaim"
        assert "namespace" not in claim["metadata"]


def test_nodes_bind_in_name_order_and_the_rest_wait() -> None:
    """Claim i gets the i-th Node by name; a claim without a Node waits to register."""
    nodes = [
        {
            "metadata": {"name": "n-b"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    ]
    claims = node_claims_of_pool(
        KEY, _pool("Succeeded"), nodes=nodes, failure=None, now="2026-01-01T00:00:00Z"
    )
    assert claims[0]["status"]["nodeName"] == "n-b"
    assert condition(claims[0], "Ready")["status"] == "True"
    assert "nodeName" not in claims[1]["status"]
    assert condition(claims[1], "Registered")["reason"] == "AwaitingReconciliation"


def test_a_deleting_pool_gives_deleting_claims() -> None:
    claims = node_claims_of_pool(
        KEY,
        _pool("Deleting"),
        nodes=None,
        failure=None,
        now="2026-01-01T00:01:00Z",
        deleting_since="2026-01-01T00:00:00Z",
    )
    assert {c["metadata"]["deletionTimestamp"] for c in claims} == {"2026-01-01T00:00:00Z"}


def test_claims_look_like_the_rendered_ones_to_the_core() -> None:
    """Same names and the labels/instance type/taints the core's status logic reads."""
    rendered = rendered_claims(count=2)
    claims = node_claims_of_pool(
        KEY, _pool("Succeeded"), nodes=None, failure=None, now="2026-01-01T00:00:00Z"
    )
    assert [c["metadata"]["name"] for c in claims] == [c["metadata"]["name"] for c in rendered]
    for claim in claims:
        labels = claim["metadata"]["labels"]
        assert labels["kaito.sh/workspace"] == "phi"
        assert labels["node.kubernetes.io/instance-type"] == A100
        assert claim["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]


# -- kinds other than Workspace (a RAGEngine) ------------------------------------------------
RAG = Key("RAGEngine", "default", "phi")


def _rag_claims() -> list[dict[str, Any]]:
    """A RAGEngine's NodeClaim as its planner renders it (labels of the RAGEngine)."""
    claim = rendered_claims(count=1)[0]
    labels = claim["metadata"]["labels"]
    labels.pop("kaito.sh/workspace")
    labels.pop("kaito.sh/workspacenamespace")
    labels.update({"kaito.sh/ragengine": "phi", "kaito.sh/ragenginenamespace": "default"})
    claim["metadata"]["name"] = "rag0123456789"
    return [claim]


def test_a_workspace_pool_name_is_unchanged_and_other_kinds_are_keyed_by_kind() -> None:
    """Existing installs keep their Workspace pools; a RAGEngine of the same name gets its own
    (``ra`` + 10), as valid for AKS."""
    assert pool_name(KEY) == "ws5aapuxekg5"  # what every earlier release named it
    rag = pool_name(RAG)
    assert rag != pool_name(KEY)
    assert rag.startswith("ra")
    assert POOL_NAME_PATTERN.fullmatch(rag)
    assert len(rag) == 12
    assert pool_name(Key("RAGEngine", "default", "other")) != rag


def test_a_ragengine_pool_is_labelled_and_tagged_for_the_ragengine() -> None:
    """Its nodes carry the RAGEngine's labels (never a Workspace's: they would be counted as
    the same-named Workspace's nodes); its tags name the kind; `owner_of` reads both kinds."""
    spec = desired_pool(RAG, _rag_claims(), name=pool_name(RAG))
    assert spec is not None
    assert "kaito.sh/workspace" not in spec.node_labels
    assert (
        spec.node_labels["kaito.sh/ragengine"],
        spec.node_labels["kaito.sh/ragenginenamespace"],
    ) == (
        "phi",
        "default",
    )
    assert {k: spec.tags[k] for k in ("kaito-kind", "kaito-name", "kaito-namespace")} == {
        "kaito-kind": "RAGEngine",
        "kaito-name": "phi",
        "kaito-namespace": "default",
    }
    assert "kaito-workspace" not in spec.tags
    assert owner_of(pool_body(spec)) == RAG
    workspace = desired_pool(KEY, rendered_claims(), name=pool_name(KEY))
    assert workspace is not None
    assert "kaito-kind" not in workspace.tags
    assert owner_of(pool_body(workspace)) == KEY
    broken = pool_body(spec)
    del broken["properties"]["tags"]["kaito-name"]
    assert owner_of(broken) is None


def test_the_claims_of_a_ragengine_pool_carry_its_labels() -> None:
    """The NodeClaims `observe` synthesizes name the RAGEngine, not a Workspace."""
    spec = desired_pool(RAG, _rag_claims(), name=pool_name(RAG))
    assert spec is not None
    pool = {"name": pool_name(RAG), **pool_body(spec)}
    pool["properties"]["provisioningState"] = "Succeeded"
    (claim,) = node_claims_of_pool(RAG, pool, nodes=None, failure=None, now="2026-01-01T00:00:00Z")
    labels = claim["metadata"]["labels"]
    assert labels["kaito.sh/ragengine"] == "phi"
    assert "kaito.sh/workspace" not in labels
