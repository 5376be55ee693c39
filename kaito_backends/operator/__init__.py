"""The operator on a cluster: leader election, admission webhook, probes, metrics, manifests.

    kaito manifests | kubectl apply --server-side -f -     # CRD, RBAC, Deployment, webhook
    kaito operator --backend karpenter --leader-elect      # what the Deployment runs

Every part serves the kinds of a `kaito_core.kinds.Registry` (default: Workspace).
Modules: `leader` (`LeaderElector` over a coordination.k8s.io Lease), `webhook`
(`AdmissionValidator`: AdmissionReview v1 over aiohttp, a path per kind), `health`
(``/healthz``, ``/readyz``, ``/metrics``), `crd` (the Workspace CRD from the attrs model),
`rbac`, `manifests` (`install_manifests`: a CRD and a webhook configuration per kind),
`settings` (`OperatorSettings`), `backends` (`connect`: client and provisioner of a backend),
`runner` (`run_operator`), `certificates` (`WebhookCertificates`: a self-signed webhook
certificate the operator keeps itself). See docs/operator.md.

The names are imported on first use: `manifests`, `crd`, `rbac`, `settings` and `leader` need
only the base install; `webhook`, `health` and `runner` need aiohttp (the ``kubernetes`` extra).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaito_backends.operator.backends import Connection, ScopedClient, SetupError, connect
    from kaito_backends.operator.certificates import WebhookCertificates
    from kaito_backends.operator.crd import workspace_crd, workspace_schema
    from kaito_backends.operator.health import Health
    from kaito_backends.operator.leader import LeaderElector, LeaseRecord
    from kaito_backends.operator.manifests import InstallOptions, crd_of, install_manifests
    from kaito_backends.operator.rbac import cluster_rules, namespace_rules
    from kaito_backends.operator.runner import Operator, run_operator
    from kaito_backends.operator.settings import BindAddress, OperatorSettings, parse_bind_address
    from kaito_backends.operator.webhook import AdmissionValidator, WorkspaceValidator, tls_context

__all__ = [
    "AdmissionValidator",
    "BindAddress",
    "Connection",
    "Health",
    "InstallOptions",
    "LeaderElector",
    "LeaseRecord",
    "Operator",
    "OperatorSettings",
    "ScopedClient",
    "SetupError",
    "WebhookCertificates",
    "WorkspaceValidator",
    "cluster_rules",
    "connect",
    "crd_of",
    "install_manifests",
    "namespace_rules",
    "parse_bind_address",
    "run_operator",
    "tls_context",
    "workspace_crd",
    "workspace_schema",
]

_HOMES = {
    "AdmissionValidator": "webhook",
    "BindAddress": "settings",
    "Connection": "backends",
    "Health": "health",
    "InstallOptions": "manifests",
    "LeaderElector": "leader",
    "LeaseRecord": "leader",
    "Operator": "runner",
    "OperatorSettings": "settings",
    "ScopedClient": "backends",
    "SetupError": "backends",
    "WebhookCertificates": "certificates",
    "WorkspaceValidator": "webhook",
    "cluster_rules": "rbac",
    "connect": "backends",
    "crd_of": "manifests",
    "install_manifests": "manifests",
    "namespace_rules": "rbac",
    "parse_bind_address": "settings",
    "run_operator": "runner",
    "tls_context": "webhook",
    "workspace_crd": "crd",
    "workspace_schema": "crd",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
