"""The operator reconciles RAGEngines with no extra flag: the default registry has them."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from kaito_backends.fake import FakeCluster
from kaito_backends.operator.backends import Connection
from kaito_backends.operator.runner import run_operator
from tests.operator.test_runner import settings
from tests.ragengine.support import rag_manifest


async def _until(check: Any, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + 10
    while not (found := check()):
        assert asyncio.get_running_loop().time() < deadline, f"no {what} in time"
        await asyncio.sleep(0.02)
    return found


async def test_the_operator_reconciles_a_ragengine() -> None:
    """run_operator: the RAGEngine gets its finalizer, its Deployment and Service, and a status
    that says what it waits for."""
    cluster = FakeCluster()
    await cluster.client().create(rag_manifest("rag", compute=None))
    stop = asyncio.Event()
    connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
    task = asyncio.create_task(
        run_operator(
            settings(leader_elect=False),
            connection=connection,
            stop=stop,
            stderr=io.StringIO(),
        )
    )
    try:
        await _until(
            lambda: cluster.store.find("apps/v1", "Deployment", "default", "rag"), "Deployment"
        )
        await _until(lambda: cluster.store.find("v1", "Service", "default", "rag"), "Service")

        def status() -> Any:
            stored = cluster.store.find("kaito.sh/v1beta1", "RAGEngine", "default", "rag")
            return (stored or {}).get("status") and stored

        stored = await _until(status, "status")
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=10) == 0
    assert stored["metadata"]["finalizers"] == ["ragengine.finalizer.kaito.sh"]
    types = {c["type"] for c in stored["status"]["conditions"]}
    assert {"ResourceReady", "ServiceReady", "RAGEngineSucceeded", "InferenceServiceReady"} <= types
