"""The kubeconfig that points kubectl (or any client) at the fake API server.

Plain HTTP on loopback; the user carries a static token the server ignores (some clients
insist on credentials). The file is written with mode 0600, like ``kind`` and ``k3d`` do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "default_kubeconfig_path", "kubeconfig", "write_kubeconfig"]

#: The cluster, user and context name in the kubeconfig.
CONTEXT = "kaito-playground"


def default_kubeconfig_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``kaito fake-apiserver`` writes its kubeconfig unless told: a per-user state file,
    ``$XDG_STATE_HOME/kaito-py/playground.kubeconfig`` (``~/.local/state/kaito-py/...`` when
    ``XDG_STATE_HOME`` is unset or not absolute, as the XDG base directory spec says), never
    the current folder (a checkout would then hold, and might commit, a credential file)."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "kaito-py" / "playground.kubeconfig"


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
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(server, namespace=namespace), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        handle.write(text)
    return target
