"""`node_conditions`: NodeClaimReady, NodesReady and ResourceReady (upstream's provisioner
``CollectNodeStatusInfo`` and ``EnsureNodesReady``)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kaito_core import testing as kt
from kaito_core.api.types import Condition
from kaito_core.conditions import MAX_MESSAGE_LENGTH
from kaito_core.observed import Manifest, Observed
from kaito_core.status import node_conditions, worker_nodes

WS = "phi"
IT = kt.DEFAULT_INSTANCE_TYPE


def gpu_node(name: str = "gpu-0", **kwargs: object) -> Manifest:
    """A node a provisioner made for the workspace (workspace labels + matchLabels)."""
    return kt.node(name, workspace=WS, labels={"apps": WS}, **kwargs)  # type: ignore[arg-type]


def claim(name: str = "ws-0", node: str | None = "gpu-0", **kwargs: object) -> Manifest:
    return kt.node_claim(name, workspace=WS, node_name=node, **kwargs)  # type: ignore[arg-type]


def launched(status: str, reason: str, message: str) -> Manifest:
    return kt.kube_condition("Launched", status, reason, message)


def conditions(
    *,
    nodes: Sequence[Manifest] = (),
    claims: Sequence[Manifest] = (),
    target: int = 1,
    provisioner: str = "karpenter",
    instance_type: str | None = IT,
    provision_error: str | None = None,
) -> dict[str, Condition]:
    got = node_conditions(
        workspace=kt.workspace(WS),
        observed=Observed(
            nodes=tuple(nodes), node_claims=tuple(claims), provision_error=provision_error
        ),
        target_nodes=target,
        provisioner=provisioner,
        instance_type=instance_type,
    )
    assert [c.type for c in got] == sorted(c.type for c in got)
    return {c.type: c for c in got}


def brief(conds: dict[str, Condition]) -> dict[str, tuple[str, str | None]]:
    return {t: (c.status, c.reason) for t, c in conds.items()}


READY = {
    "NodeClaimReady": ("True", "NodeClaimsReady"),
    "NodesReady": ("True", "NodesReady"),
    "ResourceReady": ("True", "workspaceResourceStatusSuccess"),
}
NODES_NOT_READY = {
    "NodeClaimReady": ("True", "NodeClaimsReady"),
    "NodesReady": ("False", "NodeNotReady"),
    "ResourceReady": ("False", "NodeNotReady"),
}
CLAIMS_NOT_READY = {
    "NodeClaimReady": ("False", "NodeClaimNotReady"),
    "NodesReady": ("False", "NodeNotReady"),
    "ResourceReady": ("False", "NodeClaimNotReady"),
}
PLUGINS = {
    "NodeClaimReady": ("True", "NodeClaimsReady"),
    "NodesReady": ("False", "NodePluginsNotReady"),
    "ResourceReady": ("False", "NodePluginsNotReady"),
}


@pytest.mark.parametrize(
    ("nodes", "claims", "target", "want"),
    [
        pytest.param([gpu_node()], [claim()], 1, READY, id="one ready node and claim"),
        pytest.param(
            [gpu_node("gpu-0"), gpu_node("gpu-1")],
            [claim("ws-0", "gpu-0"), claim("ws-1", "gpu-1")],
            2,
            READY,
            id="two of two",
        ),
        pytest.param([], [], 1, CLAIMS_NOT_READY, id="nothing yet"),
        pytest.param([], [claim(node=None, ready=False)], 1, CLAIMS_NOT_READY, id="claim pending"),
        pytest.param(
            [gpu_node()],
            [claim(ready=None)],
            1,
            READY,
            id="claim without Ready condition but bound to a node is ready",
        ),
        pytest.param(
            [gpu_node()],
            [claim(ready=True, deleting=True)],
            1,
            CLAIMS_NOT_READY | {"NodesReady": ("True", "NodesReady")},
            id="deleting claim does not count",
        ),
        pytest.param([gpu_node(ready=False)], [claim()], 1, NODES_NOT_READY, id="node not Ready"),
        pytest.param([gpu_node(deleting=True)], [claim()], 1, NODES_NOT_READY, id="node deleting"),
        pytest.param(
            [gpu_node(instance_type="Standard_NV36ads_A10_v5")],
            [claim()],
            1,
            NODES_NOT_READY,
            id="node of another instance type does not count",
        ),
        pytest.param(
            [kt.node("gpu-0", workspace=WS)],
            [claim()],
            1,
            NODES_NOT_READY,
            id="node without the matchLabels does not count",
        ),
        pytest.param(
            [gpu_node(gpus=None)], [claim()], 1, PLUGINS, id="NodePluginsNotReady no GPU capacity"
        ),
        pytest.param([gpu_node(gpus=0)], [claim()], 1, PLUGINS, id="NodePluginsNotReady zero GPUs"),
        pytest.param(
            [gpu_node(gpu_resource="amd.com/gpu")],
            [claim()],
            1,
            READY,
            id="amd GPU capacity counts",
        ),
        pytest.param(
            [gpu_node("gpu-0"), kt.node("byo-1", labels={"apps": WS})],
            [claim("ws-0", "gpu-0"), claim("ws-1", None, ready=False)],
            2,
            PLUGINS,
            id="extra claim without a node keeps plugins waiting",
        ),
        pytest.param(
            [kt.node("byo-0", labels={"apps": WS})],
            [],
            1,
            READY,
            id="ready BYO node of the right type covers the target without claims",
        ),
        pytest.param(
            [
                kt.node("pool-0", labels={"apps": WS, "karpenter.sh/nodepool": "other"}),
            ],
            [],
            1,
            CLAIMS_NOT_READY | {"NodesReady": ("True", "NodesReady")},
            id="a node some NodePool made is not a BYO node",
        ),
    ],
)
def test_node_conditions(
    nodes: list[Manifest],
    claims: list[Manifest],
    target: int,
    want: dict[str, tuple[str, str]],
) -> None:
    """Readiness of claims, nodes and GPU plugins, and ResourceReady derived from them."""
    assert brief(conditions(nodes=nodes, claims=claims, target=target)) == want


@pytest.mark.parametrize(
    ("claims", "reason", "message"),
    [
        pytest.param(
            [
                claim(
                    node=None,
                    ready=False,
                    conditions=[
                        launched(
                            "False",
                            "LaunchFailed",
                            "creating instance, insufficient capacity, all requested instance "
                            "types were unavailable during launch",
                        )
                    ],
                )
            ],
            "LaunchFailed",
            "NodeClaim ws-0 not Launched: creating instance, insufficient capacity, all "
            "requested instance types were unavailable during launch",
            id="NodeClaim launch failure message",
        ),
        pytest.param(
            [
                claim(
                    "ws-0",
                    None,
                    ready=False,
                    conditions=[
                        launched(
                            "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation"
                        )
                    ],
                ),
                claim(
                    "ws-1",
                    None,
                    ready=False,
                    conditions=[
                        launched("True", "Launched", ""),
                        kt.kube_condition(
                            "Registered", "False", "RegistrationFailed", "kubelet down"
                        ),
                    ],
                ),
            ],
            "RegistrationFailed",
            "NodeClaim ws-1 not Registered: kubelet down",
            id="a real error beats AwaitingReconciliation",
        ),
        pytest.param(
            [
                claim(
                    "ws-0",
                    None,
                    ready=False,
                    conditions=[
                        launched("True", "Launched", ""),
                        kt.kube_condition("Registered", "False", "RegistrationFailed", "slow"),
                    ],
                ),
                claim(
                    "ws-1",
                    None,
                    ready=False,
                    conditions=[launched("False", "LaunchFailed", "quota")],
                ),
            ],
            "LaunchFailed",
            "NodeClaim ws-1 not Launched: quota",
            id="the earliest stage wins",
        ),
        pytest.param(
            [
                claim(
                    node=None,
                    ready=False,
                    conditions=[
                        launched(
                            "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation"
                        )
                    ],
                )
            ],
            "NodeClaimNotReady",
            "NodeClaim ws-0 not Launched: object is awaiting reconciliation",
            id="awaiting reconciliation alone keeps the generic reason",
        ),
        pytest.param(
            [claim(node=None, ready=False, conditions=[launched("False", "LaunchFailed", "")])],
            "NodeClaimNotReady",
            "Ready NodeClaims are not enough",
            id="a condition without a message is skipped",
        ),
    ],
)
def test_node_claim_failure_message(claims: list[Manifest], reason: str, message: str) -> None:
    """NodeClaimReady (and ResourceReady) carry the earliest failing lifecycle condition."""
    conds = conditions(claims=claims)
    assert (conds["NodeClaimReady"].reason, conds["NodeClaimReady"].message) == (reason, message)
    assert (conds["ResourceReady"].reason, conds["ResourceReady"].message) == (reason, message)


def test_node_claim_message_is_capped() -> None:
    """A huge NodeClaim message keeps its first 256 characters and ends in '...', as upstream."""
    big = claim(node=None, ready=False, conditions=[launched("False", "LaunchFailed", "x" * 900)])
    msg = conditions(claims=[big])["NodeClaimReady"].message or ""
    assert msg.startswith("NodeClaim ")
    assert len(msg) == MAX_MESSAGE_LENGTH + 3 == 259
    assert msg.endswith("x...")


def test_provision_error_quota_message() -> None:
    """The provisioner's refusal shows on ResourceReady as InsufficientCapacity."""
    quota = "Operation could not be completed as it results in exceeding approved NCADSA100v4 quota"
    conds = conditions(claims=[], provision_error=quota)
    assert (conds["ResourceReady"].status, conds["ResourceReady"].reason) == (
        "False",
        "InsufficientCapacity",
    )
    assert conds["ResourceReady"].message == quota
    ready = conditions(nodes=[gpu_node()], claims=[claim()], provision_error=quota)
    assert ready["ResourceReady"].status == "True"


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        pytest.param(None, "InsufficientCapacity", id="no-reason"),
        pytest.param("InsufficientCapacity", "InsufficientCapacity", id="capacity"),
        pytest.param("QuotaExceeded", "QuotaExceeded", id="quota-pre-flight"),
    ],
)
def test_provision_error_is_shown_with_the_provisioners_reason(
    reason: str | None, shown: str
) -> None:
    """ResourceReady carries `provision_reason` (a quota pre-flight's QuotaExceeded) verbatim."""
    message = "1 x Standard_NC24ads_A100_v4 need 24 vCPUs; quota cores is short"
    got = node_conditions(
        workspace=kt.workspace(WS),
        observed=Observed(provision_error=message, provision_reason=reason),
        target_nodes=1,
        provisioner="azure-gpu-provisioner",
        instance_type=IT,
    )
    resource = {c.type: c for c in got}["ResourceReady"]
    assert (resource.status, resource.reason, resource.message) == ("False", shown, message)


