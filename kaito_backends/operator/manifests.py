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
4. the Service (``webhook`` 443 -> 9443, ``metrics`` 8080) and, with ``service_monitor``, a
   Prometheus-operator ServiceMonitor;
5. the webhook's certificate, by ``certificate``:

   - ``self-signed`` (the default): an empty Secret ``<name>-webhook-cert`` that the operator
     fills and rotates itself (``--webhook-cert-secret``,
     `kaito_backends.operator.certificates`), with RBAC to get/update that one Secret and the
     webhook configurations;
   - ``cert-manager``: a self-signed Issuer and a Certificate, whose Secret the pods mount and
     whose CA cert-manager injects;
   - ``secret``: the Secret (``kubernetes.io/tls``, same name) is provided, and its CA given
     with ``ca_bundle``;

6. the Deployment: 2 replicas with leader election, spread over nodes, probes on ``/healthz``
   and ``/readyz``, non-root with a read-only root file system, bounded resources; it runs the
   image's entrypoint (``kaito operator``) with flags only;
7. a PodDisruptionBudget when there is more than one replica (the webhook's ``failurePolicy``
   is Fail);
8. a ValidatingWebhookConfiguration per registered kind, ``validation.<singular>.<group>``
   (``validation.workspace.kaito.sh``: CREATE and UPDATE of both Workspace versions at
   ``/validate/workspace.kaito.sh``, ``failurePolicy: Fail``, ``sideEffects: None``,
   AdmissionReview v1), calling the Service, or ``webhook_url`` (``https://HOST[:PORT]``) with
   the kind's path when given.

Output is deterministic: the same options give byte-identical YAML. The Helm chart
(``charts/kaito-py``) renders the same objects for the same values; ``tests/chart`` compares them
object by object.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks
from kaito_backends.kinds.crd import custom_resource_definition
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.objects import Manifest
from kaito_backends.operator.install_options import (
    CERTIFICATES,
    DEFAULT_IMAGE,
    DEFAULT_REPOSITORY,
    DEFAULT_RESOURCES,
    Certificate,
    InstallOptions,
    check_options,
    default_image,
    is_ip_address,
    pairs,
)
from kaito_backends.operator.rbac import (
    certificate_cluster_rules,
    certificate_namespace_rules,
    cluster_rules,
    namespace_rules,
    namespaced_rules,
)
from kaito_backends.operator.settings import (
    DEFAULT_HEALTH_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_WEBHOOK_PORT,
    WEBHOOK_CERT_DIR,
    webhook_name,
    webhook_path,
)
from kaito_core.kinds import KindSpec, Registry
from kaito_core.registry import default_registry

__all__ = [
    "CERTIFICATES",
    "DEFAULT_IMAGE",
    "DEFAULT_REPOSITORY",
    "DEFAULT_RESOURCES",
    "Certificate",
    "InstallOptions",
    "crd_of",
    "default_image",
    "install_manifests",
    "kinds",
    "pairs",
]

_CERT_MANAGER = "cert-manager.io/v1"
#: CRDs are the cluster's, not one installation's: they carry no installation's name (so the
#: chart's crds/, which Helm does not template, holds the same objects).
_CRD_LABELS = {"app.kubernetes.io/part-of": "kaito"}
_NONROOT = 65532


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
    self_signed = options.certificate == "self-signed"
    webhooks = [webhook_name(spec) for spec in registry]
    account_meta = _meta(options, options.name)
    if options.service_account_annotations:
        account_meta["annotations"] = dict(sorted(options.service_account_annotations))
    scope = options.namespace_scope
    rules = cluster_rules(
        options.backend,
        registry,
        namespace_scoped=scope is not None,
        karpenter_mode=options.karpenter_mode,
    )
    lease_rules = namespace_rules(options.lease_name)
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": account_meta,
            "automountServiceAccountToken": True,
        },
        _role(
            options,
            "ClusterRole",
            options.name,
            None,
            rules + certificate_cluster_rules(webhooks if self_signed else ()),
        ),
        _binding(options, "ClusterRole", options.name, None),
        _role(
            options,
            "Role",
            options.name,
            options.namespace,
            lease_rules + certificate_namespace_rules(options.cert_secret if self_signed else None),
        ),
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
    if options.certificate == "self-signed":
        return [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(options, options.cert_secret),
                "type": "Opaque",
            }
        ]
    if options.certificate != "cert-manager":
        return []
    names: dict[str, list[str]] = {"dnsNames": [service, f"{service}.cluster.local"]}
    host = options.webhook_host
    if host:
        key = "ipAddresses" if is_ip_address(host) else "dnsNames"
        names.setdefault(key, []).append(host)
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
            "metadata": _meta(options, options.certificate_name),
            "spec": {
                "secretName": options.cert_secret,
                **names,
                "issuerRef": {"kind": "Issuer", "name": issuer},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
        },
    ]


