"""The kubeconfig that points kubectl (or any client) at the fake API server.

Plain HTTP on loopback; the user carries a static token the server ignores (some clients
insist on credentials). The file is written with mode 0600, like ``kind`` and ``k3d`` do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "kubeconfig", "write_kubeconfig"]

#: The cluster, user and context name in the kubeconfig.
CONTEXT = "kaito-playground"


def kubeconfig(server: str, *, namespace: str = "default") -> dict[str, Any]:
    """A kubeconfig document for ``server`` (``http://127.0.0.1:PORT``)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": "kaito-playground"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, server: str, *, namespace: str = "default") -> Path:
    """Write the kubeconfig to ``path`` (parents created, mode 0600) and return the path."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(server, namespace=namespace), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return target
