"""`InstallOptions` beyond the defaults: the webhook's certificate, its URL, leader election,
namespace scope, feature gates, ServiceMonitor; and ``kaito manifests``' flags for them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kaito_backends.cli import main
from kaito_backends.operator.manifests import InstallOptions, install_manifests, kinds
from kaito_backends.operator.rbac import rules_have_wildcards
from kaito_backends.operator.settings import WEBHOOK_NAME, webhook_name
from kaito_core.registry import default_registry


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def webhook_configurations(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "ValidatingWebhookConfiguration"]


def workspace_webhook(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The Workspace's webhook configuration (every registered kind has one)."""
    (found,) = [o for o in webhook_configurations(objects) if o["metadata"]["name"] == WEBHOOK_NAME]
    return found


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(found)


def test_self_signed_is_the_default_and_needs_only_its_two_objects() -> None:
    """An empty Opaque Secret; get/update of it and of the webhook configuration, by name."""
    objects = install_manifests()
    secret = by_kind(objects, "Secret")
    assert secret["metadata"]["name"] == "kaito-workspace-webhook-cert"
    assert secret["type"] == "Opaque"
    assert "data" not in secret
    role = by_kind(objects, "Role")
    assert role["rules"][-1] == {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["kaito-workspace-webhook-cert"],
        "verbs": ["get", "update"],
    }
    cluster_role = by_kind(objects, "ClusterRole")
    assert cluster_role["rules"][-1] == {
        "apiGroups": ["admissionregistration.k8s.io"],
        "resources": ["validatingwebhookconfigurations"],
        "resourceNames": [webhook_name(spec) for spec in default_registry()],
        "verbs": ["get", "update"],
    }
    assert not rules_have_wildcards(role["rules"] + cluster_role["rules"])
    args = container(objects)["args"]
    assert "--webhook-cert-secret=kaito-workspace-webhook-cert" in args
    assert "--webhook-service=kaito-workspace" in args
    assert not [a for a in args if a.startswith(("--webhook-cert=", "--webhook-key="))]
    for config in webhook_configurations(objects):
        assert "annotations" not in config["metadata"]


@pytest.mark.parametrize("certificate", ["cert-manager", "secret"])
def test_other_certificates_grant_nothing_on_secrets_in_the_operator_namespace(
    certificate: Any,
) -> None:
    """Without self-signed, the Role is the election Lease's only; no webhook writes."""
    objects = install_manifests(InstallOptions(certificate=certificate))
    assert not [r for r in by_kind(objects, "Role")["rules"] if "secrets" in r["resources"]]
    cluster_rules = by_kind(objects, "ClusterRole")["rules"]
    assert not [r for r in cluster_rules if "validatingwebhookconfigurations" in r["resources"]]
    assert "Secret" not in [o["kind"] for o in objects]


URLS = [
    pytest.param("self-signed", ["--webhook-cert-host=127.0.0.1"], None, id="self-signed"),
    pytest.param("cert-manager", [], ("ipAddresses", ["127.0.0.1"]), id="cert-manager"),
]


@pytest.mark.parametrize(("certificate", "args", "names"), URLS)
def test_a_webhook_url_replaces_the_service_and_joins_the_certificate(
    certificate: Any, args: list[str], names: Any
) -> None:
    """clientConfig.url (the base and the kind's path) instead of the Service; the URL's host is
    covered by the certificate."""
    url = "https://127.0.0.1:9443"
    objects = install_manifests(InstallOptions(certificate=certificate, webhook_url=url))
    (hook,) = workspace_webhook(objects)["webhooks"]
    assert hook["clientConfig"] == {"url": f"{url}/validate/workspace.kaito.sh"}
    flags = container(objects)["args"]
    assert [a for a in flags if a.startswith("--webhook-cert-host")] == args
    if names is not None:
        key, value = names
        assert by_kind(objects, "Certificate")["spec"][key] == value


def test_a_single_replica_without_election_has_no_budget() -> None:
    """--no-leader-elect with one replica: no election flags and no PodDisruptionBudget."""
    objects = install_manifests(InstallOptions(replicas=1, leader_elect=False))
    assert not [a for a in container(objects)["args"] if a.startswith("--leader-elect")]
    assert "PodDisruptionBudget" not in [o["kind"] for o in objects]


