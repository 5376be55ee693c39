"""The webhook's self-signed certificate: issued, judged, kept in a Secret, its CA in the
webhook configuration (`kaito_backends.operator.certificates`)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
from cryptography import x509

from kaito_backends.clock import VirtualClock
from kaito_backends.fake import FakeCluster
from kaito_backends.kubernetes.failures import ApiError
from kaito_backends.objects import ObjectRef
from kaito_backends.operator.certificates import (
    DEFAULT_RENEW_BEFORE,
    DEFAULT_VALIDITY,
    CertificateError,
    IssuedCertificate,
    WebhookCertificates,
    hosts_for,
    issue_certificate,
    renewal_reason,
)
from kaito_backends.operator.settings import WEBHOOK_NAME

NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOSTS = hosts_for("kaito-workspace", "kaito-system", ["127.0.0.1"])
SECRET = ObjectRef("v1", "Secret", "kaito-workspace-webhook-cert", "kaito-system")
CONFIG = ObjectRef(
    "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", WEBHOOK_NAME
)


def webhook_configuration(*names: str, name: str = WEBHOOK_NAME) -> dict[str, Any]:
    return {
        "apiVersion": CONFIG.api_version,
        "kind": CONFIG.kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": hook,
                "clientConfig": {"service": {"name": "kaito-workspace", "namespace": "ns"}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
            for hook in names
        ],
    }


def keeper(cluster: FakeCluster, tmp_path: Path, **changes: Any) -> WebhookCertificates:
    options: dict[str, Any] = {
        "namespace": SECRET.namespace,
        "secret": SECRET.name,
        "hosts": HOSTS,
        "configurations": (WEBHOOK_NAME,),
        "directory": str(tmp_path / "certs"),
        "clock": cluster.clock,
    }
    options.update(changes)
    os.makedirs(options["directory"], exist_ok=True)
    return WebhookCertificates(cluster.client(), **options)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster(clock=VirtualClock(start=NOW))


def test_hosts_are_the_service_names_and_the_extra_ones() -> None:
    """The Service's two DNS names and the extra hosts, sorted, once each."""
    assert hosts_for("svc", "ns", ["127.0.0.1", "svc.ns.svc"]) == (
        "127.0.0.1",
        "svc.ns.svc",
        "svc.ns.svc.cluster.local",
    )


