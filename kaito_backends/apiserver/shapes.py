"""What the real server's typed decoding and validation refuse, checked before the fake stores.

kube-apiserver decodes a built-in object into its Go struct, so a field of the wrong JSON type
is a 400 ``BadRequest`` ("ConfigMap in version "v1" cannot be handled as a ConfigMap: ..."),
and then validates it (422 ``Invalid``). `check_object` does the same for the fields the fake
relies on, so nothing it stores can break a later read or list:

- **metadata** of every kind: an object; ``name``, ``generateName``, ``namespace``,
  ``resourceVersion``, ``uid`` strings; ``generation`` an integer; ``labels`` and
  ``annotations`` maps of strings; ``finalizers`` a list of strings; ``ownerReferences`` a list
  of objects with string ``apiVersion``/``kind``/``name``/``uid`` and boolean
  ``controller``/``blockOwnerDeletion``;
- **ConfigMap**: ``data`` a map of strings, ``binaryData`` a map of base64 strings,
  ``immutable`` a boolean; keys are config keys (``[-._a-zA-Z0-9]+``, at most 253 characters,
  not ``.`` or ``..``), not in both maps (422); at most 1 MiB of data in all (422);
- **Secret**: ``data`` a map of base64 strings, ``stringData`` a map of strings, ``type`` a
  string, ``immutable`` a boolean; the same key and size rules;
- other built-in kinds (core, ``apps``, ``batch``, ``coordination.k8s.io``): ``spec`` and
  ``status`` are objects;
- every object: at most `MAX_OBJECT_BYTES` (1.5 MiB, etcd's default request limit) as JSON, 413
  ``RequestEntityTooLarge`` otherwise.

Custom resources (Workspaces, NodeClaims, NodePools) get the metadata checks only: the fake's
CRDs keep unknown fields and it does no OpenAPI schema validation (docs/playground.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from kaito_backends.apiserver.registry import Resource
from kaito_backends.apiserver.status import ApiError
from kaito_backends.documents import MAX_OBJECT_BYTES, encoded_size

__all__ = ["MAX_DATA_BYTES", "check_object", "check_size"]

#: Largest total of a ConfigMap's or Secret's data (``MaxSecretSize``, 1 MiB).
MAX_DATA_BYTES = 1024 * 1024
_BUILT_IN_GROUPS = frozenset({"", "apps", "batch", "coordination.k8s.io"})
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_META_STRINGS = ("name", "generateName", "namespace", "resourceVersion", "uid")
_REF_STRINGS = ("apiVersion", "kind", "name", "uid")
_REF_BOOLS = ("controller", "blockOwnerDeletion")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Decoder:
    """Type checks of one object, worded like Go's decoding errors."""

    def __init__(self, obj: Mapping[str, Any], resource: Resource, version: str) -> None:
        self.obj = obj
        self.resource = resource
        self.version = version

    def refuse(self, path: str, expected: str, value: Any) -> ApiError:
        kind = self.resource.kind
        return ApiError.bad_request(
            f'{kind} in version "{self.version}" cannot be handled as a {kind}: '
            f"json: cannot unmarshal {_json_type(value)} into Go struct field {path} "
            f"of type {expected}"
        )

    def string(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, str):
            raise self.refuse(path, "string", value)

    def boolean(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            raise self.refuse(path, "bool", value)

    def integer(self, value: Any, path: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.refuse(path, "int64", value)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.refuse(path, "object", value)
        return value

    def strings(self, value: Any, path: str) -> Mapping[str, Any]:
        found = self.mapping(value, path)
        for item in found.values():
            if item is not None and not isinstance(item, str):
                raise self.refuse(path, "map[string]string", item)
        return found

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.refuse(path, "array", value)
        return value


def _metadata(d: _Decoder) -> None:
    meta = d.obj.get("metadata")
    if meta is None:
        return
    kind = d.resource.kind
    meta = d.mapping(meta, f"{kind}.metadata")
    for field in _META_STRINGS:
        d.string(meta.get(field), f"ObjectMeta.metadata.{field}")
    d.integer(meta.get("generation"), "ObjectMeta.metadata.generation")
    for field in ("labels", "annotations"):
        d.strings(meta.get(field), f"ObjectMeta.metadata.{field}")
    for item in d.listing(meta.get("finalizers"), "ObjectMeta.metadata.finalizers"):
        d.string(item, "ObjectMeta.metadata.finalizers")
    refs = d.listing(meta.get("ownerReferences"), "ObjectMeta.metadata.ownerReferences")
    for ref in refs:
        ref = d.mapping(ref, "ObjectMeta.metadata.ownerReferences")
        for field in _REF_STRINGS:
            d.string(ref.get(field), f"OwnerReference.metadata.ownerReferences.{field}")
        for field in _REF_BOOLS:
            d.boolean(ref.get(field), f"OwnerReference.metadata.ownerReferences.{field}")
    for entry in d.listing(meta.get("managedFields"), "ObjectMeta.metadata.managedFields"):
        d.mapping(entry, "ObjectMeta.metadata.managedFields")


def _invalid(d: _Decoder, field: str, detail: str) -> ApiError:
    name = (d.obj.get("metadata") or {}).get("name") or ""
    return ApiError.invalid(
        d.resource, name, f'{d.resource.kind} "{name}" is invalid: {field}: {detail}'
    )


def _keys(d: _Decoder, field: str, keys: Any) -> None:
    for key in keys:
        if len(key) > 253 or key in (".", "..") or not _CONFIG_KEY.match(key):
            shown = key if len(key) <= 64 else key[:64] + "..."
            raise _invalid(
                d,
                f"{field}[{shown}]",
                f'Invalid value: "{shown}": a valid config key must consist of alphanumeric '
                "characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name')",
            )


def _base64(d: _Decoder, values: Mapping[str, Any], path: str) -> int:
    total = 0
    for value in values.values():
        if value is None:
            continue
        try:
            total += len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            kind = d.resource.kind
            raise ApiError.bad_request(
                f'{kind} in version "{d.version}" cannot be handled as a {kind}: '
                f"illegal base64 data in {path}"
            ) from None
    return total


def _text_size(values: Mapping[str, Any]) -> int:
    return sum(len(str(v).encode()) for v in values.values() if v is not None)


def _data_limit(d: _Decoder, total: int) -> None:
    if total > MAX_DATA_BYTES:
        raise _invalid(d, "data", f"Too long: must have at most {MAX_DATA_BYTES} bytes")


def _config_map(d: _Decoder) -> None:
    data = d.strings(d.obj.get("data"), "ConfigMap.data")
    binary = d.strings(d.obj.get("binaryData"), "ConfigMap.binaryData")
    d.boolean(d.obj.get("immutable"), "ConfigMap.immutable")
    total = _base64(d, binary, "ConfigMap.binaryData")
    _keys(d, "data", data)
    _keys(d, "binaryData", binary)
    for key in sorted(set(data) & set(binary)):
        raise _invalid(d, f"data[{key}]", f'Invalid value: "{key}": duplicate of key in binaryData')
    _data_limit(d, total + _text_size(data))


def _secret(d: _Decoder) -> None:
    data = d.strings(d.obj.get("data"), "Secret.data")
    string_data = d.strings(d.obj.get("stringData"), "Secret.stringData")
    d.string(d.obj.get("type"), "Secret.type")
    d.boolean(d.obj.get("immutable"), "Secret.immutable")
    total = _base64(d, data, "Secret.data")
    _keys(d, "data", data)
    _keys(d, "stringData", string_data)
    _data_limit(d, total + _text_size(string_data))


def _typed(d: _Decoder) -> None:
    for field in ("spec", "status"):
        d.mapping(d.obj.get(field), f"{d.resource.kind}.{field}")


_KINDS: dict[str, Callable[[_Decoder], None]] = {"ConfigMap": _config_map, "Secret": _secret}


def check_object(obj: Mapping[str, Any], resource: Resource, version: str) -> None:
    """Refuse what the real server's decoding and validation refuse (module docstring)."""
    d = _Decoder(obj, resource, version)
    _metadata(d)
    if resource.group in _BUILT_IN_GROUPS:
        check = _KINDS.get(resource.kind)
        if check is not None:
            check(d)
        elif resource.kind != "Event":
            _typed(d)
    check_size(obj)


def check_size(obj: Any) -> None:
    """413 when ``obj`` is larger than etcd stores (`MAX_OBJECT_BYTES`)."""
    size = encoded_size(obj)
    if size > MAX_OBJECT_BYTES:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: the object is {size} bytes, more than the "
            f"{MAX_OBJECT_BYTES} bytes etcd stores",
        )
