"""What the conformance suite builds on: the `Backend` a backend hands it, names, manifests."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import pytest

from kaito_backends.errors import NotFound
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient, NodeProvisioner, WatchEvent

__all__ = [
    "Backend",
    "condition_status",
    "config_map",
    "eventually",
    "is_gone",
    "next_event",
    "node_claim",
    "statefulset",
    "unique",
    "workspace",
]


@attrs.frozen(kw_only=True)
class Backend:
    """What a backend hands the suite.

    ``advance(seconds)`` lets time pass (virtual for the fake, a real sleep elsewhere).
    ``watch_history``: how many changes of one kind the backend retains for watches, or None
    when that is not a fixed number. ``compact()``, when given, drops the history of past
    changes (a real cluster's etcd compaction). Without either the Gone test is skipped.
    ``shared_versions``: whether Workspaces are readable in both kaito.sh versions.
    """

    client: ClusterClient
    provisioner: NodeProvisioner
    advance: Callable[[float], Awaitable[None]]
    instance_type: str
    namespace: str = "default"
    watch_history: int | None = None
    compact: Callable[[], Awaitable[None]] | None = None
    shared_versions: bool = True


_run = os.getpid()
_counter = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test (or run) uses."""
    return f"{prefix}-{_run % 100000}-{next(_counter)}"


async def eventually(
    backend: Backend,
    check: Callable[[], Awaitable[bool]],
    *,
    within: float = 1800.0,
    step: float = 15.0,
) -> None:
    """Let time pass until ``check()`` holds; fail after ``within`` seconds."""
    waited = 0.0
    while not await check():
        if waited >= within:
            pytest.fail(f"condition not met within {within:.0f}s")
        await backend.advance(step)
        waited += step


def config_map(
    backend: Backend, name: str, *, labels: Mapping[str, str] | None = None, **extra: Any
) -> Manifest:
    meta: Manifest = {"name": name, "namespace": backend.namespace}
    if labels:
        meta["labels"] = dict(labels)
    meta.update(extra.pop("metadata", {}))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}, **extra}


def statefulset(backend: Backend, name: str, *, image: str = "busybox:1.36") -> Manifest:
    """A StatefulSet with zero replicas: it has a generation and never runs anything."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": backend.namespace},
        "spec": {
            "replicas": 0,
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def workspace(backend: Backend, name: str, api_version: str = "kaito.sh/v1beta1") -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": backend.namespace},
        "resource": {
            "instanceType": backend.instance_type,
            "labelSelector": {"matchLabels": {"apps": name}},
        },
        "inference": {"preset": {"name": "phi-4"}},
    }


def node_claim(backend: Backend, name: str) -> Manifest:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": name, "labels": {"karpenter.sh/nodepool": "kaito"}},
        "spec": {
            "nodeClassRef": {"group": "kaito.sh", "kind": "KaitoNodeClass", "name": "default"},
            "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
            "requirements": [
                {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["kaito"]},
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": [backend.instance_type],
                },
                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            ],
            "resources": {"requests": {"storage": "128Gi"}},
        },
    }


def condition_status(obj: Manifest, kind: str) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


async def is_gone(client: ClusterClient, ref: ObjectRef) -> bool:
    try:
        await client.get(ref)
    except NotFound:
        return True
    return False


async def next_event(events: Any, timeout: float = 30.0) -> WatchEvent:
    """The next watch event, failing the test instead of hanging."""
    try:
        event: WatchEvent = await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        pytest.fail(f"no watch event within {timeout:.0f}s")
    return event
