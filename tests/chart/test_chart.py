"""The Helm chart (``charts/kaito-py``) and ``kaito manifests`` render the same objects.

For each row of `CASES`, ``helm template`` with those values and `install_manifests` with
`options_for` the same values give the same set of objects, compared object by object; the only
differences allowed are the Namespace (the chart leaves it to ``--create-namespace``) and
Helm's own release labels. ``helm lint --strict`` passes, and values that cannot work are
refused by helm with a message naming them.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.operator.manifests import install_manifests
from tests.chart.helm import CHART, HELM_LABELS, HelmError, helm_template, run_helm
from tests.chart.values import CHART_ONLY, app_version, options_for
from tests.conftest import ROOT
from tests.widget import widget_registry
from tools.chart import generated

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CASES = [
    pytest.param({}, "kaito-system", id="defaults"),
    pytest.param({"backend": "aks"}, "kaito-system", id="aks"),
    pytest.param({"backend": "byo"}, "kaito-system", id="byo"),
    pytest.param({"karpenterMode": "nodepool"}, "kaito-system", id="nodepool"),
    pytest.param(
        {"backend": "aks", "karpenterMode": "nodepool"}, "kaito-system", id="aks-nodepool"
    ),
    pytest.param({"podSecurity": "baseline"}, "kaito-system", id="baseline"),
    pytest.param(
        {
            "backend": "aks",
            "aks": {
                "clientId": "00000000-0000-0000-0000-000000000001",
                "subscriptionId": "00000000-0000-0000-0000-000000000002",
                "resourceGroup": "rg-ai",
                "clusterName": "aks-ai",
            },
            "serviceAccount": {"annotations": {"example.com/team": "ml"}},
            "env": [{"name": "AZURE_LOCATION", "value": "westeurope"}],
        },
        "ai",
        id="aks-settings",
    ),
    pytest.param({"webhook": {"certificate": "cert-manager"}}, "kaito-system", id="cert-manager"),
    pytest.param(
        {"webhook": {"certificate": "cert-manager", "url": "https://10.1.2.3:9443"}},
        "kaito-system",
        id="cert-manager-ip-url",
    ),
    pytest.param(
        {"webhook": {"certificate": "cert-manager", "url": "https://hooks.example.com/"}},
        "kaito-system",
        id="cert-manager-dns-url",
    ),
    pytest.param(
        {"webhook": {"certificate": "secret", "caBundle": PEM}}, "kaito-system", id="secret"
    ),
    pytest.param(
        {"webhook": {"url": "https://127.0.0.1:9443"}},
        "kaito-system",
        id="self-signed-url",
    ),
    pytest.param(
        {"replicas": 1, "leaderElection": {"enabled": False}}, "kaito-system", id="one-replica"
    ),
    pytest.param(
        {
            "namespaceScope": "team-a",
            "featureGates": {"vLLM": False, "enableMIG": True, "ModelStreaming": True},
            "logging": {"format": "console", "level": "debug"},
            "workers": 8,
            "extraArgs": ["--karpenter-node-class=karpenter.kwok.sh/KWOKNodeClass/default"],
            "leaderElection": {"id": "other-lease"},
        },
        "ops",
        id="behaviour",
    ),
    pytest.param(
        {"namespaceScope": "team-b", "webhook": {"certificate": "cert-manager"}},
        "team-b",
        id="scope-in-own-namespace",
    ),
    pytest.param(
        {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}}},
        "kaito-system",
        id="resources",
    ),
    pytest.param({"metrics": {"serviceMonitor": {"enabled": True}}}, "mon", id="service-monitor"),
    pytest.param({"keda": {"scaledObjects": True}}, "kaito-system", id="keda"),
    pytest.param(
        {"keda": {"scaledObjects": True}, "namespaceScope": "team-a"}, "ops", id="keda-scoped"
    ),
    pytest.param(
        {"name": "kaito", "image": {"repository": "registry.example.com/ai/kaito", "tag": "1.2"}},
        "ops",
        id="name-and-image",
    ),
]


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace", ""), meta["name"])


def without_release_labels(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the labels only Helm can know (see `HELM_LABELS`)."""
    found = copy.deepcopy(obj)
    labels = found["metadata"].get("labels") or {}
    for name in HELM_LABELS:
        labels.pop(name, None)
    return found


def compare(chart: list[dict[str, Any]], manifests: list[dict[str, Any]]) -> None:
    ours = {key(o): without_release_labels(o) for o in chart}
    theirs = {key(o): o for o in manifests if o["kind"] != "Namespace"}
    assert sorted(ours) == sorted(theirs), "the chart and kaito manifests render other objects"
    for name, obj in theirs.items():
        assert ours[name] == obj, f"{name} differs"


@pytest.mark.parametrize(("values", "namespace"), CASES)
def test_the_chart_renders_what_kaito_manifests_renders(
    helm: Path, values: dict[str, Any], namespace: str
) -> None:
    """Same values, same objects (CRDs included), field by field."""
    chart = helm_template(helm, values, namespace=namespace)
    manifests = install_manifests(options_for(values, namespace=namespace))
    compare(chart, manifests)