def test_an_issued_certificate_is_servable_for_its_hosts() -> None:
    """A fresh certificate needs no renewal; it names every host, DNS and IP alike."""
    issued = issue_certificate(hosts=HOSTS, now=NOW)
    assert renewal_reason(issued, hosts=HOSTS, now=NOW) is None
    leaf = x509.load_pem_x509_certificate(issued.certificate.encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(str(n.value) for n in names) == sorted(HOSTS)
    assert leaf.not_valid_after_utc == NOW + DEFAULT_VALIDITY
    assert "key" not in repr(issued).replace("IssuedCertificate", "")


def other_key() -> str:
    return issue_certificate(hosts=HOSTS, now=NOW).key


RENEWALS = [
    pytest.param(lambda i: None, NOW, "no certificate yet", id="absent"),
    pytest.param(lambda i: i, NOW, None, id="fresh"),
    pytest.param(
        lambda i: i,
        NOW + DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE + timedelta(seconds=1),
        "the certificate expires soon",
        id="expiring",
    ),
    pytest.param(lambda i: i, NOW + DEFAULT_VALIDITY, "the certificate expires soon", id="expired"),
    pytest.param(
        lambda i: i, NOW - timedelta(days=1), "the certificate is not valid yet", id="future"
    ),
    pytest.param(
        lambda i: attrs.evolve(i, certificate="garbage"),
        NOW,
        "the certificate does not parse",
        id="garbage",
    ),
    pytest.param(
        lambda i: attrs.evolve(i, key=other_key()),
        NOW,
        "the key does not match the certificate",
        id="other-key",
    ),
    pytest.param(
        lambda i: attrs.evolve(i, key="-----BEGIN PRIVATE KEY-----\nAA==\n"),
        NOW,
        "the key does not parse",
        id="bad-key",
    ),
    pytest.param(
        lambda i: attrs.evolve(i, ca_bundle=issue_certificate(hosts=HOSTS, now=NOW).ca_bundle),
        NOW,
        "the CA bundle did not sign the certificate",
        id="other-ca",
    ),
]


@pytest.mark.parametrize(("change", "at", "reason"), RENEWALS)
def test_renewal_reasons(change: Any, at: datetime, reason: str | None) -> None:
    """Each way a stored certificate can be unfit has its own reason; a fit one has none."""
    issued = change(issue_certificate(hosts=HOSTS, now=NOW))
    assert renewal_reason(issued, hosts=HOSTS, now=at) == reason


def test_a_host_the_certificate_lacks_is_a_reason() -> None:
    """A certificate for other hosts (e.g. before a clientConfig.url was added) is renewed."""
    issued = issue_certificate(hosts=hosts_for("kaito-workspace", "kaito-system"), now=NOW)
    assert renewal_reason(issued, hosts=HOSTS, now=NOW) == (
        "the certificate does not cover 127.0.0.1"
    )


def test_the_bundle_keeps_the_previous_ca_while_it_is_valid() -> None:
    """New CA first, then the previous one; an expired previous CA is dropped; never > 2."""
    first = issue_certificate(hosts=HOSTS, now=NOW)
    second = issue_certificate(hosts=HOSTS, now=NOW, previous_ca=first.ca_bundle)
    third = issue_certificate(hosts=HOSTS, now=NOW, previous_ca=second.ca_bundle)
    cas = x509.load_pem_x509_certificates(third.ca_bundle.encode())
    assert len(cas) == 2
    assert third.ca_bundle.endswith(
        second.ca_bundle.split("-----END CERTIFICATE-----\n")[0] + ("-----END CERTIFICATE-----\n")
    )
    late = NOW + DEFAULT_VALIDITY + timedelta(days=1)
    fourth = issue_certificate(hosts=HOSTS, now=late, previous_ca=third.ca_bundle)
    assert len(x509.load_pem_x509_certificates(fourth.ca_bundle.encode())) == 1


def test_a_tls_client_trusting_the_bundle_accepts_the_certificate(tmp_path: Path) -> None:
    """A real TLS handshake: the client verifies 127.0.0.1 against the CA bundle."""
    issued = issue_certificate(hosts=HOSTS, now=datetime.now(UTC))
    (tmp_path / "tls.crt").write_text(issued.certificate)
    (tmp_path / "tls.key").write_text(issued.key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client = ssl.create_default_context(cadata=issued.ca_bundle)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=accept)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.recv(2) == b"ok"
        thread.join()


def test_secret_data_round_trips() -> None:
    """``secret_data`` is what ``from_secret`` reads; a missing key or bad base64 is None."""
    issued = issue_certificate(hosts=HOSTS, now=NOW)
    assert IssuedCertificate.from_secret({"data": issued.secret_data()}) == issued
    assert IssuedCertificate.from_secret({}) is None
    assert (
        IssuedCertificate.from_secret({"data": {**issued.secret_data(), "tls.key": "%%"}}) is None
    )


# -- kept in the cluster ---------------------------------------------------------------------


async def stored(cluster: FakeCluster) -> IssuedCertificate:
    found = IssuedCertificate.from_secret(await cluster.client().get(SECRET))
    assert found is not None
    return found


async def test_an_empty_secret_is_filled_and_the_files_written(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """The rendered (empty) Secret gets a certificate; the files hold it, the key 0600."""
    client = cluster.client()
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": SECRET.name, "namespace": SECRET.namespace},
        }
    )
    keep = keeper(cluster, tmp_path)
    assert await keep.refresh() is True
    secret = IssuedCertificate.from_secret(await client.get(SECRET))
    assert secret is not None
    assert secret == keep.current
    assert Path(keep.cert_file).read_text() == secret.certificate
    assert Path(keep.key_file).read_text() == secret.key
    assert stat.S_IMODE(os.stat(keep.key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keep.directory).st_mode) == 0o700
    assert keep.issued == 1


