"""What the loop does with an object whose spec cannot be used (see `kaito_core.invalid_spec`).

Two cases, the same answer for every kind:

- the spec does not parse (a wrong type, an unknown field): always;
- the spec parses but the kind's validation (the admission webhook's rules) refuses it: only when
  the engine is given a `ValidationContext` (``Controller(validation=...)``). The fake API
  server's playground has no webhook and passes one; an operator whose webhook judges every
  object does not need to, and embedders choose.

`SpecCheck.problems` validates an object once per (uid, generation) (a status write does not
bump the generation, so the loop does not validate again for its own writes), and
`SpecCheck.status_body` is the status write that says ``InvalidSpec``, or None when the stored
status already says exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.objects import Key, Manifest
from kaito_core.errors import FieldError
from kaito_core.invalid_spec import invalid_spec_message, invalid_spec_status
from kaito_core.kinds import KindSpec
from kaito_core.validation import ValidationContext

__all__ = ["SpecCheck", "status_patch"]

#: Validations remembered (one per object; the oldest are forgotten first).
_MEMORY = 10_000


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


class SpecCheck:
    """The loop's view of invalid specs: validation (optional) and the status that says so."""

    def __init__(self, *, catalog: Any, validation: ValidationContext | None = None) -> None:
        self.catalog = catalog
        self.validation = validation
        self._seen: dict[Key, tuple[str, Any, str | None]] = {}

    def problems(self, spec: KindSpec[Any, Any], key: Key, manifest: Manifest, obj: Any) -> str:
        """The validation problems of a parsed object as one message, ``""`` when it is valid
        or no `ValidationContext` was given."""
        if self.validation is None:
            return ""
        meta = _meta(manifest)
        version = (str(meta.get("uid") or ""), meta.get("generation"))
        seen = self._seen.get(key)
        if seen is not None and (seen[0], seen[1]) == version:
            return seen[2] or ""
        found: list[FieldError] = list(
            spec.validate(obj, old=None, catalog=self.catalog, context=self.validation)
        )
        message = invalid_spec_message(found) if found else None
        if len(self._seen) >= _MEMORY:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = (version[0], version[1], message)
        return message or ""

    def forget(self, key: Key) -> None:
        self._seen.pop(key, None)

    def status_body(
        self, spec: KindSpec[Any, Any], manifest: Manifest, message: str, now: str
    ) -> Manifest | None:
        """The ``apply_status`` body that makes the object's status say ``InvalidSpec`` with
        `message`; None when its stored status says so already."""
        try:
            previous = spec.read_status(manifest)
        except Exception:  # a status that does not parse either: start afresh
            previous = None
        generation = _meta(manifest).get("generation")
        status = invalid_spec_status(
            spec,
            previous,
            message=message,
            now=now,
            generation=generation if isinstance(generation, int) else None,
        )
        if previous == status:
            return None
        return status_patch(spec, manifest, status)


def status_patch(spec: KindSpec[Any, Any], manifest: Manifest, status: Any) -> Manifest:
    """The ``apply_status`` body that sets the object's status to ``status``. Its
    ``resourceVersion`` is a precondition: a Conflict means our copy was stale (a spec change,
    our own finalizer write not seen yet); the controller requeues and we look again."""
    meta = _meta(manifest)
    return {
        "apiVersion": manifest.get("apiVersion", spec.api_version),
        "kind": spec.kind,
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "status": spec.dump_status(status),
    }
