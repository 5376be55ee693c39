"""`predict`: how long a Workspace takes to become ready, phase by phase. A model, not a promise.

Pure: no I/O, no clock, no logging.

The phases are the ones ``status.phase`` reports while a Workspace is not ready
(`kaito_core.phases`), so a prediction can be compared with what a cluster shows.
Each phase is a sum of parts, each part one figure of `ReadinessFigures` applied to the
`Workload`:

==================  ===========================================================================
ProvisioningNodes   node provisioning (by cloud and VM family; 0 with bring-your-own nodes)
InitializingNodes   node initialisation: drivers, GPU device plugin (likewise)
PullingImage        scheduling; the pull of every distinct image of the pod (size / rate);
                    weights shipped in an image (a tuning Job's; a preset's that does not
                    download at runtime), pulled by an init container; creating the container
LoadingWeights      the runtime's start; the weights (size / download or stream rate); the Ray
                    cluster of a multi-node vLLM; the engine's compile and warm-up; the vLLM
                    post-load benchmark. All of this runs before the startup probe passes,
                    which is what the status can see: KAITO's probes pass only when the server
                    answers (and, for vLLM, the benchmark is the startup probe).
WarmingUp           the readiness check once the startup probe passed
==================  ===========================================================================

Nodes are provisioned and pods start in parallel, so the node count changes only the
multi-node part. A tuning Workspace is on its way once its Job's pod runs: its last two phases
are empty. ``docs/time-to-ready.md`` gives the sources and the limits.
"""

from __future__ import annotations

import attrs

from kaito_core.phases import (
    INITIALIZING_NODES,
    LOADING_WEIGHTS,
    PHASES,
    PROVISIONING_NODES,
    PULLING_IMAGE,
    WARMING_UP,
)
from kaito_core.readiness.figures import ReadinessFigures, vm_family
from kaito_core.readiness.workload import (
    RUNTIME_TUNING,
    WEIGHTS_DOWNLOAD,
    WEIGHTS_IMAGE,
    WEIGHTS_STREAM,
    Workload,
)

__all__ = ["Part", "PhaseEstimate", "Prediction", "predict"]

_GB = 1e9
_GIB = float(1 << 30)


@attrs.frozen(kw_only=True)
class Part:
    """One term of a phase: what it is, seconds, what it was computed from, and the sources of
    the figures it used."""

    name: str
    seconds: float
    basis: str
    sources: tuple[str, ...]


@attrs.frozen(kw_only=True)
class PhaseEstimate:
    """One phase: its name (a ``status.phase`` name) and its parts."""

    name: str
    parts: tuple[Part, ...] = ()

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.parts)


