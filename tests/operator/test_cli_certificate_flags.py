"""``kaito operator --webhook-cert-secret/--webhook-service/--webhook-cert-host``."""

from __future__ import annotations

import argparse

import pytest

from kaito_backends.cli import main
from kaito_backends.cli.operator import register, settings_from_args
from kaito_backends.operator.settings import OperatorSettings


def parse(*argv: str) -> OperatorSettings:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return settings_from_args(parser.parse_args(["operator", "--backend=byo", *argv]))


def test_the_flags_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secret, Service, hosts (deduplicated, in order) and the pod's namespace."""
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    found = parse(
        "--webhook-cert-secret=cert",
        "--webhook-service=svc",
        "--webhook-cert-host=127.0.0.1",
        "--webhook-cert-host=hooks.example.com",
        "--webhook-cert-host=127.0.0.1",
    )
    assert found.webhook_cert_secret == "cert"
    assert found.webhook_service == "svc"
    assert found.webhook_cert_hosts == ("127.0.0.1", "hooks.example.com")
    assert found.pod_namespace == "ops"


def test_the_defaults_keep_certificate_files() -> None:
    """Without the flag the operator keeps no certificate; the Service is kaito-workspace."""
    found = parse()
    assert found.webhook_cert_secret is None
    assert found.webhook_service == "kaito-workspace"
    assert found.webhook_cert_hosts == ()


BAD = [
    pytest.param(
        ["--webhook-cert-secret=c", "--webhook-cert=a", "--webhook-key=b"], "excludes", id="both"
    ),
    pytest.param(["--webhook-cert-secret=Not_A_Name"], "not a valid object name", id="secret"),
    pytest.param(["--webhook-service=a/b"], "not a valid object name", id="service"),
    pytest.param(["--webhook-cert-host=exa mple"], "not a DNS name or an IP", id="space"),
    pytest.param(["--webhook-cert-host=-bad-.com"], "not a DNS name or an IP", id="label"),
    pytest.param(["--webhook-cert-host=a;rm -rf /"], "not a DNS name or an IP", id="shell"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD)
def test_bad_certificate_flags_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """Each bad value: exit 2, one line on stderr naming the flag's problem."""
    assert main(["operator", "--backend=byo", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("kaito operator: error: ")
    assert fragment in line
