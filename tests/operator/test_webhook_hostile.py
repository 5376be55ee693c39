"""The webhook under hostile reviews: every malformed review is refused with 400, never 500 or
allowed unjudged; metric labels stay bounded; secrets in query strings never come back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_backends.credentials import mask_credentials
from kaito_backends.operator.webhook import MAX_BODY_BYTES, WebhookMetrics, WorkspaceValidator
from kaito_core.validation import ValidationContext
from tests.bounds import bounded
from tests.operator.test_webhook import WORKSPACE, review

UID = "705ab4f5-6393-11e8-b7cc-42010a800002"


def _validator(metrics: WebhookMetrics | None = None) -> WorkspaceValidator:
    return WorkspaceValidator(ValidationContext(provisioner="karpenter"), metrics=metrics)


def _with(field: str, value: Any) -> dict[str, Any]:
    body = review(WORKSPACE)
    body["request"][field] = value
    return body


async def _answer(body: Any, validator: WorkspaceValidator | None = None) -> dict[str, Any]:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    with bounded(seconds=10, memory_mib=256):
        answer = await (validator or _validator()).review(raw)
    response: dict[str, Any] = answer["response"]
    return response


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("operation", 5, "request.operation must be one of"),
        ("operation", ["CREATE"], "request.operation must be one of"),
        ("operation", "create", "request.operation must be one of"),
        ("operation", "PATCH", "request.operation must be one of"),
        ("operation", None, "request.operation must be one of"),
        ("namespace", 5, "request.namespace must be a string (got number)"),
        ("name", ["phi"], "request.name must be a string (got list)"),
        ("subResource", {"x": 1}, "request.subResource must be a string"),
        ("kind", "Workspace", "request.kind must be an object"),
        ("kind", {"group": 5, "version": "v1beta1", "kind": "Workspace"}, "request.kind.group"),
        ("kind", {"group": "kaito.sh", "version": "v1beta1"}, "request.kind.kind"),
        ("object", ["not", "an", "object"], "request.object must be an object (got list)"),
        ("oldObject", "x", "request.oldObject must be an object (got string)"),
        ("dryRun", "yes", "request.dryRun must be a boolean"),
    ],
    ids=[
        "operation-number",
        "operation-list",
        "operation-lowercase",
        "operation-unknown",
        "operation-missing",
        "namespace-number",
        "name-list",
        "subresource-object",
        "kind-string",
        "kind-group-number",
        "kind-without-kind",
        "object-list",
        "old-object-string",
        "dry-run-string",
    ],
)
async def test_a_malformed_request_field_is_a_bad_request(
    field: str, value: Any, fragment: str
) -> None:
    """Each malformed field: 400 BadRequest naming it, with the request's uid, never allowed."""
    answer = await _answer(_with(field, value))
    assert answer["allowed"] is False
    assert answer["uid"] == UID
    assert answer["status"]["code"] == 400
    assert answer["status"]["reason"] == "BadRequest"
    assert fragment in answer["status"]["message"]


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"], ids=["delete", "connect"])
async def test_unjudged_operations_are_still_checked(operation: str) -> None:
    """DELETE and CONNECT pass unjudged only when the review itself is well formed."""
    assert (await _answer(_with("operation", operation)))["allowed"] is True
    bad = _with("operation", operation)
    bad["request"]["namespace"] = 5
    assert (await _answer(bad))["status"]["code"] == 400


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nests deeper than"),
        (json.dumps(review(WORKSPACE)).replace('"count": 1', '"count": NaN'), "NaN"),
        (json.dumps(review(WORKSPACE)).replace('"count": 1', '"count": Infinity'), "Infinity"),
        (json.dumps(review(WORKSPACE)).replace('"count": 1', '"count": 1e999'), "out of range"),
    ],
    ids=["deep-list", "deep-object", "nan", "infinity", "huge-exponent"],
)
async def test_deep_and_non_finite_documents_are_bad_requests(body: Any, fragment: str) -> None:
    """100,000-deep JSON and non-finite numbers: 400 (within 10 s and 256 MiB), not a 500."""
    answer = await _answer(body)
    assert answer["status"]["code"] == 400
    assert fragment in answer["status"]["message"]


