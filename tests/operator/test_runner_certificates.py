"""The operator process with ``--webhook-cert-secret``: it serves TLS with the certificate it
keeps itself, trusted through the caBundle it wrote into the webhook configuration."""

from __future__ import annotations

import asyncio
import base64
import io
import ssl
from typing import Any

import aiohttp

from kaito_backends.fake import FakeCluster
from kaito_backends.objects import ObjectRef
from kaito_backends.operator.backends import Connection
from kaito_backends.operator.runner import run_operator
from kaito_backends.operator.settings import WEBHOOK_NAME, WEBHOOK_PATH
from tests.operator.test_runner import Running, eventually, settings

CONFIG = ObjectRef(
    "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", WEBHOOK_NAME
)
SECRET = ObjectRef("v1", "Secret", "webhook-cert", "kaito-system")


def webhook_configuration() -> dict[str, Any]:
    return {
        "apiVersion": CONFIG.api_version,
        "kind": CONFIG.kind,
        "metadata": {"name": WEBHOOK_NAME},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {"url": "https://127.0.0.1:1/validate"},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


def self_signed(**changes: Any) -> Any:
    return settings(
        webhook_cert_secret=SECRET.name,
        webhook_cert_hosts=("127.0.0.1",),
        pod_namespace=SECRET.namespace,
        **changes,
    )


async def test_the_webhook_serves_the_kept_certificate_trusted_by_the_ca_bundle() -> None:
    """A client trusting only the configuration's caBundle completes a review over TLS."""
    cluster = FakeCluster()
    await cluster.client().create(webhook_configuration())
    running = Running(cluster, self_signed())
    await eventually(lambda: running.operator is not None)
    await eventually(lambda: running.op.health.ok("readyz"))
    (hook,) = (await cluster.client().get(CONFIG))["webhooks"]
    bundle = base64.b64decode(hook["clientConfig"]["caBundle"]).decode()
    trust = ssl.create_default_context(cadata=bundle)
    host, port = running.op.addresses["webhook"]
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "kaito.sh", "version": "v1beta1", "kind": "Workspace"},
            "operation": "DELETE",
        },
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"https://{host}:{port}{WEBHOOK_PATH}", json=review, ssl=trust) as response,
    ):
        assert (await response.json())["response"] == {"uid": "u-1", "allowed": True}
    secret = await cluster.client().get(SECRET)
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert await running.finish() == 0


async def test_a_configuration_that_appears_later_gets_the_ca_bundle() -> None:
    """The periodic check patches a webhook configuration created after start-up."""
    cluster = FakeCluster()
    running = Running(cluster, self_signed(certificate_interval=0.05))
    await eventually(lambda: running.operator is not None)
    await eventually(lambda: running.op.health.ok("readyz"))
    await cluster.client().create(webhook_configuration())

    async def patched() -> bool:
        (hook,) = (await cluster.client().get(CONFIG))["webhooks"]
        return bool(hook["clientConfig"].get("caBundle"))

    for _ in range(100):
        if await patched():
            break
        await asyncio.sleep(0.02)
    assert await patched()
    assert await running.finish() == 0


class _ForbiddenSecrets:
    """The fake cluster's client, except that Secrets are forbidden (RBAC missing)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def get(self, ref: ObjectRef) -> Any:
        from kaito_backends.kubernetes.failures import ApiError

        if ref.kind == "Secret":
            raise ApiError(
                f'secrets "{ref.name}" is forbidden: cannot get', code=403, reason="Forbidden"
            )
        return await self._client.get(ref)


async def test_a_certificate_that_cannot_be_kept_exits_2_with_one_line() -> None:
    """A Secret the service account may not read: exit 2, one line naming the Secret."""
    cluster = FakeCluster()
    client = _ForbiddenSecrets(cluster.client())
    connection = Connection(client=client, provisioner=cluster.provisioner())  # type: ignore[arg-type]
    err = io.StringIO()
    assert await run_operator(self_signed(), connection=connection, stderr=err) == 2
    (line,) = err.getvalue().splitlines()
    assert line.startswith(
        "kaito operator: error: cannot read Secret kaito-system/webhook-cert: secrets"
    )


async def test_the_secret_excludes_certificate_files() -> None:
    """--webhook-cert-secret with --webhook-cert/--webhook-key is a setup error."""
    cluster = FakeCluster()
    connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
    err = io.StringIO()
    config = self_signed(webhook_cert="/x.crt", webhook_key="/x.key")
    assert await run_operator(config, connection=connection, stderr=err) == 2
    assert "--webhook-cert-secret excludes" in err.getvalue()
