"""Configuring the AKS backend: flags, then environment; ``kaito operator --backend aks``."""

from __future__ import annotations

import argparse

import pytest

from kaito_backends.aks import AksConfig, AksConfigError
from kaito_backends.cli.aks_options import (
    add_aks_arguments,
    aks_config_from_args,
    aks_provisioner_from_args,
)

SUB = "11111111-2222-3333-4444-555555555555"
ENV = {"AZURE_SUBSCRIPTION_ID": SUB, "AKS_RESOURCE_GROUP": "rg", "AKS_CLUSTER_NAME": "c1"}


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kaito operator")
    add_aks_arguments(parser)
    return parser.parse_args(argv)


def test_the_environment_configures_everything() -> None:
    config = aks_config_from_args(_parse(), environ={**ENV, "AZURE_LOCATION": "EastUS"})
    assert config == AksConfig(
        subscription_id=SUB, resource_group="rg", cluster="c1", location="eastus"
    )


def test_flags_win_over_the_environment() -> None:
    args = _parse("--aks-cluster", "c2", "--aks-location", "westus3", "--aks-polling-interval", "2")
    config = aks_config_from_args(args, environ=ENV)
    assert (config.cluster, config.location, config.polling_interval) == ("c2", "westus3", 2.0)


def test_upstream_variable_names_work_too() -> None:
    env = {"ARM_SUBSCRIPTION_ID": SUB, "ARM_RESOURCE_GROUP": "rg", "AZURE_CLUSTER_NAME": "c"}
    config = aks_config_from_args(_parse(), environ=env)
    assert (config.subscription_id, config.resource_group, config.cluster) == (SUB, "rg", "c")


def test_missing_settings_are_all_named_with_how_to_set_them() -> None:
    with pytest.raises(AksConfigError) as caught:
        aks_config_from_args(_parse("--aks-subscription", "not-a-uuid"), environ={})
    message = str(caught.value)
    assert "--aks-resource-group" in message
    assert "AKS_CLUSTER_NAME" in message
    assert "not a UUID" in message


def test_the_arm_endpoint_must_be_https() -> None:
    with pytest.raises(AksConfigError, match="https"):
        aks_config_from_args(_parse("--aks-arm-endpoint", "http://127.0.0.1:1"), environ=ENV)


@pytest.mark.parametrize(
    "location", ["east us", "eastus;rm", "'eastus'", "eastus/../x", "e"], ids=repr
)
def test_the_location_is_an_azure_region_name(location: str) -> None:
    """It lands in ARM URLs and in the ``az quota`` command a quota message suggests."""
    with pytest.raises(AksConfigError, match="not an Azure region name"):
        aks_config_from_args(_parse("--aks-location", location), environ=ENV)


def test_the_quota_cache_time_is_positive() -> None:
    assert AksConfig.resolve({}, ENV).quota_ttl == 60.0
    with pytest.raises(AksConfigError, match="quota cache time"):
        AksConfig.resolve({}, ENV, quota_ttl=0)


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_the_polling_interval_is_a_positive_number(value: str) -> None:
    with pytest.raises(SystemExit):
        _parse("--aks-polling-interval", value)


def test_help_lists_the_options() -> None:
    parser = argparse.ArgumentParser(prog="kaito operator")
    add_aks_arguments(parser)
    text = parser.format_help()
    for flag in ("--aks-subscription", "--aks-resource-group", "--aks-cluster", "--aks-location"):
        assert flag in text


async def test_the_provisioner_from_args_uses_the_given_credential() -> None:
    """The operator's entry point builds a working provisioner (no secret in its config)."""
    pytest.importorskip("azure.mgmt.containerservice", reason="the 'aks' extra is not installed")
    from tests.aks.conftest import StaticCredential

    args = _parse("--aks-location", "eastus")
    provisioner = aks_provisioner_from_args(args, environ=ENV, credential=StaticCredential())
    async with provisioner:
        assert provisioner.name == "aks"
        assert provisioner.config.cluster == "c1"
        assert await provisioner.location() == "eastus"
    assert "token" not in repr(provisioner.config).lower()
