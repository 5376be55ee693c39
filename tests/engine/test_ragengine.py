"""RAGEngines in the engine, registered by default: they come up on the fake cluster, their
wiring check runs in the loop, and what they point at wakes them up."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from kaito_backends.engine.controller import Controller
from kaito_backends.engine.observer import ListObserver
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.objects import Key, Manifest, ObjectRef
from kaito_backends.operator.backends import ScopedClient
from tests.engine.conftest import cluster_with, workspace
from tests.ragengine.support import policy_config_map, rag_manifest

RAG = Key("RAGEngine", "default", "rag")
URL = "http://phi-3.default.svc.cluster.local/v1/chat/completions"


def _controller(cluster: FakeCluster, **kwargs: Any) -> Controller:
    return Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock, **kwargs)


def _rag(cluster: FakeCluster, name: str = "rag", namespace: str = "default") -> Manifest:
    found = cluster.store.find("kaito.sh/v1beta1", "RAGEngine", namespace, name)
    assert found is not None
    return found


def _condition(obj: Manifest, type_: str) -> tuple[str, str]:
    for cond in obj["status"]["conditions"]:
        if cond["type"] == type_:
            return cond["status"], cond["reason"]
    raise AssertionError(f"no {type_} in {obj['status']}")


def _cpu_rag(url: str | None = URL, *, namespace: str = "default", **spec: Any) -> Manifest:
    service: dict[str, Any] | None = {"contextWindowSize": 4000}
    if url is not None:
        assert service is not None
        service["url"] = url
    return rag_manifest("rag", namespace=namespace, compute=None, inference_service=service, **spec)


def _wiring_history(cluster: FakeCluster) -> list[tuple[str, str]]:
    """Every InferenceServiceReady (status, reason) the RAGEngine's status goes through."""
    seen: list[tuple[str, str]] = []

    def listen(change: str, obj: Manifest, old: Manifest | None) -> None:
        if obj["kind"] != "RAGEngine" or not obj.get("status"):
            return
        for cond in obj["status"].get("conditions") or ():
            if cond["type"] == "InferenceServiceReady":
                pair = (cond["status"], cond["reason"])
                if not seen or seen[-1] != pair:
                    seen.append(pair)

    cluster.store.listeners.append(listen)
    return seen


@pytest.mark.parametrize(
    ("compute", "node"),
    [(True, "rag"), (False, "cpu-pool-0")],
    ids=["gpu-node", "cpu-only"],
)
async def test_a_ragengine_comes_up(compute: bool, node: str) -> None:
    """Its own NodeClaim's node, or the fake's CPU pool node when it has no compute; its
    Deployment and Service; Succeeded."""
    body = rag_manifest("rag") if compute else _cpu_rag(None)
    cluster = cluster_with(body)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert ctl.errors == 0
    assert settled.state(RAG) == "Succeeded"
    (pod,) = cluster.store.select("v1", "Pod", "default", {"kaito.sh/ragengine": "rag"})
    assert pod["spec"]["nodeName"].startswith(node)
    assert _condition(_rag(cluster), "ServiceReady") == ("True", "RAGEngineServiceSuccess")
    deployment = cluster.store.find("apps/v1", "Deployment", "default", "rag")
    assert deployment is not None
    assert deployment["status"]["readyReplicas"] == 1


@pytest.mark.parametrize("memoize", [True, False], ids=["memoized", "planning-every-time"])
async def test_converging_writes_each_child_once_and_resyncs_write_nothing(memoize: bool) -> None:
    """The Deployment, Service and revision are applied once; a resync of a converged
    RAGEngine (and the Workspace it points at) writes nothing."""
    cluster = cluster_with(workspace("phi-3"), _cpu_rag())
    async with _controller(cluster) as ctl:
        ctl.reconciler.memoize = memoize
        settled = await ctl.run_until_settled(3600)
        assert settled.succeeded
        applies = Counter(
            (c.kind, c.name) for c in cluster.calls if c.verb == "apply" and c.kind != "Event"
        )
        assert {k: n for k, n in applies.items() if n != 1} == {}
        assert {("Deployment", "rag"), ("Service", "rag")} <= set(applies)
        cluster.reset_counters()
        for _ in range(2):
            assert ctl.resync() == 2
            await ctl.run_until_settled(3600)
    assert cluster.writes == 0


