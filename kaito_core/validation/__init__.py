"""Admission validation of Workspaces: what KAITO's webhook checks, with wire paths.

Pure: no I/O, no clock, no logging. See ``docs/validation.md`` for every rule and its message.
"""

from kaito_core.validation.context import PROVISIONERS, FeatureGates, ValidationContext
from kaito_core.validation.datasources import image_reference_problem, url_problem
from kaito_core.validation.endpoints import endpoint_problem
from kaito_core.validation.ragengine import validate_ragengine
from kaito_core.validation.resource import MIG_PROFILES
from kaito_core.validation.workspace import validate

__all__ = [
    "MIG_PROFILES",
    "PROVISIONERS",
    "FeatureGates",
    "ValidationContext",
    "endpoint_problem",
    "image_reference_problem",
    "url_problem",
    "validate",
    "validate_ragengine",
]
