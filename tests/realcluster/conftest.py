"""Fixtures of the real-cluster tier (marker ``realcluster``; ``nox -s realcluster``).

``real_cluster`` (session) builds what is missing (``tools/cluster``), starts etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Karpenter-kwok on 127.0.0.1,
installs ``kaito manifests`` and starts ``kaito operator --backend karpenter`` as its
ServiceAccount (`OPERATOR_FLAGS`), once per run, in ``.cluster/tier/`` (logs and the audit log
stay there after the run), and stops every process it started at the end. Without Go on PATH
the tier skips, saying why; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kaito_backends.kubernetes import KubernetesClient, from_kubeconfig
from tests.conftest import ROOT
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import OPERATOR_FLAGS, RealCluster, close_tls_client
from tools.cluster import build
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import Operator, install, webhook_ready

HERE = Path(__file__).resolve().parent
STATE = ROOT / ".cluster" / "tier"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/realcluster carries the ``realcluster`` marker."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.realcluster)


def _go_or_skip() -> None:
    if shutil.which("go") is not None:
        return
    reason = (
        "no Go toolchain on PATH: the real-cluster tier builds kube-apiserver, etcd, kwok and "
        "Karpenter from Go modules (see docs/testing.md)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the real-cluster tier cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    """The tier's control plane with kaito in it (see the module docstring)."""
    _go_or_skip()
    binaries = build.ensure()
    STATE.parent.mkdir(parents=True, exist_ok=True)
    with (STATE.parent / "tier.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"another test run uses {STATE} (one tier per checkout at a time)")
        if (STATE / "cluster.json").exists():
            ControlPlane.load(STATE).down()  # left over by a run that was killed
        plane = ControlPlane.create(STATE, binaries=binaries)
        try:
            with (STATE / "up.log").open("a") as log:
                plane.up(say=lambda line: print(line, file=log, flush=True))
            install(plane)
            operator = Operator(plane, extra=OPERATOR_FLAGS)
            operator.start()
            webhook_ready(plane)
            yield RealCluster(plane=plane, operator=operator)
        finally:
            plane.down()


@pytest.fixture
def operator(real_cluster: RealCluster) -> Iterator[Operator]:
    """The session's operator, running; started again after a test that stopped it."""
    real_cluster.ensure_operator()
    yield real_cluster.operator
    real_cluster.ensure_operator()


@pytest.fixture
def kubectl(real_cluster: RealCluster, tmp_path: Path) -> Kubectl:
    """kubectl as the cluster's admin (the pinned one built with the control plane)."""
    return real_cluster.kubectl(tmp_path / "kubectl-cache")


@pytest.fixture
async def kube(real_cluster: RealCluster) -> AsyncIterator[KubernetesClient]:
    """A kubernetes-asyncio `KubernetesClient` as the cluster's admin."""
    client = await from_kubeconfig(real_cluster.kubeconfig)
    try:
        yield client
    finally:
        await close_tls_client(client)


@pytest.fixture
async def namespace(kubectl: Kubectl) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    await kubectl("create", "namespace", name)
    yield name
    await kubectl("delete", "namespace", name, "--wait=false", check=False)
