"""``kaito manifests``: print everything needed to install the operator, for ``kubectl apply``.

    kaito manifests [--namespace kaito-system] [--image IMAGE] [--backend karpenter|aks|byo]
                    [-o yaml|json] [--no-cert-manager [--ca-bundle FILE]] [--env KEY=VALUE]...
                    [--namespace-scope NS]
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

from kaito_backends.cli.output import dump_json, dump_yaml, one_line_errors
from kaito_backends.operator.manifests import (
    InstallOptions,
    default_image,
    install_manifests,
    pairs,
)
from kaito_backends.operator.settings import DEFAULT_NAMESPACE

__all__ = ["register", "run"]

_PROG = "kaito manifests"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        metavar="N",
        help="operator replicas (default 2; leader election is always on)",
    )
    parser.add_argument(
        "--no-cert-manager",
        dest="cert_manager",
        action="store_false",
        help="do not render cert-manager objects: provide the Secret "
        "<name>-webhook-cert (kubernetes.io/tls) yourself",
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="PEM CA of the webhook certificate, put in the webhook configuration",
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
    scope = args.namespace_scope
    if scope is not None and (not _DNS_LABEL.match(scope) or len(scope) > 63):
        raise ValueError(f"--namespace-scope {scope!r} is not a valid namespace name")
    ca_bundle = None
    if args.ca_bundle:
        try:
            with open(args.ca_bundle, encoding="utf-8") as handle:
                ca_bundle = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"--ca-bundle {args.ca_bundle}: {error}") from None
        if "-----BEGIN CERTIFICATE-----" not in ca_bundle:
            raise ValueError(f"--ca-bundle {args.ca_bundle}: not a PEM certificate")
    return InstallOptions(
        namespace=args.namespace,
        image=args.image or default_image(),
        backend=args.backend,
        replicas=args.replicas,
        cert_manager=args.cert_manager,
        ca_bundle=ca_bundle,
        env=pairs(args.env, flag="--env"),
        service_account_annotations=pairs(args.annotations, flag="--service-account-annotation"),
        namespace_scope=scope,
        keda_scaled_objects=args.keda_scaled_objects,
    )


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
