"""The default registry: the kinds kaito-py runs, Workspace first.

Pure: no I/O, no clock, no logging.

Adding a kind to kaito-py is one line here (its `kaito_core.kinds.KindSpec`), plus, when the
shell must know more of it (a CRD with a full schema, related objects that wake a reconcile),
a `kaito_backends.kinds.KindHooks` in ``kaito_backends.kinds.DEFAULT_HOOKS``. Embedders and
tests build their own registry with `Registry.with_kind` and pass it to the engine, the
operator, the fake API server or the CLI.
"""

from __future__ import annotations

from functools import cache

from kaito_core.inferenceset.kind import INFERENCESET
from kaito_core.kinds import Registry
from kaito_core.ragengine.registration import RAGENGINE
from kaito_core.workspace_kind import WORKSPACE

__all__ = ["default_registry"]


@cache
def default_registry() -> Registry:
    """Every kind kaito-py ships, in order: Workspace, InferenceSet, RAGEngine.

    Pure: no I/O, no clock, no logging.
    """
    return Registry((WORKSPACE, INFERENCESET, RAGENGINE))
