"""Connecting: kubeconfig files and contexts, $KUBECONFIG, the in-cluster service account."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kaito_backends.apiserver import kubeconfig
from kaito_backends.kubernetes import KubernetesClient, connect, from_kubeconfig, in_cluster
from kaito_backends.objects import ObjectRef
from tests.kubernetes.stub import Reply, Stub, obj

CM = "/api/v1/namespaces/default/configmaps/a"
REF = ObjectRef("v1", "ConfigMap", "a", "default")


def two_contexts(stub: Stub) -> dict[str, object]:
    """A kubeconfig whose current context is unreachable and whose ``stub`` context is the stub."""
    config = kubeconfig("http://127.0.0.1:1")
    config["clusters"].append({"name": "stub", "cluster": {"server": stub.url}})
    config["users"].append({"name": "stub", "user": {"token": "stub-token"}})
    config["contexts"].append({"name": "stub", "context": {"cluster": "stub", "user": "stub"}})
    return config


async def fetch(client: KubernetesClient, stub: Stub) -> str:
    """GET through the client; the Authorization header the stub saw."""
    try:
        await client.get(REF)
    finally:
        await client.close()
    return stub.requests[-1].headers["Authorization"]


async def test_a_kubeconfig_file_and_context(stub: Stub, tmp_path: Path) -> None:
    """from_kubeconfig(path, context): that context's server and token."""
    stub.on("GET", CM, Reply(obj("a", "1")))
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(two_contexts(stub)))
    client = await from_kubeconfig(path, context="stub", field_manager="me")
    assert client.field_manager == "me"
    assert await fetch(client, stub) == "Bearer stub-token"


async def test_the_kubeconfig_environment_variable_merges_files(
    stub: Stub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$KUBECONFIG with two files: clusters, users and contexts are merged across them."""
    stub.on("GET", CM, Reply(obj("a", "1")))
    config = two_contexts(stub)
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(yaml.safe_dump({**config, "current-context": "stub", "clusters": []}))
    rest = {k: v for k, v in config.items() if k != "current-context"}
    second.write_text(yaml.safe_dump({**rest, "contexts": [], "users": []}))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert await fetch(await connect(), stub) == "Bearer stub-token"


async def test_a_missing_kubeconfig_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file: ConfigException naming where it looked."""
    from kubernetes_asyncio.config import ConfigException

    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(ConfigException, match="nowhere"):
        await from_kubeconfig(tmp_path / "nowhere")


async def test_in_cluster_uses_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """in_cluster: https://$KUBERNETES_SERVICE_HOST:$PORT, the mounted token and CA."""
    import certifi  # a dependency of kubernetes-asyncio: any valid CA bundle will do

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text(Path(certifi.where()).read_text())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    client = in_cluster(token_file=str(token), ca_file=str(ca))
    try:
        configuration = client.api_client.configuration
        assert configuration.host == "https://10.0.0.1:443"
        assert configuration.ssl_ca_cert == str(ca)
        assert await configuration.get_api_key_with_prefix("BearerToken") == "Bearer sa-token"
        assert client.owns_api_client
    finally:
        await client.close()
