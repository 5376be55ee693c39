"""Connecting to a cluster: from a kubeconfig, or as a pod with its service account.

    client = await from_kubeconfig()                         # $KUBECONFIG or ~/.kube/config
    client = await from_kubeconfig("kind.yaml", context="kind-kaito")
    client = in_cluster()                                    # inside a pod
    client = await connect()                                 # in a pod: in_cluster()
    ...
    await client.close()                                     # or: async with client: ...

Each returns a `KubernetesClient` that owns a fresh ``kubernetes_asyncio`` ``ApiClient`` with its
own ``Configuration`` (the library's process-wide default is never touched, so several clusters
can be used at once). Tokens that expire are refreshed before a request: the in-cluster
service-account token is re-read from its projected file (kubernetes-asyncio's hook), and an
``exec`` credential plugin (``kubelogin``, ``aws eks get-token``, ...) is run again once the
credential it returned expires.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kaito_backends.kubernetes.client import KubernetesClient

__all__ = ["connect", "from_kubeconfig", "in_cluster", "in_cluster_available"]

_SERVICE_HOST = "KUBERNETES_SERVICE_HOST"
_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_DEFAULT_FILE = "~/.kube/config"


def _modules() -> tuple[Any, Any]:
    try:
        from kubernetes_asyncio import client, config
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "the kubernetes backend needs kubernetes-asyncio: pip install -e '.[kubernetes]' "
            "in a kaito-py clone (not on PyPI yet)"
        ) from exc
    return client, config


def _refresh_exec_credential(loader: Any) -> Any:
    """A ``refresh_api_key_hook`` that re-runs an exec plugin once its credential expired."""

    async def refresh(configuration: Any) -> None:
        if await loader.load_from_exec_plugin():
            configuration.api_key["BearerToken"] = loader.token

    return refresh


async def from_kubeconfig(
    path: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    config_dict: Mapping[str, Any] | None = None,
    **options: Any,
) -> KubernetesClient:
    """A client for a kubeconfig context (the current one when ``context`` is None).

    ``path`` defaults to ``$KUBECONFIG`` (several files separated by ``:`` are merged, as
    kubectl does), then ``~/.kube/config``;
    ``config_dict`` passes a parsed kubeconfig instead of a file. ``options`` go to
    `KubernetesClient` (``field_manager``, ``watch_timeout``, ...). Raises
    ``kubernetes_asyncio.config.ConfigException`` for an unusable kubeconfig.
    """
    client, config = _modules()
    configuration = client.Configuration()
    if config_dict is not None:
        loader = await config.load_kube_config_from_dict(
            dict(config_dict), context=context, client_configuration=configuration
        )
    else:
        files = str(path) if path is not None else os.environ.get("KUBECONFIG") or _DEFAULT_FILE
        if not any(Path(p).expanduser().is_file() for p in files.split(os.pathsep) if p):
            raise config.ConfigException(f"no kubeconfig found at {files}")
        loader = await config.load_kube_config(
            config_file=files,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    if hasattr(loader, "exec_plugin_expiry"):
        configuration.refresh_api_key_hook = _refresh_exec_credential(loader)
    return KubernetesClient(client.ApiClient(configuration), owns_api_client=True, **options)


def in_cluster_available() -> bool:
    """Whether this process runs in a pod with a service account token mounted."""
    return bool(os.environ.get(_SERVICE_HOST)) and os.path.isfile(_TOKEN_FILE)


def in_cluster(
    *, token_file: str | None = None, ca_file: str | None = None, **options: Any
) -> KubernetesClient:
    """A client for the cluster this pod runs in, with its service account.

    Reads ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the mounted token and CA (``token_file`` /
    ``ca_file`` override where); the token is re-read when it rotates. Raises
    ``kubernetes_asyncio.config.ConfigException`` outside a pod.
    """
    client, config = _modules()
    configuration = client.Configuration()
    files: dict[str, str] = {}
    if token_file is not None:
        files["token_filename"] = token_file
    if ca_file is not None:
        files["cert_filename"] = ca_file
    config.load_incluster_config(client_configuration=configuration, **files)
    return KubernetesClient(client.ApiClient(configuration), owns_api_client=True, **options)


async def connect(
    path: str | os.PathLike[str] | None = None, context: str | None = None, **options: Any
) -> KubernetesClient:
    """In-cluster when running in a pod and no kubeconfig is named, else `from_kubeconfig`."""
    if path is None and context is None and in_cluster_available():
        return in_cluster(**options)
    return await from_kubeconfig(path, context, **options)
