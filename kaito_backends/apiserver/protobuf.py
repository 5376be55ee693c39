"""Decoding the protobuf request bodies kubectl's typed clients send, for a few kinds.

Since Kubernetes 1.32 client-go's typed clients send built-in objects as
``application/vnd.kubernetes.protobuf`` (``kubectl create configmap|secret|namespace``). The
fake API server answers in JSON (clients accept it) but must read those bodies. This module
decodes the Kubernetes envelope (``k8s\\x00`` + ``runtime.Unknown``) and the messages of
ConfigMap, Secret and Namespace with their ObjectMeta into wire-shape JSON. Other kinds are
refused (415) with a hint to use ``kubectl apply -f`` / ``create -f``, which send JSON.

Field numbers follow ``k8s.io/api/core/v1/generated.proto`` and
``k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto``; unknown fields are skipped.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

__all__ = ["DECODABLE_KINDS", "ProtobufError", "decode_object"]

_MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """A body that is not a decodable Kubernetes protobuf object."""


# -- the wire format -------------------------------------------------------------------------------
def _varint(data: bytes, index: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if index >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, index
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of every field: ints for varints, bytes otherwise."""
    out: list[tuple[int, int, Any]] = []
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, index = _varint(data, index)
        elif wire == 2:
            length, index = _varint(data, index)
            value = data[index : index + length]
            if len(value) != length:
                raise ProtobufError("truncated field")
            index += length
        elif wire == 1:
            value, index = data[index : index + 8], index + 8
        elif wire == 5:
            value, index = data[index : index + 4], index + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


# -- schemas ---------------------------------------------------------------------------------------
# A field is (json name, type); types: "string", "bytes" (base64 in JSON), "int", "bool",
# "time", "map" (string -> string), "bytesmap" (string -> base64), "strings" (repeated string),
# or a message name (nested).
_Schema = dict[int, tuple[str, str]]
_SCHEMAS: dict[str, _Schema] = {
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        14: ("finalizers", "strings"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bytesmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: ("finalizers", "strings")},
    "NamespaceStatus": {1: ("phase", "string")},
}
#: Kinds whose protobuf bodies can be read (``v1`` only).
DECODABLE_KINDS = frozenset({"ConfigMap", "Secret", "Namespace"})
_EMPTY_DROPPED = frozenset({"generateName", "namespace", "uid", "resourceVersion"})


def _bytes(value: int | bytes) -> bytes:
    """A length-delimited field's bytes; a varint where bytes belong is refused (``bytes(n)``
    of a hostile varint would allocate n bytes)."""
    if not isinstance(value, bytes):
        raise ProtobufError("a field that holds bytes is encoded as a number")
    return value


def _entry(raw: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, item in _fields(raw):
        if number == 1:
            key = _bytes(item).decode()
        elif number == 2:
            value = _bytes(item)
    return key, value


def _time(raw: bytes) -> str | None:
    seconds = 0
    for number, _, item in _fields(raw):
        if number == 1:
            seconds = int(item)
    if seconds == 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(raw: bytes, name: str) -> dict[str, Any]:
    schema = _SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, _, value in _fields(raw):
        field = schema.get(number)
        if field is None:
            continue
        key, kind = field
        if kind == "string":
            text = _bytes(value).decode()
            if text or key not in _EMPTY_DROPPED:
                out[key] = text
        elif kind == "int":
            if value:
                out[key] = int(value)
        elif kind == "bool":
            out[key] = bool(value)
        elif kind == "time":
            stamp = _time(_bytes(value))
            if stamp is not None:
                out[key] = stamp
        elif kind in ("map", "bytesmap"):
            entry_key, entry_value = _entry(_bytes(value))
            mapping = out.setdefault(key, {})
            if kind == "map":
                mapping[entry_key] = entry_value.decode()
            else:
                mapping[entry_key] = base64.b64encode(entry_value).decode()
        elif kind == "strings":
            out.setdefault(key, []).append(_bytes(value).decode())
        else:
            out[key] = _message(_bytes(value), kind)
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; raises `ProtobufError`."""
    if not body.startswith(_MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body (missing the k8s envelope)")
    api_version = kind = ""
    raw = b""
    try:
        for number, _, value in _fields(body[len(_MAGIC) :]):
            if number == 1:
                for inner, _, item in _fields(_bytes(value)):
                    if inner == 1:
                        api_version = _bytes(item).decode()
                    elif inner == 2:
                        kind = _bytes(item).decode()
            elif number == 2:
                raw = _bytes(value)
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"cannot decode the type of the object: {exc}") from None
    if api_version != "v1" or kind not in DECODABLE_KINDS:
        raise ProtobufError(
            "the kaito fake API server reads protobuf bodies only for "
            f"{', '.join(sorted(DECODABLE_KINDS))} "
            f"(got {api_version} {kind}); send JSON instead, e.g. "
            "`kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`"
        )
    try:
        obj = _message(raw, kind)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtobufError(f"cannot decode the {kind}: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
