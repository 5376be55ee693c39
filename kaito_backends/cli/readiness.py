"""The predicted time to ready in the CLI: ``--readiness-figures``, ``--phases``, and the reports.

``kaito plan --summary`` adds a TIME TO READY column (the model's total, `kaito_core.readiness`)
and, with ``--phases``, a second table: one row per part of each phase (what it is, how long,
what it was computed from, and a footnote number for its source, the sources listed after the
table). ``kaito up`` runs the fake cluster on the same figures and prints, per Workspace, the
predicted and the simulated time to ready (``--phases``: per phase, the simulated time read from
``status.phase``). ``--readiness-figures FILE`` (YAML or JSON, `kaito_core.readiness.schema`,
read with the bounded loader `kaito_core.api.yamlsafe`) replaces default figures in both; a file
that does not fit prints one ``FILE: FIELD.PATH: message`` line per problem (exit 1), one that
cannot be read one line (exit 2).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.cli.inputs import Inputs, one_line
from kaito_backends.cli.output import table
from kaito_backends.objects import Key, Manifest
from kaito_core.api.yamlsafe import ManifestLoadError, load_yaml
from kaito_core.observed import Observed
from kaito_core.phases import PHASES
from kaito_core.plan import PlanSettings, plan
from kaito_core.readiness import (
    FiguresError,
    Prediction,
    ReadinessFigures,
    default_figures,
    parse_figures,
    predict,
    workload_of,
)
from kaito_presets import default_catalog

if TYPE_CHECKING:
    from kaito_backends.engine.controller import Controller
    from kaito_core.api import Workspace, WorkspaceStatus
    from kaito_core.outcome import Outcome, PlanSummary

__all__ = [
    "MAX_FIGURES_BYTES",
    "SUMMARY_HEADER",
    "PhaseClock",
    "add_readiness_arguments",
    "duration",
    "load_figures",
    "phase_rows",
    "planned_predictions",
    "predictions",
    "print_phases",
    "print_up_report",
    "summary_cells",
    "up_json",
    "up_rows",
]

#: A figures file larger than this is refused unread.
MAX_FIGURES_BYTES = 1 << 20
_PLAN_TIME = "1970-01-01T00:00:00Z"
#: The ``--summary`` column this module adds.
SUMMARY_HEADER = "time to ready"


def add_readiness_arguments(parser: argparse.ArgumentParser, *, command: str) -> None:
    """``--phases`` and ``--readiness-figures FILE``."""
    what = (
        "with --summary, a second table: the predicted time to ready, phase by phase"
        if command == "plan"
        else "print the predicted and simulated time of every phase"
    )
    parser.add_argument("--phases", action="store_true", help=what)
    parser.add_argument(
        "--readiness-figures",
        metavar="FILE",
        default=None,
        help="YAML or JSON figures replacing the time-to-ready model's defaults "
        "(see docs/time-to-ready.md)",
    )


def load_figures(path: str | None, *, command: str) -> tuple[ReadinessFigures | None, int]:
    """(figures, 0), or (None, exit code) after printing why: 1 a file that does not fit the
    schema (a line per problem), 2 a file that cannot be read or parsed."""
    if path is None:
        return default_figures(), 0
    file = Path(path)
    try:
        if not file.is_file():
            raise OSError("not a regular file")
        if file.stat().st_size > MAX_FIGURES_BYTES:
            raise OSError(f"larger than {MAX_FIGURES_BYTES} bytes")
        with file.open("rb") as handle:
            raw = handle.read(MAX_FIGURES_BYTES + 1)
        if len(raw) > MAX_FIGURES_BYTES:
            raise OSError(f"larger than {MAX_FIGURES_BYTES} bytes")
        data = load_yaml(raw)
    except (OSError, ManifestLoadError) as exc:
        print(f"{path}: error: cannot read the figures: {one_line(str(exc))}", file=sys.stderr)
        return None, 2
    try:
        return parse_figures(data, origin=path), 0
    except FiguresError as error:
        for problem in error.errors:
            print(f"{path}: {problem.path or '<document>'}: {one_line(problem.message)}")
        print(f"kaito {command}: {path} is not a valid figures file", file=sys.stderr)
        return None, 1


def duration(seconds: float) -> str:
    """Whole seconds, as ``16m6s``, ``1h2m3s``, ``45s``, ``0s``."""
    total = max(0, math.floor(seconds + 0.5))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h" if hours else ""
    if minutes or (hours and secs):
        text += f"{minutes}m"
    if secs or not text:
        text += f"{secs}s"
    return text


def predictions(
    outcomes: Iterable[Outcome[WorkspaceStatus]],
    inputs: Inputs,
    *,
    settings: PlanSettings,
    figures: ReadinessFigures,
    workspaces: Iterable[Workspace] = (),
) -> dict[str, Prediction]:
    """The prediction of every planned Workspace, by ``namespace/name`` (its summary's key):
    those of ``inputs`` and ``workspaces`` (made by other objects, such as an InferenceSet's
    replicas)."""
    catalog = default_catalog()
    everyone = (*(i.workspace for i in inputs.workspaces), *workspaces)
    by_key = {f"{w.namespace}/{w.name}": w for w in everyone}
    found: dict[str, Prediction] = {}
    for outcome in outcomes:
        summary = outcome.summary
        workspace = by_key.get(summary.workspace) if summary is not None else None
        if summary is None or workspace is None:
            continue
        workload = workload_of(workspace, outcome=outcome, catalog=catalog, settings=settings)
        if workload is not None:
            found[summary.workspace] = predict(workload, figures=figures)
    return found


def planned_predictions(
    inputs: Inputs, *, settings: PlanSettings, figures: ReadinessFigures
) -> dict[str, Prediction]:
    """`predictions` of every Workspace of `inputs`, planned against an empty cluster (its
    ConfigMaps only); one that cannot be planned has none."""
    catalog = default_catalog()
    outcomes = []
    for item in inputs.workspaces:
        observed = Observed(config_maps=inputs.config_maps_for(item.workspace))
        try:
            outcomes.append(
                plan(
                    item.workspace,
                    observed=observed,
                    catalog=catalog,
                    now=_PLAN_TIME,
                    settings=settings,
                )
            )
        except Exception:  # `kaito up` reports the Workspace's own failure; no prediction then
            continue
    return predictions(outcomes, inputs, settings=settings, figures=figures)


def summary_cells(summary: PlanSummary, found: Mapping[str, Prediction]) -> tuple[str, ...]:
    """The TIME TO READY cell of one ``--summary`` row (``-`` without a prediction)."""
    prediction = found.get(summary.workspace)
    return ("-" if prediction is None else duration(prediction.total),)


def phase_rows(found: Mapping[str, Prediction]) -> tuple[list[list[str]], list[str]]:
    """Rows of the ``--phases`` table (workspace, phase, part, time, basis, source note) and
    the sources, numbered in the order they first appear."""
    sources: dict[str, int] = {}
    rows: list[list[str]] = []
    for key in sorted(found):
        prediction = found[key]
        first = True
        for phase in prediction.phases:
            for index, part in enumerate(phase.parts):
                notes = [sources.setdefault(s, len(sources) + 1) for s in part.sources]
                rows.append(
                    [
                        key if first else "",
                        phase.name if index == 0 else "",
                        part.name,
                        duration(part.seconds),
                        part.basis,
                        "[" + ",".join(map(str, notes)) + "]",
                    ]
                )
                first = False
        rows.append(["" if not first else key, "total", "", duration(prediction.total), "", ""])
    return rows, [f"[{n}] {source}" for source, n in sources.items()]


def print_phases(found: Mapping[str, Prediction]) -> None:
    """The ``--phases`` table and its sources, on stdout."""
    rows, notes = phase_rows(found)
    headers = ("workspace", "phase", "part", "time", "from", "source")
    print()
    print(table(headers, rows))
    for note in notes:
        print(note)


# -- kaito up -------------------------------------------------------------------------------------
@attrs.define
class _Track:
    """What one Workspace went through: phases entered (virtual seconds) and when it was done."""

    entered: list[tuple[str, float]] = attrs.field(factory=list)
    done: float | None = None


class PhaseClock:
    """Watches Workspaces on a controller's informer and times their ``status.phase``, in
    virtual seconds since it was made (when ``kaito up`` has created the Workspaces)."""

    def __init__(self, controller: Controller) -> None:
        self.clock = controller.clock
        self.start = controller.clock.monotonic()
        self.tracks: dict[tuple[str, str], _Track] = {}
        controller.informer("Workspace").add_handler(self._on_workspace)

    def _on_workspace(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or "default"), str(meta.get("name")))
        track = self.tracks.setdefault(key, _Track())
        status = obj.get("status") or {}
        phase = status.get("phase") or {}
        now = self.clock.monotonic() - self.start
        name = phase.get("name") if isinstance(phase, Mapping) else None
        if isinstance(name, str):
            if not track.entered or track.entered[-1][0] != name:
                track.entered.append((name, now))
            track.done = None
        elif track.done is None and status.get("state") in _ON_ITS_WAY:
            track.done = now

    def simulated(self, key: Key) -> tuple[float | None, dict[str, float]]:
        """(seconds to ready, seconds per phase) of one Workspace; None when it never was."""
        track = self.tracks.get((key.namespace, key.name))
        if track is None or track.done is None:
            return None, {}
        spent: dict[str, float] = {}
        ends = [at for _, at in track.entered[1:]] + [track.done]
        for (name, at), end in zip(track.entered, ends, strict=True):
            spent[name] = spent.get(name, 0.0) + end - at
        return track.done, spent


#: States in which a Workspace with no phase is on its way (ready, or its Job running or done).
_ON_ITS_WAY = frozenset({"Ready", "Running", "Succeeded"})


def up_rows(
    keys: Sequence[Key],
    found: Mapping[str, Prediction],
    clock: PhaseClock,
    *,
    names: Callable[[Key], str],
    phases: bool,
) -> list[list[str]]:
    """Rows of ``kaito up``'s time-to-ready table: predicted, simulated, difference (the
    Workspaces of `keys`, named by `names`)."""
    rows: list[list[str]] = []
    for key in keys:
        if key.kind != "Workspace":
            continue
        prediction = found.get(f"{key.namespace}/{key.name}")
        total, spent = clock.simulated(key)
        name = names(key)
        rows.append([name, "total", *_compare(prediction.total if prediction else None, total)])
        if phases:
            for phase in PHASES:
                predicted = prediction.phase(phase).seconds if prediction else None
                rows.append(["", phase, *_compare(predicted, spent.get(phase, 0.0))])
    return rows


def _compare(predicted: float | None, simulated: float | None) -> list[str]:
    cells = [
        "-" if predicted is None else duration(predicted),
        "-" if simulated is None else duration(simulated),
    ]
    if predicted is None or simulated is None:
        return [*cells, "-"]
    delta = math.floor(simulated - predicted + 0.5)
    return [*cells, f"{'+' if delta >= 0 else '-'}{duration(abs(delta))}"]


def print_up_report(
    keys: Sequence[Key],
    found: Mapping[str, Prediction],
    clock: PhaseClock,
    *,
    names: Callable[[Key], str],
    phases: bool,
) -> None:
    """The predicted-vs-simulated table ``kaito up`` prints after the Workspaces' table."""
    rows = up_rows(keys, found, clock, names=names, phases=phases)
    if not rows:
        return
    print()
    print(table(("workspace", "phase", "predicted", "simulated", "difference"), rows))


def up_json(key: Key, found: Mapping[str, Prediction], clock: PhaseClock) -> dict[str, Any]:
    """``predictedSeconds``, ``simulatedSeconds`` and ``phases`` of one Workspace (``-o json``)."""
    prediction = found.get(f"{key.namespace}/{key.name}")
    total, spent = clock.simulated(key)
    return {
        "predictedSeconds": None if prediction is None else round(prediction.total, 3),
        "simulatedSeconds": None if total is None else round(total, 3),
        "phases": [
            {
                "name": phase,
                "predictedSeconds": None
                if prediction is None
                else round(prediction.phase(phase).seconds, 3),
                "simulatedSeconds": None if total is None else round(spent.get(phase, 0.0), 3),
            }
            for phase in PHASES
        ],
    }