@pytest.mark.parametrize(
    ("provisioner", "nodes_message"),
    [
        pytest.param("karpenter", "Enough Nodes are ready with GPU resources", id="karpenter"),
        pytest.param("azure-gpu-provisioner", "Enough Nodes are ready", id="gpu-provisioner"),
    ],
)
def test_ready_messages(provisioner: str, nodes_message: str) -> None:
    """Upstream's True messages, per provisioner."""
    conds = conditions(nodes=[gpu_node()], claims=[claim()], provisioner=provisioner)
    assert conds["NodesReady"].message == nodes_message
    assert conds["NodeClaimReady"].message == "Enough NodeClaims are ready"
    assert conds["ResourceReady"].message == "workspace resource is ready"


def test_default_false_messages() -> None:
    """Upstream's generic False messages when nothing more specific is known."""
    conds = conditions()
    assert conds["NodeClaimReady"].message == "Ready NodeClaims are not enough"
    assert conds["NodesReady"].message == "Not enough Nodes are ready"
    assert conds["ResourceReady"].message == "Ready NodeClaims are not enough"


def test_plugin_message_names_the_node() -> None:
    """NodePluginsNotReady says which node lacks GPU capacity."""
    conds = conditions(nodes=[gpu_node(gpus=0)], claims=[claim()])
    assert conds["NodesReady"].message == (
        "waiting all node plugins to be ready (node gpu-0 has no GPU capacity (nvidia.com/gpu))"
    )