def test_every_chart_object_carries_the_release_labels(helm: Path) -> None:
    """Helm's labels are on every templated object (the CRDs in crds/ are not templated)."""
    for obj in helm_template(helm, {}):
        if obj["kind"] == "CustomResourceDefinition":
            continue
        assert set(HELM_LABELS) <= set(obj["metadata"]["labels"]), key(obj)


CHART_ONLY_VALUES = {
    "image": {"pullPolicy": "Always", "pullSecrets": [{"name": "registry"}]},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
    "podAnnotations": {"example.com/scrape": "false"},
    "priorityClassName": "system-cluster-critical",
}


def test_chart_only_values_change_the_pod_and_nothing_else(helm: Path) -> None:
    """Placement and pull values land in the pod template; the rest equals kaito manifests."""
    assert {k.split(".")[0] for k in CHART_ONLY} == set(CHART_ONLY_VALUES)
    chart = helm_template(helm, CHART_ONLY_VALUES)
    (deployment,) = [o for o in chart if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    assert spec.pop("imagePullSecrets") == [{"name": "registry"}]
    assert spec.pop("nodeSelector") == {"kubernetes.io/os": "linux"}
    assert spec.pop("tolerations") == CHART_ONLY_VALUES["tolerations"]
    assert spec.pop("priorityClassName") == "system-cluster-critical"
    assert pod["metadata"].pop("annotations") == {"example.com/scrape": "false"}
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    spec["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    compare(chart, install_manifests(options_for({}, namespace="kaito-system")))


def test_the_generated_files_are_fresh() -> None:
    """crds/ and files/kinds.yaml are what python -m tools.chart writes from the code."""
    for path, text in generated().items():
        assert path.read_text() == text, f"{path.name} is stale: python -m tools.chart"


def test_a_new_kind_needs_only_the_generated_files(helm: Path, tmp_path: Path) -> None:
    """With another kind registered (the test-only Widget), regenerating the files is all the
    chart needs to render what kaito manifests renders: its CRD, rules and webhook."""
    chart = tmp_path / "kaito-py"
    shutil.copytree(CHART, chart)
    registry = widget_registry()
    for path, text in generated(chart, registry).items():
        path.write_text(text)
    for values, namespace in (({}, "kaito-system"), ({"namespaceScope": "team-a"}, "ops")):
        rendered = helm_template(helm, values, namespace=namespace, chart=chart)
        manifests = install_manifests(options_for(values, namespace=namespace), registry=registry)
        compare(rendered, manifests)
    names = {o["metadata"]["name"] for o in rendered}
    assert {"validation.widget.test.kaito.sh", "widgets.test.kaito.sh"} <= names


def test_the_chart_deploys_this_version() -> None:
    """appVersion is the package version; the chart version is its SemVer spelling."""
    project = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert project is not None
    assert app_version() == project.group(1)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    semver = re.sub(r"\.dev(\d+)$", r"-dev.\1", project.group(1))
    assert chart["version"] == semver


def test_helm_lint_passes_strictly(helm: Path) -> None:
    """helm lint --strict: no warnings (the schema and the templates agree)."""
    out = run_helm(helm, "lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out


REFUSED = [
    pytest.param({"backend": "gke"}, "/backend", id="backend"),
    pytest.param({"replicas": 0}, "/replicas", id="replicas"),
    pytest.param({"karpenterMode": "pool"}, "/karpenterMode", id="karpenter-mode"),
    pytest.param({"podSecurity": "privileged"}, "/podSecurity", id="pod-security"),
    pytest.param({"webhook": {"certificate": "acme"}}, "/webhook/certificate", id="certificate"),
    pytest.param({"webhook": {"url": "http://x/y"}}, "/webhook/url", id="url-http"),
    pytest.param({"webhook": {"url": "https://u@x"}}, "/webhook/url", id="url-user"),
    pytest.param({"webhook": {"url": "https://x/validate"}}, "/webhook/url", id="url-path"),
    pytest.param({"featureGates": {"warp": True}}, "warp", id="gate"),
    pytest.param({"featureGates": {"vLLM": "yes"}}, "/featureGates/vLLM", id="gate-value"),
    pytest.param({"namespaceScope": "A B"}, "/namespaceScope", id="scope"),
    pytest.param({"extraArgs": ["; rm -rf /"]}, "/extraArgs/0", id="arg"),
    pytest.param({"env": [{"name": "A B", "value": "x"}]}, "/env/0/name", id="env-name"),
    pytest.param({"aks": {"clusterName": "a;b"}}, "/aks/clusterName", id="aks-cluster"),
    pytest.param({"image": {"tag": "a b"}}, "/image/tag", id="tag"),
    pytest.param({"unknown": 1}, "unknown", id="unknown-value"),
    pytest.param(
        {"replicas": 2, "leaderElection": {"enabled": False}},
        "replicas > 1 needs leaderElection.enabled",
        id="election",
    ),
    pytest.param(
        {"webhook": {"caBundle": PEM}},
        "webhook.caBundle is given only with webhook.certificate: secret",
        id="bundle",
    ),
]


@pytest.mark.parametrize(("values", "fragment"), REFUSED)
def test_values_that_cannot_work_are_refused(
    helm: Path, values: dict[str, Any], fragment: str
) -> None:
    """helm template fails, naming the value (schema) or the rule (template)."""
    with pytest.raises(HelmError, match=re.escape(fragment)):
        helm_template(helm, values)
