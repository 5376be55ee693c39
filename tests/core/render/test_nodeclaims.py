"""NodeClaims and the per-workspace NodePool: upstream's node_claim_test and nodepool_test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.api.types import Workspace
from kaito_core.errors import SpecError
from kaito_core.gpu import GpuConfig
from kaito_core.render.context import RenderContext
from kaito_core.render.nodeclaims import (
    node_claim_names,
    node_claims,
    node_image_family,
    node_pool,
    node_pool_name,
)
from kaito_presets.testing import make_model, make_sku, make_tuning

CRD = Path(__file__).resolve().parents[2] / "data" / "crds" / "karpenter.sh_nodeclaims.yaml"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
IT = "Standard_NC24ads_A100_v4"


def _schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


SCHEMA = _schema()


def assert_valid_claim(claim: dict[str, Any]) -> None:
    """JSON-schema valid, plus the CEL rules jsonschema cannot check."""
    jsonschema.validate(claim, SCHEMA)
    ref = claim["spec"]["nodeClassRef"]
    assert ref["group"]
    assert ref["kind"]
    assert ref["name"]
    for req in claim["spec"]["requirements"]:
        if req["operator"] == "In":
            assert req["values"]
        if req["operator"] in ("Gt", "Lt"):
            assert len(req["values"]) == 1
            assert int(req["values"][0]) >= 0
    assert DNS_SUBDOMAIN.match(claim["metadata"]["name"])
    assert "namespace" not in claim["metadata"], "NodeClaims are cluster-scoped"


def workspace(
    *,
    name: str = "ws1",
    namespace: str = "kaito",
    tuning: bool = False,
    match_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    instance_type: str | None = IT,
) -> Workspace:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    resource: dict[str, Any] = {"labelSelector": {"matchLabels": match_labels or {"apps": "phi-3"}}}
    if instance_type:
        resource["instanceType"] = instance_type
    manifest: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": meta,
        "resource": resource,
    }
    if tuning:
        manifest["tuning"] = {
            "preset": {"name": "tiny-model-8b"},
            "method": "lora",
            "input": {"urls": ["https://example.com/data.parquet"]},
            "output": {"image": "example.azurecr.io/out:1", "imagePushSecret": "push"},
        }
    else:
        manifest["inference"] = {"preset": {"name": "tiny-model-8b"}}
    return Workspace.from_manifest(manifest).with_defaults()


def context(ws: Workspace | None = None, **overrides: Any) -> RenderContext:
    ws = ws or workspace()
    fields: dict[str, Any] = {
        "workspace": ws,
        "model": make_model(tuning=make_tuning()),
        "gpu": GpuConfig.from_sku(make_sku()),
        "node_count": 2,
    }
    fields.update(overrides)
    return RenderContext(**fields)


# --- names ------------------------------------------------------------------------------------


def test_names_are_deterministic_and_indexed() -> None:
    """The same workspace always gets the same names: ws + 9 hex + -index."""
    ws = workspace()
    names = node_claim_names(ws, 3)
    assert names == node_claim_names(ws, 3)
    assert [n.rsplit("-", 1)[1] for n in names] == ["0", "1", "2"]
    assert re.fullmatch(r"ws[0-9a-f]{9}-0", names[0])


def test_names_differ_per_workspace() -> None:
    """Namespace and name both enter the hash."""
    a = node_claim_names(workspace(name="a", namespace="b"), 1)
    b = node_claim_names(workspace(name="b", namespace="a"), 1)
    assert a != b


dns_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


@given(namespace=dns_label, name=dns_label, count=st.integers(0, 30), grow=st.integers(0, 30))
def test_names_valid_unique_and_stable_as_count_grows(
    namespace: str, name: str, count: int, grow: int
) -> None:
    """Any names, any count: DNS labels <= 63, unique, and claim i keeps its name as count grows."""
    ws = Workspace.from_manifest(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": name, "namespace": namespace},
        }
    )
    names = node_claim_names(ws, count)
    assert len(set(names)) == count
    assert all(len(n) <= 63 and DNS_LABEL.match(n) for n in names)
    assert node_claim_names(ws, count + grow)[:count] == names


def test_negative_count_is_rejected() -> None:
    """A negative count is a programming error."""
    with pytest.raises(ValueError, match="negative"):
        node_claim_names(workspace(), -1)


# --- claims -----------------------------------------------------------------------------------


def test_azure_claim_shape() -> None:
    """Labels, annotations, node class, taints, sorted requirements and storage, per §3.5."""
    claims = node_claims(context())
    assert len(claims) == 2
    claim = claims[0]
    assert_valid_claim(claim)
    assert claim["apiVersion"] == "karpenter.sh/v1"
    assert claim["kind"] == "NodeClaim"
    assert claim["metadata"]["labels"] == {
        "apps": "phi-3",
        "kaito.sh/workspace": "ws1",
        "kaito.sh/workspacenamespace": "kaito",
        "karpenter.sh/nodepool": "kaito",
    }
    assert claim["metadata"]["annotations"] == {
        "kaito.sh/node-image-family": "ubuntu",
        "karpenter.sh/do-not-disrupt": "true",
    }
    spec = claim["spec"]
    assert spec["nodeClassRef"] == {
        "group": "kaito.sh",
        "kind": "KaitoNodeClass",
        "name": "default",
    }
    assert spec["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    assert spec["requirements"] == [
        {"key": "karpenter.azure.com/sku-name", "operator": "In", "values": [IT]},
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["kaito"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [IT]},
    ]
    assert spec["resources"] == {"requests": {"storage": "88Gi"}}
    assert [c["metadata"]["name"] for c in claims] == node_claim_names(context().workspace, 2)


def test_aws_node_class_ref() -> None:
    """AWS: EC2NodeClass of karpenter.k8s.aws, a GPU-count requirement, no Azure SKU label."""
    claim = node_claims(context(cloud="aws"))[0]
    assert_valid_claim(claim)
    assert claim["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "default",
    }
    keys = [r["key"] for r in claim["spec"]["requirements"]]
    assert "karpenter.azure.com/sku-name" not in keys
    assert {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]} in (
        claim["spec"]["requirements"]
    )


def test_unknown_cloud_still_has_a_valid_node_class() -> None:
    """Upstream sends empty kind/group (rejected by the CRD); we fall back to KaitoNodeClass."""
    claim = node_claims(context(cloud="fake"))[0]
    assert_valid_claim(claim)
    assert claim["spec"]["nodeClassRef"]["kind"] == "KaitoNodeClass"


@pytest.mark.parametrize(
    ("tuning", "model", "storage"),
    [
        pytest.param(False, make_model(tuning=make_tuning()), "88Gi", id="inference-preset-disk"),
        pytest.param(True, make_model(tuning=make_tuning()), "1024Gi", id="tuning-uses-default"),
        pytest.param(False, None, "1024Gi", id="no-preset-uses-default-disk"),
        pytest.param(True, make_model(), "1024Gi", id="tuning-without-tuning-facts"),
    ],
)
def test_storage_request(tuning: bool, model: Any, storage: str) -> None:
    """As upstream: an inference preset's disk, else 1024Gi (tuning nodes too)."""
    claim = node_claims(context(workspace(tuning=tuning), model=model))[0]
    assert_valid_claim(claim)
    assert claim["spec"]["resources"]["requests"]["storage"] == storage