async def test_the_wiring_check_follows_the_workspace_it_points_at() -> None:
    """InferenceServiceReady waits while the Workspace comes up (InferenceWorkspaceNotReady),
    then says WorkspaceServiceReady; ContextWindowFits compares with the preset's length."""
    cluster = cluster_with(workspace("phi-3"), _cpu_rag())
    history = _wiring_history(cluster)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    assert history[-1] == ("True", "WorkspaceServiceReady")
    assert ("False", "InferenceWorkspaceNotReady") in history
    assert _condition(_rag(cluster), "ContextWindowFits") == ("True", "ContextWindowFits")


async def test_a_service_that_appears_later_wakes_the_ragengine() -> None:
    """First InferenceServiceNotFound; the Workspace (and its Service) created afterwards
    re-enqueues the RAGEngine, which ends WorkspaceServiceReady."""
    cluster = cluster_with(_cpu_rag())
    history = _wiring_history(cluster)
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
        assert history == [("False", "InferenceServiceNotFound")]
        await cluster.client().create(workspace("phi-3"))
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    assert history[-1] == ("True", "WorkspaceServiceReady")


async def test_a_workspace_in_another_namespace_is_checked() -> None:
    """``<svc>.<ns>.svc``: the Service, its Workspace and the Workspace's readiness are read
    across namespaces."""
    url = "http://phi-3.models.svc.cluster.local/v1/chat/completions"
    cluster = cluster_with(workspace("phi-3", namespace="models"), _cpu_rag(url, namespace="team"))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.succeeded
    rag = _rag(cluster, namespace="team")
    assert _condition(rag, "InferenceServiceReady") == ("True", "WorkspaceServiceReady")


async def test_a_scoped_operator_does_not_claim_another_namespace_is_empty() -> None:
    """With ``--namespace-scope`` the other namespace is not seen: NotChecked, not NotFound."""
    url = "http://phi-3.models.svc.cluster.local/v1/chat/completions"
    cluster = cluster_with(workspace("phi-3", namespace="models"), _cpu_rag(url))
    client = ScopedClient(cluster.client(), "default")
    async with Controller(client, cluster.provisioner(), clock=cluster.clock) as ctl:
        settled = await ctl.run_until_settled(3600)
    assert settled.state(RAG) == "Succeeded"
    assert _condition(_rag(cluster), "InferenceServiceReady") == ("Unknown", "NotChecked")


def _inference_config(max_model_len: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "phi-config", "namespace": "default"},
        "data": {"inference_config.yaml": f"vllm:\n  max-model-len: {max_model_len}\n"},
    }


async def test_context_window_follows_the_workspace_inference_config() -> None:
    """A window larger than the ConfigMap's max-model-len is a warning; raising the length in
    the ConfigMap (a change of an object the RAGEngine does not own) clears it."""
    ws = workspace("phi-3")
    ws["inference"]["config"] = "phi-config"
    cluster = cluster_with(_inference_config(2048), ws, _cpu_rag())
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
        assert _condition(_rag(cluster), "ContextWindowFits") == (
            "False",
            "ContextWindowTooLarge",
        )
        stored = await cluster.client().get(ObjectRef("v1", "ConfigMap", "phi-config", "default"))
        stored["data"] = _inference_config(4096)["data"]
        await cluster.client().update(stored)
        await ctl.run_until_settled(3600)
    assert _condition(_rag(cluster), "ContextWindowFits") == ("True", "ContextWindowFits")


async def test_a_guardrails_config_map_created_later_ends_the_spec_error() -> None:
    """The ConfigMap ``configMapRef`` names is missing: Failed GuardrailsPolicyNotFound;
    creating it wakes the RAGEngine, which then comes up."""
    guardrails = {"enabled": True, "configMapRef": {"name": "policy"}}
    cluster = cluster_with(_cpu_rag(None, guardrails=guardrails))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
        assert settled.state(RAG) == "Failed"
        assert settled.results[RAG].reason == "GuardrailsPolicyNotFound"
        await cluster.client().create(policy_config_map("policy"))
        settled = await ctl.run_until_settled(3600)
    assert settled.state(RAG) == "Succeeded"


