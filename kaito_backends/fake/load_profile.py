"""Load profiles: requests per second over virtual time, for the fake cluster's traffic
simulation (`kaito_backends.fake.traffic`, ``kaito up --load PROFILE``).

A profile is one YAML (or JSON) document::

    seed: 7                 # the random stream of arrivals (default 0)
    target: phi-4-mini      # the InferenceSet it loads (default: the only one)
    namespace: default      # its namespace (default: the target's, else default)
    serviceRate: 0.5        # requests per second one ready replica completes (default 1)
    phases:                 # one after the other, from the moment a replica is first Ready
      - duration: 10m       # a Go duration (90s, 10m, 1h30m) or seconds
        rate: 0.2           # requests per second, on average
      - duration: 5m
        from: 0.2           # a linear ramp
        to: 2
      - duration: 30m
        rate: 2

Every problem is a `kaito_core.errors.FieldError` with its path (``phases[1].rate: must be a
number from 0 to 100000``), all of them at once (`LoadProfileError`). Bounds keep a run
bounded: at most 100 phases, 24 hours in all, 100,000 requests per second, a service rate of
10,000 per replica. Unknown fields are refused (a misspelt ``rate`` must not silently be 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kaito_core.api.yamlsafe import MAX_INPUT_BYTES, load_yaml
from kaito_core.errors import FieldError
from kaito_core.inferenceset.schedule import parse_duration_seconds

__all__ = [
    "DEFAULT_SERVICE_RATE",
    "MAX_DURATION",
    "MAX_PHASES",
    "MAX_RATE",
    "MAX_SERVICE_RATE",
    "LoadProfile",
    "LoadProfileError",
    "Phase",
    "parse_load_profile",
    "read_load_profile",
]

#: Requests per second one ready replica completes when the profile does not say.
DEFAULT_SERVICE_RATE = 1.0
MAX_PHASES = 100
#: Seconds, all phases together.
MAX_DURATION = 24 * 3600.0
MAX_RATE = 100_000.0
MAX_SERVICE_RATE = 10_000.0
_FIELDS = ("seed", "target", "namespace", "serviceRate", "phases")
_PHASE_FIELDS = ("duration", "rate", "from", "to")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class LoadProfileError(ValueError):
    """A profile that cannot be used: every problem, one per line (`errors`)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


@attrs.frozen(kw_only=True)
class Phase:
    """``seconds`` of load going linearly from ``start`` to ``end`` requests per second
    (equal for a constant rate)."""

    seconds: float
    start: float
    end: float

    def rate_at(self, offset: float) -> float:
        """The rate ``offset`` seconds into the phase."""
        if self.seconds <= 0:
            return self.end
        share = min(max(offset / self.seconds, 0.0), 1.0)
        return self.start + (self.end - self.start) * share