def test_byo_gets_no_claims() -> None:
    """Bring-your-own nodes: nothing to provision."""
    assert node_claims(context(provisioner="byo")) == []


def test_zero_nodes_gets_no_claims() -> None:
    """A node count of zero renders nothing."""
    assert node_claims(context(node_count=0)) == []


def test_reserved_match_labels_are_stripped() -> None:
    """KAITO's own label keys in matchLabels never overwrite the workspace labels."""
    ws = workspace(match_labels={"app": "x", "kaito.sh/workspace": "evil"})
    labels = node_claims(context(ws))[0]["metadata"]["labels"]
    assert labels["kaito.sh/workspace"] == "ws1"
    assert labels["app"] == "x"


def test_instance_type_required() -> None:
    """No instance type and no SKU: a SpecError on spec.resource.instanceType."""
    ctx = context(workspace(instance_type=None), gpu=None)
    with pytest.raises(SpecError) as info:
        node_claims(ctx)
    assert info.value.path == "spec.resource.instanceType"


@pytest.mark.parametrize(
    ("annotation", "default", "expected"),
    [
        pytest.param(None, None, "ubuntu", id="nothing-set"),
        pytest.param(None, "", "ubuntu", id="empty-default"),
        pytest.param("azurelinux", None, "azurelinux", id="annotation"),
        pytest.param(" AzureLinux ", None, "azurelinux", id="annotation-case-and-space"),
        pytest.param("ubuntu", "azurelinux", "ubuntu", id="annotation-beats-default"),
        pytest.param("windows", "azurelinux", "azurelinux", id="invalid-annotation-uses-default"),
        pytest.param("Ubuntu", "CustomLinux", "ubuntu", id="valid-annotation-invalid-default"),
        pytest.param("windows", None, "ubuntu", id="invalid-annotation-no-default"),
        pytest.param("CustomLinux", "CustomLinux", None, id="both-invalid-no-annotation"),
        pytest.param(None, "centos", None, id="invalid-default-only"),
        pytest.param(None, "AzureLinux", "azurelinux", id="default-only"),
    ],
)
def test_node_image_family_precedence(
    annotation: str | None, default: str | None, expected: str | None
) -> None:
    """As upstream: the workspace annotation if valid; else ubuntu without a default, the default
    if valid, and no annotation at all when the default is set but unsupported."""
    annotations = {"kaito.sh/node-image-family": annotation} if annotation else {}
    assert node_image_family(annotations, default=default) == expected
    ws = workspace(annotations=annotations or None)
    claim = node_claims(context(ws), default_image_family=default)[0]
    assert claim["metadata"]["annotations"].get("kaito.sh/node-image-family") == expected
    assert claim["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"


def test_claims_are_byte_identical_across_runs() -> None:
    """Same context, same JSON."""
    assert json.dumps(node_claims(context())) == json.dumps(node_claims(context()))


# --- NodePool ---------------------------------------------------------------------------------


def test_node_pool_name_short() -> None:
    """<ns>-<name> when it fits."""
    assert node_pool_name("default", "phi") == "default-phi"


def test_node_pool_name_over_63_is_truncated() -> None:
    """Past 63 characters: 53 characters, a dash and 9 hex of the full name's hash."""
    ns, name = "n" * 30, "w" * 40
    result = node_pool_name(ns, name)
    assert len(result) == 63
    assert result.startswith(f"{ns}-{name}"[:53] + "-")
    assert re.fullmatch(r"[0-9a-f]{9}", result[54:])
    assert result == node_pool_name(ns, name)
    assert result != node_pool_name(ns, name + "x")


@given(namespace=dns_label, name=dns_label)
def test_node_pool_name_always_dns_valid(namespace: str, name: str) -> None:
    """Any namespace and name give a DNS label of at most 63 characters."""
    result = node_pool_name(namespace, name)
    assert len(result) <= 63
    assert DNS_LABEL.match(result)


def test_node_pool_shape() -> None:
    """Labels, template, requirements, taints, disruption and replicas, per controller.md §4."""
    pool = node_pool(context())
    assert pool["apiVersion"] == "karpenter.sh/v1"
    assert pool["kind"] == "NodePool"
    assert pool["metadata"] == {
        "name": "kaito-ws1",
        "labels": {
            "karpenter.kaito.sh/managed-by": "kaito",
            "karpenter.kaito.sh/workspace-name": "ws1",
            "karpenter.kaito.sh/workspace-namespace": "kaito",
        },
    }
    spec = pool["spec"]
    assert spec["replicas"] == 2
    template = spec["template"]
    assert template["metadata"]["labels"] == {
        "apps": "phi-3",
        "kaito.sh/workspace": "ws1",
        "kaito.sh/workspacenamespace": "kaito",
        "karpenter.kaito.sh/workspace-name": "ws1",
        "karpenter.kaito.sh/workspace-namespace": "kaito",
    }
    assert template["spec"]["nodeClassRef"] == {
        "group": "karpenter.azure.com",
        "kind": "AKSNodeClass",
        "name": "default",
    }
    assert template["spec"]["requirements"] == [
        {"key": "karpenter.azure.com/placement-scope", "operator": "In", "values": ["regional"]},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [IT]},
    ]
    assert template["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    assert spec["disruption"] == {
        "consolidateAfter": "0s",
        "budgets": [{"nodes": "1", "reasons": ["Drifted"]}],
    }
    for req in template["spec"]["requirements"]:
        assert re.match(
            SCHEMA["properties"]["spec"]["properties"]["requirements"]["items"]["properties"][
                "key"
            ]["pattern"],
            req["key"],
        )


