"""The webhook's own serving certificate, for installs without cert-manager.

With ``kaito operator --webhook-cert-secret NAME`` the operator needs nobody to issue its
certificate. `WebhookCertificates` keeps it in the Secret ``NAME`` of the operator's namespace
(``tls.crt``, ``tls.key``, ``ca.crt``), so every replica serves the same one:

1. **At start-up** it reads the Secret. A certificate that is valid now, covers every host the
   API server may call (`hosts_for`: the Service's DNS names and any ``--webhook-cert-host``),
   matches its key and has more than ``renew_before`` left is used as it is. Otherwise a new one
   is issued (`issue_certificate`: a CA whose key is thrown away once it has signed, and an
   ECDSA P-256 serving certificate valid for ``validity``) and written back with the
   ``resourceVersion`` just read: a `Conflict` means another replica wrote first, so it reads
   again and uses that one. A Secret that does not exist is created (the manifests and the chart
   render it empty, so the operator only needs ``get``/``update`` of that one name).
2. It writes the certificate and key to files in a private directory (mode 0700, the key 0600)
   for the TLS server; `kaito_backends.operator.webhook.CertificateReloader` re-reads them when
   they change.
3. It puts ``ca.crt`` into the ``caBundle`` of every webhook of the ValidatingWebhookConfigurations
   (one per registered kind; get, then update with its ``resourceVersion``). A configuration that
   does not exist yet is not an error: the next check patches it.
4. **Every** ``interval`` **seconds** (`WebhookCertificates.refresh`) it does 1-3 again, so a
   certificate close to expiry is rotated, a rotation by another replica is picked up, and a
   ``caBundle`` that an upgrade reset is put back.

On rotation ``ca.crt`` holds the new CA followed by the previous one while that is still valid:
replicas that still serve the old certificate stay trusted until they have read the new one.

Nothing secret is logged: the logs name the Secret, the hosts, the expiry and why a certificate
was renewed, never a key or a certificate.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kaito_backends.clock import Clock, SystemClock
from kaito_backends.errors import BackendError, Conflict, NotFound
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient

__all__ = [
    "DEFAULT_RENEW_BEFORE",
    "DEFAULT_VALIDITY",
    "CertificateError",
    "IssuedCertificate",
    "WebhookCertificates",
    "hosts_for",
    "issue_certificate",
    "renewal_reason",
]

#: How long an issued certificate (and its CA) is valid.
DEFAULT_VALIDITY = timedelta(days=365)
#: A certificate with less than this left is renewed.
DEFAULT_RENEW_BEFORE = timedelta(days=90)
_CLOCK_SKEW = timedelta(minutes=5)
_ATTEMPTS = 5
_WEBHOOK_CONFIGURATION_API = "admissionregistration.k8s.io/v1"


class CertificateError(Exception):
    """The certificate cannot be kept: the Secret cannot be read or written (the message says
    which object and why, never its contents)."""


@attrs.frozen(kw_only=True)
class IssuedCertificate:
    """PEM texts: the CA bundle the API server trusts, the serving certificate and its key."""

    ca_bundle: str
    certificate: str
    key: str = attrs.field(repr=False)

    def secret_data(self) -> dict[str, str]:
        """The Secret's ``data`` (base64, as on the wire)."""
        return {
            "ca.crt": _b64(self.ca_bundle),
            "tls.crt": _b64(self.certificate),
            "tls.key": _b64(self.key),
        }

    @classmethod
    def from_secret(cls, secret: Manifest) -> IssuedCertificate | None:
        """What a Secret holds; None when a key is missing or not base64-encoded text."""
        data = secret.get("data") or {}
        try:
            texts = {
                key: base64.b64decode(data[key], validate=True).decode("ascii")
                for key in ("ca.crt", "tls.crt", "tls.key")
            }
        except (KeyError, TypeError, ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return cls(ca_bundle=texts["ca.crt"], certificate=texts["tls.crt"], key=texts["tls.key"])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def hosts_for(service: str, namespace: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The names the API server calls the webhook by: ``<service>.<namespace>.svc`` (what a
    Service reference uses), the same with ``.cluster.local``, and ``extra`` (the host of a
    ``clientConfig.url``), sorted and without duplicates."""
    base = f"{service}.{namespace}.svc"
    return tuple(sorted({base, f"{base}.cluster.local", *(h for h in extra if h)}))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def issue_certificate(
    *,
    hosts: Sequence[str],
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    previous_ca: str = "",
) -> IssuedCertificate:
    """A new CA and a serving certificate for ``hosts`` (DNS names or IP addresses), valid from
    ``now`` (less a few minutes of clock skew) for ``validity``. The CA's key is not kept. The
    bundle is the new CA, then those of ``previous_ca`` that are still valid at ``now``."""
    if not hosts:
        raise ValueError("a webhook certificate needs at least one host")
    start, end = now - _CLOCK_SKEW, now + validity
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kaito webhook CA {hosts[0]}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    bundle = [_pem(ca)]
    for old in _certificates(previous_ca):
        if old.not_valid_after_utc > now and _pem(old) not in bundle:
            bundle.append(_pem(old))
            break  # the previous CA only: a bundle never grows past two
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return IssuedCertificate(ca_bundle="".join(bundle), certificate=_pem(leaf), key=key_pem)


def _certificates(pem: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode("ascii")) if pem.strip() else []
    except (ValueError, UnicodeEncodeError):
        return []


def renewal_reason(
    issued: IssuedCertificate | None,
    *,
    hosts: Sequence[str],
    now: datetime,
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
) -> str | None:
    """Why ``issued`` must be replaced (one short phrase), or None when it can be served."""
    if issued is None:
        return "no certificate yet"
    found = _certificates(issued.certificate)
    if not found:
        return "the certificate does not parse"
    leaf = found[0]
    if leaf.not_valid_before_utc > now + _CLOCK_SKEW:
        return "the certificate is not valid yet"
    if leaf.not_valid_after_utc - now < renew_before:
        return "the certificate expires soon"
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "the certificate names no host"
    covered = {str(n.value) for n in names if isinstance(n, x509.DNSName | x509.IPAddress)}
    missing = sorted(h for h in hosts if str(_host_value(h)) not in covered)
    if missing:
        return f"the certificate does not cover {', '.join(missing)}"
    try:
        key = serialization.load_pem_private_key(issued.key.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        return "the key does not parse"
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return "the key does not match the certificate"
    if not any(_signed_by(leaf, ca) for ca in _certificates(issued.ca_bundle)):
        return "the CA bundle did not sign the certificate"
    return None


def _host_value(host: str) -> object:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return host


def _signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class WebhookCertificates:
    """Keeps the webhook's self-signed certificate (see the module docstring).

    ``client`` reads and writes the Secret ``secret`` in ``namespace`` and the
    ValidatingWebhookConfigurations ``configurations``; ``directory`` (default: a new private
    directory under ``$TMPDIR``) receives ``tls.crt`` and ``tls.key``.
    """

    def __init__(
        self,
        client: ClusterClient,
        *,
        namespace: str,
        secret: str,
        hosts: Sequence[str],
        configurations: Sequence[str],
        directory: str | None = None,
        validity: timedelta = DEFAULT_VALIDITY,
        renew_before: timedelta = DEFAULT_RENEW_BEFORE,
        clock: Clock | None = None,
        log: Any = None,
    ) -> None:
        if renew_before >= validity:
            raise ValueError("renew_before must be shorter than the validity")
        self.client = client
        self.namespace = namespace
        self.secret = secret
        self.hosts = tuple(hosts)
        self.configurations = tuple(configurations)
        self.validity = validity
        self.renew_before = renew_before
        self.clock: Clock = clock or SystemClock()
        self.log = log if log is not None else structlog.get_logger("kaito.webhook")
        self.directory = directory or tempfile.mkdtemp(prefix="kaito-webhook-")
        os.chmod(self.directory, 0o700)
        self.cert_file = os.path.join(self.directory, "tls.crt")
        self.key_file = os.path.join(self.directory, "tls.key")
        #: what the files hold now (None before `refresh`)
        self.current: IssuedCertificate | None = None
        #: certificates this process issued (and wrote to the Secret)
        self.issued = 0

    @property
    def _ref(self) -> ObjectRef:
        return ObjectRef("v1", "Secret", self.secret, self.namespace)

    async def refresh(self) -> bool:
        """Ensure a servable certificate in the Secret, in the files and in the ``caBundle``.

        True when the files changed. Raises `CertificateError` when the Secret cannot be read or
        written (a missing webhook configuration is only logged); `Transient` propagates.
        """
        issued = await self._ensure_secret()
        changed = issued != self.current
        if changed:
            _write(self.key_file, issued.key, mode=0o600)
            _write(self.cert_file, issued.certificate, mode=0o644)
            self.current = issued
        for name in self.configurations:
            await self._ensure_ca_bundle(name, issued.ca_bundle)
        return changed

    async def _ensure_secret(self) -> IssuedCertificate:
        where = f"Secret {self.namespace}/{self.secret}"
        for _ in range(_ATTEMPTS):
            try:
                secret: Manifest | None = await self.client.get(self._ref)
            except NotFound:
                secret = None
            except BackendError as error:
                raise CertificateError(f"cannot read {where}: {error}") from error
            stored = IssuedCertificate.from_secret(secret) if secret is not None else None
            now = self.clock.now()
            reason = renewal_reason(
                stored, hosts=self.hosts, now=now, renew_before=self.renew_before
            )
            if reason is None and stored is not None:
                return stored
            issued = issue_certificate(
                hosts=self.hosts,
                now=now,
                validity=self.validity,
                previous_ca=stored.ca_bundle if stored is not None else "",
            )
            try:
                await self._write_secret(secret, issued)
            except Conflict:
                continue  # another replica wrote it first: read theirs
            except BackendError as error:
                raise CertificateError(f"cannot write {where}: {error}") from error
            self.issued += 1
            self.log.info(
                "webhook.certificate_issued",
                secret=f"{self.namespace}/{self.secret}",
                reason=reason,
                hosts=list(self.hosts),
                expires=(now + self.validity).isoformat(),
            )
            return issued
        raise CertificateError(f"cannot write {where}: it kept changing ({_ATTEMPTS} conflicts)")

    async def _write_secret(self, secret: Manifest | None, issued: IssuedCertificate) -> None:
        if secret is None:
            await self.client.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": self.secret, "namespace": self.namespace},
                    "type": "Opaque",
                    "data": issued.secret_data(),
                }
            )
            return
        updated = dict(secret)
        updated["data"] = {**(secret.get("data") or {}), **issued.secret_data()}
        await self.client.update(updated)  # carries the resourceVersion read: Conflict if stale

    async def _ensure_ca_bundle(self, name: str, bundle: str) -> None:
        ref = ObjectRef(_WEBHOOK_CONFIGURATION_API, "ValidatingWebhookConfiguration", name)
        encoded = _b64(bundle)
        for _ in range(_ATTEMPTS):
            try:
                found = await self.client.get(ref)
            except NotFound:
                self.log.warning("webhook.configuration_missing", name=name)
                return
            except BackendError as error:
                self.log.warning("webhook.ca_bundle_failed", name=name, error=str(error))
                return
            hooks = [dict(h) for h in found.get("webhooks") or ()]
            if all((h.get("clientConfig") or {}).get("caBundle") == encoded for h in hooks):
                return
            for hook in hooks:
                hook["clientConfig"] = {**(hook.get("clientConfig") or {}), "caBundle": encoded}
            try:
                await self.client.update({**found, "webhooks": hooks})
            except Conflict:
                continue
            except BackendError as error:
                self.log.warning("webhook.ca_bundle_failed", name=name, error=str(error))
                return
            self.log.info("webhook.ca_bundle_updated", name=name)
            return


def _write(path: str, text: str, *, mode: int) -> None:
    """Replace ``path`` atomically (a reader sees the old file or the new one)."""
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
