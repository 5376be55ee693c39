"""Everything needed to install the operator on a cluster, as plain manifests.

`install_manifests` returns, in apply order:

1. the Namespace;
2. the CRD of every registered kind (`kaito_core.kinds.Registry`, default: Workspace and
   InferenceSet), from
   its `kaito_backends.kinds.KindHooks` ``crd`` (the Workspace's: `kaito_backends.operator.crd`,
   generated from the model) or, without one, from its `KindSpec` with a permissive schema;
3. the ServiceAccount, ClusterRole + ClusterRoleBinding and Role + RoleBinding
   (`kaito_backends.operator.rbac`: explicit verbs, no wildcard, the registered kinds' rules);
   with ``keda_scaled_objects`` the InferenceSet's planner provisions KEDA ScaledObjects
   (`kaito_backends.kinds.inferenceset.with_keda`): ``scaledobjects`` (``keda.sh``) are
   granted and the operator gets ``--keda-scaled-objects``; with ``namespace_scope`` the
   rules of namespaced resources move from the ClusterRole to a Role ``<name>-workspaces`` (and
   its RoleBinding) in that namespace, the operator gets ``--namespace-scope``, and the webhook
   judges that namespace only;
4. the Service (``webhook`` 443 -> 9443, ``metrics`` 8080);
5. with cert-manager (the default) a self-signed Issuer and the webhook's Certificate, whose
   Secret the pods mount; without, the Secret must be provided (``kubernetes.io/tls``, same
   name) and the CA given with ``ca_bundle``;
6. the Deployment: 2 replicas with leader election, spread over nodes, probes on ``/healthz``
   and ``/readyz``, non-root with a read-only root file system, bounded resources;
7. a PodDisruptionBudget (one replica always up: the webhook's ``failurePolicy`` is Fail);
8. a ValidatingWebhookConfiguration per registered kind, ``validation.<singular>.<group>``
   (``validation.workspace.kaito.sh``: CREATE and UPDATE of both Workspace versions at
   ``/validate/workspace.kaito.sh``, ``failurePolicy: Fail``, ``sideEffects: None``,
   AdmissionReview v1).

Output is deterministic: the same options give byte-identical YAML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks
from kaito_backends.kinds.crd import custom_resource_definition
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.objects import Manifest
from kaito_backends.operator.rbac import (
    Backend,
    cluster_rules,
    namespace_rules,
    namespaced_rules,
)
from kaito_backends.operator.settings import (
    DEFAULT_HEALTH_PORT,
    DEFAULT_LEASE_NAME,
    DEFAULT_METRICS_PORT,
    DEFAULT_NAMESPACE,
    DEFAULT_WEBHOOK_PORT,
    WEBHOOK_CERT_DIR,
    webhook_name,
    webhook_path,
)
from kaito_core.kinds import KindSpec, Registry
from kaito_core.registry import default_registry

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_REPOSITORY",
    "InstallOptions",
    "crd_of",
    "default_image",
    "install_manifests",
    "kinds",
    "pairs",
]

DEFAULT_REPOSITORY = "ghcr.io/kaito-py/kaito-py"
#: The image when none is given: the repository at this package's version.
DEFAULT_IMAGE = f"{DEFAULT_REPOSITORY}:latest"
_CERT_MANAGER = "cert-manager.io/v1"
_NONROOT = 65532
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def default_image() -> str:
    """``ghcr.io/kaito-py/kaito-py:<installed version>`` (``latest`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{DEFAULT_REPOSITORY}:{version('kaito-py')}"
    except PackageNotFoundError:
        return DEFAULT_IMAGE


@attrs.frozen(kw_only=True)
class InstallOptions:
    """What `install_manifests` renders."""

    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    backend: Backend = "karpenter"
    #: the name of the Deployment, ServiceAccount, roles and Service
    name: str = "kaito-workspace"
    replicas: int = 2
    lease_name: str = DEFAULT_LEASE_NAME
    cert_manager: bool = True
    #: PEM of the CA that signed the webhook's certificate (without cert-manager)
    ca_bundle: str | None = None
    #: extra environment of the operator container (the AKS backend's settings, ...)
    env: tuple[tuple[str, str], ...] = ()
    #: extra arguments of ``kaito operator``
    args: tuple[str, ...] = ()
    #: annotations of the ServiceAccount (``azure.workload.identity/client-id`` for AKS)
    service_account_annotations: tuple[tuple[str, str], ...] = ()
    log_format: str = "json"
    workers: int = 4
    #: reconcile the Workspaces of this namespace only, with RBAC confined to it (Roles there)
    namespace_scope: str | None = None
    #: provision the KEDA ScaledObjects InferenceSets ask for (needs KEDA's CRDs)
    keda_scaled_objects: bool = False

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
    def certificate(self) -> str:
        return f"{self.name}-webhook"


def _meta(
    options: InstallOptions, name: str, *, namespaced: bool = True, **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = options.namespace
    meta["labels"] = dict(options.labels)
    meta.update(extra)
    return meta


def _namespace(options: InstallOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(options, options.namespace, namespaced=False),
    }


def _binding(options: InstallOptions, kind: str, name: str, namespace: str | None) -> Manifest:
    subject = [{"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}]
    meta = _meta(options, name, namespaced=namespace is not None)
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{kind}Binding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": subject,
    }


def _role(
    options: InstallOptions, kind: str, name: str, namespace: str | None, rules: list[Any]
) -> Manifest:
    meta = _meta(options, name, namespaced=namespace is not None)
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "rules": rules,
    }


def crd_of(
    spec: KindSpec[Any, Any],
    hooks: Mapping[str, KindHooks] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
) -> Manifest:
    """A kind's CRD: its hooks' ``crd`` (full schema), else one from its `KindSpec`."""
    found = (hooks if hooks is not None else DEFAULT_HOOKS).get(spec.kind)
    if found is not None and found.crd is not None:
        return found.crd(labels=labels)
    return custom_resource_definition(spec, labels=labels)


def _rbac(options: InstallOptions, registry: Registry) -> list[Manifest]:
    account_meta = _meta(options, options.name)
    if options.service_account_annotations:
        account_meta["annotations"] = dict(sorted(options.service_account_annotations))
    scope = options.namespace_scope
    rules = cluster_rules(options.backend, registry, namespace_scoped=scope is not None)
    lease_rules = namespace_rules(options.lease_name)
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": account_meta,
            "automountServiceAccountToken": True,
        },
        _role(options, "ClusterRole", options.name, None, rules),
        _binding(options, "ClusterRole", options.name, None),
        _role(options, "Role", options.name, options.namespace, lease_rules),
        _binding(options, "Role", options.name, options.namespace),
    ]
    if scope is not None:
        scoped = f"{options.name}-workspaces"
        objects.append(_role(options, "Role", scoped, scope, namespaced_rules(registry)))
        objects.append(_binding(options, "Role", scoped, scope))
    return objects


def _service(options: InstallOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(options, options.name),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(options.selector),
            "ports": [
                {"name": "webhook", "port": 443, "protocol": "TCP", "targetPort": "webhook"},
                {
                    "name": "metrics",
                    "port": DEFAULT_METRICS_PORT,
                    "protocol": "TCP",
                    "targetPort": "metrics",
                },
            ],
        },
    }


def _certificates(options: InstallOptions) -> list[Manifest]:
    issuer = f"{options.name}-selfsigned"
    service = f"{options.name}.{options.namespace}.svc"
    return [
        {
            "apiVersion": _CERT_MANAGER,
            "kind": "Issuer",
            "metadata": _meta(options, issuer),
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": _CERT_MANAGER,
            "kind": "Certificate",
            "metadata": _meta(options, options.certificate),
            "spec": {
                "secretName": options.cert_secret,
                "dnsNames": [service, f"{service}.cluster.local"],
                "issuerRef": {"kind": "Issuer", "name": issuer},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
        },
    ]


def _container(options: InstallOptions) -> dict[str, Any]:
    args = [
        "operator",
        f"--backend={options.backend}",
        "--leader-elect",
        f"--leader-election-id={options.lease_name}",
        f"--metrics-bind-address=:{DEFAULT_METRICS_PORT}",
        f"--health-probe-bind-address=:{DEFAULT_HEALTH_PORT}",
        f"--webhook-port={DEFAULT_WEBHOOK_PORT}",
        f"--webhook-cert={WEBHOOK_CERT_DIR}/tls.crt",
        f"--webhook-key={WEBHOOK_CERT_DIR}/tls.key",
        f"--log-format={options.log_format}",
        f"--workers={options.workers}",
        *([f"--namespace-scope={options.namespace_scope}"] if options.namespace_scope else []),
        *(["--keda-scaled-objects"] if options.keda_scaled_objects else []),
        *options.args,
    ]
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]
    env += [{"name": key, "value": value} for key, value in options.env]

    def probe(path: str, delay: int, period: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "health"},
            "initialDelaySeconds": delay,
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }

    return {
        "name": "operator",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["kaito"],
        "args": args,
        "env": env,
        "ports": [
            {"name": "webhook", "containerPort": DEFAULT_WEBHOOK_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": DEFAULT_METRICS_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": DEFAULT_HEALTH_PORT, "protocol": "TCP"},
        ],
        "startupProbe": probe("/healthz", 0, 2) | {"failureThreshold": 30},
        "livenessProbe": probe("/healthz", 0, 20),
        "readinessProbe": probe("/readyz", 0, 10),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "1Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {"name": "webhook-cert", "mountPath": WEBHOOK_CERT_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _deployment(options: InstallOptions) -> Manifest:
    pod_labels = dict(options.labels)
    if options.backend == "aks":
        pod_labels["azure.workload.identity/use"] = "true"
    spread = {
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": {"matchLabels": dict(options.selector)},
            "topologyKey": "kubernetes.io/hostname",
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options, options.name),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": dict(options.selector)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": options.name,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _NONROOT,
                        "runAsGroup": _NONROOT,
                        "fsGroup": _NONROOT,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(options)],
                    "volumes": [
                        {"name": "webhook-cert", "secret": {"secretName": options.cert_secret}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [spread]
                        }
                    },
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
    }


def _disruption_budget(options: InstallOptions) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(options, options.name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(options.selector)}},
    }


def _webhook_configuration(options: InstallOptions, spec: KindSpec[Any, Any]) -> Manifest:
    name = webhook_name(spec)
    client: dict[str, Any] = {
        "service": {
            "name": options.name,
            "namespace": options.namespace,
            "path": webhook_path(spec),
            "port": 443,
        }
    }
    if options.ca_bundle:
        client["caBundle"] = base64.b64encode(options.ca_bundle.encode()).decode()
    meta = _meta(options, name, namespaced=False)
    if options.cert_manager:
        meta["annotations"] = {
            "cert-manager.io/inject-ca-from": f"{options.namespace}/{options.certificate}"
        }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": meta,
        "webhooks": [
            {
                "name": name,
                "admissionReviewVersions": ["v1"],
                "clientConfig": client,
                "failurePolicy": "Fail",
                "matchPolicy": "Exact",
                "rules": [
                    {
                        "apiGroups": [spec.group],
                        "apiVersions": sorted(spec.versions),
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [spec.plural],
                        "scope": "Namespaced" if spec.namespaced else "Cluster",
                    }
                ],
                "sideEffects": "None",
                "timeoutSeconds": 10,
                **_scope_selector(options),
            }
        ],
    }


def _scope_selector(options: InstallOptions) -> dict[str, Any]:
    """With a namespace scope, the webhook judges Workspaces of that namespace only."""
    if not options.namespace_scope:
        return {}
    label = {"kubernetes.io/metadata.name": options.namespace_scope}
    return {"namespaceSelector": {"matchLabels": label}}


def install_manifests(
    options: InstallOptions | None = None,
    *,
    registry: Registry | None = None,
    hooks: Mapping[str, KindHooks] | None = None,
) -> list[Manifest]:
    """Every object of an installation, in apply order (see the module docstring), for the
    kinds of ``registry`` (default `default_registry`)."""
    options = options or InstallOptions()
    registry = registry if registry is not None else default_registry()
    if options.keda_scaled_objects:
        registry = with_keda(registry)
    if options.backend not in ("karpenter", "aks", "byo"):
        raise ValueError(f"unknown backend {options.backend!r}: use karpenter, aks or byo")
    if options.replicas < 1:
        raise ValueError("replicas must be at least 1")
    scope = options.namespace_scope
    if scope is not None and (not _DNS_LABEL.match(scope) or len(scope) > 63):
        raise ValueError(f"namespace scope {scope!r} is not a valid namespace name")
    objects: list[Manifest] = [_namespace(options)]
    objects += [crd_of(spec, hooks, labels=options.labels) for spec in registry]
    objects += _rbac(options, registry)
    objects.append(_service(options))
    if options.cert_manager:
        objects += _certificates(options)
    objects.append(_deployment(options))
    if options.replicas > 1:
        objects.append(_disruption_budget(options))
    objects += [_webhook_configuration(options, spec) for spec in registry]
    return objects


def pairs(items: Sequence[str], *, flag: str = "--env") -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings as pairs; raises ValueError for one without ``=`` or a key."""
    found: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {item!r} must be KEY=VALUE")
        found.append((key.strip(), value))
    return tuple(found)


def kinds(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """``Kind/name`` of each object (for summaries and tests)."""
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