def test_node_pool_inference_set_child() -> None:
    """An InferenceSet child blocks drift (budget 0) and carries the InferenceSet labels."""
    ws = workspace(labels={"inferenceset.kaito.sh/created-by": "iset"})
    pool = node_pool(context(ws))
    assert pool["spec"]["disruption"]["budgets"] == [{"nodes": "0", "reasons": ["Drifted"]}]
    assert pool["metadata"]["labels"]["karpenter.kaito.sh/inferenceset"] == "iset"
    assert pool["metadata"]["labels"]["karpenter.kaito.sh/inferenceset-namespace"] == "kaito"
    assert pool["spec"]["template"]["metadata"]["labels"]["karpenter.kaito.sh/inferenceset"] == (
        "iset"
    )


def test_node_pool_node_class_and_replicas_overrides() -> None:
    """The node-class annotation picks the class; the backend's replicas win over node_count."""
    ws = workspace(annotations={"kaito.sh/node-class-name": "gpu-class"})
    pool = node_pool(
        context(ws),
        replicas=1,
        node_class_group="karpenter.k8s.aws",
        node_class_kind="EC2NodeClass",
    )
    assert pool["spec"]["replicas"] == 1
    assert pool["spec"]["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "gpu-class",
    }
    keys = [r["key"] for r in pool["spec"]["template"]["spec"]["requirements"]]
    assert keys == ["node.kubernetes.io/instance-type"]
