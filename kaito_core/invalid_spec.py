"""The status of an object whose spec cannot be used: a False condition, reason ``InvalidSpec``.

Pure: no I/O, no clock, no logging.

Upstream refuses such an object at admission (the validating webhook). Where it is stored anyway
(a cluster without the webhook, such as ``kaito fake-apiserver``'s playground, or an object
written before the webhook was installed), the loop must not leave a blank status: kubectl would
show an empty row and only an Event would say why. `invalid_spec_status` gives every kind the
same answer, from its registration alone (`kaito_core.kinds.KindSpec`):

- its overall condition (the last of ``KindSpec.conditions``: ``WorkspaceSucceeded`` for a
  Workspace) is ``False``, reason ``InvalidSpec``, with the problems as the message (one
  ``path: message`` per problem, ``; ``-joined, cut at `MAX_INVALID_MESSAGE` bytes);
- a status with a ``state`` field (a Workspace's) says ``Failed``;
- the rest of the previous status is kept.

A kind whose ``state`` function reads the reason as terminal then reports the object Failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from kaito_core.api.types import Condition
from kaito_core.conditions import condition, set_condition, truncate_message
from kaito_core.errors import FieldError
from kaito_core.kinds import KindSpec

__all__ = [
    "MAX_INVALID_MESSAGE",
    "REASON_INVALID_SPEC",
    "invalid_condition_type",
    "invalid_spec_message",
    "invalid_spec_status",
]

REASON_INVALID_SPEC = "InvalidSpec"
#: Bytes of the problems kept on the condition (a message is read in ``kubectl describe``).
MAX_INVALID_MESSAGE = 4096
#: The condition of a kind that lists no conditions.
_FALLBACK_CONDITION = "Ready"


def invalid_condition_type(spec: KindSpec[Any, Any]) -> str:
    """The condition that says an object of this kind is unusable: the last of its
    ``conditions`` (its overall one), else ``Ready``.

    Pure: no I/O, no clock, no logging.
    """
    return spec.conditions[-1] if spec.conditions else _FALLBACK_CONDITION


def invalid_spec_message(problems: Sequence[FieldError]) -> str:
    """``path: message; path: message``, cut at `MAX_INVALID_MESSAGE` bytes.

    Pure: no I/O, no clock, no logging.
    """
    return truncate_message("; ".join(str(p) for p in problems), MAX_INVALID_MESSAGE)


def invalid_spec_status(
    spec: KindSpec[Any, Any],
    previous: Any,
    *,
    message: str,
    now: str,
    generation: int | None,
) -> Any:
    """`previous` (a status of ``spec.status_type``, or None) with the kind's overall condition
    False, reason ``InvalidSpec``, and ``state: Failed`` where the status has a state. Equal
    inputs give an equal status (the transition time is kept while the condition stays False).

    Pure: no I/O, no clock, no logging.
    """
    status = previous if isinstance(previous, spec.status_type) else spec.status_type()
    found: Sequence[Condition] | None = getattr(status, "conditions", None)
    item = condition(invalid_condition_type(spec), False, REASON_INVALID_SPEC, message)
    changes: dict[str, Any] = {
        "conditions": set_condition(found, item, now=now, generation=generation)
    }
    if "state" in attrs.fields_dict(spec.status_type):
        changes["state"] = "Failed"
    return attrs.evolve(status, **changes)
