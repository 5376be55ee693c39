"""What cannot change once a Workspace exists (the update rules both API versions share).

Pure: no I/O, no clock, no logging.

Inference and tuning cannot be toggled; ``count``, ``partition`` and the label selector (as a
map) are immutable; the inference preset is fixed and a template cannot appear or vanish; the
tuning input name, preset and method are fixed. Adapters and images are re-checked.
"""

from __future__ import annotations

from kaito_core.api.types import Workspace
from kaito_core.errors import FieldError
from kaito_core.validation.facts import Facts
from kaito_core.validation.inference import validate_inference_update
from kaito_core.validation.resource import selector_as_map, validate_count
from kaito_core.validation.tuning import validate_tuning_update

__all__ = ["MSG_IMMUTABLE", "update_common"]

R = "spec.resource"
MSG_IMMUTABLE = "field is immutable"


def update_common(facts: Facts, old: Workspace) -> list[FieldError]:
    """U1-U4, U7, U10, U11: what both API versions check on update."""
    ws = facts.ws
    errors: list[FieldError] = []
    if (ws.inference is None) != (old.inference is None):
        errors.append(
            FieldError(path="spec.inference", message="Inference field cannot be toggled once set")
        )
    if (ws.tuning is None) != (old.tuning is None):
        errors.append(
            FieldError(path="spec.tuning", message="Tuning field cannot be toggled once set")
        )
    new_r, old_r = ws.resource, old.resource
    new_count = new_r.count if new_r else None
    old_count = old_r.count if old_r else None
    if new_count is not None and old_count is not None and new_count != old_count:
        errors.append(FieldError(path=f"{R}.count", message=MSG_IMMUTABLE))
    errors += validate_count(new_r, bounded=new_count != old_count)
    if (new_r.partition if new_r else None) != (old_r.partition if old_r else None):
        errors.append(FieldError(path=f"{R}.partition", message=MSG_IMMUTABLE))
    new_map, new_problem = selector_as_map(new_r.label_selector if new_r else None)
    old_map, old_problem = selector_as_map(old_r.label_selector if old_r else None)
    if new_problem is not None or old_problem is not None:
        errors.append(
            FieldError(
                path=f"{R}.labelSelector", message="Only allow matchLabels or 'IN' matchExpression"
            )
        )
    elif new_map != old_map:
        errors.append(FieldError(path=f"{R}.labelSelector", message=MSG_IMMUTABLE))
    if ws.inference is not None and old.inference is not None:
        errors += validate_inference_update(facts, ws.inference, old.inference)
    if ws.tuning is not None and old.tuning is not None:
        errors += validate_tuning_update(facts, ws.tuning, old.tuning)
    return errors
