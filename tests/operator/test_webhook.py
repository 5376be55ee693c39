"""The admission webhook: AdmissionReview v1 in, allowed or denied (with field paths) out."""

from __future__ import annotations

import copy
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector, web
from aiohttp.test_utils import TestClient, TestServer

from kaito_backends.fake import FakeCluster
from kaito_backends.operator.webhook import (
    WEBHOOK_PATH,
    CertificateReloader,
    WebhookMetrics,
    WorkspaceValidator,
    mask_credentials,
    tls_context,
)
from kaito_core.validation import ValidationContext

WORKSPACE: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "phi", "namespace": "default"},
    "resource": {
        "count": 1,
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": "phi"}},
    },
    "inference": {"preset": {"name": "phi-3-mini-4k-instruct", "accessMode": "public"}},
}


def review(
    obj: Any,
    *,
    operation: str = "CREATE",
    old: Any = None,
    uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002",
    version: str = "v1beta1",
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "kaito.sh", "version": version, "kind": "Workspace"},
        "resource": {"group": "kaito.sh", "version": version, "resource": "workspaces"},
        "requestKind": {"group": "kaito.sh", "version": version, "kind": "Workspace"},
        "name": "phi",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "admin"},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def workspace(**changes: Any) -> dict[str, Any]:
    ws = copy.deepcopy(WORKSPACE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = ws
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ws


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    validator = WorkspaceValidator(ValidationContext(provisioner="karpenter"))
    async with TestClient(TestServer(validator.app())) as test_client:
        yield test_client


async def post(client: TestClient[web.Request, web.Application], body: Any) -> dict[str, Any]:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    response = await client.post(
        WEBHOOK_PATH, data=data, headers={"Content-Type": "application/json"}
    )
    assert response.status == 200
    answer: dict[str, Any] = await response.json()
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    return answer["response"]


async def test_a_valid_workspace_is_allowed(
    client: TestClient[web.Request, web.Application],
) -> None:
    """CREATE of a valid Workspace: allowed, with the request's uid and no status."""
    answer = await post(client, review(WORKSPACE, uid="abc-1"))
    assert answer == {"uid": "abc-1", "allowed": True}


async def test_an_invalid_create_is_denied_with_field_paths(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Each problem is one line ``path: message``; code 422, reason Invalid."""
    bad = workspace(resource__instanceType="Standard_Nope", inference__preset={"name": "nope-1"})
    answer = await post(client, review(bad))
    assert answer["allowed"] is False
    status = answer["status"]
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["status"] == "Failure"
    lines = status["message"].split("\n")
    assert any(
        line.startswith("spec.resource.instanceType: Unsupported instance type") for line in lines
    )
    assert any(
        line.startswith("spec.inference.preset.name: Unsupported inference preset name nope-1")
        for line in lines
    )


async def test_an_update_of_an_immutable_field_is_denied(
    client: TestClient[web.Request, web.Application],
) -> None:
    """UPDATE runs the update rules against oldObject."""
    new = workspace(resource__count=2)
    answer = await post(client, review(new, operation="UPDATE", old=WORKSPACE))
    assert answer["allowed"] is False
    assert "spec.resource.count: field is immutable" in answer["status"]["message"].split("\n")


async def test_an_unchanged_update_is_allowed(
    client: TestClient[web.Request, web.Application],
) -> None:
    """A label change passes the update rules."""
    new = workspace(metadata__labels={"team": "a"})
    assert (await post(client, review(new, operation="UPDATE", old=WORKSPACE)))["allowed"] is True


async def test_an_update_while_deleting_is_allowed(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Removing a finalizer from a Workspace being deleted is never blocked."""
    new = workspace(resource__count=3, metadata__deletionTimestamp="2026-01-01T00:00:00Z")
    assert (await post(client, review(new, operation="UPDATE", old=WORKSPACE)))["allowed"] is True


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not a JSON AdmissionReview"),
        (b"\xff\xfe", "not a JSON AdmissionReview"),
        (b"[1, 2]", "not a JSON object"),
        (
            {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"},
            "AdmissionReview of",
        ),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "has no request"),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}, "no uid"),
    ],
    ids=["not-json", "not-utf8", "a-list", "v1beta1-review", "no-request", "no-uid"],
)
async def test_a_malformed_body_is_a_bad_request(
    client: TestClient[web.Request, web.Application], body: Any, fragment: str
) -> None:
    """Undecodable reviews: denied with code 400 and an empty uid."""
    answer = await post(client, body)
    assert answer["allowed"] is False
    assert answer["uid"] == ""
    assert answer["status"]["code"] == 400
    assert answer["status"]["reason"] == "BadRequest"
    assert fragment in answer["status"]["message"]


