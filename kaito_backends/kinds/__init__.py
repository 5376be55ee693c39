"""The shell's side of the kind registry: hooks per kind, and ownership of objects.

The pure description of each kind is its `kaito_core.kinds.KindSpec`, in a
`kaito_core.kinds.Registry` (`kaito_core.registry.default_registry`: Workspace first). What
only the shell needs is a `KindHooks` per kind name (`DEFAULT_HOOKS`; a kind without hooks
works from its spec alone), and `owner_keys` maps any object to the registered objects it
belongs to. See ``docs/embedding.md`` ("Adding a kind").
"""

from collections.abc import Mapping
from types import MappingProxyType

from kaito_backends.kinds.hooks import (
    AdmissionHook,
    AdmissionReader,
    ClusterView,
    IndexLookup,
    KindHooks,
    RelatedHook,
    Watch,
)
from kaito_backends.kinds.inferenceset import INFERENCESET_HOOKS
from kaito_backends.kinds.owners import owner_keys
from kaito_backends.kinds.ragengine import RAGENGINE_HOOKS
from kaito_backends.kinds.workspace import WORKSPACE_HOOKS

#: The shell's hooks of the default registry's kinds, by kind name.
DEFAULT_HOOKS: Mapping[str, KindHooks] = MappingProxyType(
    {"Workspace": WORKSPACE_HOOKS, "InferenceSet": INFERENCESET_HOOKS, "RAGEngine": RAGENGINE_HOOKS}
)

__all__ = [
    "DEFAULT_HOOKS",
    "AdmissionHook",
    "AdmissionReader",
    "ClusterView",
    "IndexLookup",
    "KindHooks",
    "RelatedHook",
    "Watch",
    "owner_keys",
]
