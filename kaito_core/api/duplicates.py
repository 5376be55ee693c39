"""Objects defined twice in one input: the same kind, namespace and name.

Pure: no I/O, no clock, no logging.

Kubernetes names an object by its API group, kind, namespace and name; the version is only a
view of it (a ``kaito.sh/v1alpha1`` and a ``kaito.sh/v1beta1`` Workspace of the same name are
one object). Two documents with the same identity in one input would be two writes of one
object, and a plan of both would emit every child twice under the same names, so the second
is an error that names the first.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import attrs

__all__ = ["ObjectIdentity", "first_occurrences", "object_identity"]


@attrs.frozen(kw_only=True)
class ObjectIdentity:
    """What makes two manifests the same object."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f'{self.kind} "{self.namespace}/{self.name}"'


def object_identity(
    *, api_version: str, kind: str, namespace: str, name: str
) -> ObjectIdentity | None:
    """The identity of a manifest, None when it has no kind or no name (nothing to compare).

    Pure: no I/O, no clock, no logging.
    """
    if not kind or not name:
        return None
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return ObjectIdentity(group=group, kind=kind, namespace=namespace, name=name)


def first_occurrences(keys: Sequence[Hashable | None]) -> tuple[int | None, ...]:
    """For each position, the index of the earlier position with the same key (None for a first
    occurrence or a None key).

    Pure: no I/O, no clock, no logging.
    """
    first: dict[Hashable, int] = {}
    found: list[int | None] = []
    for index, key in enumerate(keys):
        if key is None:
            found.append(None)
            continue
        earlier = first.setdefault(key, index)
        found.append(earlier if earlier != index else None)
    return tuple(found)