async def test_a_missing_secret_is_created(cluster: FakeCluster, tmp_path: Path) -> None:
    """Without the rendered Secret the keeper creates it."""
    keep = keeper(cluster, tmp_path)
    await keep.refresh()
    assert (await cluster.client().get(SECRET))["type"] == "Opaque"


async def test_a_servable_certificate_is_not_rewritten(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """A second replica and a second check read the Secret and write nothing."""
    await keeper(cluster, tmp_path).refresh()
    cluster.reset_counters()
    other = keeper(cluster, tmp_path, directory=str(tmp_path / "other"))
    assert await other.refresh() is True  # its own files were written
    assert await other.refresh() is False
    assert cluster.recorder.count("update") == cluster.recorder.count("create") == 0
    assert other.issued == 0


async def test_a_certificate_close_to_expiry_is_rotated_keeping_the_old_ca(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """Past validity - renew_before a new certificate is issued; the old CA stays trusted."""
    keep = keeper(cluster, tmp_path)
    await keep.refresh()
    old = keep.current
    assert old is not None
    cluster.clock.advance((DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE).total_seconds() + 60)
    assert await keep.refresh() is True
    new = keep.current
    assert new is not None
    assert new.certificate != old.certificate
    assert new.ca_bundle.endswith(old.ca_bundle)
    assert renewal_reason(new, hosts=HOSTS, now=cluster.clock.now()) is None


async def test_a_replica_that_loses_the_race_uses_the_winners_certificate(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """A Conflict on the update means another replica wrote: read again, serve theirs."""
    await cluster.client().create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": SECRET.name, "namespace": SECRET.namespace},
        }
    )
    winner = keeper(cluster, tmp_path, directory=str(tmp_path / "winner"))
    loser = keeper(cluster, tmp_path, directory=str(tmp_path / "loser"))
    original = cluster.client().update

    raced: list[bool] = []

    async def update_after_the_winner(obj: Any) -> Any:
        if obj["kind"] == "Secret" and not raced:
            raced.append(True)
            await winner.refresh()  # lands between the loser's read and its write
        return await original(obj)

    cluster.client().update = update_after_the_winner  # type: ignore[method-assign]
    try:
        await loser.refresh()
    finally:
        del cluster.client().update
    assert (winner.issued, loser.issued) == (1, 0)
    assert loser.current == winner.current == await stored(cluster)


async def test_the_ca_bundle_goes_into_every_webhook(cluster: FakeCluster, tmp_path: Path) -> None:
    """Each webhook of the configuration gets ca.crt (base64); a second check writes nothing."""
    await cluster.client().create(webhook_configuration("a.kaito.sh", "b.kaito.sh"))
    keep = keeper(cluster, tmp_path)
    await keep.refresh()
    config = await cluster.client().get(CONFIG)
    assert keep.current is not None
    expected = base64.b64encode(keep.current.ca_bundle.encode()).decode()
    assert [h["clientConfig"]["caBundle"] for h in config["webhooks"]] == [expected, expected]
    assert config["webhooks"][0]["clientConfig"]["service"]["name"] == "kaito-workspace"
    cluster.reset_counters()
    await keep.refresh()
    assert cluster.writes == 0


async def test_every_kinds_configuration_gets_the_bundle(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """One configuration per registered kind: each is patched, other configurations are not."""
    names = (WEBHOOK_NAME, "validation.inferenceset.kaito.sh", "someone.else.example.com")
    for name in names:
        await cluster.client().create(webhook_configuration(name, name=name))
    keep = keeper(cluster, tmp_path, configurations=names[:2])
    await keep.refresh()
    bundles = {}
    for name in names:
        ref = ObjectRef(CONFIG.api_version, CONFIG.kind, name)
        (hook,) = (await cluster.client().get(ref))["webhooks"]
        bundles[name] = hook["clientConfig"].get("caBundle")
    assert bundles[names[0]] == bundles[names[1]]
    assert bundles[names[0]]
    assert bundles[names[2]] is None


async def test_a_configuration_created_later_is_patched_at_the_next_check(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    """No configuration yet is not an error; the next refresh fills its caBundle."""
    keep = keeper(cluster, tmp_path)
    with structlog.testing.capture_logs() as logs:
        await keep.refresh()
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "webhook.configuration_missing"
    ]
    await cluster.client().create(webhook_configuration(WEBHOOK_NAME))
    await keep.refresh()
    (hook,) = (await cluster.client().get(CONFIG))["webhooks"]
    assert hook["clientConfig"]["caBundle"]


async def test_nothing_secret_is_logged(cluster: FakeCluster, tmp_path: Path) -> None:
    """Logs name the Secret, hosts, reason and expiry; never a key or certificate."""
    keep = keeper(cluster, tmp_path)
    with structlog.testing.capture_logs() as logs:
        await keep.refresh()
    assert keep.current is not None
    text = repr(logs)
    for payload in (
        keep.current.key,
        keep.current.certificate,
        *keep.current.secret_data().values(),
    ):
        for line in payload.splitlines()[1:-1]:
            assert line not in text
    (issued,) = [e for e in logs if e["event"] == "webhook.certificate_issued"]
    assert issued["reason"] == "no certificate yet"


class Forbidding:
    """A client whose every call is refused (missing RBAC)."""

    def __getattr__(self, name: str) -> Any:
        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ApiError(
                'secrets "x" is forbidden: User cannot get', code=403, reason="Forbidden"
            )

        return refuse


def test_a_secret_that_cannot_be_read_is_an_error_naming_it(tmp_path: Path) -> None:
    """Forbidden reads raise CertificateError naming the Secret, never a traceback."""
    keep = WebhookCertificates(
        Forbidding(),  # type: ignore[arg-type]
        namespace="kaito-system",
        secret="cert",
        hosts=HOSTS,
        configurations=(WEBHOOK_NAME,),
        directory=str(tmp_path),
    )
    with pytest.raises(
        CertificateError, match=r"cannot read Secret kaito-system/cert: .*forbidden"
    ):
        asyncio.run(keep.refresh())


def test_renew_before_must_be_shorter_than_validity(cluster: FakeCluster, tmp_path: Path) -> None:
    """A keeper that would renew every time is refused at construction."""
    with pytest.raises(ValueError, match="renew_before"):
        keeper(cluster, tmp_path, validity=timedelta(days=1), renew_before=timedelta(days=2))


@pytest.mark.parametrize("scope", [None, "team-a"], ids=["cluster-wide", "namespace-scoped"])
async def test_every_request_of_the_keeper_is_allowed_by_the_rendered_rbac(
    tmp_path: Path, scope: str | None
) -> None:
    """Issue, rotate and patch the caBundle through the RBAC kaito manifests renders: each
    request is granted (by name), and without the self-signed certificate none would be."""
    from kaito_backends.operator.manifests import InstallOptions, install_manifests
    from tests.operator.test_rbac import _Audit, _granted

    cluster = FakeCluster(clock=VirtualClock(start=NOW))
    options = InstallOptions(namespace=SECRET.namespace, namespace_scope=scope)
    objects = install_manifests(options)
    for obj in objects:
        if obj["kind"] in ("Secret", "ValidatingWebhookConfiguration"):
            await cluster.client().create(obj)
    audit = _Audit(cluster.client())
    keep = WebhookCertificates(
        audit,  # type: ignore[arg-type]
        namespace=SECRET.namespace,
        secret=options.cert_secret,
        hosts=HOSTS,
        configurations=(WEBHOOK_NAME,),
        directory=str(tmp_path),
        clock=cluster.clock,
    )
    await keep.refresh()
    cluster.clock.advance((DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE).total_seconds() + 60)
    await keep.refresh()
    assert {r[0] for r in audit.requests} == {"get", "update"}
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    for request in audit.requests:
        assert _granted(roles, request), request
    other = install_manifests(InstallOptions(namespace=SECRET.namespace, certificate="secret"))
    other_roles = [o for o in other if o["kind"] in ("Role", "ClusterRole")]
    assert not any(_granted(other_roles, r) for r in audit.requests)
