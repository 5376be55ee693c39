"""Shared builders for engine tests: Workspace manifests, a quiet log, a cluster with Workspaces."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from kaito_backends.engine.logs import configure_logging
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.objects import Manifest, WorkspaceKey

A100 = "Standard_NC24ads_A100_v4"
V100 = "Standard_NC6s_v3"
MAXWELL = "Standard_NV6"  # an NVIDIA GPU no runtime supports any more


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[io.StringIO]:
    """Engine logs go to a buffer at warning level (and structlog is reset afterwards)."""
    buffer = io.StringIO()
    configure_logging(format="json", level="warning", stream=buffer)
    yield buffer
    structlog.reset_defaults()


def workspace(
    name: str,
    *,
    namespace: str = "default",
    instance_type: str = A100,
    preset: str = "phi-3-mini-4k-instruct",
    tuning: bool = False,
    count: int | None = None,
) -> Manifest:
    """A v1beta1 Workspace manifest with its own label selector."""
    resource: dict[str, Any] = {
        "instanceType": instance_type,
        "labelSelector": {"matchLabels": {"apps": name}},
    }
    if count is not None:
        resource["count"] = count
    manifest: Manifest = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": namespace},
        "resource": resource,
    }
    if tuning:
        manifest["tuning"] = {
            "preset": {"name": preset},
            "method": "qlora",
            "input": {"urls": ["https://example.com/data.parquet"]},
            "output": {"image": "registry.example.com/adapter:1", "imagePushSecret": "push"},
        }
    else:
        manifest["inference"] = {"preset": {"name": preset}}
    return manifest


def key(name: str, namespace: str = "default") -> WorkspaceKey:
    return WorkspaceKey(namespace, name)


def cluster_with(*manifests: Manifest, faults: FaultPlan | None = None) -> FakeCluster:
    """A fake cluster holding these Workspaces (created directly in its store, without faults)."""
    cluster = FakeCluster(faults=faults)
    for manifest in manifests:
        cluster.store.create(copy.deepcopy(manifest))
    return cluster


def objects_of(cluster: FakeCluster, name: str, namespace: str = "default") -> list[Manifest]:
    """Every stored object that belongs to the Workspace (owner, labels), the Workspace and its
    Events included."""
    from kaito_backends.engine.observer import workspace_keys_of

    ws_key = WorkspaceKey(namespace, name)
    found = []
    for obj in cluster.snapshot():
        if ws_key in workspace_keys_of(obj) or (
            obj.get("kind") == "Event" and (obj.get("involvedObject") or {}).get("name") == name
        ):
            found.append(obj)
    return found
