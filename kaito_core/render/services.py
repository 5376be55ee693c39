"""The two Services of an inference workspace: ``<ws>`` (the leader) and ``<ws>-headless``.

Pure: no I/O, no clock, no logging.

Upstream (controller.md §3.7) creates both once and never updates them; here they are part of the
desired state like everything else, so a later ``kaito.sh/enablelb`` change reaches the Service.

- ``<ws>``: ClusterIP, or LoadBalancer when ``kaito.sh/enablelb`` is exactly ``"True"``. It selects
  only pod ``<ws>-0``, the leader of a multi-node deployment. Ports ``http`` 80->5000, ``ray``
  6379, ``dashboard`` 8265, and ``kv-events`` 5557 on ClusterIP vLLM services only (the ZMQ stream
  is unauthenticated, so it is never published on a load balancer).
- ``<ws>-headless``: ``clusterIP: None`` over every pod, for the StatefulSet's pod DNS names (the
  Ray workers find the head at ``<ws>-0.<ws>-headless``). Upstream writes ``ports: []``; the API
  server drops an empty list, so the field is left out here and the observed object matches.

No default inference ConfigMap is rendered: upstream v1beta1 no longer mounts one (presets.md §6.13)
and the runtime's built-in defaults equal its values. A ConfigMap is mounted only when the user
names one in ``inference.config``.
"""

from __future__ import annotations

from typing import Any

from kaito_core.observed import Manifest
from kaito_core.render.commands import PORT_INFERENCE, PORT_KV_EVENTS, PORT_RAY
from kaito_core.render.context import RUNTIME_VLLM, RenderContext
from kaito_core.render.meta import LABEL_WORKSPACE, child_metadata

__all__ = [
    "ANNOTATION_ENABLE_LB",
    "LABEL_POD_NAME",
    "headless_service",
    "inference_services",
    "main_service",
    "service_type",
]

ANNOTATION_ENABLE_LB = "kaito.sh/enablelb"
LABEL_POD_NAME = "statefulset.kubernetes.io/pod-name"
PORT_DASHBOARD = 8265


def service_type(ctx: RenderContext) -> str:
    """``LoadBalancer`` when ``kaito.sh/enablelb`` is exactly ``"True"``, else ``ClusterIP``."""
    enabled = ctx.workspace.annotations.get(ANNOTATION_ENABLE_LB) == "True"
    return "LoadBalancer" if enabled else "ClusterIP"


def _port(name: str, port: int, target: int) -> dict[str, Any]:
    return {"name": name, "protocol": "TCP", "port": port, "targetPort": target}


def main_service(ctx: RenderContext) -> Manifest:
    """The Service ``<ws>`` in front of the leader pod ``<ws>-0``.

    Pure: no I/O, no clock, no logging.
    """
    ws = ctx.workspace
    kind = service_type(ctx)
    ports = [
        _port("http", 80, PORT_INFERENCE),
        _port("ray", PORT_RAY, PORT_RAY),
        _port("dashboard", PORT_DASHBOARD, PORT_DASHBOARD),
    ]
    if kind == "ClusterIP" and ctx.runtime == RUNTIME_VLLM:
        ports.append(_port("kv-events", PORT_KV_EVENTS, PORT_KV_EVENTS))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(ws, ws.name),
        "spec": {
            "type": kind,
            "selector": {LABEL_WORKSPACE: ws.name, LABEL_POD_NAME: f"{ws.name}-0"},
            "ports": ports,
            "publishNotReadyAddresses": True,
        },
    }


def headless_service(ctx: RenderContext) -> Manifest:
    """The headless Service ``<ws>-headless`` the StatefulSet names as its ``serviceName``.

    Pure: no I/O, no clock, no logging.
    """
    ws = ctx.workspace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(ws, f"{ws.name}-headless"),
        "spec": {
            "clusterIP": "None",
            "selector": {LABEL_WORKSPACE: ws.name},
            "publishNotReadyAddresses": True,
        },
    }


def inference_services(ctx: RenderContext) -> list[Manifest]:
    """Both Services of an inference workspace: ``[<ws>, <ws>-headless]``.

    Pure: no I/O, no clock, no logging.
    """
    return [main_service(ctx), headless_service(ctx)]
