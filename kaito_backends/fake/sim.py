"""What every simulated controller shares: the store, the clock, faults, timings, the catalog,
and the durations of nodes and pods (`kaito_backends.fake.startup`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.clock import VirtualClock
from kaito_backends.fake.conditions import Timings
from kaito_backends.fake.faults import Faults
from kaito_backends.fake.startup import (
    NodeTimes,
    PodTimes,
    command_words,
    node_times,
    pod_times,
    pod_workload,
)
from kaito_backends.fake.store import Store, StoreKey
from kaito_core.readiness import pod_images

if TYPE_CHECKING:
    from kaito_presets import Catalog, GpuSku

__all__ = ["Sim", "model_repo"]

_MODEL_FLAG = re.compile(r"^--(?:model|pretrained_model_name_or_path)(?:=(.*))?$")
#: Distinct node types and pod templates whose times are remembered.
_CACHE_SIZE = 10_000


def model_repo(container: Mapping[str, Any]) -> str | None:
    """The model a serving or tuning container loads: ``--model=<repo>`` or
    ``--pretrained_model_name_or_path=<repo>`` anywhere in its command or args."""
    words = command_words(container)
    for index, word in enumerate(words):
        match = _MODEL_FLAG.match(word)
        if match is None:
            continue
        value = match.group(1)
        if value is None and index + 1 < len(words):
            value = words[index + 1]
        if value:
            return value.strip("'\"")
    return None


@attrs.define
class Sim:
    """The simulation's shared parts; ``enqueue(controller, key)`` asks for a reconcile."""

    store: Store
    clock: VirtualClock
    faults: Faults
    timings: Timings
    catalog: Catalog
    enqueue: Callable[[str, StoreKey], None]
    _nodes: dict[str, NodeTimes] = attrs.field(factory=dict)
    _pods: dict[str, PodTimes] = attrs.field(factory=dict)

    def now(self) -> str:
        """The current time as a Kubernetes timestamp."""
        return self.store.timestamp()

    def sku(self, instance_type: str) -> GpuSku | None:
        return self.catalog.find_sku(instance_type)

    def node_times(self, instance_type: str) -> NodeTimes:
        """When a NodeClaim of `instance_type` registers its Node and when that is Ready:
        `Timings` where it gives a number, else the time-to-ready model."""
        found = self._nodes.get(instance_type)
        if found is None:
            found = node_times(
                instance_type=instance_type, catalog=self.catalog, figures=self.timings.figures
            )
            if len(self._nodes) < _CACHE_SIZE:
                self._nodes[instance_type] = found
        timings = self.timings
        register = found.register if timings.register is None else timings.register
        initialize = (
            register + (found.initialize - found.register)
            if timings.initialize is None
            else timings.initialize
        )
        return NodeTimes(register=register, initialize=max(register, initialize))

    def pod_times(self, pod: Mapping[str, Any], *, job: bool) -> PodTimes:
        """How long `pod` pulls, loads and warms up: `Timings` where it gives a number, else
        the time-to-ready model for what the pod runs."""
        spec = pod.get("spec") or {}
        containers = spec.get("containers") or [{}]
        main = containers[0] if isinstance(containers[0], Mapping) else {}
        key = json.dumps(
            [job, pod_images(spec), command_words(main), main.get("startupProbe")],
            sort_keys=True,
            default=str,
        )
        found = self._pods.get(key)
        if found is None:
            workload = pod_workload(spec, catalog=self.catalog, job=job)
            found = pod_times(workload, figures=self.timings.figures)
            if len(self._pods) < _CACHE_SIZE:
                self._pods[key] = found
        timings = self.timings
        return PodTimes(
            pull=found.pull if timings.image_pull is None else timings.image_pull,
            load=found.load if timings.load is None else timings.load,
            warm=found.warm if timings.warm_up is None else timings.warm_up,
        )

    def later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn`` after ``delay`` virtual seconds."""
        self.clock.call_later(delay, fn)
