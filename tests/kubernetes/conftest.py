"""Fixtures of the Kubernetes backend tests: the real kubernetes-asyncio client on loopback.

Two servers:

- ``fake_apiserver``: `kaito_backends.apiserver.FakeApiServer` (the fake cluster behind a
  Kubernetes-compatible HTTP API) with the engine off and time frozen unless a test advances
  it, for the conformance suite and the Karpenter provisioner;
- ``stub``: `tests.kubernetes.stub.Stub`, a scripted aiohttp server that records every request
  and answers what the test says, for what the fake cannot be made to do on cue (a 410 in the
  middle of a watch, a dropped connection, bookmarks at a chosen version, any HTTP error).

Both are reached through `kaito_backends.kubernetes.from_kubeconfig`, so the kubeconfig loading,
bearer-token authentication and ``ApiClient.call_api`` paths are the production ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("kubernetes_asyncio", reason="the kubernetes extra is not installed")
pytest.importorskip("aiohttp", reason="the kubernetes extra is not installed")

from kaito_backends.apiserver import FakeApiServer, PacedClock, kubeconfig
from kaito_backends.fake import FakeCluster
from kaito_backends.kubernetes import KubernetesClient, from_kubeconfig
from tests.kubernetes.stub import Stub

#: Changes of one kind the fake API server keeps for watches (the Gone test writes past it).
WATCH_HISTORY = 50


@pytest.fixture
async def fake_apiserver() -> AsyncIterator[FakeApiServer]:
    """The fake cluster served on 127.0.0.1, engine off; only the tests move virtual time.

    The pacer (which would run the simulated controllers on a real-time tick) is stopped, so
    nothing changes between two requests of a test unless the test advances the clock: a
    StatefulSet controller writing status between two applies would make "apply twice changes
    nothing" racy, as it is against a live cluster.
    """
    cluster = FakeCluster(clock=PacedClock(), watch_history=WATCH_HISTORY)
    server = FakeApiServer(cluster, engine=False, speed=0.0, bookmark_interval=0.5)
    await server.start()
    await server.pacer.stop()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kube(fake_apiserver: FakeApiServer) -> AsyncIterator[KubernetesClient]:
    """A `KubernetesClient` for the fake API server, from a kubeconfig (token auth)."""
    client = await from_kubeconfig(config_dict=kubeconfig(fake_apiserver.url))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    """A scripted API server (see `tests.kubernetes.stub`)."""
    server = Stub()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def stub_client(stub: Stub) -> AsyncIterator[KubernetesClient]:
    """A `KubernetesClient` for the stub (short timeouts)."""
    client = await from_kubeconfig(
        config_dict=kubeconfig(stub.url), request_timeout=5.0, watch_timeout=30.0
    )
    try:
        yield client
    finally:
        await client.close()