def test_pressure_warning_is_appended() -> None:
    """Nodes under pressure are named on NodesReady, ready or not."""
    nodes = [
        gpu_node("gpu-0", pressure=["MemoryPressure", "DiskPressure"]),
        gpu_node("gpu-1", pressure=["PIDPressure"]),
    ]
    conds = conditions(nodes=nodes, claims=[claim()])
    assert conds["NodesReady"].status == "True"
    assert conds["NodesReady"].message == (
        "Enough Nodes are ready with GPU resources; warning: worker node(s) under resource "
        "pressure: gpu-0 (DiskPressure, MemoryPressure); gpu-1 (PIDPressure)"
    )
    waiting = conditions(nodes=[gpu_node(ready=False, pressure=["DiskPressure"])], claims=[claim()])
    assert waiting["NodesReady"].message == (
        "Not enough Nodes are ready; warning: worker node(s) under resource pressure: "
        "gpu-0 (DiskPressure)"
    )


@pytest.mark.parametrize(
    ("nodes", "target", "want"),
    [
        pytest.param(
            [kt.node("mine", labels={"apps": WS}, instance_type=None, gpus=None)],
            1,
            {
                "NodesReady": ("True", "NodesReady"),
                "ResourceReady": ("True", "workspaceResourceStatusSuccess"),
            },
            id="BYO ignores instance type and GPU capacity",
        ),
        pytest.param(
            [kt.node("mine", labels={"apps": WS}, ready=False)],
            1,
            {"NodesReady": ("False", "NodeNotReady"), "ResourceReady": ("False", "NodeNotReady")},
            id="BYO node not ready",
        ),
        pytest.param(
            [kt.node("a", labels={"apps": WS}), kt.node("b", labels={"apps": "other"})],
            2,
            {"NodesReady": ("False", "NodeNotReady"), "ResourceReady": ("False", "NodeNotReady")},
            id="BYO counts only nodes matching the labels",
        ),
    ],
)
def test_byo_condition_set(
    nodes: list[Manifest], target: int, want: dict[str, tuple[str, str]]
) -> None:
    """BYO reports NodesReady and ResourceReady only, counting matching Ready nodes."""
    conds = conditions(nodes=nodes, target=target, provisioner="byo")
    assert brief(conds) == want


def test_worker_nodes_selectors() -> None:
    """workerNodes use matchLabels plus the provisioner's workspace labels (none for BYO)."""
    observed = Observed(
        nodes=(
            gpu_node("gpu-1", ready=False),
            gpu_node("gpu-0"),
            kt.node("byo", labels={"apps": WS}),
            kt.node("foreign", workspace=WS, labels={"apps": "other"}),
        )
    )
    ws = kt.workspace(WS)
    assert worker_nodes(workspace=ws, observed=observed, provisioner="karpenter") == (
        "gpu-0",
        "gpu-1",
    )
    assert worker_nodes(workspace=ws, observed=observed, provisioner="byo") == (
        "byo",
        "gpu-0",
        "gpu-1",
    )
