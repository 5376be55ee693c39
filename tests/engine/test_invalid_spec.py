"""A spec the loop cannot use gets a False condition with reason InvalidSpec and the problems,
not a blank status and an Event only: one that does not parse always, one the webhook would
refuse when the engine is given a validation context (the playground)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito_backends.engine.controller import Controller
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest, ObjectRef
from kaito_core.invalid_spec import invalid_condition_type
from kaito_core.registry import default_registry
from kaito_core.validation import ValidationContext
from tests.engine.conftest import cluster_with, key, workspace

REF = ObjectRef("kaito.sh/v1beta1", "Workspace", "bad", "default")
PLAYGROUND = ValidationContext(provisioner="fake")


def _unparsable() -> Manifest:
    ws = workspace("bad")
    ws["inference"]["preset"] = "phi-3-mini-4k-instruct"  # type: ignore[index]
    return ws


def _placeholder_adapter() -> Manifest:
    """Parses and plans, but the webhook refuses it."""
    ws = workspace("bad")
    ws["inference"]["adapters"] = [  # type: ignore[index]
        {"source": {"name": "a", "image": "ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1"}}
    ]
    return ws


def _condition(obj: Manifest, type_: str) -> dict[str, Any]:
    (found,) = [c for c in obj["status"]["conditions"] if c["type"] == type_]
    return dict(found)


async def _settle(cluster: FakeCluster, validation: ValidationContext | None) -> Manifest:
    async with Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, validation=validation
    ) as ctl:
        await ctl.run_until_settled(60)
    return await cluster.client().get(REF)


def _events(cluster: FakeCluster) -> list[Manifest]:
    return [o for o in cluster.snapshot() if o["kind"] == "Event" and o["reason"] == "InvalidSpec"]


def test_the_invalid_condition_is_each_kinds_overall_one() -> None:
    assert invalid_condition_type(default_registry()["Workspace"]) == "WorkspaceSucceeded"


@pytest.mark.parametrize(
    ("manifest", "validation", "text"),
    [
        (_unparsable(), None, "expected an object with 'name', found the string"),
        (_unparsable(), PLAYGROUND, "expected an object with 'name', found the string"),
        (_placeholder_adapter(), PLAYGROUND, "looks like a placeholder from an example"),
    ],
    ids=["unparsable", "unparsable-playground", "refused-by-validation"],
)
async def test_an_invalid_spec_is_a_false_condition(
    manifest: Manifest, validation: ValidationContext | None, text: str
) -> None:
    cluster = cluster_with(manifest)
    stored = await _settle(cluster, validation)
    succeeded = _condition(stored, "WorkspaceSucceeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "InvalidSpec")
    assert text in succeeded["message"]
    assert stored["status"]["state"] == "Failed"
    (event,) = _events(cluster)
    assert event["message"] == succeeded["message"]
    assert not [o for o in cluster.snapshot() if o["kind"] in ("NodeClaim", "StatefulSet")]


async def test_without_a_validation_context_a_refusable_spec_is_planned() -> None:
    """Embedders behind a webhook keep upstream's loop: no second judgement."""
    cluster = cluster_with(_placeholder_adapter())
    stored = await _settle(cluster, None)
    assert _condition(stored, "WorkspaceSucceeded").get("reason") != "InvalidSpec"


async def test_the_invalid_status_is_written_once() -> None:
    """Reconciling again (the status write, a resync) writes and records nothing more."""
    cluster = cluster_with(_unparsable())
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        await ctl.run_until_settled(60)
        first = await cluster.client().get(REF)
        result = await ctl.process(key("bad"))
    assert result is not None
    assert (result.state, result.reason, result.writes) == ("Failed", "InvalidSpec", 0)
    assert (await cluster.client().get(REF))["metadata"]["resourceVersion"] == first["metadata"][
        "resourceVersion"
    ]
    assert len(_events(cluster)) == 1


async def test_a_fixed_spec_recovers() -> None:
    cluster = cluster_with(_unparsable())
    client = cluster.client()
    async with Controller(
        client, cluster.provisioner(), clock=cluster.clock, validation=PLAYGROUND
    ) as ctl:
        await ctl.run_until_settled(60)
        fixed = copy.deepcopy(await client.get(REF))
        fixed["inference"]["preset"] = {"name": "phi-3-mini-4k-instruct"}
        await client.update(fixed)
        settled = await ctl.run_until_settled(3600)
    assert settled.state(key("bad")) == "Succeeded"
    stored = await client.get(REF)
    assert _condition(stored, "WorkspaceSucceeded")["status"] == "True"
