"""The probes of the inference container: HTTP health on one node, Ray-aware scripts on several,
and the post-load benchmark as the startup probe.

Pure: no I/O, no clock, no logging.

Upstream's values (controller.md §3.8): startup covers the model's whole readiness budget
(``ceil(timeout / 10 s)`` failures); multi-node pods run ``multi-node-health-check.py`` with the
leader's address, passed as a quoted flag like every other command-line value.
"""

from __future__ import annotations

from typing import Any

from kaito_core.render.commands import (
    PORT_RAY,
    flags,
    is_distributed,
    ray_leader_host,
    startup_failure_threshold,
    vllm_port,
)
from kaito_core.render.context import RUNTIME_VLLM, RenderContext

__all__ = ["ANNOTATION_DISABLE_BENCHMARK", "probes", "runs_benchmark"]

ANNOTATION_DISABLE_BENCHMARK = "kaito.sh/disable-benchmark"
_HEALTH_PATH = "/health"
_HEALTH_CHECK = "python3 /workspace/vllm/multi-node-health-check.py"
_BENCHMARK = "python3 /workspace/vllm/benchmark_entrypoint.py"


def _shell(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def _http_probe(
    port: int, *, initial_delay: int = 0, period: int = 10, failure: int | None = None
) -> dict[str, Any]:
    probe: dict[str, Any] = {"httpGet": {"path": _HEALTH_PATH, "port": port}}
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    probe["periodSeconds"] = period
    if failure is not None:
        probe["failureThreshold"] = failure
    return probe


def _exec_probe(
    command: list[str],
    *,
    initial_delay: int = 0,
    timeout: int,
    period: int = 10,
    failure: int,
    termination_grace: int | None = None,
) -> dict[str, Any]:
    probe: dict[str, Any] = {"exec": {"command": command}}
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    probe["timeoutSeconds"] = timeout
    probe["periodSeconds"] = period
    probe["failureThreshold"] = failure
    if termination_grace is not None:
        probe["terminationGracePeriodSeconds"] = termination_grace
    return probe


def runs_benchmark(ctx: RenderContext) -> bool:
    """vLLM presets run the post-load benchmark unless ``kaito.sh/disable-benchmark: "true"``."""
    return (
        ctx.model is not None
        and ctx.runtime == RUNTIME_VLLM
        and ctx.workspace.annotations.get(ANNOTATION_DISABLE_BENCHMARK) != "true"
    )


def probes(ctx: RenderContext) -> dict[str, dict[str, Any]]:
    """``livenessProbe``, ``readinessProbe`` and ``startupProbe`` of the main container.

    Pure: no I/O, no clock, no logging.
    """
    port = vllm_port(ctx)
    startup_failures = startup_failure_threshold(ctx)
    if is_distributed(ctx):
        leader = ray_leader_host(ctx.workspace)
        liveness_cmd = (
            _HEALTH_CHECK
            + " liveness "
            + flags({"leader-address": leader, "ray-port": str(PORT_RAY)})
        )
        readiness_cmd = (
            _HEALTH_CHECK
            + " readiness "
            + flags({"leader-address": leader, "vllm-port": str(port)})
        )
        probes = {
            "livenessProbe": _exec_probe(
                _shell(liveness_cmd),
                initial_delay=60,
                timeout=5,
                failure=1,
                termination_grace=1,
            ),
            "readinessProbe": _exec_probe(_shell(readiness_cmd), timeout=1, failure=1),
            "startupProbe": _exec_probe(_shell(readiness_cmd), timeout=1, failure=startup_failures),
        }
    else:
        probes = {
            "livenessProbe": _http_probe(port, failure=3),
            "readinessProbe": _http_probe(port, initial_delay=30),
            "startupProbe": _http_probe(port, failure=startup_failures),
        }
    if runs_benchmark(ctx):
        if is_distributed(ctx):
            command = _shell(f'if [ "$POD_INDEX" = "0" ]; then {_BENCHMARK}; else true; fi')
        else:
            command = _BENCHMARK.split(" ")
        probes["startupProbe"] = _exec_probe(command, timeout=600, failure=startup_failures)
    return probes
