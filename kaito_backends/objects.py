"""Object identity and small helpers over plain manifests (``dict`` in wire shape).

- `ObjectRef`: which object (apiVersion, kind, name, namespace); `Key`: which object of a
  registered kind (kind, namespace, name), what the engine's queue, results and the node
  provisioners are keyed by (`WorkspaceKey(ns, name)` is ``Key("Workspace", ns, name)``);
  `machine_labels`: the labels naming a key's NodeClaims and Nodes.
- `ref_of` / `ObjectRef.of_`: the ref of a manifest (cluster-scoped kinds get no namespace).
- `matches_labels`: equality label selectors, as ``kubectl get -l a=b,c=d`` does;
  `matches_fields` / `field_value`: equality field selectors (``involvedObject.uid=...``), as
  ``kubectl get --field-selector`` does (a missing field reads as ``""``).
- `deep_merge`: apply-style merge (maps merged, lists replaced, ``None`` removes a key).
- `clone`: a fast deep copy of JSON-like data (dicts, lists, scalars), much cheaper than
  `copy.deepcopy`; backends copy on every read and write so callers never share state.
- `group_of`, `resource_of`: the API group and the ``plural.group`` resource name of a kind, as
  they appear in Kubernetes error messages (``statefulsets.apps "x" not found``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kaito_core.kinds import conventional_owner_labels

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "Key",
    "Manifest",
    "ObjectRef",
    "WorkspaceKey",
    "clone",
    "deep_merge",
    "field_value",
    "group_of",
    "is_cluster_scoped",
    "labels_of",
    "machine_labels",
    "matches_fields",
    "matches_labels",
    "ref_of",
    "resource_of",
]

Manifest = dict[str, Any]

#: Kinds that live outside namespaces (a ``metadata.namespace`` on them is ignored).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "AKSNodeClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "EC2NodeClass",
        "KaitoNodeClass",
        "ModelMirror",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "NodeClaim",
        "NodePool",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)


def is_cluster_scoped(kind: str) -> bool:
    """True for kinds without a namespace (Node, NodeClaim, NodePool, ...)."""
    return kind in CLUSTER_SCOPED_KINDS


@attrs.frozen
class ObjectRef:
    """Names one object: ``ObjectRef("apps/v1", "StatefulSet", "phi-4", "default")``.

    ``namespace`` is ``None`` for cluster-scoped kinds.
    """

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of_(cls, manifest: Mapping[str, Any]) -> ObjectRef:
        """The ref of a manifest; the namespace of a cluster-scoped kind is dropped."""
        kind = str(manifest.get("kind", ""))
        meta = manifest.get("metadata") or {}
        namespace = None if is_cluster_scoped(kind) else (meta.get("namespace") or None)
        return cls(str(manifest.get("apiVersion", "")), kind, str(meta.get("name", "")), namespace)

    def __str__(self) -> str:
        if self.namespace is None:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"


@attrs.frozen(cache_hash=True)
class Key:
    """Names one object of a registered kind: ``Key("Workspace", "default", "phi-4")``.

    ``str(key)`` is ``namespace/name`` (the kind is told apart where it matters: log lines bind
    it under the kind's singular name, ``workspace=default/phi-4``); `qualified` adds the kind.
    """

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def qualified(self) -> str:
        """``Kind/namespace/name``."""
        return f"{self.kind}/{self.namespace}/{self.name}"


def WorkspaceKey(namespace: str, name: str) -> Key:
    """The `Key` of a Workspace: ``WorkspaceKey("default", "phi-4")``."""
    return Key("Workspace", namespace, name)


def machine_labels(key: Key) -> dict[str, str]:
    """The labels a key's NodeClaims (and their Nodes) carry: ``kaito.sh/<kind>`` = name and
    ``kaito.sh/<kind>namespace`` = namespace (upstream's, for Workspaces and RAGEngines)."""
    labels = conventional_owner_labels(key.kind)
    assert labels.namespace is not None
    return {labels.name: key.name, labels.namespace: key.namespace}


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    """Same as `ObjectRef.of_`."""
    return ObjectRef.of_(obj)


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.labels`` of a manifest, empty when absent."""
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


def matches_labels(obj: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    """True when every ``key=value`` of the selector is among the object's labels."""
    if not selector:
        return True
    labels = labels_of(obj)
    return all(labels.get(key) == value for key, value in selector.items())


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path, as a string (``""`` when absent; booleans lower-case)."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches_fields(obj: Mapping[str, Any], selector: Mapping[str, str] | None) -> bool:
    """True when every ``path=value`` of the (equality) field selector holds for the object."""
    return all(field_value(obj, path) == value for path, value in (selector or {}).items())


def clone(value: Any) -> Any:
    """Deep copy of JSON-like data: dicts and lists are copied (tuples become lists).

    Scalars (str, int, float, bool, None) are immutable and shared, as is any other object.
    """
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            item_kind = type(item)
            out[key] = (
                clone(item)
                if item_kind is dict or item_kind is list or item_kind is tuple
                else item
            )
        return out
    if kind is list or kind is tuple:
        return [
            clone(item) if type(item) is dict or type(item) is list or type(item) is tuple else item
            for item in value
        ]
    return value


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> Manifest:
    """A new dict: ``base`` with ``patch`` laid over it.

    Maps are merged key by key, lists and scalars in ``patch`` replace what ``base`` had, and a
    ``None`` in ``patch`` removes the key. Neither argument is changed; the result shares nothing
    with ``patch``.
    """
    result: Manifest = dict(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif type(value) is dict and type(result.get(key)) is dict:
            result[key] = deep_merge(result[key], value)
        elif type(value) is dict:
            result[key] = deep_merge({}, value)
        else:
            result[key] = clone(value)
    return result


def group_of(api_version: str) -> str:
    """The API group of an apiVersion: ``apps/v1`` -> ``apps``, ``v1`` -> ``""``."""
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


_IRREGULAR_PLURALS = {"Endpoints": "endpoints"}


def resource_of(api_version: str, kind: str) -> str:
    """``plural.group`` as Kubernetes spells it in messages: ``statefulsets.apps``, ``pods``."""
    plural = _IRREGULAR_PLURALS.get(kind)
    if plural is None:
        lower = kind.lower()
        if lower.endswith(("s", "x", "ch", "sh")):
            plural = lower + "es"
        elif lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
            plural = lower[:-1] + "ies"
        else:
            plural = lower + "s"
    group = group_of(api_version)
    return f"{plural}.{group}" if group else plural
