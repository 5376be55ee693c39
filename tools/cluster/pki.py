"""The certificates, keys and tokens of a local control plane (``cryptography``).

`Pki.create(directory)` writes, once, into ``directory``:

- ``ca.crt`` / ``ca.key``: the cluster CA (also the ``caBundle`` of the webhook);
- ``apiserver.crt`` / ``.key``: kube-apiserver's serving certificate (127.0.0.1, localhost and
  the in-cluster names of the ``kubernetes`` Service);
- ``webhook.crt`` / ``.key``: the operator's webhook serving certificate (127.0.0.1);
- ``sa.key`` / ``sa.pub``: the ServiceAccount token signing key pair;
- ``tokens.csv``: kube-apiserver's static token file, one random token per client below.

Every private key and the token file are mode 0600. Re-running reuses what exists.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CLIENTS", "Pki"]

#: Static-token clients: name -> (user, groups). The control plane's own components get the
#: identities their default RBAC bindings expect; kwok and Karpenter are cluster admins.
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("kaito-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok", ("system:masters",)),
    "karpenter": ("karpenter", ("system:masters",)),
}
_VALIDITY = datetime.timedelta(days=365)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path}: expected an EC private key")
    return key


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        signer = key
    else:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        signer = issuer[1]
    return builder.sign(signer, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    """Paths of a control plane's credentials (see the module docstring)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"

    def token(self, client: str) -> str:
        """The static token of ``client`` (a key of `CLIENTS`)."""
        user = CLIENTS[client][0]
        for line in self.token_file.read_text().splitlines():
            token, name, *_ = line.split(",")
            if name == user:
                return token
        raise KeyError(f"no token for {client} in {self.token_file}")

    @classmethod
    def create(cls, directory: Path) -> Pki:
        """Write whatever is missing (see the module docstring)."""
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        pki = cls(directory)
        if not pki.ca.exists():
            ca_key = ec.generate_private_key(ec.SECP256R1())
            _write(pki.ca_key, _pem_key(ca_key), private=True)
            ca_cert = _certificate("kaito-py local cluster CA", ca_key, issuer=None)
            _write(pki.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
        ca = (x509.load_pem_x509_certificate(pki.ca.read_bytes()), _load_key(pki.ca_key))
        servers = {
            "apiserver": (
                "127.0.0.1",
                "localhost",
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
            "webhook": ("127.0.0.1", "localhost"),
        }
        for name, hosts in servers.items():
            if pki.cert(name).exists():
                continue
            key = ec.generate_private_key(ec.SECP256R1())
            _write(pki.key(name), _pem_key(key), private=True)
            cert = _certificate(name, key, issuer=ca, hosts=hosts)
            _write(pki.cert(name), cert.public_bytes(serialization.Encoding.PEM))
        if not pki.sa_key.exists():
            sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _write(pki.sa_key, _pem_key(sa), private=True)
            public = sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _write(pki.sa_pub, public)
        if not pki.token_file.exists():
            lines = []
            for user, groups in CLIENTS.values():
                group_field = f',"{",".join(groups)}"' if groups else ""
                lines.append(f"{secrets.token_hex(24)},{user},{user}{group_field}")
            _write(pki.token_file, ("\n".join(lines) + "\n").encode(), private=True)
        return pki
