"""The figures the time-to-ready model is built from, each with where it comes from.

Pure: no I/O, no clock, no logging.

`ReadinessFigures` holds every number `kaito_core.readiness.prediction.predict` uses: how long
a node of a cloud and VM family takes to provision and to initialise, how big an image is, how
fast images pull and weights download or stream, how long a runtime takes to start, warm up and
benchmark, the last readiness check and the extra start-up of a multi-node Workspace. Every
group carries a ``source``: the measurement it was taken from, or the word "assumption". The
shipped defaults are ``figures.json`` next to this module (`kaito_core.readiness.schema`
reads it, and any file of the same shape that overrides it); ``docs/time-to-ready.md`` lists
them with their sources.
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "ANY",
    "ImageFigures",
    "MultiNodeFigures",
    "NodeFigures",
    "PullFigures",
    "RateFigures",
    "ReadinessFigures",
    "RuntimeFigures",
    "StepFigures",
    "WeightsFigures",
    "image_matches",
    "vm_family",
]

#: The wildcard of a cloud, family or image entry: it matches what no other entry does.
ANY = "*"


@attrs.frozen(kw_only=True)
class NodeFigures:
    """A node of `cloud` and VM `family`: seconds from asking for it until its Node object
    exists (`provision_seconds`), then until it is Ready with GPUs (`initialize_seconds`)."""

    cloud: str
    family: str
    provision_seconds: float
    initialize_seconds: float
    source: str


@attrs.frozen(kw_only=True)
class ImageFigures:
    """The compressed size of an image: ``kaito-base:0.5.0`` (that tag), ``kaito-base`` (any
    tag), ``aks/kaito/kaito-base:0.5.0`` (a longer path), or ``*`` (any other image)."""

    image: str
    bytes: int
    source: str


@attrs.frozen(kw_only=True)
class PullFigures:
    """How pods get going on a ready node: the scheduler and controllers before the pull
    (`scheduling_seconds`), the pull rate, and creating the container once pulled."""

    bytes_per_second: float
    scheduling_seconds: float
    container_start_seconds: float
    source: str


@attrs.frozen(kw_only=True)
class RateFigures:
    """A transfer rate in bytes per second."""

    bytes_per_second: float
    source: str


@attrs.frozen(kw_only=True)
class WeightsFigures:
    """Weights downloaded from the model hub (`download`, load included) or streamed from the
    node's disk (`stream`, ``kaito.sh/use-local-weights``)."""

    download: RateFigures
    stream: RateFigures


@attrs.frozen(kw_only=True)
class RuntimeFigures:
    """One runtime (``vllm``, ``transformers``, ``template``, ``tuning``): seconds from the
    container's start until it loads weights (`start_seconds`), to compile and warm the engine
    up once they are loaded, and for the post-load benchmark (vLLM presets run it unless
    ``kaito.sh/disable-benchmark: "true"``)."""

    runtime: str
    start_seconds: float
    warm_up_seconds: float
    benchmark_seconds: float
    source: str


@attrs.frozen(kw_only=True)
class StepFigures:
    """One fixed step, in seconds."""

    seconds: float
    source: str


@attrs.frozen(kw_only=True)
class MultiNodeFigures:
    """What a Workspace spread over several nodes (multi-node vLLM) adds to its start-up."""

    start_seconds: float
    seconds_per_extra_node: float
    source: str


@attrs.frozen(kw_only=True)
class ReadinessFigures:
    """Every figure of the time-to-ready model (see the module docstring).

    `nodes` and `images` hold a ``*`` entry each (the fallback); `runtimes` one per runtime.
    """

    nodes: tuple[NodeFigures, ...]
    images: tuple[ImageFigures, ...]
    pull: PullFigures
    weights: WeightsFigures
    runtimes: tuple[RuntimeFigures, ...]
    readiness: StepFigures
    multi_node: MultiNodeFigures

    def node(self, *, cloud: str, family: str) -> NodeFigures:
        """The entry for `cloud` and `family` (case-insensitive), else the cloud's ``*``
        family, else ``*``/``*``."""
        wanted = [(cloud.lower(), family.lower()), (cloud.lower(), ANY), (ANY, ANY)]
        by_key = {(n.cloud.lower(), n.family.lower()): n for n in self.nodes}
        for key in wanted:
            if key in by_key:
                return by_key[key]
        raise LookupError("the figures have no '*' node entry")

    def image(self, reference: str) -> ImageFigures:
        """The most specific entry matching the image `reference` (see `image_matches`): a
        longer path first, a tagged entry before an untagged one, ``*`` last."""
        best: tuple[tuple[int, int], ImageFigures] | None = None
        fallback: ImageFigures | None = None
        for entry in self.images:
            if entry.image == ANY:
                fallback = entry
                continue
            if not image_matches(entry.image, reference):
                continue
            path, tag = _split(entry.image)
            rank = (len(path), 1 if tag else 0)
            if best is None or rank > best[0]:
                best = (rank, entry)
        if best is not None:
            return best[1]
        if fallback is None:
            raise LookupError("the figures have no '*' image entry")
        return fallback

    def runtime(self, name: str) -> RuntimeFigures:
        """The entry of runtime `name`."""
        for entry in self.runtimes:
            if entry.runtime == name:
                return entry
        raise LookupError(f"the figures have no runtime {name!r}")


def _split(reference: str) -> tuple[list[str], str]:
    """(path segments, tag) of an image reference, registry and digest left out."""
    ref = reference.split("@", 1)[0]
    segments = ref.split("/")
    if len(segments) > 1 and (
        "." in segments[0] or ":" in segments[0] or segments[0] == "localhost"
    ):
        segments = segments[1:]
    tag = ""
    if ":" in segments[-1]:
        segments[-1], tag = segments[-1].split(":", 1)
    return segments, tag


def image_matches(pattern: str, reference: str) -> bool:
    """True when the image `reference` is the image `pattern` names: the pattern's path is the
    end of the reference's (registry ignored) and, if the pattern has a tag, the tags are equal.

    ``kaito-base:0.5.0`` and ``aks/kaito/kaito-base`` both match
    ``mcr.microsoft.com/aks/kaito/kaito-base:0.5.0``; ``base:0.5.0`` does not.
    """
    if pattern == ANY:
        return True
    want_path, want_tag = _split(pattern)
    path, tag = _split(reference)
    if len(want_path) > len(path) or path[len(path) - len(want_path) :] != want_path:
        return False
    return not want_tag or want_tag == tag


_AZURE_SIZE = re.compile(r"^(?:Standard_|Basic_)?([A-Za-z]+?)(\d+)(.*)$")


def vm_family(*, cloud: str, instance_type: str) -> str:
    """The VM family of an instance type, the key node figures are looked up by.

    Azure and Arc: the size without ``Standard_`` and without its vCPU count
    (``Standard_NC24ads_A100_v4`` -> ``NCads_A100_v4``); AWS: the part before the dot
    (``p4d.24xlarge`` -> ``p4d``); anything else: the instance type itself.
    """
    if cloud == "aws" or ("." in instance_type and not instance_type.startswith("Standard_")):
        return instance_type.split(".", 1)[0]
    match = _AZURE_SIZE.match(instance_type)
    if match is None:
        return instance_type
    letters, _, rest = match.groups()
    return f"{letters}{rest}"