def _container(options: InstallOptions) -> dict[str, Any]:
    args = [f"--backend={options.backend}"]
    if options.leader_elect:
        args += ["--leader-elect", f"--leader-election-id={options.lease_name}"]
    args += [
        f"--metrics-bind-address=:{DEFAULT_METRICS_PORT}",
        f"--health-probe-bind-address=:{DEFAULT_HEALTH_PORT}",
        f"--webhook-port={DEFAULT_WEBHOOK_PORT}",
    ]
    if options.certificate == "self-signed":
        args += [
            f"--webhook-cert-secret={options.cert_secret}",
            f"--webhook-service={options.name}",
        ]
        if options.webhook_host:
            args.append(f"--webhook-cert-host={options.webhook_host}")
    else:
        args += [
            f"--webhook-cert={WEBHOOK_CERT_DIR}/tls.crt",
            f"--webhook-key={WEBHOOK_CERT_DIR}/tls.key",
        ]
    if options.namespace_scope:
        args.append(f"--namespace-scope={options.namespace_scope}")
    if options.keda_scaled_objects:
        args.append("--keda-scaled-objects")
    if options.backend == "karpenter" and options.karpenter_mode != "nodeclaim":
        args.append(f"--karpenter-mode={options.karpenter_mode}")
    if options.pod_security != "restricted":
        args.append(f"--pod-security={options.pod_security}")
    if options.feature_gates:
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(options.feature_gates))
        args.append(f"--feature-gates={gates}")
    args += [
        f"--log-format={options.log_format}",
        f"--log-level={options.log_level}",
        f"--workers={options.workers}",
        *options.args,
    ]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if options.certificate != "self-signed":
        mounts.insert(0, {"name": "webhook-cert", "mountPath": WEBHOOK_CERT_DIR, "readOnly": True})
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
        "resources": {k: dict(v) for k, v in options.resources.items()},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": mounts,
    }


def _deployment(options: InstallOptions) -> Manifest:
    pod_labels = dict(options.labels)
    if options.backend == "aks":
        pod_labels["azure.workload.identity/use"] = "true"
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if options.certificate != "self-signed":
        volumes.insert(0, {"name": "webhook-cert", "secret": {"secretName": options.cert_secret}})
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
                    "volumes": volumes,
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
    client: dict[str, Any]
    if options.webhook_url:
        client = {"url": options.webhook_url.rstrip("/") + webhook_path(spec)}
    else:
        client = {
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
    if options.certificate == "cert-manager":
        meta["annotations"] = {
            "cert-manager.io/inject-ca-from": f"{options.namespace}/{options.certificate_name}"
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
    check_options(options)
    objects: list[Manifest] = [_namespace(options)]
    objects += [crd_of(spec, hooks, labels=_CRD_LABELS) for spec in registry]
    objects += _rbac(options, registry)
    objects.append(_service(options))
    if options.service_monitor:
        objects.append(_service_monitor(options))
    objects += _certificates(options)
    objects.append(_deployment(options))
    if options.replicas > 1:
        objects.append(_disruption_budget(options))
    objects += [_webhook_configuration(options, spec) for spec in registry]
    return objects


def _service_monitor(options: InstallOptions) -> Manifest:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(options, options.name),
        "spec": {
            "selector": {"matchLabels": dict(options.selector)},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
        },
    }


def kinds(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """``Kind/name`` of each object (for summaries and tests)."""
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
