"""Errors and problems the core reports.

Pure: no I/O, no clock, no logging.

Tree::

    FieldError                 a value: one problem in one field of one object (validation)
    KaitoError(Exception)
    └── SpecError              the user's fault; terminal until the spec changes
        ├── SizingError        the workspace cannot be sized on the chosen GPUs
        └── UnsupportedGpuError no runtime we can start on this GPU

A `SpecError` carries a `reason` (a CamelCase condition reason) and a field `path`, so the loop can
turn it into a False condition on the Workspace without a traceback.
"""

from __future__ import annotations

import attrs

__all__ = ["FieldError", "KaitoError", "SizingError", "SpecError", "UnsupportedGpuError"]


@attrs.frozen(kw_only=True)
class FieldError:
    """One problem in one field; `path` is dotted from the root (``spec.inference.preset.name``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class KaitoError(Exception):
    """Base of every exception the core raises."""


class SpecError(KaitoError):
    """The Workspace asks for something that cannot be done; fixing the spec is the only cure."""

    reason: str = "InvalidSpec"

    def __init__(self, message: str, *, path: str = "", reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        if reason is not None:
            self.reason = reason

    def as_field_error(self) -> FieldError:
        return FieldError(path=self.path, message=self.message)


class SizingError(SpecError):
    """The model does not fit the GPUs asked for, or cannot be spread as it would have to be."""

    reason = "SizingFailed"


class UnsupportedGpuError(SpecError):
    """No runtime we can start supports this GPU (too old, or not NVIDIA)."""

    reason = "UnsupportedGPU"
