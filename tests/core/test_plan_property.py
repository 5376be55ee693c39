"""Properties of `plan` over generated Workspaces and observed states.

Applying an Outcome the way the API server would (`ApiServer`: server defaults, refused
immutable updates, deletions) and planning again converges: nothing more to apply or delete,
the status stays equal, and no Event is recorded. This holds from an empty namespace and from
the converged children of a *different* spec of the same Workspace (an update).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import kaito_core.plan as plan_module
from kaito_core.observed import Manifest
from kaito_core.plan import PlanSettings, plan
from tests.core.test_plan_support import (
    CATALOG,
    NOW,
    ApiServer,
    converge,
    materialize,
    ready_node,
    settings_strategy,
    workspace_manifests,
)

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("PLAN_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
Spec = tuple[dict[str, Any], dict[str, Manifest]]


def _assert_converged_and_quiet(
    spec: Spec, server: ApiServer, plan_settings: PlanSettings, nodes: tuple[Manifest, ...] = ()
) -> None:
    doc, config_maps = spec
    ws = materialize(doc)
    writes = len(server.writes)
    last = converge(ws, server, settings=plan_settings, config_maps=config_maps, nodes=nodes)
    deletes = sorted({w[1].split("/")[0] for w in server.writes[writes:] if w[0] == "delete"})
    event(f"deleted: {', '.join(deletes) or 'nothing'}")
    event(f"error: {last.error.reason if last.error else 'none'}")
    assert last.apply == ()
    assert last.delete == ()
    if last.error is not None:
        assert last.desired == ()
        assert last.node_claims == ()
        return
    # the engine wrote `last.status`; planning again with it changes and says nothing
    settled = attrs.evolve(ws, status=last.status)
    observed = server.observed(config_maps=config_maps, nodes=nodes)
    again = plan(settled, observed=observed, catalog=CATALOG, now=NOW, settings=plan_settings)
    assert again.apply == ()
    assert again.delete == ()
    assert again.status == last.status
    assert again.events == ()
    assert again.requeue_after is None
    # and the same decision from a cold render memo
    plan_module._RENDER_CACHE.clear()
    cold = plan(settled, observed=observed, catalog=CATALOG, now=NOW, settings=plan_settings)
    assert json.dumps([*cold.node_claims, *cold.desired]) == json.dumps(
        [*again.node_claims, *again.desired]
    )


@SETTINGS
@given(spec=workspace_manifests(), plan_settings=settings_strategy())
def test_applying_an_outcome_converges_from_nothing(
    spec: Spec, plan_settings: PlanSettings
) -> None:
    _assert_converged_and_quiet(spec, ApiServer(), plan_settings)


@SETTINGS
@given(
    before=workspace_manifests(),
    after=workspace_manifests(),
    plan_settings=settings_strategy(),
    ready=st.booleans(),
)
def test_updating_a_workspace_converges(
    before: Spec, after: Spec, plan_settings: PlanSettings, ready: bool
) -> None:
    server = ApiServer(workloads_ready=ready)
    doc, config_maps = before
    converge(materialize(doc), server, settings=plan_settings, config_maps=config_maps)
    _assert_converged_and_quiet(after, server, plan_settings)


@SETTINGS
@given(spec=workspace_manifests(), gpus=st.sampled_from([1, 2, 4, 8]), nvme=st.booleans())
def test_bring_your_own_nodes_converge(spec: Spec, gpus: int, nvme: bool) -> None:
    labels = spec[0]["resource"]["labelSelector"]["matchLabels"]
    node = ready_node("byo-0", labels=labels, gpu_count=gpus)
    byo = PlanSettings(provisioner="byo", nvme_storage_class=nvme)
    server = ApiServer()
    _assert_converged_and_quiet(spec, server, byo, nodes=(node,))
    assert server.node_claims == {}


@SETTINGS
@given(spec=workspace_manifests(), plan_settings=settings_strategy())
def test_plan_is_deterministic(spec: Spec, plan_settings: PlanSettings) -> None:
    doc, config_maps = spec
    server = ApiServer()
    outcomes = []
    for _ in range(2):
        observed = server.observed(config_maps=config_maps)
        outcomes.append(
            plan(
                materialize(doc),
                observed=observed,
                catalog=CATALOG,
                now=NOW,
                settings=plan_settings,
            )
        )
    first, second = outcomes
    assert first == second
    assert json.dumps([*first.node_claims, *first.desired]) == json.dumps(
        [*second.node_claims, *second.desired]
    )
