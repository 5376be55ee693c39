"""Where ``inferenceService.url`` leads: InferenceServiceReady and ContextWindowFits."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kaito_core.observed import Manifest, Observed
from kaito_core.ragengine import (
    InferenceTarget,
    RAGEngineSettings,
    inference_target,
    plan_ragengine,
)
from kaito_core.ragengine.wiring import wiring_conditions
from tests.ragengine.support import CATALOG, NOW, materialize, rag_manifest, workspace_references


def _rag(url: str | None, window: int = 4096, namespace: str = "default") -> Any:
    service: dict[str, Any] = {"contextWindowSize": window}
    if url is not None:
        service["url"] = url
    return materialize(rag_manifest(namespace=namespace, inference_service=service))


TARGETS: dict[str, tuple[str, InferenceTarget | None]] = {
    "fqdn": (
        "http://phi-3.team.svc.cluster.local/v1/chat/completions",
        InferenceTarget(
            namespace="team",
            service="phi-3",
            scheme="http",
            port=80,
            path="/v1/chat/completions",
            certain=True,
        ),
    ),
    "svc-with-port": (
        "http://phi-3.team.svc:5000/v1/completions",
        InferenceTarget(
            namespace="team",
            service="phi-3",
            scheme="http",
            port=5000,
            path="/v1/completions",
            certain=True,
        ),
    ),
    "other-cluster-domain": (
        "https://phi-3.team.svc.corp.example/v1",
        InferenceTarget(
            namespace="team", service="phi-3", scheme="https", port=443, path="/v1", certain=True
        ),
    ),
    "short-name-same-namespace": (
        "http://phi-3",
        InferenceTarget(
            namespace="rags", service="phi-3", scheme="http", port=80, path="/", certain=True
        ),
    ),
    "two-labels-maybe-public": (
        "http://phi-3.team/v1/completions",
        InferenceTarget(
            namespace="team",
            service="phi-3",
            scheme="http",
            port=80,
            path="/v1/completions",
            certain=False,
        ),
    ),
    "public-host": ("https://api.openai.com/v1/chat/completions", None),
    "ip-address": ("http://10.0.0.1/v1/completions", None),
    "localhost": ("http://localhost:5000/v1/completions", None),
    "not-a-service-name": ("http://1phi.team.svc/v1", None),
    "placeholder": ("<inference-url>/v1/chat/completions", None),
}


@pytest.mark.parametrize(("url", "expected"), TARGETS.values(), ids=TARGETS.keys())
def test_the_service_an_inference_url_names(url: str, expected: InferenceTarget | None) -> None:
    """In-cluster Service forms are recognised; anything else is not a target."""
    assert inference_target(_rag(url, namespace="rags")) == expected


def test_no_url_no_target_and_no_wiring_conditions() -> None:
    """A retrieve-only RAGEngine points nowhere and has nothing to check."""
    rag = _rag(None)
    assert inference_target(rag) is None
    assert wiring_conditions(rag, observed=Observed(references=()), catalog=CATALOG) == ()


URL = "http://phi-3.default.svc.cluster.local/v1/chat/completions"

#: id -> (url, window, references (None: not looked up), settings kwargs, expected, context window)
CASES: dict[
    str,
    tuple[
        str,
        int,
        tuple[Manifest, ...] | None,
        dict[str, Any],
        tuple[str, str, str],
        tuple[str, str] | None,
    ],
] = {
    "ready-vllm-chat": (
        URL,
        4096,
        workspace_references(),
        {},
        (
            "True",
            "WorkspaceServiceReady",
            "reaches Workspace default/phi-3 (vllm, /v1/chat/completions)",
        ),
        ("True", "ContextWindowFits"),
    ),
    "ready-vllm-completions": (
        "http://phi-3/v1/completions",
        4096,
        workspace_references(),
        {},
        ("True", "WorkspaceServiceReady", "/v1/completions"),
        ("True", "ContextWindowFits"),
    ),
    "not-looked-up": (
        URL,
        4096,
        None,
        {},
        ("Unknown", "NotChecked", "was not looked up"),
        None,
    ),
    "outside-the-cluster": (
        "https://api.openai.com/v1/chat/completions",
        4096,
        (),
        {},
        ("Unknown", "NotChecked", "does not name a Service of this cluster"),
        None,
    ),
    "service-missing": (
        URL,
        4096,
        (),
        {},
        ("False", "InferenceServiceNotFound", "names Service default/phi-3, which does not exist"),
        None,
    ),
    "service-not-made-yet": (
        URL,
        4096,
        workspace_references(ready=False)[1:],
        {},
        ("False", "InferenceWorkspaceNotReady", "has not made its Service phi-3 yet"),
        ("True", "ContextWindowFits"),
    ),
    "service-not-made-yet-of-a-ready-workspace": (
        URL,
        4096,
        workspace_references(ready=True)[1:],
        {},
        ("False", "InferenceWorkspaceNotReady", "has not made its Service"),
        ("True", "ContextWindowFits"),
    ),
    "service-not-made-yet-wrong-path": (
        "http://phi-3/v1/embeddings",
        4096,
        workspace_references()[1:],
        {},
        ("False", "InferenceServicePathUnsupported", "not /v1/embeddings"),
        ("True", "ContextWindowFits"),
    ),
    "service-not-made-by-a-tuning-workspace": (
        URL,
        4096,
        workspace_references(mode="tuning")[1:],
        {},
        ("False", "InferenceWorkspaceNotServing", "tuning Workspace"),
        None,
    ),
    "two-label-host-missing-is-not-checked": (
        "http://phi-3.default/v1/chat/completions",
        4096,
        (),
        {},
        ("Unknown", "NotChecked", "taken to be outside the cluster"),
        None,
    ),
    "two-label-host-found-is-checked": (
        "http://phi-3.default/v1/chat/completions",
        4096,
        workspace_references(),
        {},
        ("True", "WorkspaceServiceReady", "default/phi-3"),
        ("True", "ContextWindowFits"),
    ),
    "container-port-instead-of-service-port": (
        "http://phi-3.default.svc.cluster.local:5000/v1/chat/completions",
        4096,
        workspace_references(),
        {},
        (
            "False",
            "InferenceServicePortMismatch",
            "has no port 5000; it listens on 80 (http), 6379 (ray), 8265 (dashboard)",
        ),
        None,
    ),
    "https-to-a-workspace": (
        "https://phi-3.default.svc.cluster.local/v1/chat/completions",
        4096,
        workspace_references(ports=(("https", 443),)),
        {},
        ("False", "InferenceServiceSchemeMismatch", "serves plain HTTP"),
        None,
    ),
    "path-missing": (
        "http://phi-3.default.svc.cluster.local",
        4096,
        workspace_references(),
        {},
        ("False", "InferenceServicePathUnsupported", "not just the host"),
        ("True", "ContextWindowFits"),
    ),
    "legacy-chat-path": (
        "http://phi-3/chat",
        4096,
        workspace_references(),
        {},
        (
            "False",
            "InferenceServicePathUnsupported",
            "serves /v1/chat/completions and /v1/completions, not /chat",
        ),
        ("True", "ContextWindowFits"),
    ),
    "transformers-has-no-completions": (
        "http://phi-3/v1/completions",
        4096,
        workspace_references(annotations={"kaito.sh/runtime": "transformers"}),
        {},
        (
            "False",
            "InferenceServicePathUnsupported",
            "(transformers) serves /v1/chat/completions, not /v1/completions",
        ),
        ("True", "ContextWindowFits"),
    ),
    "vllm-gate-off-means-transformers": (
        "http://phi-3/v1/completions",
        4096,
        workspace_references(),
        {"vllm_enabled": False},
        ("False", "InferenceServicePathUnsupported", "(transformers)"),
        ("True", "ContextWindowFits"),
    ),
    "workspace-not-ready": (
        URL,
        4096,
        workspace_references(ready=False),
        {},
        ("False", "InferenceWorkspaceNotReady", "is not ready yet: InferenceReady is False"),
        ("True", "ContextWindowFits"),
    ),
    "tuning-workspace": (
        URL,
        4096,
        workspace_references(mode="tuning", preset="phi-3-mini-128k-instruct"),
        {},
        ("False", "InferenceWorkspaceNotServing", "is a tuning Workspace"),
        None,
    ),
    "template-workspace-paths-unchecked": (
        "http://phi-3/anything",
        4096,
        workspace_references(mode="template"),
        {},
        ("True", "WorkspaceServiceReady", "reaches Workspace default/phi-3"),
        None,
    ),
    "someone-elses-service": (
        URL,
        4096,
        workspace_references(owned=False),
        {},
        ("True", "ServiceFound", "no KAITO Workspace controls it"),
        None,
    ),
    "workspace-not-read": (
        URL,
        4096,
        workspace_references()[:1],
        {},
        ("Unknown", "NotChecked", "belongs to Workspace phi-3, which was not read"),
        None,
    ),
    "context-window-too-large": (
        URL,
        131072,
        workspace_references(),
        {},
        ("True", "WorkspaceServiceReady", "default/phi-3"),
        ("False", "ContextWindowTooLarge"),
    ),
    "max-model-len-from-the-workspace-config": (
        URL,
        4096,
        workspace_references(preset="phi-3-mini-128k-instruct", config="cfg", max_model_len=2048),
        {},
        ("True", "WorkspaceServiceReady", "default/phi-3"),
        ("False", "ContextWindowTooLarge"),
    ),
    "long-context-model-fits": (
        URL,
        100000,
        workspace_references(preset="phi-3-mini-128k-instruct"),
        {},
        ("True", "WorkspaceServiceReady", "default/phi-3"),
        ("True", "ContextWindowFits"),
    ),
}


@pytest.mark.parametrize(
    ("url", "window", "references", "settings", "expected", "window_condition"),
    CASES.values(),
    ids=CASES.keys(),
)
def test_the_inference_url_is_checked_against_what_was_observed(
    url: str,
    window: int,
    references: tuple[Manifest, ...] | None,
    settings: dict[str, Any],
    expected: tuple[str, str, str],
    window_condition: tuple[str, str] | None,
) -> None:
    """InferenceServiceReady says where the URL leads; ContextWindowFits warns of a too-large
    window when the Workspace and its model are known."""
    found = {
        c.type: c
        for c in wiring_conditions(
            _rag(url, window),
            observed=Observed(references=references),
            catalog=CATALOG,
            vllm_enabled=settings.get("vllm_enabled", True),
        )
    }
    ready = found["InferenceServiceReady"]
    assert (ready.status, ready.reason) == expected[:2]
    assert expected[2] in (ready.message or ""), ready.message
    fits = found.get("ContextWindowFits")
    assert (None if fits is None else (fits.status, fits.reason)) == window_condition


def test_the_context_window_warning_says_what_to_set() -> None:
    """The message names the limit, where it comes from, and what to do."""
    (_, fits) = wiring_conditions(
        _rag(URL, 131072), observed=Observed(references=workspace_references()), catalog=CATALOG
    )
    assert fits.message == (
        "contextWindowSize 131072 is larger than the max model length 4096 of Workspace "
        "default/phi-3 (the token limit of phi-3-mini-4k-instruct); the RAG service would build "
        "prompts the model rejects: set contextWindowSize to at most 4096"
    )


def test_a_miswired_ragengine_still_succeeds_and_warns_once() -> None:
    """The wiring does not hold RAGEngineSucceeded back (retrieval works) but is a Warning."""
    rag = _rag(URL)
    observed = Observed(references=(), objects=())
    first = plan_ragengine(
        rag, observed=observed, catalog=CATALOG, now=NOW, settings=RAGEngineSettings()
    )
    warnings = [e for e in first.events if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["InferenceServiceNotFound"]
    again = plan_ragengine(
        attrs.evolve(rag, status=first.status), observed=observed, catalog=CATALOG, now=NOW
    )
    assert [e for e in again.events if e.type == "Warning"] == []
