"""``kaito manifests``: print everything needed to install the operator, for ``kubectl apply``.

    kaito manifests [--namespace kaito-system] [--image IMAGE] [--backend karpenter|aks|byo]
                    [-o yaml|json] [--replicas 2] [--no-leader-elect]
                    [--webhook-certificate self-signed|cert-manager|secret [--ca-bundle FILE]]
                    [--webhook-url https://HOST:PORT] [--namespace-scope NS]
                    [--feature-gates vLLM=true,...]
                    [--service-monitor] [--keda-scaled-objects] [--log-level info] [--workers 4]
                    [--env KEY=VALUE]... [--service-account-annotation KEY=VALUE]...
                    [--operator-arg ARG]... [--crd-only]
    kaito manifests | kubectl apply --server-side -f -

YAML is a multi-document stream; JSON is one ``v1 List``. The same flags always print the same
bytes. Exit 0; 2 with one line on stderr for a bad flag or an unreadable ``--ca-bundle``.
See docs/operator.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from kaito_backends.cli.inputs import parse_feature_gates
from kaito_backends.cli.output import dump_json, dump_yaml, one_line_errors
from kaito_backends.operator.install_options import check_options
from kaito_backends.operator.manifests import (
    CERTIFICATES,
    InstallOptions,
    default_image,
    install_manifests,
    pairs,
)
from kaito_backends.operator.settings import DEFAULT_NAMESPACE

__all__ = ["register", "run"]

_PROG = "kaito manifests"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: ``--feature-gates`` names as upstream spells them, by their lower-case form.
_GATE_NAMES = {
    name.lower(): name for name in ("vLLM", "enableMIG", "enableAccelerator", "ModelStreaming")
}


def register(subparsers: Any) -> None:
    """Add ``manifests`` to the ``kaito`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "manifests",
        help="print the manifests that install the operator (CRDs, RBAC, Deployment, webhooks)",
        description="Print the Namespace, the CRD of every kind (Workspace, ...), "
        "least-privilege RBAC, the Deployment, Service, PodDisruptionBudget and the validating "
        "webhook configurations (with cert-manager objects for their certificate), ready for "
        "kubectl apply.",
    )
    one_line_errors(parser, _PROG)
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NS",
        help=f"where the operator runs (default {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--image",
        metavar="IMAGE",
        help="the operator image (default: ghcr.io/kaito-py/kaito-py at this version)",
    )
    parser.add_argument("--backend", choices=("karpenter", "aks", "byo"), default="karpenter")
    parser.add_argument(
        "--karpenter-mode",
        choices=("nodeclaim", "nodepool"),
        default="nodeclaim",
        help="with --backend karpenter: NodeClaims (default) or one NodePool per Workspace "
        "(adds the nodepools RBAC and passes the flag to the operator)",
    )
    parser.add_argument(
        "--pod-security",
        choices=("restricted", "baseline"),
        default="restricted",
        help="how the operator secures the pods it creates (passed to it): restricted "
        "(default, non-root) or baseline (upstream's pods, for images that must run as root)",
    )
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        metavar="N",
        help="operator replicas (default 2; leader election is always on)",
    )
    parser.add_argument(
        "--no-leader-elect",
        dest="leader_elect",
        action="store_false",
        help="no leader election (only with --replicas 1)",
    )
    parser.add_argument(
        "--webhook-certificate",
        choices=CERTIFICATES,
        default="self-signed",
        help="self-signed (default): the operator issues and rotates it in the Secret "
        "<name>-webhook-cert; cert-manager: an Issuer and a Certificate; secret: you provide "
        "that Secret (kubernetes.io/tls) and --ca-bundle",
    )
    parser.add_argument(
        "--no-cert-manager",
        dest="webhook_certificate",
        action="store_const",
        const="secret",
        help="the same as --webhook-certificate secret",
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="PEM CA of the webhook certificate, put in the webhook configuration",
    )
    parser.add_argument(
        "--webhook-url",
        metavar="URL",
        help="the API server calls the webhooks at https://HOST[:PORT] plus each kind's path "
        "(/validate/workspace.kaito.sh) instead of through the Service",
    )
    parser.add_argument(
        "--feature-gates",
        default="",
        metavar="GATES",
        help="the operator's feature gates, e.g. vLLM=false,enableMIG=true",
    )
    parser.add_argument(
        "--service-monitor",
        action="store_true",
        help="also render a Prometheus-operator ServiceMonitor for /metrics",
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    parser.add_argument(
        "--workers", type=int, default=4, metavar="N", help="Workspaces reconciled at once"
    )
    parser.add_argument(
        "--operator-arg",
        action="append",
        default=[],
        dest="operator_args",
        metavar="ARG",
        help="one more flag of kaito operator (repeatable), e.g. "
        "--operator-arg=--karpenter-node-class=karpenter.kwok.sh/KWOKNodeClass/default",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment of the operator container (repeatable), e.g. "
        "AZURE_SUBSCRIPTION_ID for --backend aks",
    )
    parser.add_argument(
        "--service-account-annotation",
        action="append",
        default=[],
        dest="annotations",
        metavar="KEY=VALUE",
        help="annotation of the ServiceAccount (repeatable), e.g. "
        "azure.workload.identity/client-id=<id>",
    )
    parser.add_argument(
        "--namespace-scope",
        metavar="NS",
        help="the operator reconciles this namespace only, with Roles there instead of "
        "cluster-wide rules for namespaced resources",
    )
    parser.add_argument(
        "--keda-scaled-objects",
        action="store_true",
        help="the operator provisions the KEDA ScaledObjects InferenceSets ask for "
        "(scaledobject.kaito.sh/auto-provision), as keda-kaito-scaler would: grants RBAC on "
        "scaledobjects.keda.sh and passes the flag to the operator (KEDA must be installed)",
    )
    parser.add_argument(
        "--crd-only", action="store_true", help="print only the CRDs (Workspace, ...)"
    )
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> InstallOptions:
    if not _DNS_LABEL.match(args.namespace) or len(args.namespace) > 63:
        raise ValueError(f"--namespace {args.namespace!r} is not a valid namespace name")
    if args.replicas < 1:
        raise ValueError(f"--replicas must be at least 1, got {args.replicas}")
    if args.replicas > 1 and not args.leader_elect:
        raise ValueError("--no-leader-elect needs --replicas 1")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    scope = args.namespace_scope
    if scope is not None and (not _DNS_LABEL.match(scope) or len(scope) > 63):
        raise ValueError(f"--namespace-scope {scope!r} is not a valid namespace name")
    if args.ca_bundle and args.webhook_certificate != "secret":
        raise ValueError("--ca-bundle goes with --webhook-certificate secret")
    try:
        parse_feature_gates(args.feature_gates)
    except ValueError as error:
        raise ValueError(f"--feature-gates: {error}") from None
    gates = {}
    for item in filter(None, (part.strip() for part in args.feature_gates.split(","))):
        key, _, value = item.partition("=")
        gates[_GATE_NAMES[key.strip().lower()]] = value.strip().lower() == "true"
    ca_bundle = None
    if args.ca_bundle:
        try:
            with open(args.ca_bundle, encoding="utf-8") as handle:
                ca_bundle = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"--ca-bundle {args.ca_bundle}: {error}") from None
        if "-----BEGIN CERTIFICATE-----" not in ca_bundle:
            raise ValueError(f"--ca-bundle {args.ca_bundle}: not a PEM certificate")
    options = InstallOptions(
        namespace=args.namespace,
        image=args.image or default_image(),
        backend=args.backend,
        karpenter_mode=args.karpenter_mode,
        pod_security=args.pod_security,
        replicas=args.replicas,
        leader_elect=args.leader_elect,
        certificate=args.webhook_certificate,
        ca_bundle=ca_bundle,
        webhook_url=args.webhook_url,
        namespace_scope=scope,
        keda_scaled_objects=args.keda_scaled_objects,
        feature_gates=tuple(sorted(gates.items())),
        service_monitor=args.service_monitor,
        env=pairs(args.env, flag="--env"),
        args=tuple(args.operator_args),
        service_account_annotations=pairs(args.annotations, flag="--service-account-annotation"),
        log_level=args.log_level,
        workers=args.workers,
    )
    check_options(options)
    return options


def run(args: argparse.Namespace) -> int:
    """Print the manifests; the exit code."""
    try:
        options = _options(args)
    except ValueError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    objects = install_manifests(
        options, registry=getattr(args, "registry", None), hooks=getattr(args, "hooks", None)
    )
    if args.crd_only:
        objects = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    if args.output == "json":
        sys.stdout.write(dump_json({"apiVersion": "v1", "kind": "List", "items": objects}))
    else:
        sys.stdout.write(dump_yaml(objects))
    return 0
