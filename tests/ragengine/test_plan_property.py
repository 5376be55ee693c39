"""Properties of `plan_ragengine` over generated RAGEngines and observed states.

Applying an Outcome the way the API server would (`RagApiServer`) and planning again converges:
nothing more to apply or delete, the status stays equal, no Event is recorded. This holds from
an empty namespace and from the converged children of a different spec of the same RAGEngine,
and the plan is byte-identical when made twice.
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.observed import Manifest
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from tests.ragengine.support import (
    CATALOG,
    NOW,
    RagApiServer,
    converge,
    materialize,
    rag_manifests,
    settings_strategy,
    workspace_references,
)

SETTINGS = settings(
    max_examples=int(os.environ.get("PLAN_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Spec = tuple[dict[str, Any], dict[str, Manifest]]


def _assert_converged_and_quiet(
    spec: Spec, server: RagApiServer, plan_settings: RAGEngineSettings
) -> None:
    doc, config_maps = spec
    rag = materialize(doc)
    references = workspace_references()
    last = converge(
        rag, server, settings=plan_settings, config_maps=config_maps, references=references
    )
    assert last.apply == ()
    assert last.delete == ()
    assert last.error is None
    settled = attrs.evolve(rag, status=last.status)
    observed = server.observed(config_maps=config_maps, references=references)
    again = plan_ragengine(
        settled, observed=observed, catalog=CATALOG, now=NOW, settings=plan_settings
    )
    assert again.apply == ()
    assert again.delete == ()
    assert again.status == last.status
    assert again.events == ()
    assert again.requeue_after is None


@SETTINGS
@given(spec=rag_manifests(), plan_settings=settings_strategy())
def test_applying_an_outcome_converges_from_nothing(
    spec: Spec, plan_settings: RAGEngineSettings
) -> None:
    """From an empty namespace: apply, provision, plan again -> nothing to do, nothing said."""
    _assert_converged_and_quiet(spec, RagApiServer(), plan_settings)


@SETTINGS
@given(
    before=rag_manifests(),
    after=rag_manifests(),
    plan_settings=settings_strategy(),
    ready=st.booleans(),
)
def test_updating_a_ragengine_converges(
    before: Spec, after: Spec, plan_settings: RAGEngineSettings, ready: bool
) -> None:
    """From the converged children of another spec of the same RAGEngine (an update)."""
    server = RagApiServer(workloads_ready=ready)
    doc, config_maps = before
    converge(materialize(doc), server, settings=plan_settings, config_maps=config_maps)
    _assert_converged_and_quiet(after, server, plan_settings)


@SETTINGS
@given(spec=rag_manifests(), plan_settings=settings_strategy())
def test_plan_is_deterministic(spec: Spec, plan_settings: RAGEngineSettings) -> None:
    """The same inputs give equal outcomes and byte-identical manifests."""
    doc, config_maps = spec
    server = RagApiServer()
    outcomes = [
        plan_ragengine(
            materialize(doc),
            observed=server.observed(config_maps=config_maps, references=()),
            catalog=CATALOG,
            now=NOW,
            settings=plan_settings,
        )
        for _ in range(2)
    ]
    first, second = outcomes
    assert first == second
    assert json.dumps([*first.node_claims, *first.desired]) == json.dumps(
        [*second.node_claims, *second.desired]
    )