@attrs.frozen(kw_only=True)
class LoadProfile:
    """A parsed profile (see the module docstring)."""

    phases: tuple[Phase, ...]
    seed: int = 0
    target: str | None = None
    namespace: str | None = None
    service_rate: float = DEFAULT_SERVICE_RATE

    @property
    def duration(self) -> float:
        """Seconds, all phases together."""
        return sum(p.seconds for p in self.phases)

    def phase_at(self, elapsed: float) -> int | None:
        """The index of the phase ``elapsed`` seconds into the profile (None after it)."""
        start = 0.0
        for index, phase in enumerate(self.phases):
            if elapsed < start + phase.seconds:
                return index
            start += phase.seconds
        return None

    def rate_at(self, elapsed: float) -> float:
        """Requests per second ``elapsed`` seconds into the profile (0 before and after)."""
        if elapsed < 0:
            return 0.0
        start = 0.0
        for phase in self.phases:
            if elapsed < start + phase.seconds:
                return phase.rate_at(elapsed - start)
            start += phase.seconds
        return 0.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Reader:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path=path, message=message))

    def unknown(self, raw: Mapping[str, Any], known: Sequence[str], prefix: str) -> None:
        for key in sorted(str(k) for k in raw if k not in known):
            self.fail(f"{prefix}{key}", f"unknown field (known: {', '.join(known)})")

    def rate(self, raw: Mapping[str, Any], key: str, path: str) -> float:
        value = _number(raw.get(key))
        if value is None or not 0 <= value <= MAX_RATE:
            self.fail(f"{path}.{key}", f"must be a number from 0 to {MAX_RATE:g} (requests/s)")
            return 0.0
        return value

    def duration(self, value: Any, path: str) -> float:
        if isinstance(value, str):
            seconds = parse_duration_seconds(value) if len(value) <= 64 else None
            if seconds is None:
                self.fail(path, "not a duration (e.g. 90s, 10m, 1h30m) or a number of seconds")
                return 0.0
        else:
            number = _number(value)
            if number is None:
                self.fail(path, "must be a duration (e.g. 10m) or a number of seconds")
                return 0.0
            seconds = number
        if not 0 < seconds <= MAX_DURATION:
            self.fail(path, f"must be more than 0 and at most {MAX_DURATION / 3600:g}h")
            return 0.0
        return seconds

    def phase(self, raw: Any, path: str) -> Phase | None:
        if not isinstance(raw, Mapping):
            self.fail(path, "must be a mapping with duration and rate (or from and to)")
            return None
        self.unknown(raw, _PHASE_FIELDS, f"{path}.")
        if "duration" not in raw:
            self.fail(f"{path}.duration", "required")
        seconds = self.duration(raw.get("duration"), f"{path}.duration") if "duration" in raw else 0
        ramp = "from" in raw or "to" in raw
        if "rate" in raw and ramp:
            self.fail(path, "give rate, or from and to (a ramp), not both")
            return None
        if ramp:
            if "from" not in raw or "to" not in raw:
                self.fail(path, "a ramp needs both from and to")
                return None
            start, end = self.rate(raw, "from", path), self.rate(raw, "to", path)
        elif "rate" in raw:
            start = end = self.rate(raw, "rate", path)
        else:
            self.fail(f"{path}.rate", "required (or from and to, for a ramp)")
            return None
        return Phase(seconds=seconds, start=start, end=end)


def parse_load_profile(raw: Any) -> LoadProfile:
    """A profile from its parsed document; raises `LoadProfileError` naming every problem."""
    reader = _Reader()
    if not isinstance(raw, Mapping):
        raise LoadProfileError([FieldError(path="", message="a load profile is a mapping")])
    reader.unknown(raw, _FIELDS, "")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        reader.fail("seed", "must be an integer from 0 to 2^63-1")
        seed = 0
    names: dict[str, str | None] = {}
    for key in ("target", "namespace"):
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > 63 or not _NAME.match(value)
        ):
            reader.fail(key, "must be a DNS-1123 label (lower case letters, digits and '-')")
            value = None
        names[key] = value
    service = raw.get("serviceRate", DEFAULT_SERVICE_RATE)
    rate = _number(service)
    if rate is None or not 0 < rate <= MAX_SERVICE_RATE:
        reader.fail("serviceRate", f"must be a number above 0 and at most {MAX_SERVICE_RATE:g}")
        rate = DEFAULT_SERVICE_RATE
    phases: list[Phase] = []
    listed = raw.get("phases")
    if not isinstance(listed, list) or not listed:
        reader.fail("phases", "required: a list of at least one phase")
    elif len(listed) > MAX_PHASES:
        reader.fail("phases", f"at most {MAX_PHASES} phases")
    else:
        for index, item in enumerate(listed):
            phase = reader.phase(item, f"phases[{index}]")
            if phase is not None:
                phases.append(phase)
        if sum(p.seconds for p in phases) > MAX_DURATION:
            reader.fail("phases", f"last {MAX_DURATION / 3600:g}h at most, all together")
    if reader.errors:
        raise LoadProfileError(reader.errors)
    return LoadProfile(
        phases=tuple(phases),
        seed=seed,
        target=names["target"],
        namespace=names["namespace"],
        service_rate=rate,
    )


def read_load_profile(path: str | Path) -> LoadProfile:
    """The profile in a file. Raises `OSError` (unreadable), `ManifestLoadError` (not YAML, or
    over the YAML limits: a file is read no further than them) or `LoadProfileError`."""
    with Path(path).open("rb") as handle:
        data = handle.read(MAX_INPUT_BYTES + 1)
    return parse_load_profile(load_yaml(data))
