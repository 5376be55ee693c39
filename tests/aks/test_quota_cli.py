"""``kaito plan --summary --check-quota`` against the fake ARM, through the real SDK: read-only.

The command runs in a worker thread (it has its own event loop) while the fake ARM serves on
the test's loop. Only the credential and TLS verification are swapped in, as for every AKS test.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

pytest.importorskip("azure.mgmt.compute", reason="the 'aks' extra is not installed")

from kaito_backends.cli import main
from kaito_backends.cli import plan as plan_command
from kaito_backends.cli.quota_check import check_quota_of
from kaito_backends.errors import QuotaExceeded
from tests.aks.conftest import (
    A100_FAMILY,
    KEY,
    ProvisionerFactory,
    StaticCredential,
    rendered_claims,
)
from tests.aks.fake_arm import FakeArm
from tests.cli.test_plan import BYO, NODE, PHI

SUBSCRIPTION = "00000000-0000-0000-0000-000000000009"
BIG = PHI.replace("name: phi\n", "name: big\n").replace("apps: phi", "apps: big")


@pytest.fixture(autouse=True)
def test_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's Azure clients use a test token and trust the fake's throwaway certificate."""
    check = functools.partial(
        check_quota_of, credential=StaticCredential(), connection_verify=False
    )
    monkeypatch.setattr(plan_command, "check_quota_of", check)
    for name in ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID", "AZURE_LOCATION", "LOCATION"):
        monkeypatch.delenv(name, raising=False)


async def kaito_plan(
    capsys: pytest.CaptureFixture[str], arm: FakeArm, *files: Path, extra: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    capsys.readouterr()
    argv = [
        "plan",
        "--summary",
        "--check-quota",
        "--aks-subscription",
        arm.subscription,
        "--aks-location",
        "eastus",
        "--aks-arm-endpoint",
        arm.base_url,
        *extra,
        *map(str, files),
    ]
    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


def quota_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("quota: ")]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_nodes_that_fit_are_said_to_fit_and_nothing_is_written(
    arm: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0, one line per Workspace after the table; only GETs reached ARM."""
    arm.quota_limits[A100_FAMILY] = 24
    code, out, err = await kaito_plan(capsys, arm, write(tmp_path, "phi.yaml", PHI))
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith("WORKSPACE")
    assert quota_lines(out) == [
        "quota: default/phi: fits: 1 x Standard_NC24ads_A100_v4 (family "
        f"{A100_FAMILY}) need 24 vCPUs; eastus: {A100_FAMILY} 0 used of 24, cores 0 used of 1000"
    ]
    assert {method for method, _ in arm.requests} == {"GET"}
    assert arm.count("GET", "/locations/eastus/usages") == 1
    assert arm.count("GET", "/Microsoft.Compute/skus") == 1


async def test_nodes_that_do_not_fit_get_the_message_the_workspace_would_show(
    arm: FakeArm,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_provisioner: ProvisionerFactory,
) -> None:
    """Exit 1; the line carries the very message the operator puts on ResourceReady."""
    arm.quota_limits[A100_FAMILY] = 12
    code, out, err = await kaito_plan(capsys, arm, write(tmp_path, "phi.yaml", PHI))
    assert (code, err) == (1, "")
    provisioner = await make_provisioner()
    with pytest.raises(QuotaExceeded) as refused:
        await provisioner.provision(KEY, rendered_claims(KEY, count=1))
    assert quota_lines(out) == [f"quota: default/phi: QuotaExceeded: {refused.value.message}"]
    assert arm.count("PUT") == 0


async def test_workspaces_are_checked_after_the_ones_above_them(
    arm: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two Workspaces that fit alone but not together: the second says so."""
    arm.quota_limits[A100_FAMILY] = 24
    files = (write(tmp_path, "a.yaml", PHI), write(tmp_path, "b.yaml", BIG))
    code, out, _ = await kaito_plan(capsys, arm, *files)
    assert code == 1
    first, second = quota_lines(out)
    assert first.startswith("quota: default/phi: fits: ")
    assert second.startswith("quota: default/big: QuotaExceeded: ")
    assert "has 24 used of 24 allowed" in second
    assert second.endswith("(it would fit without the Workspaces above)")


async def test_a_workspace_without_nodes_to_provision_is_skipped(
    arm: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bring-your-own nodes: nothing to check."""
    path = write(tmp_path, "byo.yaml", BYO + "---\n" + NODE)
    code, out, err = await kaito_plan(capsys, arm, path, extra=("--provisioner", "byo"))
    assert (code, err) == (0, "")
    assert quota_lines(out) == ["quota: default/llama: no nodes to provision"]


async def test_no_permission_cannot_check_and_says_which(
    arm: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """403 on usages: exit 2, one line naming the permission."""
    arm.inject(403, code="AuthorizationFailed", message="no", times=9, path_contains="/usages")
    code, out, err = await kaito_plan(capsys, arm, write(tmp_path, "phi.yaml", PHI))
    assert code == 2
    assert quota_lines(out) == []
    assert err.count("\n") == 1
    assert "Microsoft.Compute/locations/usages/read" in err


async def test_a_throttled_read_is_retried_after_retry_after(
    arm: FakeArm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """429 then success: the answer is the same as without throttling."""
    arm.inject(429, retry_after="0", times=2, path_contains="/usages")
    code, out, _ = await kaito_plan(capsys, arm, write(tmp_path, "phi.yaml", PHI))
    assert code == 0
    assert quota_lines(out)[0].startswith("quota: default/phi: fits: ")
    assert arm.count("GET", "/usages") == 3


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        pytest.param(("--check-quota",), "--check-quota needs --summary", id="no-summary"),
        pytest.param(
            ("--summary", "--check-quota", "--aks-subscription", "x"),
            "subscription id 'x' is not a UUID",
            id="bad-subscription",
        ),
        pytest.param(
            ("--summary", "--check-quota", "--aks-subscription", SUBSCRIPTION),
            "location is not set (--aks-location",
            id="no-location",
        ),
        pytest.param(
            (
                "--summary",
                "--check-quota",
                "--aks-subscription",
                SUBSCRIPTION,
                "--aks-location",
                "east us; rm -rf /",
            ),
            "is not an Azure region name",
            id="bad-location",
        ),
    ],
)
def test_settings_problems_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], problem: str
) -> None:
    """Nothing is read from Azure when the settings are wrong."""
    code = main(["plan", *argv, str(write(tmp_path, "phi.yaml", PHI))])
    out, err = capsys.readouterr()
    assert code == 2
    assert problem in err
    assert err.count("\n") == 1
    assert "quota: " not in out


def test_kaito_plan_does_not_load_azure_or_the_aks_backend_until_asked() -> None:
    """The check's imports are lazy: plain ``kaito plan`` pays nothing for it."""
    import subprocess
    import sys

    code = (
        "import sys, kaito_backends.cli.plan\n"
        "print(sorted(m for m in sys.modules if m == 'asyncio' or m.startswith(('azure', "
        "'kaito_backends.aks'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
