"""The store's storage of one kind: objects by (namespace, name), with their indexes.

A `Bucket` keeps the objects of one (API group, kind), the names per namespace, the members of
each indexed label value, the kind's watch history and its open watches. `put` and `drop` keep
the indexes in step with the objects; the store calls them from its single commit path.
"""

from __future__ import annotations

from collections.abc import Iterable

from kaito_backends.fake.watches import History, Watcher
from kaito_backends.objects import Manifest

__all__ = ["Bucket", "ObjKey"]

#: (namespace or "", name)
ObjKey = tuple[str, str]


class Bucket:
    """Objects of one kind and their indexes (see the module docstring)."""

    __slots__ = ("by_label", "by_ns", "history", "indexed_labels", "objects", "watchers")

    def __init__(self, history: int, indexed_labels: Iterable[str]) -> None:
        self.objects: dict[ObjKey, Manifest] = {}
        self.by_ns: dict[str, set[str]] = {}
        self.by_label: dict[tuple[str, str], set[ObjKey]] = {}
        self.history = History(history)
        self.watchers: list[Watcher] = []
        self.indexed_labels = tuple(indexed_labels)

    def put(self, okey: ObjKey, obj: Manifest, old: Manifest | None) -> None:
        """Store ``obj`` at ``okey`` (``old`` is what was there, for the label index)."""
        self.objects[okey] = obj
        self.by_ns.setdefault(okey[0], set()).add(okey[1])
        self._index_labels(okey, old, obj)

    def drop(self, okey: ObjKey, last: Manifest) -> None:
        """Forget the object at ``okey`` (``last`` is its final state)."""
        self.objects.pop(okey, None)
        names = self.by_ns.get(okey[0])
        if names is not None:
            names.discard(okey[1])
            if not names:
                del self.by_ns[okey[0]]
        self._index_labels(okey, last, None)

    def in_namespace(self, namespace: str) -> list[Manifest]:
        """The objects in ``namespace``, by name."""
        return [self.objects[(namespace, n)] for n in sorted(self.by_ns.get(namespace, ()))]

    def _index_labels(self, okey: ObjKey, old: Manifest | None, new: Manifest | None) -> None:
        before = (old["metadata"].get("labels") or {}) if old is not None else {}
        after = (new["metadata"].get("labels") or {}) if new is not None else {}
        for label in self.indexed_labels:
            was, now = before.get(label), after.get(label)
            if was == now:
                continue
            if was is not None:
                members = self.by_label.get((label, was))
                if members is not None:
                    members.discard(okey)
                    if not members:
                        del self.by_label[(label, was)]
            if now is not None:
                self.by_label.setdefault((label, now), set()).add(okey)
