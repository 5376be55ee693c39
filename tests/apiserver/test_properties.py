"""Invariants of the fake API server's request handling, for any input (hypothesis).

Whatever a client sends, the decoding, shape checks and patches either accept it or refuse it
with their own error class: never another exception (which the server would turn into a 500),
never an unbounded result.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kaito_backends.apiserver.patches import (
    MAX_JSON_PATCH_COPY_BYTES,
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kaito_backends.apiserver.protobuf import ProtobufError, decode_object
from kaito_backends.apiserver.registry import find_resource
from kaito_backends.apiserver.shapes import check_object
from kaito_backends.apiserver.status import ApiError
from kaito_backends.documents import DocumentError, encoded_size, load_json

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(raw=st.binary(max_size=200))
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    """`load_json` returns JSON data or raises DocumentError; nothing else."""
    try:
        value = load_json(raw)
    except DocumentError:
        return
    json.dumps(value, allow_nan=False)


@_FAST
@given(raw=st.binary(max_size=200))
@example(raw=b"\x08\xc0\x9d\xa4\x81\xd0\x0c")  # a varint of 3.4e12 where bytes belong
@example(raw=b"\x12\x02\x08\x7f")  # a varint inside the object where a string belongs
@example(raw=b"\x0a\x03\x0a\x01\xff")  # an apiVersion that is not UTF-8
def test_any_protobuf_body_decodes_or_is_refused(raw: bytes) -> None:
    """The protobuf reader raises only ProtobufError (415), whatever follows the envelope (and
    allocates nothing a number in the body says)."""
    try:
        decode_object(b"k8s\x00" + raw)
    except ProtobufError:
        return


@_FAST
@given(
    kind=st.sampled_from(["configmaps", "secrets", "pods", "services", "events"]),
    fields=st.dictionaries(
        st.sampled_from(
            ["data", "binaryData", "stringData", "spec", "status", "type", "immutable"]
        ),
        _JSON,
        max_size=3,
    ),
    meta=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "generateName",
                "labels",
                "annotations",
                "finalizers",
                "ownerReferences",
                "generation",
                "managedFields",
            ]
        ),
        _JSON,
        max_size=3,
    ),
)
def test_any_object_is_accepted_or_refused_with_a_status(
    kind: str, fields: dict[str, Any], meta: dict[str, Any]
) -> None:
    """Shape checks raise ApiError 400/413/422 or pass; what passes has the expected types."""
    resource = find_resource("", "v1", kind)
    assert resource is not None
    obj = {"metadata": meta, **fields}
    try:
        check_object(obj, resource, "v1")
    except ApiError as error:
        codes = {error.code}
    else:
        codes = set()
    assert codes <= {400, 413, 422}
    if codes:
        return
    # what passes has Go's types (a null map value reads as "", as Go decodes it)
    for field in ("labels", "annotations"):
        assert all(v is None or isinstance(v, str) for v in (meta.get(field) or {}).values())
    if kind == "configmaps":
        assert all(v is None or isinstance(v, str) for v in (fields.get("data") or {}).values())


_POINTERS = st.sampled_from(["", "/a", "/a/b", "/a/0", "/a/-", "/b", "/a/b/c", "/x/1"])
_OPS = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bad"]),
            "path": _POINTERS,
        },
        optional={"from": _POINTERS, "value": _JSON},
    ),
    max_size=40,
)


@_FAST
@given(document=st.dictionaries(st.sampled_from("abx"), _JSON, max_size=3), ops=_OPS)
def test_any_json_patch_applies_or_is_refused_and_stays_bounded(
    document: dict[str, Any], ops: list[dict[str, Any]]
) -> None:
    """A JSON patch raises only PatchError; copies never add more than the limit."""
    try:
        result = json_patch(document, ops, max_copy_bytes=4096)
    except PatchError:
        return
    added = sum(encoded_size(op.get("value")) for op in ops)
    assert encoded_size(result) <= encoded_size(document) + added + 4096 + 64
    assert MAX_JSON_PATCH_COPY_BYTES == 3 * 1024 * 1024


@_FAST
@given(target=_JSON, patch=_JSON)
def test_merge_patches_apply_or_are_refused(target: Any, patch: Any) -> None:
    """Merge and strategic merge patches raise only PatchError, and leave their inputs alone."""
    before = json.dumps([target, patch])
    for patcher in (merge_patch, strategic_merge_patch):
        with contextlib.suppress(PatchError):
            patcher(target, patch)
    assert json.dumps([target, patch]) == before