async def test_an_oversized_body_is_refused_before_parsing() -> None:
    """A body past the limit is refused by size (the HTTP server answers 413 before this)."""
    big = b" " * (MAX_BODY_BYTES + 1)
    answer = await _answer(big)
    assert answer["status"]["code"] == 400
    assert "the limit is" in answer["status"]["message"]


async def test_metric_labels_stay_bounded() -> None:
    """5,000 distinct hostile operations make one ``unknown`` series, not 5,000."""
    metrics = WebhookMetrics()
    validator = _validator(metrics)
    for i in range(5000):
        await validator.review(json.dumps(_with("operation", f"OP-{i}")))
    await validator.review(json.dumps(review(WORKSPACE)))
    labels = {
        sample.labels["operation"]
        for family in metrics.registry.collect()
        for sample in family.samples
        if "operation" in sample.labels
    }
    assert labels == {"unknown", "CREATE"}
    sample = metrics.registry.get_sample_value
    assert (
        sample("kaito_webhook_requests_total", {"operation": "unknown", "result": "bad_request"})
        == 5000
    )


async def test_a_token_in_a_query_string_never_comes_back() -> None:
    """A refused input URL with ``?token=hf_...`` is quoted with the token masked."""
    canary = "hf_CanaryCanaryCanary123"
    tuning = {
        "preset": {"name": "phi-3-mini-4k-instruct"},
        "method": "qlora",
        "input": {"urls": [f"http://127.0.0.1/data.parquet?token={canary}&rev=main"]},
        "output": {"image": "registry.example.com/out:1", "imagePushSecret": "push"},
    }
    ws = {k: v for k, v in WORKSPACE.items() if k != "inference"} | {"tuning": tuning}
    answer = await _answer(review(ws))
    assert answer["allowed"] is False
    assert canary not in json.dumps(answer)
    assert "CanaryCanary" not in json.dumps(answer)
    assert "token=***&rev=main" in answer["status"]["message"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("https://h.io/x?token=hf_abcdefgh&rev=1", "https://h.io/x?token=***&rev=1"),
        ("s3://b/k?X-Amz-Signature=abc&X-Amz-Date=1", "s3://b/k?X-Amz-Signature=***&X-Amz-Date=1"),
        ("https://a.blob/c?sv=2024&sig=s3cr3t", "https://a.blob/c?sv=2024&sig=***"),
        ("h.io/x#access_token=abc", "h.io/x#access_token=***"),
        ("https://u:p@h.io/x?api_key=k", "https://***@h.io/x?api_key=***"),
        ("a token hf_abcdefgh1234 in text", "a token hf_*** in text"),
        ("https://h.io/x?page=2&q=cats", "https://h.io/x?page=2&q=cats"),
    ],
    ids=["token", "s3-presigned", "azure-sas", "fragment", "userinfo-and-key", "bare-hf", "benign"],
)
def test_mask_credentials_in_query_strings(text: str, masked: str) -> None:
    """Secret-looking parameters are masked wherever they appear; others are untouched."""
    assert mask_credentials(text) == masked


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = ("operation", "namespace", "name", "subResource", "kind", "object", "oldObject", "uid")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(_FIELDS), value=_JSON)
async def test_no_review_crashes_or_passes_unjudged(field: str, value: Any) -> None:
    """Any value in any request field: a 400, a judged verdict or an allowed well-formed one."""
    answer = await _answer(_with(field, value))
    status = answer.get("status") or {}
    assert status.get("code") != 500
    if answer["allowed"] and field == "operation":
        assert value in ("CREATE", "UPDATE", "DELETE", "CONNECT")
