"""The leader and headless Services of an inference workspace (upstream manifests_test.go)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kubernetes_validate
import pytest

from kaito_core.api.types import (
    InferenceSpec,
    LabelSelector,
    ObjectMeta,
    PresetSpec,
    ResourceSpec,
    Workspace,
)
from kaito_core.gpu import GpuConfig
from kaito_core.render.context import RUNTIME_TRANSFORMERS, RUNTIME_VLLM, RenderContext
from kaito_core.render.services import (
    headless_service,
    inference_services,
    main_service,
    service_type,
)
from kaito_presets import default_catalog

CATALOG = default_catalog()


def context(
    *,
    name: str = "ws",
    namespace: str = "default",
    annotations: Mapping[str, str] | None = None,
    runtime: str = RUNTIME_VLLM,
) -> RenderContext:
    ws = Workspace(
        metadata=ObjectMeta(name=name, namespace=namespace, uid="u", annotations=annotations),
        resource=ResourceSpec(
            instance_type="Standard_NC24ads_A100_v4",
            label_selector=LabelSelector(match_labels={"apps": name}),
        ),
        inference=InferenceSpec(preset=PresetSpec(name="phi-4")),
    ).with_defaults()
    return RenderContext(
        workspace=ws,
        model=CATALOG.model("phi-4"),
        gpu=GpuConfig.from_sku(CATALOG.sku("Standard_NC24ads_A100_v4")),
        node_count=1,
        runtime=runtime,
    )


def valid(obj: dict[str, Any]) -> dict[str, Any]:
    kubernetes_validate.validate(obj, "1.33", strict=True)
    json.dumps(obj)
    return obj


_BASE_PORTS = [
    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 5000},
    {"name": "ray", "protocol": "TCP", "port": 6379, "targetPort": 6379},
    {"name": "dashboard", "protocol": "TCP", "port": 8265, "targetPort": 8265},
]
_KV_EVENTS = {"name": "kv-events", "protocol": "TCP", "port": 5557, "targetPort": 5557}


def test_main_service_cluster_ip_vllm() -> None:
    svc = valid(main_service(context(name="phi", namespace="ml")))
    assert svc["apiVersion"] == "v1"
    assert svc["kind"] == "Service"
    assert svc["metadata"]["name"] == "phi"
    assert svc["metadata"]["namespace"] == "ml"
    assert svc["metadata"]["ownerReferences"][0]["name"] == "phi"
    assert svc["spec"] == {
        "type": "ClusterIP",
        "selector": {
            "kaito.sh/workspace": "phi",
            "statefulset.kubernetes.io/pod-name": "phi-0",
        },
        "ports": [*_BASE_PORTS, _KV_EVENTS],
        "publishNotReadyAddresses": True,
    }


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        pytest.param(None, "ClusterIP", id="default"),
        pytest.param("True", "LoadBalancer", id="True"),
        pytest.param("true", "ClusterIP", id="lowercase-is-ignored"),
        pytest.param("yes", "ClusterIP", id="other"),
    ],
)
def test_service_type(annotation: str | None, kind: str) -> None:
    annotations = {"kaito.sh/enablelb": annotation} if annotation is not None else None
    ctx = context(annotations=annotations)
    assert service_type(ctx) == kind
    assert valid(main_service(ctx))["spec"]["type"] == kind


def test_load_balancer_never_publishes_kv_events() -> None:
    svc = valid(main_service(context(annotations={"kaito.sh/enablelb": "True"})))
    assert svc["spec"]["ports"] == _BASE_PORTS


def test_transformers_has_no_kv_events_port() -> None:
    svc = valid(main_service(context(runtime=RUNTIME_TRANSFORMERS)))
    assert svc["spec"]["ports"] == _BASE_PORTS


def test_headless_service() -> None:
    svc = valid(headless_service(context(name="phi")))
    assert svc["metadata"]["name"] == "phi-headless"
    assert svc["metadata"]["ownerReferences"][0]["controller"] is True
    assert svc["spec"] == {
        "clusterIP": "None",
        "selector": {"kaito.sh/workspace": "phi"},
        "publishNotReadyAddresses": True,
    }


def test_inference_services_order() -> None:
    services = inference_services(context(name="phi"))
    assert [s["metadata"]["name"] for s in services] == ["phi", "phi-headless"]
    for svc in services:
        valid(svc)


@pytest.mark.parametrize(
    "annotations",
    [pytest.param(None, id="cluster-ip"), pytest.param({"kaito.sh/enablelb": "True"}, id="lb")],
)
def test_services_deterministic(annotations: dict[str, str] | None) -> None:
    first = inference_services(context(annotations=annotations))
    second = inference_services(context(annotations=annotations))
    assert json.dumps(first) == json.dumps(second)
