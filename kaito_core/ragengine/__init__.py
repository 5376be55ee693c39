"""The RAGEngine kind: planning retrieval-augmented generation services.

Pure: no I/O, no clock, no logging.

`plan_ragengine` is the kind's planner (the same `Outcome` contract as `kaito_core.plan.plan`);
`RAGEngineSettings` the operator settings it reads; `inference_target` what the shell must look
up for the wiring check; the kind's registry facts are the constants of
`kaito_core.ragengine.kind`, and its registration (`RAGENGINE`, a `kaito_core.kinds.KindSpec`
in `kaito_core.registry.default_registry`, with `ragengine_state`) is
`kaito_core.ragengine.registration`. The API model is `kaito_core.api.RAGEngine`, the admission
rules `kaito_core.validation.validate_ragengine`. ``docs/ragengine.md`` describes it all.
"""

from kaito_core.ragengine.kind import (
    CATEGORIES,
    CHILD_KINDS,
    FINALIZER,
    GROUP,
    KIND,
    LABEL_RAGENGINE,
    LABEL_RAGENGINE_NAMESPACE,
    LIST_KIND,
    NODE_CLAIMS,
    PLURAL,
    PRINTER_COLUMNS,
    SCOPE,
    SHORT_NAMES,
    SINGULAR,
    STATUS_TERMINAL,
    STORAGE_VERSION,
    VERSIONS,
)
from kaito_core.ragengine.plan import default_guardrails_policy, plan_ragengine
from kaito_core.ragengine.registration import (
    PERSISTENT_FAILURE_REASONS,
    RAGENGINE,
    plan_with_engine_settings,
    ragengine_state,
)
from kaito_core.ragengine.settings import (
    DEFAULT_RAG_SERVICE_IMAGE,
    DEFAULT_RELEASE_NAMESPACE,
    RAGEngineSettings,
)
from kaito_core.ragengine.status import compute_ragengine_status
from kaito_core.ragengine.wiring import InferenceTarget, inference_target

__all__ = [
    "CATEGORIES",
    "CHILD_KINDS",
    "DEFAULT_RAG_SERVICE_IMAGE",
    "DEFAULT_RELEASE_NAMESPACE",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_RAGENGINE",
    "LABEL_RAGENGINE_NAMESPACE",
    "LIST_KIND",
    "NODE_CLAIMS",
    "PERSISTENT_FAILURE_REASONS",
    "PLURAL",
    "PRINTER_COLUMNS",
    "RAGENGINE",
    "SCOPE",
    "SHORT_NAMES",
    "SINGULAR",
    "STATUS_TERMINAL",
    "STORAGE_VERSION",
    "VERSIONS",
    "InferenceTarget",
    "RAGEngineSettings",
    "compute_ragengine_status",
    "default_guardrails_policy",
    "inference_target",
    "plan_ragengine",
    "plan_with_engine_settings",
    "ragengine_state",
]
