"""The ``scale`` subresource of a custom resource: its replicas as an ``autoscaling/v1`` Scale,
and setting them, as kube-apiserver serves it for a CRD with ``subresources.scale``.

What ``kubectl scale``, an HPA, KEDA and the fake cluster's autoscaler
(`kaito_backends.fake.autoscaler`) go through, so they all write replicas the same way:

- `scale_of`: the Scale of an object: name, namespace, uid, resourceVersion and
  creationTimestamp from its metadata; ``spec.replicas`` from ``specReplicasPath`` (the kind's
  default when absent: the real server applies the CRD's schema default before it stores an
  object); ``status.replicas`` from ``statusReplicasPath`` (0 when absent);
  ``status.selector`` from ``labelSelectorPath`` (when the kind has one and it is set);
- `replicas_problem`: what kube-apiserver's ``ValidateScale`` says of a desired count (an
  integer, at least 0; ours: within int32, as the Scale's field is);
- `with_replicas`: the object with the count written at ``specReplicasPath``;
- `set_replicas`: read, check, write through a `ClusterClient` ``update`` (which bumps the
  generation, so a controller sees a spec change); a ``resource_version`` is a precondition
  (409 Conflict when stale), as a Scale sent with one is; without one a write that lost a race
  is read and tried again (kube-apiserver's update loop), up to 3 times.

The fake API server adds nothing but HTTP (`kaito_backends.apiserver.scale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaito_backends.errors import Conflict, Invalid
from kaito_backends.objects import Manifest, ObjectRef, clone
from kaito_backends.protocols import ClusterClient
from kaito_core.kinds import ScaleSubresource

__all__ = [
    "INT32_MAX",
    "SCALE_API_VERSION",
    "path_of",
    "read_path",
    "replicas_problem",
    "scale_of",
    "selector_labels",
    "set_replicas",
    "with_replicas",
]

SCALE_API_VERSION = "autoscaling/v1"
INT32_MAX = 2**31 - 1
#: Reads and writes without a precondition, before a Conflict is returned.
_ATTEMPTS = 3
_META_FIELDS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def path_of(dotted: str) -> list[str]:
    """``.spec.replicas`` -> ``["spec", "replicas"]`` (the simple paths a CRD's scale uses)."""
    return [part for part in dotted.split(".") if part]


def read_path(obj: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or None when any step is missing or not an object."""
    node: Any = obj
    for part in path_of(dotted):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def scale_of(obj: Mapping[str, Any], scale: ScaleSubresource) -> Manifest:
    """The ``autoscaling/v1`` Scale of ``obj`` (see the module docstring)."""
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    desired = _integer(read_path(obj, scale.spec_replicas_path))
    current = _integer(read_path(obj, scale.status_replicas_path))
    status: dict[str, Any] = {"replicas": current if current is not None else 0}
    if scale.label_selector_path:
        selector = read_path(obj, scale.label_selector_path)
        if isinstance(selector, str) and selector:
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": {k: meta[k] for k in _META_FIELDS if meta.get(k) is not None},
        "spec": {"replicas": desired if desired is not None else scale.default_replicas},
        "status": status,
    }


def replicas_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a Scale's ``spec.replicas`` (None when it can)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"spec.replicas: Invalid value: {value!r:.40}: must be an integer"
    if value < 0:
        return f"spec.replicas: Invalid value: {value}: must be greater than or equal to 0"
    if value > INT32_MAX:
        return f"spec.replicas: Invalid value: {value}: must be less than or equal to {INT32_MAX}"
    return None


def selector_labels(selector: str | None) -> dict[str, str] | None:
    """A Scale's ``status.selector`` (``a=b,c=d``; ``==`` too) as labels; None when it is
    empty or not made of equalities (sets and negations select nothing here)."""
    if not selector:
        return None
    labels: dict[str, str] = {}
    for term in selector.split(","):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or "!" in key or " " in key:
            return None
        labels[key] = value
    return labels


def with_replicas(obj: Mapping[str, Any], scale: ScaleSubresource, replicas: int) -> Manifest:
    """A copy of ``obj`` with ``replicas`` at ``specReplicasPath`` (missing objects made)."""
    out: Manifest = clone(dict(obj))
    parts = path_of(scale.spec_replicas_path)
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = replicas
    return out


async def set_replicas(
    client: ClusterClient,
    ref: ObjectRef,
    scale: ScaleSubresource,
    replicas: int,
    *,
    resource_version: str | None = None,
) -> Manifest:
    """Set the desired replicas of the object ``ref`` names; returns its new Scale.

    Raises `Invalid` for a count a Scale cannot hold, and what the client raises (`NotFound`,
    `Conflict` when ``resource_version`` is stale, ...).
    """
    problem = replicas_problem(replicas)
    if problem is not None:
        raise Invalid(f'Scale.autoscaling "{ref.name}" is invalid: {problem}')
    for attempt in range(_ATTEMPTS):
        current = await client.get(ref)
        updated = with_replicas(current, scale, replicas)
        if resource_version:
            updated.setdefault("metadata", {})["resourceVersion"] = resource_version
        try:
            written = await client.update(updated)
        except Conflict:
            if resource_version or attempt == _ATTEMPTS - 1:
                raise
            continue  # someone wrote in between: read again, as the server's update loop does
        return scale_of(written, scale)
    raise AssertionError("unreachable")  # pragma: no cover
