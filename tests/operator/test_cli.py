"""``kaito operator`` and ``kaito manifests`` through the real ``kaito`` entry point."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from kaito_backends.cli import main, operator
from kaito_backends.cli.operator import settings_from_args


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``kaito operator`` configures structlog for the process: undo it after each test."""
    yield
    structlog.reset_defaults()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--backend", "nope"], "invalid choice: 'nope'"),
        (["--backend", "byo", "--metrics-bind-address", "8080"], "--metrics-bind-address"),
        (["--backend", "byo", "--health-probe-bind-address", ":99999"], "no valid port"),
        (["--backend", "byo", "--workers", "0"], "--workers must be at least 1"),
        (["--backend", "byo", "--webhook-port", "70000"], "not a port"),
        (["--backend", "byo", "--webhook-cert", "tls.crt"], "go together"),
        (["--backend", "byo", "--lease-duration", "5"], "--lease-duration > --renew-deadline"),
        (["--backend", "byo", "--feature-gates", "warp=true"], "--feature-gates"),
        (["--backend", "byo", "--workers", "many"], "invalid int value"),
        (["--backend", "karpenter", "--karpenter-node-class", "kwok"], "GROUP/KIND/NAME"),
        (["--backend", "karpenter", "--karpenter-node-class", "a//c"], "GROUP/KIND/NAME"),
        (["--backend", "byo", "--resync-period", "0"], "--resync-period must be positive"),
    ],
    ids=[
        "backend",
        "bind",
        "port",
        "workers",
        "webhook-port",
        "cert-alone",
        "timings",
        "gates",
        "not-int",
        "node-class-parts",
        "node-class-empty-kind",
        "resync",
    ],
)
def test_bad_flags_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """Each bad flag: exit 2, exactly one line on stderr, nothing on stdout."""
    code, out, err = run(capsys, "operator", *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kaito operator: error: ")
    assert fragment in lines[0]


def test_webhook_host_node_class_and_resync_reach_the_settings() -> None:
    """--webhook-host binds the webhook there; --karpenter-node-class is (group, kind, name);
    --resync-period is the controller's."""
    import argparse

    from kaito_backends.cli.operator import register, settings_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "operator",
            "--backend=karpenter",
            "--webhook-host=127.0.0.1",
            "--webhook-port=9443",
            "--karpenter-node-class=karpenter.kwok.sh/KWOKNodeClass/default",
            "--resync-period=30",
        ]
    )
    settings = settings_from_args(args)
    assert settings.resync_period == 30.0
    assert settings.webhook_bind is not None
    assert (settings.webhook_bind.host, settings.webhook_bind.port) == ("127.0.0.1", 9443)
    assert settings.karpenter_node_class == ("karpenter.kwok.sh", "KWOKNodeClass", "default")


def test_a_missing_kubeconfig_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """No usable cluster configuration: exit 2, one line."""
    missing = tmp_path / "nope.yaml"
    code, _, err = run(capsys, "operator", "--backend", "byo", "--kubeconfig", str(missing))
    assert code == 2
    assert err.splitlines() == [
        f"kaito operator: error: cannot load the cluster configuration: "
        f"no kubeconfig found at {missing}"
    ]


def test_an_unreachable_api_server_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A kubeconfig pointing at a closed port: exit 2, one line, no traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t0k3n"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    code, _, err = run(
        capsys,
        "operator",
        "--backend",
        "byo",
        "--kubeconfig",
        str(kubeconfig),
        "--log-format",
        "console",
        "--log-level",
        "error",
    )
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kaito operator: error: cannot reach the cluster")
    assert "t0k3n" not in err


def test_manifests_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    """The YAML stream parses; every object is in the namespace asked for; stable output."""
    code, out, err = run(capsys, "manifests", "--namespace", "ai", "--image", "x.io/kaito:2")
    assert (code, err) == (0, "")
    documents = list(yaml.safe_load_all(out))
    kinds = [d["kind"] for d in documents]
    assert kinds[:2] == ["Namespace", "CustomResourceDefinition"]
    assert kinds[-1] == "ValidatingWebhookConfiguration"
    for doc in documents:
        if "namespace" in doc["metadata"]:
            assert doc["metadata"]["namespace"] == "ai"
    assert run(capsys, "manifests", "--namespace", "ai", "--image", "x.io/kaito:2")[1] == out


def test_manifests_json_and_crd_only(capsys: pytest.CaptureFixture[str]) -> None:
    """-o json is one v1 List; --crd-only prints the CRD alone."""
    code, out, _ = run(capsys, "manifests", "-o", "json", "--backend", "byo")
    assert code == 0
    listed: dict[str, Any] = json.loads(out)
    assert listed["kind"] == "List"
    assert len(listed["items"]) > 10
    code, out, _ = run(capsys, "manifests", "--crd-only")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(out)] == [
        "workspaces.kaito.sh",
        "inferencesets.kaito.sh",
        "ragengines.kaito.sh",
    ]