async def test_a_crash_looping_rag_service_fails_after_the_grace() -> None:
    """A RAG service that never stays up is Failed once its pod failure has lasted the
    failure grace, not waited on forever."""
    cluster = cluster_with(_cpu_rag(None), faults=FaultPlan(1, crashloop_rate=1.0))
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(6 * 3600)
    assert settled.state(RAG) == "Failed"
    assert settled.results[RAG].reason == "ContainerCrashLoopBackOff"
    assert settled.elapsed < 3600


async def test_the_list_observer_fills_the_references_too() -> None:
    """`ListObserver` (no informers) reads the Service, its Workspace and the ConfigMap with
    get calls."""
    ws = workspace("phi-3")
    ws["inference"]["config"] = "phi-config"
    cluster = cluster_with(_inference_config(2048), ws)
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
    body = copy.deepcopy(_cpu_rag())
    observer = ListObserver(cluster.client(), cluster.provisioner())
    observed = await observer.observe(RAG, body)
    assert [(o["kind"], o["metadata"]["name"]) for o in observed.references or ()] == [
        ("Service", "phi-3"),
        ("Workspace", "phi-3"),
        ("ConfigMap", "phi-config"),
    ]


def _service_owner(cluster: FakeCluster, name: str) -> str:
    service = cluster.store.find("v1", "Service", "default", name)
    assert service is not None
    (ref,) = service["metadata"]["ownerReferences"]
    return str(ref["kind"])


@pytest.mark.parametrize("first", ["Workspace", "RAGEngine"])
async def test_a_workspace_and_a_ragengine_of_one_name_do_not_share_a_service(first: str) -> None:
    """Both want the Service ``x``: the one that comes second reports ObjectConflict (Failed)
    and never writes over the other's Service."""
    ws = workspace("x")
    rag = rag_manifest("x", compute=None, inference_service={"contextWindowSize": 4000})
    early, late = (ws, rag) if first == "Workspace" else (rag, ws)
    cluster = cluster_with(early)
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
        cluster.reset_counters()
        await cluster.client().create(copy.deepcopy(late))
        settled = await ctl.run_until_settled(3600)
    second = Key(late["kind"], "default", "x")
    assert settled.state(second) == "Failed"
    assert settled.results[second].reason == "ObjectConflict"
    assert settled.results[second].message.startswith("Service default/x already exists")
    assert settled.state(Key(first, "default", "x")) == "Succeeded"
    assert _service_owner(cluster, "x") == first
    assert not [c for c in cluster.calls if (c.verb, c.kind, c.name) == ("apply", "Service", "x")]


async def test_created_together_one_of_them_reports_the_conflict() -> None:
    """Applied at once (caches not yet showing the other's Service): one write over the
    other's Service at most, then the loser reports ObjectConflict and the Service stays put."""
    ws = workspace("x")
    rag = rag_manifest("x", compute=None, inference_service={"contextWindowSize": 4000})
    cluster = cluster_with(ws, rag)
    async with _controller(cluster) as ctl:
        settled = await ctl.run_until_settled(3600)
    states = {k.kind: (r.state, r.reason) for k, r in settled.results.items()}
    assert sorted(states.values()) == [
        ("Failed", "ObjectConflict"),
        ("Succeeded", states[_service_owner(cluster, "x")][1]),
    ]
    applies = [c for c in cluster.calls if (c.verb, c.kind, c.name) == ("apply", "Service", "x")]
    assert len(applies) <= 2


async def test_the_list_observer_finds_occupants_too() -> None:
    """`ListObserver.occupants`: an object of the name that belongs to another object."""
    cluster = cluster_with(workspace("x"))
    async with _controller(cluster) as ctl:
        await ctl.run_until_settled(3600)
    observer = ListObserver(cluster.client(), cluster.provisioner())
    wanted = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "default"}}
    ]
    (found,) = await observer.occupants(Key("RAGEngine", "default", "x"), wanted)
    assert found["metadata"]["ownerReferences"][0]["kind"] == "Workspace"
    assert await observer.occupants(Key("Workspace", "default", "x"), wanted) == ()
