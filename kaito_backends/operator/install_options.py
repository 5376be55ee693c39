"""What `kaito_backends.operator.manifests.install_manifests` renders: `InstallOptions`.

The same options are the Helm chart's values (``charts/kaito-py/values.yaml``; docs/install.md
maps one to the other). `check_options` refuses combinations that cannot work, naming the option.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit

import attrs

from kaito_backends.operator.rbac import Backend
from kaito_backends.operator.settings import DEFAULT_LEASE_NAME, DEFAULT_NAMESPACE

__all__ = [
    "CERTIFICATES",
    "DEFAULT_IMAGE",
    "DEFAULT_REPOSITORY",
    "DEFAULT_RESOURCES",
    "Certificate",
    "InstallOptions",
    "check_options",
    "default_image",
    "is_ip_address",
    "pairs",
]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DEFAULT_REPOSITORY = "ghcr.io/kaito-py/kaito-py"
#: The image when none is given: the repository at this package's version.
DEFAULT_IMAGE = f"{DEFAULT_REPOSITORY}:latest"
Certificate = Literal["self-signed", "cert-manager", "secret"]
#: Where the webhook's serving certificate comes from (see `kaito_backends.operator.manifests`).
CERTIFICATES: tuple[Certificate, ...] = ("self-signed", "cert-manager", "secret")
#: The operator container's requests and limits unless told otherwise.
DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}


def default_image() -> str:
    """``ghcr.io/kaito-py/kaito-py:<installed version>`` (``latest`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{DEFAULT_REPOSITORY}:{version('kaito-py')}"
    except PackageNotFoundError:
        return DEFAULT_IMAGE


@attrs.frozen(kw_only=True)
class InstallOptions:
    """What `kaito_backends.operator.manifests.install_manifests` renders (and the chart's values
    mean): see that module's docstring."""

    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    backend: Backend = "karpenter"
    #: with the karpenter backend: ``nodeclaim`` or ``nodepool`` (NodePool RBAC, and the flag)
    karpenter_mode: str = "nodeclaim"
    #: the operator's ``--pod-security`` (``restricted`` or ``baseline``)
    pod_security: str = "restricted"
    #: the name of the Deployment, ServiceAccount, roles and Service
    name: str = "kaito-workspace"
    replicas: int = 2
    lease_name: str = DEFAULT_LEASE_NAME
    #: campaign for the Lease (required with more than one replica)
    leader_elect: bool = True
    certificate: Certificate = "self-signed"
    #: PEM of the CA that signed the webhook's certificate (``certificate="secret"``)
    ca_bundle: str | None = None
    #: call the webhooks at ``https://HOST[:PORT]`` + each kind's path instead of the Service
    webhook_url: str | None = None
    #: reconcile the Workspaces of this namespace only, with RBAC confined to it (Roles there)
    namespace_scope: str | None = None
    #: ``--feature-gates`` of the operator, as (upstream name, on) pairs
    feature_gates: tuple[tuple[str, bool], ...] = ()
    resources: Mapping[str, Mapping[str, str]] = DEFAULT_RESOURCES
    #: also render a Prometheus-operator ServiceMonitor for ``/metrics``
    service_monitor: bool = False
    #: provision the KEDA ScaledObjects InferenceSets ask for (needs KEDA's CRDs)
    keda_scaled_objects: bool = False
    #: extra environment of the operator container (the AKS backend's settings, ...)
    env: tuple[tuple[str, str], ...] = ()
    #: extra arguments of ``kaito operator``
    args: tuple[str, ...] = ()
    #: annotations of the ServiceAccount (``azure.workload.identity/client-id`` for AKS)
    service_account_annotations: tuple[tuple[str, str], ...] = ()
    log_format: str = "json"
    log_level: str = "info"
    workers: int = 4

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": "kaito"}

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name}

    @property
    def cert_secret(self) -> str:
        return f"{self.name}-webhook-cert"

    @property
    def certificate_name(self) -> str:
        return f"{self.name}-webhook"

    @property
    def webhook_host(self) -> str | None:
        """The host of ``webhook_url`` (None without one)."""
        return urlsplit(self.webhook_url).hostname if self.webhook_url else None


def check_options(options: InstallOptions) -> None:
    """Raise ValueError naming the option for a combination that cannot work."""
    if options.backend not in ("karpenter", "aks", "byo"):
        raise ValueError(f"unknown backend {options.backend!r}: use karpenter, aks or byo")
    if options.replicas < 1:
        raise ValueError("replicas must be at least 1")
    if options.pod_security not in ("restricted", "baseline"):
        raise ValueError(
            f"unknown pod security {options.pod_security!r}: use restricted or baseline"
        )
    if options.karpenter_mode not in ("nodeclaim", "nodepool"):
        raise ValueError(
            f"unknown karpenter mode {options.karpenter_mode!r}: use nodeclaim or nodepool"
        )
    scope = options.namespace_scope
    if scope is not None and (not _DNS_LABEL.match(scope) or len(scope) > 63):
        raise ValueError(f"namespace scope {scope!r} is not a valid namespace name")
    if options.replicas > 1 and not options.leader_elect:
        raise ValueError("more than one replica needs leader election")
    if options.certificate not in CERTIFICATES:
        raise ValueError(
            f"unknown certificate {options.certificate!r}: use {', '.join(CERTIFICATES)}"
        )
    if options.ca_bundle and options.certificate != "secret":
        raise ValueError("a CA bundle is given only with the certificate from a Secret (secret)")
    if options.webhook_url:
        parts = urlsplit(options.webhook_url)
        if (
            parts.scheme != "https"
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"webhook URL {options.webhook_url!r} must be https://HOST[:PORT] (each kind's "
                "path is added) without user, path, query or fragment"
            )


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address (else a DNS name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def pairs(items: Sequence[str], *, flag: str = "--env") -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings as pairs; raises ValueError for one without ``=`` or a key."""
    found: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {item!r} must be KEY=VALUE")
        found.append((key.strip(), value))
    return tuple(found)
