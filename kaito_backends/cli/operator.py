"""``kaito operator``: run the Workspace operator against a cluster.

    kaito operator --backend karpenter [--kubeconfig PATH] [--context NAME]
                   [--namespace-scope NS] [--leader-elect] [--metrics-bind-address :8080]
                   [--health-probe-bind-address :8081] [--webhook-port 9443
                   --webhook-cert FILE --webhook-key FILE] [--log-format json|console]
                   [--workers N] [--keda-scaled-objects]

In a pod it uses its service account; elsewhere the kubeconfig (``$KUBECONFIG`` or
``~/.kube/config``). See docs/operator.md. Exit 0 after SIGTERM/SIGINT, 1 when leadership is
lost or the controller fails, 2 with one line on stderr for a bad flag, a missing extra or an
unreachable cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import re
import sys
from typing import Any

from kaito_backends.cli.inputs import add_cluster_arguments, parse_feature_gates
from kaito_backends.cli.output import one_line_errors
from kaito_backends.operator.settings import (
    BACKENDS,
    DEFAULT_HEALTH_PORT,
    DEFAULT_LEASE_NAME,
    DEFAULT_METRICS_PORT,
    DEFAULT_WEBHOOK_PORT,
    DEFAULT_WEBHOOK_SERVICE,
    KARPENTER_MODES,
    BindAddress,
    OperatorSettings,
    default_identity,
    default_namespace,
    parse_bind_address,
)
from kaito_core.render.podsecurity import PROFILE_RESTRICTED, PROFILES

__all__ = ["register", "run", "settings_from_args"]

_PROG = "kaito operator"
#: An object name (RFC 1123 subdomain) and one DNS label.
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS_LABEL = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$", re.IGNORECASE)


def register(subparsers: Any) -> None:
    """Add ``operator`` to the ``kaito`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator",
        help="run the Workspace operator against a Kubernetes cluster",
        description="Reconcile Workspaces on a cluster: the engine's controller, a validating "
        "admission webhook, health and metrics endpoints, and optional leader election so "
        "several replicas are safe. Exit 0 on SIGTERM/SIGINT, 1 when leadership is lost or "
        "the controller fails, 2 for bad flags or an unreachable cluster.",
    )
    one_line_errors(parser, _PROG)
    parser.add_argument("--backend", choices=BACKENDS, required=True, help="how GPU nodes are had")
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    parser.add_argument(
        "--namespace-scope", metavar="NS", help="reconcile the Workspaces of this namespace only"
    )
    election = parser.add_argument_group("leader election")
    election.add_argument(
        "--leader-elect",
        action="store_true",
        help="campaign for a coordination.k8s.io Lease; only the leader reconciles",
    )
    election.add_argument(
        "--leader-election-id",
        default=DEFAULT_LEASE_NAME,
        metavar="NAME",
        help=f"the Lease's name (default {DEFAULT_LEASE_NAME})",
    )
    election.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="the Lease's namespace (default: POD_NAMESPACE, the pod's "
        "namespace, else kaito-system)",
    )
    election.add_argument(
        "--leader-election-identity",
        metavar="ID",
        help="this replica's identity (default: POD_NAME or host name + uuid)",
    )
    election.add_argument("--lease-duration", type=float, default=15.0, metavar="SECONDS")
    election.add_argument("--renew-deadline", type=float, default=10.0, metavar="SECONDS")
    election.add_argument("--retry-period", type=float, default=2.0, metavar="SECONDS")
    serving = parser.add_argument_group("endpoints")
    serving.add_argument(
        "--metrics-bind-address",
        default=f":{DEFAULT_METRICS_PORT}",
        metavar="ADDR",
        help=f"serve /metrics here (default :{DEFAULT_METRICS_PORT}; 0 disables)",
    )
    serving.add_argument(
        "--health-probe-bind-address",
        default=f":{DEFAULT_HEALTH_PORT}",
        metavar="ADDR",
        help=f"serve /healthz and /readyz here (default :{DEFAULT_HEALTH_PORT}; 0 disables)",
    )
    serving.add_argument(
        "--webhook-port",
        type=int,
        default=DEFAULT_WEBHOOK_PORT,
        metavar="PORT",
        help=f"serve the admission webhook here (default {DEFAULT_WEBHOOK_PORT}; 0 disables)",
    )
    serving.add_argument(
        "--webhook-host",
        default="",
        metavar="HOST",
        help="the address the webhook listens on (default: every interface)",
    )
    serving.add_argument(
        "--webhook-cert", metavar="FILE", help="TLS certificate (PEM) of the webhook"
    )
    serving.add_argument(
        "--webhook-key", metavar="FILE", help="TLS private key (PEM) of the webhook"
    )
    serving.add_argument(
        "--webhook-cert-secret",
        metavar="NAME",
        help="instead of --webhook-cert/--webhook-key: keep a self-signed certificate in this "
        "Secret of the operator's namespace, rotate it, and put its CA into the webhook "
        "configuration's caBundle",
    )
    serving.add_argument(
        "--webhook-service",
        default=DEFAULT_WEBHOOK_SERVICE,
        metavar="NAME",
        help="the Service whose DNS names that certificate covers "
        f"(default {DEFAULT_WEBHOOK_SERVICE})",
    )
    serving.add_argument(
        "--webhook-cert-host",
        action="append",
        default=[],
        dest="webhook_cert_hosts",
        metavar="HOST",
        help="one more DNS name or IP address the certificate covers (repeatable), e.g. the "
        "host of the webhook configuration's clientConfig.url",
    )
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument(
        "--workers",
        type=int,
        default=4,
        metavar="N",
        help="Workspaces reconciled at once (default 4)",
    )
    behaviour.add_argument(
        "--resync-period",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="reconcile every Workspace this often even without a change (default 600)",
    )
    add_cluster_arguments(behaviour)
    behaviour.add_argument(
        "--keda-scaled-objects",
        action="store_true",
        help="provision the KEDA ScaledObjects InferenceSets ask for "
        "(scaledobject.kaito.sh/auto-provision), as keda-kaito-scaler would (needs KEDA's CRDs "
        "and RBAC on scaledobjects.keda.sh: kaito manifests --keda-scaled-objects)",
    )
    behaviour.add_argument(
        "--karpenter-node-class",
        metavar="GROUP/KIND/NAME",
        help="the nodeClassRef of the NodeClaims the karpenter backend creates, e.g. "
        "karpenter.kwok.sh/KWOKNodeClass/default (default: the cloud's, kaito.sh/KaitoNodeClass "
        "on azure)",
    )
    behaviour.add_argument(
        "--karpenter-mode",
        choices=KARPENTER_MODES,
        default="nodeclaim",
        help="with --backend karpenter: one NodeClaim per machine (default), or one NodePool "
        "per Workspace as upstream does (needs the RBAC of kaito manifests --karpenter-mode "
        "nodepool)",
    )
    behaviour.add_argument(
        "--pod-security",
        choices=PROFILES,
        default=PROFILE_RESTRICTED,
        help="how the pods the operator creates are secured: restricted (default: non-root, no "
        "capabilities, RuntimeDefault seccomp; the Pod Security Standards' restricted profile) "
        "or baseline (upstream's pods, the images' own user: for images that must run as root)",
    )
    behaviour.add_argument("--log-format", choices=("json", "console"), default="json")
    behaviour.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    try:
        from kaito_backends.cli.aks_options import add_aks_arguments
    except ModuleNotFoundError:  # pragma: no cover - the module ships with the package
        pass
    else:
        add_aks_arguments(parser)
    parser.set_defaults(func=run)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return len(host) <= 253 and all(_DNS_LABEL.match(p) for p in host.split("."))
    return True


def _bind(text: str, flag: str) -> BindAddress | None:
    try:
        return parse_bind_address(text)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def settings_from_args(args: argparse.Namespace) -> OperatorSettings:
    """`OperatorSettings` from the parsed flags; raises ValueError (one line) for a bad one."""
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if not args.resync_period > 0:
        raise ValueError(f"--resync-period must be positive, got {args.resync_period}")
    if not 0 <= args.webhook_port <= 65535:
        raise ValueError(f"--webhook-port {args.webhook_port} is not a port")
    lease, renew, retry = args.lease_duration, args.renew_deadline, args.retry_period
    if min(lease, renew, retry) <= 0:
        raise ValueError("--lease-duration, --renew-deadline and --retry-period must be positive")
    if not lease > renew > 1.2 * retry:
        raise ValueError(
            "leader election needs --lease-duration > --renew-deadline > 1.2 x --retry-period"
        )
    if bool(args.webhook_cert) != bool(args.webhook_key):
        raise ValueError("--webhook-cert and --webhook-key go together")
    if args.webhook_cert_secret and args.webhook_cert:
        raise ValueError("--webhook-cert-secret excludes --webhook-cert/--webhook-key")
    for flag, value in (
        ("--webhook-cert-secret", args.webhook_cert_secret),
        ("--webhook-service", args.webhook_service),
    ):
        if value is not None and not _DNS_NAME.match(value):
            raise ValueError(f"{flag} {value!r} is not a valid object name")
    for host in args.webhook_cert_hosts:
        if not _valid_host(host):
            raise ValueError(f"--webhook-cert-host {host!r} is not a DNS name or an IP address")
    try:
        gates = parse_feature_gates(args.feature_gates)
    except ValueError as error:
        raise ValueError(f"--feature-gates: {error}") from None
    webhook = (
        BindAddress(host=args.webhook_host, port=args.webhook_port) if args.webhook_port else None
    )
    node_class = None
    if args.karpenter_node_class:
        parts = tuple(args.karpenter_node_class.split("/"))
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(
                f"--karpenter-node-class {args.karpenter_node_class!r} must be GROUP/KIND/NAME"
            )
        node_class = parts
    return OperatorSettings(
        backend=args.backend,
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace_scope=args.namespace_scope,
        leader_elect=args.leader_elect,
        lease_name=args.leader_election_id,
        lease_namespace=args.leader_election_namespace or default_namespace(),
        identity=args.leader_election_identity or default_identity(),
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
        metrics_bind=_bind(args.metrics_bind_address, "--metrics-bind-address"),
        health_bind=_bind(args.health_probe_bind_address, "--health-probe-bind-address"),
        webhook_bind=webhook,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        webhook_cert_secret=args.webhook_cert_secret,
        webhook_service=args.webhook_service,
        webhook_cert_hosts=tuple(dict.fromkeys(args.webhook_cert_hosts)),
        pod_namespace=default_namespace(),
        log_format=args.log_format,
        log_level=args.log_level,
        workers=args.workers,
        resync_period=args.resync_period,
        cloud_provider=args.cloud_provider,
        feature_gates=gates,
        node_classes=tuple(args.node_classes),
        keda_scaled_objects=args.keda_scaled_objects,
        karpenter_node_class=node_class,
        karpenter_mode=args.karpenter_mode,
        pod_security=args.pod_security,
        extra=args,
    )


def run(args: argparse.Namespace) -> int:
    """Run the operator until SIGTERM/SIGINT; the exit code."""
    try:
        settings = settings_from_args(args)
    except ValueError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        from kaito_backends.engine.logs import configure_logging
        from kaito_backends.operator.runner import run_operator
    except ModuleNotFoundError as error:  # aiohttp (the kubernetes extra) is missing
        print(
            f"{_PROG}: error: the operator needs the 'kubernetes' extra: "
            "pip install -e '.[kubernetes]' in a kaito-py clone (not on PyPI yet) "
            f"(missing {error.name})",
            file=sys.stderr,
        )
        return 2

    configure_logging(format=settings.log_format, level=settings.log_level)
    return asyncio.run(
        run_operator(
            settings,
            signals=True,
            registry=getattr(args, "registry", None),
            hooks=getattr(args, "hooks", None),
        )
    )