def test_manifests_env_annotations_and_ca_bundle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--env, --service-account-annotation and --ca-bundle end up where they belong."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    code, out, _ = run(
        capsys,
        "manifests",
        "--backend",
        "aks",
        "--env",
        "AKS_CLUSTER_NAME=prod",
        "--service-account-annotation",
        "azure.workload.identity/client-id=123",
        "--no-cert-manager",
        "--ca-bundle",
        str(ca),
    )
    assert code == 0
    docs = {d["kind"]: d for d in yaml.safe_load_all(out)}
    assert "Certificate" not in docs
    pod = docs["Deployment"]["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert {"name": "AKS_CLUSTER_NAME", "value": "prod"} in pod["spec"]["containers"][0]["env"]
    annotations = docs["ServiceAccount"]["metadata"]["annotations"]
    assert annotations == {"azure.workload.identity/client-id": "123"}
    assert docs["ValidatingWebhookConfiguration"]["webhooks"][0]["clientConfig"]["caBundle"]


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        ([], []),
        (["--pod-security", "baseline"], ["--pod-security=baseline"]),
        (["--karpenter-mode", "nodepool"], ["--karpenter-mode=nodepool"]),
    ],
    ids=["defaults", "pod-security-baseline", "nodepool-mode"],
)
def test_manifests_pass_the_operator_its_settings(
    capsys: pytest.CaptureFixture[str], argv: list[str], flags: list[str]
) -> None:
    """--pod-security and --karpenter-mode reach the operator's arguments (their defaults,
    restricted and nodeclaim, are not spelled out); kaito operator reads them into its
    settings."""
    code, out, _ = run(capsys, "manifests", *argv)
    assert code == 0
    docs = {d["kind"]: d for d in yaml.safe_load_all(out)}
    args = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith(("--pod-security", "--karpenter-mode"))] == flags
    parser = argparse.ArgumentParser()
    operator.register(parser.add_subparsers())
    parsed = parser.parse_args(["operator", *args])  # the image's entrypoint is kaito operator
    settings = settings_from_args(parsed)
    assert settings.plan_settings().pod_security == (
        "baseline" if "--pod-security=baseline" in flags else "restricted"
    )
    assert settings.karpenter_mode == (
        "nodepool" if flags == ["--karpenter-mode=nodepool"] else "nodeclaim"
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--namespace", "Not_Valid"], "not a valid namespace name"),
        (["--replicas", "0"], "--replicas must be at least 1"),
        (["--env", "NOVALUE"], "--env 'NOVALUE' must be KEY=VALUE"),
        (["--ca-bundle", "/nonexistent/ca.pem"], "--ca-bundle"),
        (["-o", "xml"], "invalid choice"),
        (["--pod-security", "privileged"], "invalid choice: 'privileged'"),
    ],
    ids=["namespace", "replicas", "env", "ca-bundle", "output", "pod-security"],
)
def test_manifests_bad_flags_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """One line on stderr, exit 2."""
    code, out, err = run(capsys, "manifests", *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert fragment in err


def test_without_aiohttp_manifests_work_and_operator_says_why(tmp_path: Path) -> None:
    """With the kubernetes extra missing, ``kaito`` still starts: ``manifests`` works and
    ``operator`` exits 2 naming the extra."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from kaito_backends.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    root = str(Path(__file__).resolve().parents[2])

    def kaito(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=60,
            check=False,
        )

    manifests = kaito("manifests", "--crd-only")
    assert manifests.returncode == 0, manifests.stderr
    assert "CustomResourceDefinition" in manifests.stdout
    operator = kaito("operator", "--backend", "byo")
    assert operator.returncode == 2
    assert operator.stderr.splitlines() == [
        "kaito operator: error: the operator needs the 'kubernetes' extra: "
        "pip install -e '.[kubernetes]' in a kaito-py clone (not on PyPI yet) (missing aiohttp)"
    ]


def test_keda_scaled_objects_is_one_flag_for_both_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``kaito manifests --keda-scaled-objects`` grants ScaledObjects and passes the flag on;
    ``kaito operator`` reads it into its settings, and its operator owns ScaledObjects."""
    import argparse

    from kaito_backends.cli.operator import register, settings_from_args
    from kaito_backends.fake import FakeCluster
    from kaito_backends.operator.backends import Connection
    from kaito_backends.operator.runner import Operator

    code, out, _ = run(capsys, "manifests", "--keda-scaled-objects")
    assert code == 0
    docs = list(yaml.safe_load_all(out))
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    assert ["scaledobjects"] in [r["resources"] for r in role["rules"]]
    code, out, _ = run(capsys, "manifests")
    assert "scaledobjects" not in out

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    for argv, expected in ((["--keda-scaled-objects"], True), ([], False)):
        args = parser.parse_args(["operator", "--backend", "byo", *argv])
        settings = settings_from_args(args)
        assert settings.keda_scaled_objects is expected
        cluster = FakeCluster()
        connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
        operator = Operator(settings, connection)
        owned = [ref.kind for ref in operator.kinds["InferenceSet"].owns]
        assert ("ScaledObject" in owned) is expected
