"""The fake API server under hostile requests: each attack of issue #11 item 9 is refused as
kube-apiserver refuses it (a Status body with 400, 413, 415 or 422), within a bound on time and
memory, and nothing invalid is ever stored (every later LIST still answers valid JSON)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kaito_backends.apiserver import FakeApiServer
from tests.bounds import bounded

CM = "/api/v1/namespaces/default/configmaps"
WS = "/apis/kaito.sh/v1beta1/namespaces/default/workspaces"
JSON = "application/json"
YAML = "application/yaml"


@pytest.fixture
async def http(server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield session


def _cm(name: str, **fields: Any) -> bytes:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}
    return json.dumps(obj).encode()


async def _send(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
) -> tuple[int, str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    with bounded(seconds=30, memory_mib=768):
        data = io.BytesIO(body) if body is not None else None
        async with http.request(method, path, data=data, headers=headers) as resp:
            raw = await resp.read()
            return resp.status, resp.content_type, raw


def _status(raw: bytes) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(raw)
    assert status["kind"] == "Status"
    return status


_DEEP_JSON = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"x":' + (
    b"[" * 100_000 + b"]" * 100_000 + b"}"
)
_LAUGHS = (
    b"a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    + b"".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode()
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\ndata: {k: v}\n"
)
_CASES: list[tuple[str, str, str | None, bytes, int, str, str]] = [
    ("POST", CM, "text/plain", _cm("t"), 415, "UnsupportedMediaType", "accepted media types"),
    ("POST", CM, "application/xml", b"<x/>", 415, "UnsupportedMediaType", "application/yaml"),
    (
        "POST",
        CM,
        "application/x-www-form-urlencoded",
        b"a=b",
        415,
        "UnsupportedMediaType",
        "application/json",
    ),
    (
        "POST",
        CM,
        "multipart/form-data; boundary=x",
        b"--x--",
        415,
        "UnsupportedMediaType",
        "application/json",
    ),
    ("PATCH", f"{CM}/base", "text/plain", b"{}", 415, "UnsupportedMediaType", "merge-patch"),
    ("PATCH", f"{CM}/base", None, b"{}", 415, "UnsupportedMediaType", "json-patch"),
    ("POST", CM, JSON, b" " * (3 * 1024 * 1024 + 1), 413, "RequestEntityTooLarge", "3145728"),
    ("POST", CM, JSON, _DEEP_JSON, 400, "BadRequest", "nests deeper than 100 levels"),
    ("POST", CM, YAML, b"x: " + b"[" * 100_000, 400, "BadRequest", "depth"),
    ("POST", CM, YAML, _LAUGHS, 400, "BadRequest", "through aliases"),
    ("POST", CM, YAML, b"a: &a [*a]\n", 400, "BadRequest", "recursive alias"),
    ("POST", CM, YAML, b"kind: ConfigMap\nkind: Secret\n", 400, "BadRequest", "duplicate key"),
    ("POST", CM, JSON, _cm("n", data={"k": "v"}, x=float("nan")), 400, "BadRequest", "NaN"),
    ("POST", CM, JSON, _cm("i", x=float("inf")), 400, "BadRequest", "Infinity"),
    ("POST", CM, JSON, _cm("e").replace(b"}}", b'}, "x": 1e999}'), 400, "BadRequest", "range"),
    ("POST", CM, YAML, b"metadata: {name: y}\nx: .nan\n", 400, "BadRequest", "finite"),
    ("POST", CM, JSON, b"\xff\xfe{}", 400, "BadRequest", "UTF-8"),
    (
        "POST",
        CM,
        JSON,
        _cm("g").replace(b'"name": "g"', b'"generateName": 5'),
        400,
        "BadRequest",
        "metadata.generateName of type string",
    ),
    ("POST", CM, JSON, _cm("l", data=5), 400, "BadRequest", "ConfigMap.data of type object"),
    ("POST", CM, JSON, _cm("m", data={"k": 5}), 400, "BadRequest", "map[string]string"),
    ("POST", CM, JSON, _cm("b", binaryData={"k": "%%%"}), 400, "BadRequest", "base64"),
    ("POST", CM, JSON, _cm("k", data={"a b": "v"}), 422, "Invalid", "a valid config key"),
    (
        "POST",
        CM,
        JSON,
        _cm("s", data={"k": "x" * (1024 * 1024 + 1)}),
        422,
        "Invalid",
        "at most 1048576 bytes",
    ),
    (
        "POST",
        CM,
        JSON,
        _cm("f", metadata={"name": "f", "finalizers": [1]}),
        400,
        "BadRequest",
        "finalizers",
    ),
    (
        "POST",
        CM,
        JSON,
        _cm("o", metadata={"name": "o", "labels": {"a": ["b"]}}),
        400,
        "BadRequest",
        "labels",
    ),
    (
        "POST",
        "/api/v1/namespaces/default/secrets",
        JSON,
        json.dumps({"metadata": {"name": "s"}, "data": {"k": "not base64!"}}).encode(),
        400,
        "BadRequest",
        "base64",
    ),
    (
        "POST",
        "/api/v1/namespaces/default/pods",
        JSON,
        json.dumps({"metadata": {"name": "p"}, "spec": 5}).encode(),
        400,
        "BadRequest",
        "Pod.spec of type object",
    ),
    (
        "POST",
        WS,
        JSON,
        json.dumps({"metadata": {"name": "big"}, "x": "y" * (2 * 1024 * 1024)}).encode(),
        413,
        "RequestEntityTooLarge",
        "1572864",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/merge-patch+json",
        b'{"data":' + b'{"a":' * 200_000,
        400,
        "BadRequest",
        "nests deeper",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/json-patch+json",
        json.dumps(
            [{"op": "copy", "from": "/metadata", "path": f"/metadata/x{i}"} for i in range(30)]
        ).encode(),
        422,
        "Invalid",
        "copy would exceed size limit",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/json-patch+json",
        json.dumps([{"op": "test", "path": "/kind", "value": "ConfigMap"}] * 10_001).encode(),
        413,
        "RequestEntityTooLarge",
        "maximum operations in a JSON patch is 10000, got 10001",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/json-patch+json",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/metadata/annotations/x",
                    "value": json.loads("[" * 98 + "]" * 98),
                }
            ]
        ).encode(),
        422,
        "Invalid",
        "deeper than 100 levels",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/json-patch+json",
        json.dumps([{"op": "remove", "path": "/metadata/x/" + "9" * 5000}]).encode(),
        422,
        "Invalid",
        "does not exist",
    ),
    (
        "PATCH",
        f"{CM}/base",
        "application/merge-patch+json",
        json.dumps({"data": {"k": 7}}).encode(),
        400,
        "BadRequest",
        "map[string]string",
    ),
]
_IDS = [
    "text-plain",
    "xml",
    "form",
    "multipart",
    "patch-text-plain",
    "patch-no-content-type",
    "over-3-mib",
    "deep-json",
    "deep-yaml",
    "billion-laughs",
    "recursive-alias",
    "duplicate-key",
    "nan",
    "infinity",
    "1e999",
    "yaml-nan",
    "not-utf8",
    "generate-name-number",
    "configmap-data-number",
    "configmap-value-number",
    "binary-data-not-base64",
    "bad-config-key",
    "configmap-over-1-mib",
    "finalizer-number",
    "label-list",
    "secret-not-base64",
    "pod-spec-number",
    "object-over-etcd-limit",
    "deep-merge-patch",
    "json-patch-copy-doubling",
    "json-patch-10001-operations",
    "json-patch-too-deep",
    "json-patch-huge-index",
    "merge-patch-bad-type",
]


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body", "code", "reason", "fragment"), _CASES, ids=_IDS
)
async def test_hostile_requests_are_refused_with_a_status(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes,
    code: int,
    reason: str,
    fragment: str,
) -> None:
    """Each attack: the real server's code and reason, one clear message, nothing stored."""
    status, _, raw = await _send(http, "POST", CM, _cm("base", data={"k": "v"}), JSON)
    assert status == 201, raw
    status, media, raw = await _send(http, method, path, body, content_type)
    assert (status, media) == (code, JSON), raw[:300]
    answer = _status(raw)
    assert (answer["code"], answer["reason"]) == (code, reason)
    assert fragment in answer["message"], answer["message"]
    assert len(answer["message"]) < 600
    for listing in (CM, WS, "/api/v1/namespaces/default/secrets", "/api/v1/pods"):
        status, _, raw = await _send(http, "GET", listing, None, None)
        assert status == 200
        items = json.loads(raw)["items"]  # strict JSON: no NaN/Infinity ever stored
        assert all(i["metadata"]["name"] in ("base",) for i in items), listing
    status, _, raw = await _send(http, "GET", f"{CM}/base", None, None)
    assert json.loads(raw)["data"] == {"k": "v"}, "a refused patch changed nothing"


async def test_yaml_bodies_still_work(http: aiohttp.ClientSession) -> None:
    """Ordinary YAML (and JSON sent as apply YAML) is accepted; timestamps stay strings."""
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  day: 2024-01-01\n"
    status, _, raw = await _send(http, "POST", CM, body, YAML)
    assert status == 201, raw
    assert json.loads(raw)["data"] == {"day": "2024-01-01"}
    apply = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}).encode()
    status, _, raw = await _send(
        http, "PATCH", f"{CM}/z?fieldManager=t", apply, "application/apply-patch+yaml"
    )
    assert status == 201, raw


async def test_a_large_yaml_body_does_not_stall_the_server(http: aiohttp.ClientSession) -> None:
    """While a 1.2 MB YAML body is parsed (seconds of CPU), the event loop that serves every other
    client and watch keeps running: no gap between its ticks comes near the parse time."""
    body = b"metadata:\n  name: big\nitems:\n" + b"- 7\n" * 300_000
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        status, _, raw = await _send(http, "POST", WS, body, YAML)
    finally:
        ticker.cancel()
    parse = time.perf_counter() - started
    assert status == 201, raw[:200]
    assert max(gaps) < max(0.25, parse / 3), (max(gaps), parse)
