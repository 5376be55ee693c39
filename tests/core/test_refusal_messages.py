"""A capacity or quota refusal reaches the NodeClaimReady condition whole; other NodeClaim
diagnoses are cut at 256 bytes as upstream cuts them."""

from __future__ import annotations

import pytest

from kaito_core.conditions import MAX_MESSAGE_LENGTH, diagnosis_message
from kaito_core.observed import Observed
from kaito_core.status import node_conditions
from kaito_core.testing import kube_condition, node_claim, workspace

QUOTA = (
    "creating instance: insufficient capacity: Operation could not be completed as it results in "
    "exceeding approved standardNCadsFamily Cores quota. Additional details - Deployment Model: "
    "Resource Manager, Location: eastus2, Current Limit: 0, Current Usage: 0, Additional "
    "Required: 24, (Minimum) New Limit Required: 24. Submit a request for Quota increase at "
    "https://aka.ms/ProdportalCRP"
)


@pytest.mark.parametrize(
    ("reason", "whole"),
    [("InsufficientCapacity", True), ("QuotaExceeded", True), ("LaunchFailed", False)],
)
def test_diagnosis_message(reason: str, whole: bool) -> None:
    message = diagnosis_message(reason, QUOTA)
    if whole:
        assert message == QUOTA
    else:
        assert message == QUOTA[:MAX_MESSAGE_LENGTH] + "..."


@pytest.mark.parametrize(("reason", "whole"), [("InsufficientCapacity", True), ("Other", False)])
def test_node_claim_ready_keeps_a_refusal_whole(reason: str, whole: bool) -> None:
    claim = node_claim(
        "ws-0",
        workspace="ws",
        ready=False,
        conditions=[kube_condition("Launched", False, reason, QUOTA)],
    )
    found = node_conditions(
        workspace=workspace(),
        observed=Observed(node_claims=(claim,)),
        target_nodes=1,
        provisioner="karpenter",
        instance_type="Standard_NC24ads_A100_v4",
    )
    (claims,) = [c for c in found if c.type == "NodeClaimReady"]
    assert claims.reason == reason
    assert (claims.message or "").endswith("https://aka.ms/ProdportalCRP") is whole
