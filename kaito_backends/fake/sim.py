"""What every simulated controller shares: the store, the clock, faults, timings, the catalog."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.clock import VirtualClock
from kaito_backends.fake.conditions import Timings
from kaito_backends.fake.faults import Faults
from kaito_backends.fake.store import Store, StoreKey

if TYPE_CHECKING:
    from kaito_presets import Catalog, GpuSku

__all__ = ["Sim", "model_repo"]

_MODEL_FLAG = re.compile(r"^--(?:model|pretrained_model_name_or_path)(?:=(.*))?$")


def model_repo(container: Mapping[str, Any]) -> str | None:
    """The model a serving or tuning container loads: ``--model=<repo>`` or
    ``--pretrained_model_name_or_path=<repo>`` anywhere in its command or args."""
    words: list[str] = []
    for part in [*(container.get("command") or ()), *(container.get("args") or ())]:
        try:
            words.extend(shlex.split(str(part)))
        except ValueError:
            words.extend(str(part).split())
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
    _weights: dict[str, float | None] = attrs.field(factory=dict)
    _loads: dict[str, float] = attrs.field(factory=dict)

    def now(self) -> str:
        """The current time as a Kubernetes timestamp."""
        return self.store.timestamp()

    def sku(self, instance_type: str) -> GpuSku | None:
        return self.catalog.find_sku(instance_type)

    def weights_gib(self, repo: str) -> float | None:
        """Weight size of a model by Hugging Face id or preset name, None when unknown."""
        key = repo.lower()
        if key not in self._weights:
            try:
                model = self.catalog.find_model(repo)
            except Exception:  # a catalog may raise for names it deems invalid
                model = None
            self._weights[key] = None if model is None else float(model.weights_gib)
        return self._weights[key]

    def load_seconds(self, container: Mapping[str, Any]) -> float:
        """How long the container takes to load its model once started."""
        words = "\0".join(
            map(str, [*(container.get("command") or ()), "\0", *(container.get("args") or ())])
        )
        cached = self._loads.get(words)
        if cached is None:
            repo = model_repo(container)
            gib = self.weights_gib(repo) if repo else None
            cached = self.timings.default_load if gib is None else self.timings.load_per_gib * gib
            if len(self._loads) < 10_000:
                self._loads[words] = cached
        return cached

    def later(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn`` after ``delay`` virtual seconds."""
        self.clock.call_later(delay, fn)
