"""Reading a request body as kube-apiserver does: size, media type, then a bounded decode.

`read_body` answers every refusal with an `ApiError` carrying a ``Status``:

- **size**: a body over `MAX_REQUEST_BYTES` (3 MiB, kube-apiserver's ``MaxRequestBodyBytes``)
  is 413 ``RequestEntityTooLarge`` "Request entity too large: limit is 3145728"; the body is
  never read past the limit;
- **media type**: creates and updates accept ``application/json``, ``application/yaml`` and
  ``application/vnd.kubernetes.protobuf`` (no ``Content-Type`` reads as JSON, as the real server
  does); patches accept the four patch types of `PATCH_TYPES`; anything else (``text/plain``,
  XML, forms, multipart, ...) is 415 ``UnsupportedMediaType`` naming the accepted types;
- **decoding**: JSON through `kaito_backends.documents.load_json`, YAML through
  `kaito_core.api.yamlsafe.load_yaml` (aliases counted as expanded, so a 491-byte "billion
  laughs" is refused before anything is built; alias cycles, duplicate keys, non-JSON tags,
  ``.inf``/``.nan`` refused; timestamps stay strings as in the real server's YAML-to-JSON
  conversion). Invalid JSON or YAML, nesting deeper than 100 levels, ``NaN``/``Infinity``/
  ``1e999``, a non-string map key, more than one YAML document, a YAML document expanding past
  3 MiB or with more than 10,000 aliases: 400 ``BadRequest`` (the real server's YAML reader
  refuses "excessive aliasing" as a decoding error).

YAML is parsed in a worker thread, one body at a time, so a large YAML body never stalls the
event loop (and with it every other client and watch); JSON bodies (up to 3 MiB) decode in
milliseconds and stay on the loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from aiohttp import web

from kaito_backends.apiserver.protobuf import ProtobufError, decode_object
from kaito_backends.apiserver.status import ApiError
from kaito_backends.documents import (
    MAX_DEPTH,
    MAX_REQUEST_BYTES,
    DocumentError,
    check_tree,
    load_json,
)
from kaito_core.api.yamlsafe import ManifestLoadError, YamlLimitError, YamlLimits, load_yaml

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "WRITE_TYPES",
    "decode_body",
    "media_type",
    "read_body",
    "too_large",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
#: The media types a PATCH body may have, in the order the real server lists them.
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
_JSON = "application/json"
_YAML = "application/yaml"
_PROTOBUF = "application/vnd.kubernetes.protobuf"
#: The media types of a create, update or DeleteOptions body.
WRITE_TYPES = (_JSON, _YAML, _PROTOBUF)

Purpose = Literal["write", "patch"]
#: One worker: YAML bodies are parsed one at a time, off the event loop.
_YAML_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apiserver-yaml")
_YAML_LIMITS = YamlLimits(
    input_bytes=MAX_REQUEST_BYTES,
    document_bytes=MAX_REQUEST_BYTES,
    total_bytes=MAX_REQUEST_BYTES,
    depth=MAX_DEPTH,
)


def media_type(request: web.Request) -> str:
    """The request's ``Content-Type`` without parameters, lower-cased ("" when absent)."""
    header = request.headers.get("Content-Type", "")
    return header.split(";")[0].strip().lower()


def too_large(limit: int = MAX_REQUEST_BYTES) -> ApiError:
    """The 413 the real server answers for a body over the limit."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def _unsupported(accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


async def _read(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)


def _yaml(raw: bytes) -> Any:
    try:
        value = load_yaml(raw, limits=_YAML_LIMITS)
    except YamlLimitError as exc:
        reason = "size" if exc.limit == "input_bytes" else "expansion"
        raise DocumentError(str(exc), reason="depth" if exc.limit == "depth" else reason) from None
    except ManifestLoadError as exc:
        raise DocumentError(str(exc), reason="syntax") from None
    check_tree(value)
    return value


def _bad(media: str, error: DocumentError) -> ApiError:
    if error.too_large:
        return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: {error}")
    return ApiError.bad_request(f"the body of the request could not be decoded as {media}: {error}")


async def decode_body(raw: bytes, media: str) -> Any:
    """``raw`` decoded as ``media`` (already checked to be accepted); `ApiError` 400/413/415."""
    if not raw.strip():
        raise ApiError.bad_request("the request body is empty")
    if media == _PROTOBUF:
        try:
            return decode_object(raw)
        except ProtobufError as exc:
            raise ApiError(415, "UnsupportedMediaType", str(exc)) from None
    try:
        if not media.endswith("yaml"):
            return load_json(raw)
        if raw.lstrip()[:1] in (b"{", b"["):
            try:
                return load_json(raw)  # JSON is YAML: the fast path of apply bodies
            except DocumentError as exc:
                if exc.reason != "syntax":
                    raise
        return await asyncio.get_running_loop().run_in_executor(_YAML_WORKER, _yaml, raw)
    except DocumentError as exc:
        raise _bad(media or _JSON, exc) from None


async def read_body(request: web.Request, purpose: Purpose = "write") -> tuple[str, Any]:
    """The body's media type and decoded value (see the module docstring)."""
    media = media_type(request)
    accepted = PATCH_TYPES if purpose == "patch" else WRITE_TYPES
    if purpose == "write" and not media:
        media = _JSON
    if media not in accepted:
        raise _unsupported(accepted)
    raw = await _read(request, MAX_REQUEST_BYTES)
    return media, await decode_body(raw, media)
