"""How one operator process is set up: `OperatorSettings`, its defaults, and address parsing.

Shared by the runner, ``kaito operator`` (which builds settings from flags) and ``kaito
manifests`` (whose Deployment passes the same flags), so names, ports and paths agree. Needs no
extra (no aiohttp), so ``kaito manifests`` works with the base install.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kaito_core.kinds import KindSpec
from kaito_core.validation import FeatureGates, ValidationContext
from kaito_core.workspace_kind import WORKSPACE

__all__ = [
    "BACKENDS",
    "DEFAULT_HEALTH_PORT",
    "DEFAULT_LEASE_NAME",
    "DEFAULT_METRICS_PORT",
    "DEFAULT_NAMESPACE",
    "DEFAULT_WEBHOOK_PORT",
    "DEFAULT_WEBHOOK_SERVICE",
    "KARPENTER_MODES",
    "WEBHOOK_CERT_DIR",
    "WEBHOOK_NAME",
    "WEBHOOK_PATH",
    "BindAddress",
    "OperatorSettings",
    "default_identity",
    "default_namespace",
    "parse_bind_address",
    "webhook_name",
    "webhook_path",
]

BackendName = Literal["karpenter", "aks", "byo"]
BACKENDS: tuple[BackendName, ...] = ("karpenter", "aks", "byo")
KarpenterMode = Literal["nodeclaim", "nodepool"]
#: How the karpenter backend asks for machines (`kaito_backends.karpenter.KarpenterProvisioner`).
KARPENTER_MODES: tuple[KarpenterMode, ...] = ("nodeclaim", "nodepool")
DEFAULT_NAMESPACE = "kaito-system"
#: The election Lease (upstream's controller-runtime election ID is ``ef60f9b0.io``).
DEFAULT_LEASE_NAME = "kaito-workspace-leader"
DEFAULT_METRICS_PORT = 8080
DEFAULT_HEALTH_PORT = 8081
DEFAULT_WEBHOOK_PORT = 9443
#: The Service the API server calls the webhook through (the manifests' and the chart's name).
DEFAULT_WEBHOOK_SERVICE = "kaito-workspace"
#: Where the Deployment mounts the webhook's serving certificate (``tls.crt``, ``tls.key``).
WEBHOOK_CERT_DIR = "/etc/kaito/webhook"


def webhook_name(spec: KindSpec[Any, Any]) -> str:
    """A kind's ValidatingWebhookConfiguration and webhook: ``validation.<singular>.<group>``
    (upstream's ``validation.workspace.kaito.sh``)."""
    return f"validation.{spec.singular}.{spec.group}"


def webhook_path(spec: KindSpec[Any, Any]) -> str:
    """Where the webhook serves a kind: ``/validate/<singular>.<group>``."""
    return f"/validate/{spec.singular}.{spec.group}"


#: The Workspace webhook's name in its ValidatingWebhookConfiguration, as upstream's.
WEBHOOK_NAME = webhook_name(WORKSPACE)
#: The Workspace webhook's path (every kind has one: `webhook_path`).
WEBHOOK_PATH = webhook_path(WORKSPACE)
_SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@attrs.frozen(kw_only=True)
class BindAddress:
    """Where a server listens: ``host`` ("" = every interface) and ``port`` (0 = any free)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_bind_address(text: str) -> BindAddress | None:
    """``:8080``, ``0.0.0.0:8080``, ``[::1]:8080``, ``localhost:8080``; ``0`` turns it off (None).

    Raises ValueError naming what is wrong.
    """
    text = text.strip()
    if text == "0":
        return None
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"bind address {text!r} must be HOST:PORT or :PORT (or 0 to disable)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bind address {text!r} has no valid port")
    return BindAddress(host=host, port=int(port))


def default_namespace(environ: Mapping[str, str] | None = None) -> str:
    """``POD_NAMESPACE``, else the in-cluster service account's namespace, else kaito-system."""
    env = os.environ if environ is None else environ
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        with open(_SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as handle:
            found = handle.read().strip()
    except OSError:
        found = ""
    return found or DEFAULT_NAMESPACE


def default_identity(environ: Mapping[str, str] | None = None) -> str:
    """``POD_NAME`` (else the host name) plus a random suffix, as client-go's ``hostname_uuid``."""
    env = os.environ if environ is None else environ
    base = env.get("POD_NAME") or socket.gethostname() or "kaito"
    return f"{base}_{uuid.uuid4()}"


@attrs.frozen(kw_only=True)
class OperatorSettings:
    """Everything `kaito_backends.operator.runner.run_operator` needs besides the backend."""

    backend: BackendName = "karpenter"
    kubeconfig: str | None = None
    context: str | None = None
    #: Reconcile Workspaces of this namespace only (None: every namespace).
    namespace_scope: str | None = None
    leader_elect: bool = False
    lease_name: str = DEFAULT_LEASE_NAME
    lease_namespace: str = DEFAULT_NAMESPACE
    identity: str = "kaito"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    metrics_bind: BindAddress | None = BindAddress(host="", port=DEFAULT_METRICS_PORT)
    health_bind: BindAddress | None = BindAddress(host="", port=DEFAULT_HEALTH_PORT)
    #: None turns the webhook server off.
    webhook_bind: BindAddress | None = BindAddress(host="", port=DEFAULT_WEBHOOK_PORT)
    webhook_cert: str | None = None
    webhook_key: str | None = None
    #: Keep a self-signed serving certificate in this Secret of ``pod_namespace`` and its CA in
    #: the webhook configuration (`kaito_backends.operator.certificates`); excludes the files.
    webhook_cert_secret: str | None = None
    #: The Service whose DNS names the self-signed certificate covers.
    webhook_service: str = DEFAULT_WEBHOOK_SERVICE
    #: More names or addresses it covers (the host of a webhook ``clientConfig.url``).
    webhook_cert_hosts: tuple[str, ...] = ()
    #: Seconds between two checks of the self-signed certificate and the ``caBundle``.
    certificate_interval: float = 60.0
    #: The namespace the operator runs in (its Secret's).
    pod_namespace: str = DEFAULT_NAMESPACE
    log_format: Literal["json", "console"] = "json"
    log_level: str = "info"
    workers: int = 4
    #: Seconds between resyncs (every Workspace reconciled without a change).
    resync_period: float = 600.0
    cloud_provider: str = "azure"
    feature_gates: FeatureGates = attrs.field(factory=FeatureGates)
    node_classes: tuple[str, ...] = ()
    #: Provision the KEDA ScaledObjects InferenceSets ask for (``--keda-scaled-objects``).
    keda_scaled_objects: bool = False
    #: (group, kind, name) of the NodeClaims' nodeClassRef (None: the cloud's, as rendered).
    karpenter_node_class: tuple[str, str, str] | None = None
    #: The karpenter backend's mode: NodeClaims, or one NodePool per Workspace.
    karpenter_mode: KarpenterMode = "nodeclaim"
    #: How the pods the engine renders are secured (`kaito_core.render.podsecurity`):
    #: ``restricted`` (non-root) or ``baseline`` (upstream's pods, the images' own user).
    pod_security: str = "restricted"
    #: Seconds the initial request to the API server may take before the cluster counts as
    #: unreachable.
    connect_timeout: float = 15.0
    #: Seconds shutdown may take (the Deployment's grace period is 30).
    shutdown_timeout: float = 20.0
    #: Whatever the backend's own options need (the ``--aks-*`` flags): the parsed arguments.
    extra: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def provisioner(self) -> str:
        """The provisioner name the core knows (``karpenter``, ``aks``, ``byo``)."""
        return self.backend

    def validation_context(self) -> ValidationContext:
        """The webhook's view of the cluster, from these settings."""
        return ValidationContext(
            node_auto_provisioning=self.backend != "byo",
            provisioner=self.provisioner,
            cloud_provider=self.cloud_provider,
            feature_gates=self.feature_gates,
            node_classes=self.node_classes,
            release_namespace=self.lease_namespace,
        )

    def plan_settings(self) -> Any:
        """The engine's `kaito_core.plan.PlanSettings` for these settings."""
        from kaito_core.plan import PlanSettings

        return PlanSettings(
            provisioner=self.provisioner,
            cloud=self.cloud_provider,
            vllm_enabled=self.feature_gates.vllm,
            pod_security=self.pod_security,
        )
