"""Which registered objects an object belongs to: owner references and owner labels.

`owner_keys` maps any manifest (a StatefulSet, a Pod, a Node, a NodeClaim, a child Workspace of
a parent kind, ...) to the `Key`s of the registered objects it belongs to:

- a controller-or-not ``ownerReference`` whose kind is registered (in the object's namespace:
  owner references never cross namespaces);
- each registered kind's `kaito_core.kinds.OwnerLabels`: ``kaito.sh/workspace`` (+
  ``kaito.sh/workspacenamespace``, else the object's namespace, else ``default``), Karpenter's
  ``karpenter.kaito.sh/workspace-name``, upstream's ``workspace.kaito.io/name`` on
  ControllerRevisions (same namespace only), ``kaito.sh/<kind>`` for other kinds.

The object itself is not among its keys. The result is deduplicated, in that order. This is
the informers' ``owner`` index and what turns a child's change into its parent's reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.objects import Key
from kaito_core.kinds import Registry

__all__ = ["owner_keys"]


def owner_keys(obj: Mapping[str, Any], registry: Registry) -> list[Key]:
    """The registered objects ``obj`` belongs to (see the module docstring)."""
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    ns = str(meta.get("namespace") or "")
    keys: list[Key] = []
    for ref in meta.get("ownerReferences") or ():
        kind = ref.get("kind")
        if kind in registry and ref.get("name") and ns:
            keys.append(Key(str(kind), ns, str(ref["name"])))
    labels: Mapping[str, Any] = meta.get("labels") or {}
    if labels:
        for kind, owner in registry.owner_labels:
            name = labels.get(owner.name)
            if not name:
                continue
            if owner.namespace is None:
                if ns:
                    keys.append(Key(kind, ns, str(name)))
            else:
                keys.append(
                    Key(kind, str(labels.get(owner.namespace) or ns or "default"), str(name))
                )
    if len(keys) > 1:
        keys = list(dict.fromkeys(keys))
    return keys