def test_scope_gates_level_and_extra_args_reach_the_operator() -> None:
    """Each option becomes its flag, in a fixed order; gates sorted by name."""
    options = InstallOptions(
        namespace_scope="team-a",
        feature_gates=(("vLLM", False), ("enableMIG", True)),
        log_level="debug",
        args=("--karpenter-node-class=a/B/c",),
    )
    args = container(install_manifests(options))["args"]
    tail = args[args.index("--webhook-service=kaito-workspace") + 1 :]
    assert tail == [
        "--namespace-scope=team-a",
        "--feature-gates=enableMIG=true,vLLM=false",
        "--log-format=json",
        "--log-level=debug",
        "--workers=4",
        "--karpenter-node-class=a/B/c",
    ]


def test_a_service_monitor_scrapes_the_metrics_port() -> None:
    """ServiceMonitor: the Service's selector labels, its ``metrics`` port, right after it."""
    objects = install_manifests(InstallOptions(service_monitor=True))
    names = kinds(objects)
    assert (
        names.index("ServiceMonitor/kaito-workspace") == names.index("Service/kaito-workspace") + 1
    )
    monitor = by_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    service = by_kind(objects, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_resources_are_the_options() -> None:
    """Requests and limits are copied from the options."""
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    assert container(install_manifests(InstallOptions(resources=resources)))["resources"] == (
        resources
    )


def test_the_pod_meets_the_restricted_pod_security_standard() -> None:
    """Non-root, no escalation, no capabilities, RuntimeDefault seccomp, read-only root."""
    deployment = by_kind(install_manifests(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 65532
    security = container([deployment])["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert all("hostPath" not in v for v in pod["volumes"])


BAD_OPTIONS = [
    pytest.param({"replicas": 2, "leader_elect": False}, "needs leader election", id="election"),
    pytest.param({"certificate": "acme"}, "unknown certificate 'acme'", id="certificate"),
    pytest.param({"ca_bundle": "x"}, "only with the certificate from a Secret", id="bundle"),
    pytest.param({"webhook_url": "http://x/y"}, "must be https://", id="http"),
    pytest.param({"webhook_url": "https://u:p@x/y"}, "without user", id="userinfo"),
    pytest.param({"webhook_url": "https://x/y"}, "without user, path", id="path"),
    pytest.param({"webhook_url": "https://x?a=b"}, "without user, path, query", id="query"),
    pytest.param({"webhook_url": "https:///y"}, "must be https://HOST", id="no-host"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_OPTIONS)
def test_options_that_cannot_work_are_refused(changes: dict[str, Any], message: str) -> None:
    """ValueError naming the problem, before anything is rendered."""
    with pytest.raises(ValueError, match=message):
        install_manifests(InstallOptions(**changes))


BAD_FLAGS = [
    pytest.param(["--no-leader-elect"], "--no-leader-elect needs --replicas 1", id="election"),
    pytest.param(["--workers=0"], "--workers must be at least 1", id="workers"),
    pytest.param(["--namespace-scope=A_B"], "not a valid namespace name", id="scope"),
    pytest.param(["--ca-bundle=x.pem"], "--ca-bundle goes with", id="bundle"),
    pytest.param(["--feature-gates=warp=true"], "--feature-gates", id="gates"),
    pytest.param(["--webhook-url=ftp://x"], "must be https://", id="url"),
    pytest.param(["--webhook-certificate=acme"], "invalid choice: 'acme'", id="certificate"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD_FLAGS)
def test_bad_manifest_flags_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """Each bad flag: exit 2, one line on stderr, nothing on stdout."""
    try:
        code = main(["manifests", *argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("kaito manifests: error: ")
    assert fragment in line


def test_the_flags_reach_the_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    """Every new flag of kaito manifests lands where InstallOptions puts it."""
    code = main(
        [
            "manifests",
            "--replicas=1",
            "--no-leader-elect",
            "--webhook-url=https://127.0.0.1:9443",
            "--namespace-scope=team-a",
            "--feature-gates=vllm=false,ENABLEMIG=true",
            "--service-monitor",
            "--log-level=warning",
            "--workers=2",
            "--operator-arg=--karpenter-node-class=a/B/c",
        ]
    )
    assert code == 0
    printed = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    expected = install_manifests(
        InstallOptions(
            image=container(printed)["image"],
            replicas=1,
            leader_elect=False,
            webhook_url="https://127.0.0.1:9443",
            namespace_scope="team-a",
            feature_gates=(("enableMIG", True), ("vLLM", False)),
            service_monitor=True,
            log_level="warning",
            workers=2,
            args=("--karpenter-node-class=a/B/c",),
        )
    )
    assert printed == expected


def test_no_cert_manager_still_means_a_provided_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """The older flag is the same as --webhook-certificate secret."""
    assert main(["manifests", "--no-cert-manager"]) == 0
    old = capsys.readouterr().out
    assert main(["manifests", "--webhook-certificate=secret"]) == 0
    assert capsys.readouterr().out == old
