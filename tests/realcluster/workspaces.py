"""Workspaces on the real cluster: applying, waiting for their state, finding what they own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import eventually

__all__ = [
    "OWNED_KINDS",
    "claims_of",
    "documents",
    "final_state",
    "leftovers",
    "manifest",
    "pods_of",
    "wait_state",
    "workspace_json",
]

#: What a Workspace makes in its namespace (besides Events).
OWNED_KINDS = (
    "statefulsets",
    "deployments",
    "jobs",
    "services",
    "configmaps",
    "pods",
    "controllerrevisions",
    "persistentvolumeclaims",
)


def manifest(
    name: str,
    preset: str = "phi-4-mini-instruct",
    *,
    count: int | None = None,
    secret: str = "",
    adapters: tuple[dict[str, Any], ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A v1beta1 inference Workspace on one ``Standard_NC24ads_A100_v4`` (``count`` nodes),
    serving ``preset`` (``secret``: its modelAccessSecret) with ``adapters``; ``fields`` replace
    top-level fields as they are (a test's invalid ``inference``)."""
    resource: dict[str, Any] = {
        "instanceType": "Standard_NC24ads_A100_v4",
        "labelSelector": {"matchLabels": {"apps": name}},
    }
    if count is not None:
        resource["count"] = count
    chosen: dict[str, Any] = {"name": preset}
    if secret:
        chosen["presetOptions"] = {"modelAccessSecret": secret}
    inference: dict[str, Any] = {"preset": chosen}
    if adapters:
        inference["adapters"] = list(adapters)
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name},
        "resource": resource,
        "inference": inference,
        **fields,
    }


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def final_state(workspace: dict[str, Any]) -> str:
    """The ``status.state`` a Workspace ends in when all is well: Succeeded for tuning."""
    return "Succeeded" if workspace.get("tuning") else "Ready"


async def workspace_json(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    out = await kubectl("get", "workspace", name, "-n", namespace, "-o", "json")
    found: dict[str, Any] = json.loads(out)
    return found


async def wait_state(
    kubectl: Kubectl, namespace: str, name: str, want: str, *, timeout: float = 180
) -> dict[str, Any]:
    """Wait until the Workspace's ``status.state`` is ``want``; the Workspace."""

    async def reached() -> dict[str, Any] | None:
        found = await workspace_json(kubectl, namespace, name)
        return found if (found.get("status") or {}).get("state") == want else None

    return await eventually(reached, timeout=timeout, what=f"workspace {namespace}/{name} {want}")


async def _items(kubectl: Kubectl, *args: str) -> list[dict[str, Any]]:
    out = await kubectl("get", *args, "-o", "json")
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


async def claims_of(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    """The NodeClaims labelled with this Workspace."""
    selector = f"kaito.sh/workspace={name},kaito.sh/workspacenamespace={namespace}"
    return await _items(kubectl, "nodeclaims", "-l", selector)


async def pods_of(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    """The Pods of this Workspace (by its ``kaito.sh/workspace`` label)."""
    return await _items(kubectl, "pods", "-n", namespace, "-l", f"kaito.sh/workspace={name}")


async def leftovers(kubectl: Kubectl, namespace: str) -> list[str]:
    """Every object of `OWNED_KINDS` in ``namespace`` and every NodeClaim and Node labelled with
    it, as ``kind/name`` (the ConfigMap the API server puts in every namespace is not counted)."""
    found = []
    for kind in OWNED_KINDS:
        for item in await _items(kubectl, kind, "-n", namespace):
            name = item["metadata"]["name"]
            if kind == "configmaps" and name == "kube-root-ca.crt":
                continue
            found.append(f"{kind}/{name}")
    selector = f"kaito.sh/workspacenamespace={namespace}"
    for kind in ("nodeclaims", "nodes"):
        found += [
            f"{kind}/{o['metadata']['name']}" for o in await _items(kubectl, kind, "-l", selector)
        ]
    return found
