"""One spelling of an instance type from validation to status: the catalog's.

The webhook accepts an instance type in any case; nodes carry the catalog's spelling
(``Standard_NC24ads_A100_v4``). What is rendered, provisioned, summarised and matched against
nodes must use that spelling, or a Workspace never counts its own nodes.
"""

from __future__ import annotations

import pytest

from kaito_core.observed import Observed
from kaito_core.plan import plan
from kaito_core.ragengine import plan_ragengine
from kaito_core.testing import node, node_claim, workspace
from kaito_presets import default_catalog
from tests.ragengine.support import rag_manifest

CATALOG = default_catalog()
NOW = "2026-01-01T00:00:00Z"
CANONICAL = "Standard_NC24ads_A100_v4"


def _requirement_values(claim: dict[str, object]) -> set[str]:
    spec = claim["spec"]
    assert isinstance(spec, dict)
    return {v for r in spec["requirements"] for v in r["values"]}


@pytest.mark.parametrize(
    "spelling",
    ["standard_nc24ads_a100_v4", "STANDARD_NC24ADS_A100_V4", CANONICAL],
    ids=["lower", "upper", "canonical"],
)
def test_node_claims_and_summary_use_the_catalogs_spelling(spelling: str) -> None:
    outcome = plan(workspace(instance_type=spelling), observed=Observed(), catalog=CATALOG, now=NOW)
    assert outcome.error is None
    (claim,) = outcome.node_claims
    assert CANONICAL in _requirement_values(claim)
    assert spelling == CANONICAL or spelling not in _requirement_values(claim)
    assert outcome.summary is not None
    assert outcome.summary.instance_type == CANONICAL


def test_a_lowercase_workspace_counts_its_canonical_nodes() -> None:
    """The node the provisioner made (labelled Standard_NC24ads_A100_v4) is ready for it."""
    ws = workspace(instance_type="standard_nc24ads_a100_v4")
    first = plan(ws, observed=Observed(), catalog=CATALOG, now=NOW)
    (claim,) = first.node_claims
    name = claim["metadata"]["name"]
    observed = Observed(
        node_claims=(node_claim(name, workspace="ws", node_name=name),),
        nodes=(node(name, instance_type=CANONICAL, workspace="ws", labels={"apps": "ws"}),),
    )
    outcome = plan(ws, observed=observed, catalog=CATALOG, now=NOW)
    conditions = {c.type: c for c in outcome.status.conditions or ()}
    assert conditions["NodesReady"].status == "True", conditions["NodesReady"].message
    assert conditions["ResourceReady"].status == "True"


def test_an_unknown_instance_type_is_left_as_written() -> None:
    """Nothing to canonicalise: the plan fails with the name the user wrote."""
    outcome = plan(
        workspace(instance_type="standard_nope_v9"), observed=Observed(), catalog=CATALOG, now=NOW
    )
    assert outcome.error is not None
    assert "standard_nope_v9" in outcome.error.message


def test_ragengine_node_claim_uses_the_catalogs_spelling() -> None:
    from kaito_core.api import RAGEngine

    manifest = rag_manifest(
        compute={
            "instanceType": "standard_nc24ads_a100_v4",
            "labelSelector": {"matchLabels": {"apps": "rag"}},
        }
    )
    outcome = plan_ragengine(
        RAGEngine.from_manifest(manifest), observed=Observed(), catalog=CATALOG, now=NOW
    )
    assert outcome.error is None
    (claim,) = outcome.node_claims
    assert CANONICAL in _requirement_values(claim)
    assert "standard_nc24ads_a100_v4" not in _requirement_values(claim)