async def test_an_object_that_does_not_parse_is_denied_with_paths(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Parse errors of from_manifest are reported like rule violations."""
    bad = workspace(resource__count="two", inference__colour="blue")
    answer = await post(client, review(bad))
    assert answer["status"]["code"] == 422
    lines = answer["status"]["message"].split("\n")
    assert 'spec.resource.count: expected an integer, found the string "two"' in lines
    assert "spec.inference.colour: unknown field" in lines


async def test_missing_object_and_wrong_kind_are_bad_requests(
    client: TestClient[web.Request, web.Application],
) -> None:
    """The webhook judges Workspaces only."""
    answer = await post(client, review(None))
    assert answer["status"]["code"] == 400
    assert answer["uid"]
    other = review(WORKSPACE)
    other["request"]["kind"] = {"group": "", "version": "v1", "kind": "Secret"}
    answer = await post(client, other)
    assert answer["status"]["code"] == 400
    assert "not /Secret" in answer["status"]["message"]


async def test_delete_is_allowed_without_judging(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Operations other than CREATE and UPDATE pass."""
    answer = await post(client, review(None, operation="DELETE", old=WORKSPACE))
    assert answer["allowed"] is True


async def test_v1alpha1_workspaces_get_the_v1alpha1_rules(
    client: TestClient[web.Request, web.Application],
) -> None:
    """A v1alpha1 object is parsed and validated as v1alpha1 (no partition there)."""
    alpha = workspace(apiVersion="kaito.sh/v1alpha1")
    assert (await post(client, review(alpha, version="v1alpha1")))["allowed"] is True
    bad = workspace(apiVersion="kaito.sh/v1alpha1", resource__partition={"mode": "mig"})
    answer = await post(client, review(bad, version="v1alpha1"))
    assert answer["allowed"] is False
    assert (
        "spec.resource.partition: unknown field: not part of kaito.sh/v1alpha1"
        in answer["status"]["message"]
    )


async def test_credentials_in_urls_never_come_back(
    client: TestClient[web.Request, web.Application],
) -> None:
    """A URL with user:password is masked in the denial message."""
    tuning = {
        "preset": {"name": "phi-3-mini-4k-instruct"},
        "method": "qlora",
        "input": {"urls": ["http://bob:hunter2@127.0.0.1/data.parquet"]},
        "output": {"image": "registry.example.com/out:1", "imagePushSecret": "push"},
    }
    ws = {k: v for k, v in WORKSPACE.items() if k != "inference"} | {"tuning": tuning}
    answer = await post(client, review(ws))
    assert answer["allowed"] is False
    assert "hunter2" not in json.dumps(answer)
    assert "bob" not in json.dumps(answer)
    assert "http://***@127.0.0.1/data.parquet" in answer["status"]["message"]


async def test_only_post_is_served(client: TestClient[web.Request, web.Application]) -> None:
    """GET on the webhook path is 405."""
    assert (await client.get(WEBHOOK_PATH)).status == 405


async def test_referenced_config_maps_are_read_from_the_cluster() -> None:
    """With a client, a missing inference ConfigMap is reported; a present one is checked."""
    cluster = FakeCluster()
    validator = WorkspaceValidator(ValidationContext(), client=cluster.client())
    ws = workspace(inference__config="my-config")
    answer = await validator.review(json.dumps(review(ws)))
    assert (
        "spec.inference.config: ConfigMap 'my-config' specified in 'config' not found"
        in (answer["response"]["status"]["message"])
    )
    await cluster.client().create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "my-config", "namespace": "default"},
            "data": {"inference_config.yaml": "vllm:\n  max-model-len: 2048\n"},
        }
    )
    answer = await validator.review(json.dumps(review(ws)))
    assert answer["response"]["allowed"] is True
    cluster.inject("server_error", verb="get", kind="ConfigMap", times=1)
    missing = workspace(inference__config="absent")
    answer = await validator.review(json.dumps(review(missing)))
    assert answer["response"]["allowed"] is True  # a failed read leaves existence unchecked


