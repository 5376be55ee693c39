"""The three patch formats of ``PATCH``: JSON merge, strategic merge, JSON patch.

- `merge_patch` (``application/merge-patch+json``, RFC 7386): maps merge, ``null`` deletes, any
  other value (lists included) replaces.
- `strategic_merge_patch` (``application/strategic-merge-patch+json``): a merge patch that knows
  the list merge keys of the kinds the fake serves: ``containers``, ``initContainers``,
  ``ephemeralContainers``, ``env``, ``volumes``, ``imagePullSecrets`` by ``name``;
  ``volumeMounts`` by ``mountPath``; ``ports`` by ``containerPort`` (container ports) or
  ``port`` (Service ports); ``conditions`` by ``type``; ``ownerReferences`` by ``uid``;
  ``finalizers`` merged as a set. It honours ``$patch: delete`` / ``$patch: replace`` (in maps
  and list items) and ``$deleteFromPrimitiveList/<field>``; ``$setElementOrder/<field>`` and
  ``$retainKeys`` are accepted and ignored. Other lists are replaced, as in a merge patch.
- `json_patch` (``application/json-patch+json``, RFC 6902): add, remove, replace, move, copy,
  test, with JSON pointers (``~0``, ``~1``, ``-`` for "append"). Bounded as kube-apiserver
  bounds it: at most `MAX_JSON_PATCH_OPERATIONS` operations (`PatchTooLarge`, HTTP 413), at most
  `MAX_JSON_PATCH_COPY_BYTES` copied in all (its ``JSONPatchMaxCopyBytes``), and no value placed
  deeper than `kaito_backends.documents.MAX_DEPTH`; so thirty ``copy`` operations that each
  double the object stop at 3 MiB instead of growing it to gigabytes.

Every function returns a new document and leaves its arguments unchanged; a patch that cannot
apply raises `PatchError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kaito_backends.documents import MAX_DEPTH, MAX_REQUEST_BYTES, depth_of, encoded_size
from kaito_backends.objects import clone

__all__ = [
    "MAX_JSON_PATCH_COPY_BYTES",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE_KEYS",
    "SET_LISTS",
    "PatchError",
    "PatchTooLarge",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

#: List fields merged item by item, and the key that identifies an item.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
}
#: Lists of scalars merged as sets (kept in order, new items appended).
SET_LISTS = frozenset({"finalizers"})

_DELETE_FROM = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


#: Most operations one JSON patch may hold (kube-apiserver's ``maxJSONPatchOperations``).
MAX_JSON_PATCH_OPERATIONS = 10_000
#: Most bytes the ``copy`` operations of one JSON patch may add (``JSONPatchMaxCopyBytes``).
MAX_JSON_PATCH_COPY_BYTES = MAX_REQUEST_BYTES


class PatchError(ValueError):
    """The patch does not apply (the server answers 422, or 400 for a malformed patch)."""


class PatchTooLarge(PatchError):
    """The patch has more operations than allowed (the server answers 413)."""


# -- JSON merge patch ----------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: the result of applying ``patch`` to ``target``."""
    if not isinstance(patch, dict):
        return clone(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- strategic merge patch -----------------------------------------------------------------------
def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch over ``target`` (see the module docstring)."""
    if not isinstance(patch, dict):
        return clone(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive {_shown(directive)}")
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    deletions: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_FROM):
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list")
            deletions[key[len(_DELETE_FROM) :]] = value
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for key, removed in deletions.items():
        current = result.get(key)
        if isinstance(current, list):
            result[key] = [item for item in current if item not in removed]
    return result


def _merge_key(field: str, items: Sequence[Any]) -> str | None:
    candidates = MERGE_KEYS.get(field)
    if not candidates:
        return None
    for candidate in candidates:
        if any(isinstance(item, dict) and candidate in item for item in items):
            return candidate
    return None


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    base: list[Any] = list(current) if isinstance(current, list) else []
    if field in SET_LISTS:
        merged = list(base)
        for item in patch:
            if item not in merged:
                merged.append(clone(item))
        return merged
    if any(
        isinstance(item, dict) and item.get("$patch") == "replace" and len(item) == 1
        for item in patch
    ):
        return [
            clone(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")
        ]
    key = _merge_key(field, patch) or _merge_key(field, base)
    if key is None:
        return [clone(item) for item in patch]
    merged = list(base)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map in list {field!r} has no merge key {key!r}")
        position = next(
            (
                i
                for i, old in enumerate(merged)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del merged[position]
            continue
        if position is None:
            merged.append(strategic_merge_patch({}, item))
        else:
            merged[position] = strategic_merge_patch(merged[position], item)
    return merged


# -- JSON patch ------------------------------------------------------------------------------------
def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {_shown(path)}")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, insert: bool) -> int:
    if insert and token == "-":
        return len(container)
    if not (token.isascii() and token.isdigit()) or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {_shown(token)}")
    if len(token) > 18:
        raise PatchError(f"array index {_shown(token)} out of range")
    index = int(token)
    limit = len(container) if insert else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of range")
    return index


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path element {_shown(token)} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, insert=False)]
        else:
            raise PatchError(f"path element {_shown(token)} is not a container")
    return node


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"path element {_shown(token)} does not exist")
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, insert=False)]
    raise PatchError(f"path element {_shown(token)} is not a container")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return clone(value)
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = clone(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, insert=True), clone(value))
    else:
        raise PatchError(f"cannot add to a {type(parent).__name__}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"path element {_shown(token)} does not exist")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, insert=False))
    raise PatchError(f"cannot remove from a {type(parent).__name__}")


def _placed(path: list[str], value: Any, max_depth: int) -> None:
    if len(path) + depth_of(value) > max_depth:
        raise PatchError(f"the patched object would nest deeper than {max_depth} levels")


def json_patch(
    document: Any,
    operations: Any,
    *,
    max_operations: int = MAX_JSON_PATCH_OPERATIONS,
    max_copy_bytes: int = MAX_JSON_PATCH_COPY_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """RFC 6902: apply ``operations`` (a list of ``{"op": ..., "path": ...}``) in order.

    Raises `PatchTooLarge` for more than ``max_operations`` operations, and `PatchError` when
    the copies add more than ``max_copy_bytes`` or a value would sit deeper than ``max_depth``.
    """
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    if len(operations) > max_operations:
        raise PatchTooLarge(
            f"The allowed maximum operations in a JSON patch is {max_operations}, "
            f"got {len(operations)}"
        )
    doc = clone(document)
    copied = 0
    for operation in operations:
        if not isinstance(operation, Mapping) or "op" not in operation:
            raise PatchError(f"invalid JSON patch operation {_shown(operation)}")
        op = operation["op"]
        path = _pointer(operation.get("path"))
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"operation {_shown(op)} needs a value")
        if op == "add":
            _placed(path, operation["value"], max_depth)
            doc = _add(doc, path, operation["value"])
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            _get(doc, path)
            _placed(path, operation["value"], max_depth)
            if path:
                _remove(doc, path)
            doc = _add(doc, path, operation["value"])
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from"))
            if op == "move" and path[: len(source)] == source and path != source:
                raise PatchError("cannot move a value into itself")
            found = _get(doc, source)
            _placed(path, found, max_depth)
            if op == "copy":
                copied += encoded_size(found)
                if copied > max_copy_bytes:
                    raise PatchError(
                        f"Unable to copy, copy would exceed size limit ({max_copy_bytes} bytes)"
                    )
            value = _remove(doc, source) if op == "move" else clone(found)
            doc = _add(doc, path, value)
        elif op == "test":
            if _get(doc, path) != operation["value"]:
                raise PatchError(f"test failed at {_shown(operation.get('path'))}")
        else:
            raise PatchError(f"unknown JSON patch operation {_shown(op)}")
    return doc


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
