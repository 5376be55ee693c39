"""The time-to-ready model: a prediction, phase by phase, of how long a Workspace takes.

Pure: no I/O, no clock, no logging.

`predict(workload, figures=default_figures())` returns a `Prediction` whose phases are the
ones ``status.phase`` reports (`kaito_core.phases`); `workload_of` reads the `Workload` off a
plan; `parse_figures` reads a figures file (a parsed YAML/JSON value) over the defaults.
The figures, their sources and the model's limits: ``docs/time-to-ready.md``.
"""

from kaito_core.readiness.figures import (
    ANY,
    ImageFigures,
    MultiNodeFigures,
    NodeFigures,
    PullFigures,
    RateFigures,
    ReadinessFigures,
    RuntimeFigures,
    StepFigures,
    WeightsFigures,
    image_matches,
    vm_family,
)
from kaito_core.readiness.prediction import Part, PhaseEstimate, Prediction, predict
from kaito_core.readiness.schema import RUNTIMES, FiguresError, default_figures, parse_figures
from kaito_core.readiness.workload import (
    RUNTIME_TEMPLATE,
    RUNTIME_TUNING,
    WEIGHTS_DOWNLOAD,
    WEIGHTS_IMAGE,
    WEIGHTS_NONE,
    WEIGHTS_STREAM,
    Workload,
    pod_images,
    workload_of,
)

__all__ = [
    "ANY",
    "RUNTIMES",
    "RUNTIME_TEMPLATE",
    "RUNTIME_TUNING",
    "WEIGHTS_DOWNLOAD",
    "WEIGHTS_IMAGE",
    "WEIGHTS_NONE",
    "WEIGHTS_STREAM",
    "FiguresError",
    "ImageFigures",
    "MultiNodeFigures",
    "NodeFigures",
    "Part",
    "PhaseEstimate",
    "Prediction",
    "PullFigures",
    "RateFigures",
    "ReadinessFigures",
    "RuntimeFigures",
    "StepFigures",
    "WeightsFigures",
    "Workload",
    "default_figures",
    "image_matches",
    "parse_figures",
    "pod_images",
    "predict",
    "vm_family",
    "workload_of",
]
