"""Namespaces being deleted: which objects the engine stops working on, and why that is safe.

A namespace that is being deleted refuses new content: the API server answers a create (and a
server-side apply that would create) with 403 ``unable to create new content in namespace X
because it is being terminated``, cause ``NamespaceTerminating`` (`NamespaceTerminating`). Its
namespace controller is deleting everything in it, our objects included; they will get a
``deletionTimestamp`` and be finalized as usual. Until the engine sees that, a reconcile of one
of them (woken, say, by the deletion of one of its children) would re-apply the children and be
refused again and again, with backoff and a warning each time.

So the first refusal is the end of the story for the objects there: `TerminatingNamespaces`
remembers, by uid, the object refused and every object of a registered kind the engine holds in
that namespace at that moment (``members``). All of them were created before the namespace
started terminating (it refuses anything newer), so all of them are going away. A pass over a
remembered object that is not being deleted yet does nothing; once it is being deleted it is
finalized as any other. A namespace deleted and created again holds objects with new uids,
which are reconciled normally. An object is forgotten when it is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kaito_backends.objects import Key

__all__ = ["Members", "TerminatingNamespaces"]

#: The (key, uid) of every object of a registered kind the engine holds in a namespace.
Members = Callable[[str], Iterable[tuple[Key, str]]]


def _uid(manifest: Mapping[str, Any]) -> str:
    return str((manifest.get("metadata") or {}).get("uid") or "")


class TerminatingNamespaces:
    """The objects the engine leaves to their namespace's deletion (see the module docstring)."""

    def __init__(self, members: Members | None = None) -> None:
        self.members = members
        #: key -> uid of the object that is going away with its namespace
        self._doomed: dict[Key, str] = {}

    def __len__(self) -> int:
        return len(self._doomed)

    def doomed(self, key: Key, manifest: Mapping[str, Any]) -> bool:
        """Whether ``manifest`` is an object going away with its namespace."""
        uid = self._doomed.get(key)
        return uid is not None and uid == _uid(manifest)

    def refused(self, key: Key, manifest: Mapping[str, Any]) -> bool:
        """A create for ``key`` was refused because its namespace is terminating: remember it
        and its namespace's other objects. True the first time for the namespace (while any
        object of it is remembered): the caller logs it then, and only then."""
        first = self.in_namespace(key.namespace) == 0
        if self.members is not None:
            for member, uid in self.members(key.namespace):
                if uid:
                    self._doomed.setdefault(member, uid)
        if _uid(manifest):
            self._doomed[key] = _uid(manifest)
        return first

    def in_namespace(self, namespace: str) -> int:
        """How many remembered objects are in ``namespace``."""
        return sum(1 for key in self._doomed if key.namespace == namespace)

    def forget(self, key: Key) -> None:
        """The object is gone."""
        self._doomed.pop(key, None)
