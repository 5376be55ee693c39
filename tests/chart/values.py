"""The chart's values as `InstallOptions`: the table docs/install.md prints, executable.

`options_for` is the whole correspondence; `tests/chart/test_chart.py` renders both sides with
it and compares them object by object, so a change to one side alone fails there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from kaito_backends.operator.manifests import InstallOptions
from tests.chart.helm import CHART

__all__ = ["CHART_ONLY", "chart_defaults", "merged", "options_for"]

#: Values kaito manifests has no option for: pod placement and pull settings.
CHART_ONLY = (
    "image.pullPolicy",
    "image.pullSecrets",
    "nodeSelector",
    "podAnnotations",
    "priorityClassName",
    "tolerations",
)


def chart_defaults() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def app_version() -> str:
    return str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in as Helm merges ``--values`` (maps deeply)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def options_for(changes: Mapping[str, Any], *, namespace: str) -> InstallOptions:
    """The `InstallOptions` that render what the chart renders with ``changes`` in ``namespace``."""
    v = merged(chart_defaults(), changes)
    aks = v["aks"]
    env = [
        (name, aks[key])
        for key, name in (
            ("subscriptionId", "AZURE_SUBSCRIPTION_ID"),
            ("resourceGroup", "AKS_RESOURCE_GROUP"),
            ("clusterName", "AKS_CLUSTER_NAME"),
        )
        if aks[key]
    ]
    env += [(e["name"], e["value"]) for e in v["env"]]
    annotations = dict(v["serviceAccount"]["annotations"])
    if aks["clientId"]:
        annotations["azure.workload.identity/client-id"] = aks["clientId"]
    webhook = v["webhook"]
    return InstallOptions(
        namespace=namespace,
        name=v["name"],
        image=f"{v['image']['repository']}:{v['image']['tag'] or app_version()}",
        backend=v["backend"],
        karpenter_mode=v["karpenterMode"],
        pod_security=v["podSecurity"],
        replicas=v["replicas"],
        leader_elect=v["leaderElection"]["enabled"],
        lease_name=v["leaderElection"]["id"],
        certificate=webhook["certificate"],
        ca_bundle=webhook["caBundle"] or None,
        webhook_url=webhook["url"] or None,
        namespace_scope=v["namespaceScope"] or None,
        feature_gates=tuple(sorted(v["featureGates"].items())),
        resources=v["resources"],
        service_monitor=v["metrics"]["serviceMonitor"]["enabled"],
        keda_scaled_objects=v["keda"]["scaledObjects"],
        env=tuple(env),
        args=tuple(v["extraArgs"]),
        service_account_annotations=tuple(sorted(annotations.items())),
        log_format=v["logging"]["format"],
        log_level=v["logging"]["level"],
        workers=v["workers"],
    )