@attrs.frozen(kw_only=True)
class Prediction:
    """Every phase, in the order a Workspace goes through them (empty phases included)."""

    phases: tuple[PhaseEstimate, ...]

    @property
    def total(self) -> float:
        """Seconds from creating the Workspace until it is ready."""
        return sum(p.seconds for p in self.phases)

    def phase(self, name: str) -> PhaseEstimate:
        """The estimate of phase `name`."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)


def _gb(size: float) -> str:
    return f"{size / _GB:.2f} GB"


def _rate(bytes_per_second: float) -> str:
    return f"{bytes_per_second / 1e6:.1f} MB/s"


def _nodes(workload: Workload, figures: ReadinessFigures) -> tuple[tuple[Part, ...], ...]:
    if not workload.provisioned:
        return (), ()
    family = vm_family(cloud=workload.cloud, instance_type=workload.instance_type)
    node = figures.node(cloud=workload.cloud, family=family)
    count = f"{workload.nodes} x " if workload.nodes > 1 else ""
    basis = f"{count}{workload.instance_type or '?'} ({workload.cloud}, family {family or '?'})"
    return (
        (
            Part(
                name="node provisioning",
                seconds=node.provision_seconds,
                basis=basis,
                sources=(node.source,),
            ),
        ),
        (
            Part(
                name="node initialisation",
                seconds=node.initialize_seconds,
                basis=basis,
                sources=(node.source,),
            ),
        ),
    )


def _pulling(workload: Workload, figures: ReadinessFigures) -> tuple[Part, ...]:
    pull = figures.pull
    parts = [
        Part(
            name="scheduling",
            seconds=pull.scheduling_seconds,
            basis="controllers and scheduler before the pull",
            sources=(pull.source,),
        )
    ]
    entries = [(image, figures.image(image)) for image in workload.images]
    if entries:
        size = sum(entry.bytes for _, entry in entries)
        names = ", ".join(f"{image.rsplit('/', 1)[-1]} {_gb(e.bytes)}" for image, e in entries)
        sources = tuple(dict.fromkeys([pull.source, *(e.source for _, e in entries)]))
        parts.append(
            Part(
                name="image pull",
                seconds=size / pull.bytes_per_second,
                basis=f"{names} at {_rate(pull.bytes_per_second)}",
                sources=sources,
            )
        )
    if workload.weights == WEIGHTS_IMAGE and workload.weights_bytes:
        parts.append(_weights(workload, figures))
    parts.append(
        Part(
            name="container start",
            seconds=pull.container_start_seconds,
            basis="image pulled to container running",
            sources=(pull.source,),
        )
    )
    return tuple(parts)


def _weights(workload: Workload, figures: ReadinessFigures) -> Part:
    streamed = workload.weights == WEIGHTS_STREAM
    rate = figures.weights.stream if streamed else figures.weights.download
    how = {
        WEIGHTS_STREAM: "streamed from the node's disk",
        WEIGHTS_IMAGE: "pulled from the weights image by an init container",
    }.get(workload.weights, "downloaded")
    return Part(
        name={WEIGHTS_STREAM: "weights stream", WEIGHTS_IMAGE: "weights image pull"}.get(
            workload.weights, "weights download"
        ),
        seconds=workload.weights_bytes / rate.bytes_per_second,
        basis=f"{workload.weights_bytes / _GIB:.2f} GiB {how} at {_rate(rate.bytes_per_second)}",
        sources=(rate.source,),
    )


def _loading(workload: Workload, figures: ReadinessFigures) -> tuple[Part, ...]:
    if workload.runtime == RUNTIME_TUNING:
        return ()
    runtime = figures.runtime(workload.runtime)
    parts = [
        Part(
            name="runtime start",
            seconds=runtime.start_seconds,
            basis=f"{workload.runtime}: container start to loading the weights",
            sources=(runtime.source,),
        )
    ]
    if workload.weights in (WEIGHTS_DOWNLOAD, WEIGHTS_STREAM) and workload.weights_bytes:
        parts.append(_weights(workload, figures))
    if workload.distributed and workload.nodes > 1:
        multi = figures.multi_node
        extra = workload.nodes - 1
        parts.append(
            Part(
                name="multi-node start-up",
                seconds=multi.start_seconds + multi.seconds_per_extra_node * extra,
                basis=f"{workload.nodes} nodes",
                sources=(multi.source,),
            )
        )
    parts.append(
        Part(
            name="engine warm-up",
            seconds=runtime.warm_up_seconds,
            basis=f"{workload.runtime}: weights loaded to the server answering",
            sources=(runtime.source,),
        )
    )
    if workload.benchmark:
        parts.append(
            Part(
                name="benchmark",
                seconds=runtime.benchmark_seconds,
                basis="the post-load benchmark is the startup probe",
                sources=(runtime.source,),
            )
        )
    return tuple(p for p in parts if p.seconds > 0)


def predict(workload: Workload, *, figures: ReadinessFigures) -> Prediction:
    """Seconds per phase for `workload`, from `figures` (`default_figures()` ships them).

    Pure: no I/O, no clock, no logging.
    """
    provision, initialize = _nodes(workload, figures)
    warming: tuple[Part, ...] = ()
    if workload.runtime != RUNTIME_TUNING:
        step = figures.readiness
        warming = (
            Part(
                name="readiness",
                seconds=step.seconds,
                basis="startup probe passed to Ready",
                sources=(step.source,),
            ),
        )
    parts = {
        PROVISIONING_NODES: provision,
        INITIALIZING_NODES: initialize,
        PULLING_IMAGE: tuple(p for p in _pulling(workload, figures) if p.seconds > 0),
        LOADING_WEIGHTS: _loading(workload, figures),
        WARMING_UP: tuple(p for p in warming if p.seconds > 0),
    }
    return Prediction(phases=tuple(PhaseEstimate(name=n, parts=parts[n]) for n in PHASES))