async def test_byo_nodes_are_read_for_the_gpu_checks() -> None:
    """BYO: the Nodes the selector matches feed the GPU checks."""
    cluster = FakeCluster()
    cluster.add_node("gpu-1", labels={"apps": "phi"})  # no nvidia.com labels
    validator = WorkspaceValidator(ValidationContext(provisioner="byo"), client=cluster.client())
    ws = workspace(resource__instanceType="")
    del ws["resource"]["instanceType"]
    answer = await validator.review(json.dumps(review(ws)))
    assert (
        "missing required nvidia.com labels on node gpu-1"
        in answer["response"]["status"]["message"]
    )


async def test_metrics_count_verdicts() -> None:
    """Every review is counted by operation and result."""
    metrics = WebhookMetrics()
    validator = WorkspaceValidator(metrics=metrics)
    await validator.review(json.dumps(review(WORKSPACE)))
    await validator.review(b"nope")
    sample = metrics.registry.get_sample_value
    assert sample("kaito_webhook_requests_total", {"operation": "CREATE", "result": "allowed"}) == 1
    assert (
        sample("kaito_webhook_requests_total", {"operation": "unknown", "result": "bad_request"})
        == 1
    )


async def test_a_crashing_rule_answers_500() -> None:
    """An internal error still answers the API server, naming only the error class."""

    def broken() -> ValidationContext:
        raise RuntimeError("secret detail")

    answer = await WorkspaceValidator(broken).review(json.dumps(review(WORKSPACE)))
    status = answer["response"]["status"]
    assert status["code"] == 500
    assert "RuntimeError" in status["message"]
    assert "secret detail" not in status["message"]


def test_mask_credentials() -> None:
    """userinfo is masked in any URL, other text is untouched."""
    assert (
        mask_credentials('bad: "https://u:p@h.io/x" and s3://k@b')
        == 'bad: "https://***@h.io/x" and s3://***@b'
    )
    assert mask_credentials("no urls here: a@b") == "no urls here: a@b"


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_served_over_tls_with_the_given_files(tmp_path: Path) -> None:
    """tls_context serves the cert/key files; a client trusting the cert gets answers."""
    cert_file, key_file = _self_signed(tmp_path, "one")
    context = tls_context(str(cert_file), str(key_file))
    runner = web.AppRunner(WorkspaceValidator().app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    trust = ssl.create_default_context(cafile=str(cert_file))
    try:
        async with ClientSession(connector=TCPConnector(ssl=trust)) as session:
            url = f"https://localhost:{port}{WEBHOOK_PATH}"
            async with session.post(url, json=review(WORKSPACE)) as response:
                assert (await response.json())["response"]["allowed"] is True
    finally:
        await runner.cleanup()


def test_certificates_reload_when_the_files_change(tmp_path: Path) -> None:
    """A rotated pair is loaded into the same context; an unchanged one is not."""
    cert_file, key_file = _self_signed(tmp_path, "one")
    context = tls_context(str(cert_file), str(key_file))
    reloader = CertificateReloader(context, str(cert_file), str(key_file))
    assert reloader.reload_if_changed() is False
    new_cert, new_key = _self_signed(tmp_path, "two")
    cert_file.write_bytes(new_cert.read_bytes())
    key_file.write_bytes(new_key.read_bytes())
    import os

    os.utime(cert_file, (1, 1))
    assert reloader.reload_if_changed() is True
    assert reloader.reloads == 1
