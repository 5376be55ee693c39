"""The operator image on the real control plane: ``helm install`` of charts/kaito-py into a
namespace that enforces PodSecurity ``restricted``, the operator run from the packed image's
filesystem as the Deployment's pod (`ImagePod`), a Workspace brought to Ready through it, its
webhook called by the API server, then ``helm uninstall``.

The tier's own operator is stopped and its webhook configuration removed while this module runs
(two operators would both reconcile every Workspace, and the chart owns the webhook
configurations' names); both are put back afterwards. Start-up time and idle RSS are measured
and written to ``build/image/measurements.json`` (docs/operator.md quotes them; no threshold is
asserted here, benchmarks/ is where targets live).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.operator.settings import WEBHOOK_NAME, webhook_name
from kaito_core.registry import default_registry
from tests.chart.helm import CHART
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import RealCluster, eventually
from tests.realcluster.image_pod import ImagePod
from tests.realcluster.workspaces import documents, leftovers, wait_state
from tools.cluster import build as cluster_build
from tools.cluster.operator import install, webhook_ready
from tools.cluster.rest import HttpError
from tools.image import build as image_build
from tools.image import spec

RELEASE = "kaito-image"
NAME = "kaito-image"
EXAMPLE = EXAMPLES / "workspace-phi-4-mini.yaml"
MEASUREMENTS = ROOT / "build" / "image" / "measurements.json"
#: Keeps the Deployment's own pod unscheduled: kwok would only pretend to run it, and the
#: operator runs from the image here instead (`ImagePod`). Admission happens at creation.
NOWHERE = {"kaito.sh/test-placement": "none"}


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the image test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Release:
    """The installed chart and the operator running from the image."""

    plane: Any
    namespace: str
    pod: ImagePod
    helm: Path
    startup_seconds: float = 0.0
    measurements: dict[str, Any] = field(default_factory=dict)

    def helm_run(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.helm), f"--kubeconfig={self.plane.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def get(self, path: str) -> Any:
        return self.plane.rest().get(path)


@pytest.fixture(scope="module")
def image_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """The image built by tools/image (cached base), unpacked with umoci: (bundle, report)."""
    _need(os.geteuid() == 0, "the image is built and run with chroot and mounts: needs root")
    for tool in ("debootstrap", "umoci", "unshare", "ip"):
        _need(shutil.which(tool) is not None, f"{tool} is missing (Debian package)")
    report = image_build.build(ROOT / "build" / "image")
    work = tmp_path_factory.mktemp("image")
    with tarfile.open(report["archive"]) as archive:
        archive.extractall(work / "oci", filter="tar")
    version = spec.project_version()
    subprocess.run(
        ["umoci", "unpack", "--image", f"{work / 'oci'}:{version}", str(work / "bundle")],
        check=True,
        capture_output=True,
    )
    yield work / "bundle", report
    shutil.rmtree(work, ignore_errors=True)


def _values(pod: ImagePod, report: dict[str, Any]) -> dict[str, Any]:
    repository, _, tag = report["image"].rpartition(":")
    return {
        "name": NAME,
        "replicas": 1,
        "image": {"repository": repository, "tag": tag},
        "webhook": {"url": f"https://127.0.0.1:{pod.ports[9443]}"},
        "extraArgs": ["--karpenter-node-class=karpenter.kwok.sh/KWOKNodeClass/default"],
        "nodeSelector": NOWHERE,
    }


def _deployment_pod(plane: Any, namespace: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pods = plane.rest().get(f"/api/v1/namespaces/{namespace}/pods")["items"]
        if pods:
            return dict(pods[0])
        if time.monotonic() > deadline:
            events = plane.kubectl("get", "events", "-n", namespace, check=False).stdout
            raise AssertionError(f"the Deployment made no pod in {namespace}:\n{events}")
        time.sleep(0.2)


def _token(plane: Any, namespace: str, pod: dict[str, Any]) -> str:
    """A TokenRequest of the chart's ServiceAccount bound to the pod, as the kubelet asks."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "expirationSeconds": 3600,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        },
    }
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{NAME}/token"
    return str(plane.rest().post(path, request)["status"]["token"])


@pytest.fixture(scope="module")
def release(
    real_cluster: RealCluster,
    image_bundle: tuple[Path, dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    """helm install into a restricted namespace; the operator started from the image."""
    plane = real_cluster.plane
    helm = cluster_build.ensure(["helm"])["helm"]
    bundle, report = image_bundle
    namespace = f"kaito-image-{uuid.uuid4().hex[:6]}"
    real_cluster.operator.stop()
    for kind in default_registry():  # the chart makes one per kind, by the same names
        plane.kubectl(
            "delete", "validatingwebhookconfiguration", webhook_name(kind), "--ignore-not-found"
        )
    pod = ImagePod(
        bundle, tmp_path_factory.mktemp("pod"), apiserver_port=plane.layout.ports["apiserver"]
    )
    plane.kubectl(
        "create",
        "namespace",
        namespace,
    )
    plane.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    found = Release(plane=plane, namespace=namespace, pod=pod, helm=helm)
    try:
        values = tmp_path_factory.mktemp("values") / "values.json"
        values.write_text(json.dumps(_values(pod, report)))
        found.helm_run(
            "install", RELEASE, str(CHART), "--namespace", namespace, "--values", str(values)
        )
        deployment = plane.rest().get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{NAME}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        scheduled = _deployment_pod(plane, namespace)
        pod.start(container, scheduled, token=_token(plane, namespace, scheduled), ca=plane.pki.ca)
        found.startup_seconds = pod.wait_ready()
        webhook_ready(plane)
        time.sleep(10)  # idle: no Workspace, caches synced
        found.measurements = {
            "startup_seconds": round(found.startup_seconds, 2),
            "idle_rss_bytes": pod.rss_bytes(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()} host",
            "image": report,
        }
        yield found
    finally:
        status = pod.stop()
        if found.measurements:
            found.measurements["exit_status"] = status
            MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
            MEASUREMENTS.write_text(json.dumps(found.measurements, indent=2) + "\n")
        pod.close()
        subprocess.run(
            [
                str(helm),
                f"--kubeconfig={plane.kubeconfig}",
                "uninstall",
                RELEASE,
                "--namespace",
                namespace,
                "--ignore-not-found",
                "--wait",
            ],
            capture_output=True,
            check=False,
            timeout=300,
        )
        plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        install(plane)  # the tier's webhook configuration back
        real_cluster.ensure_operator()
        webhook_ready(plane)


def test_the_restricted_namespace_admits_the_operator_pod(release: Release) -> None:
    """PodSecurity restricted: the ReplicaSet's pod was created; an unhardened one is refused."""
    plane, namespace = release.plane, release.namespace
    labels = release.get(f"/api/v1/namespaces/{namespace}")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = release.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    assert [p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods] == [NAME]
    events = release.get(f"/api/v1/namespaces/{namespace}/events")["items"]
    assert not [e for e in events if e.get("reason") == "FailedCreate"]
    # the same container without its securityContext: what restricted forbids
    unhardened = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unhardened"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    with pytest.raises(HttpError) as refused:
        plane.rest().post(f"/api/v1/namespaces/{namespace}/pods?dryRun=All", unhardened)
    assert refused.value.code == 403
    message = str(refused.value)
    assert 'violates PodSecurity "restricted:latest"' in message
    for rule in ("allowPrivilegeEscalation", "capabilities", "runAsNonRoot", "seccompProfile"):
        assert rule in message


def test_the_operator_runs_from_the_image_as_its_user(release: Release) -> None:
    """The process is the image's Python, as uid/gid 65532, with no capabilities."""
    assert release.pod.runs_from_the_image()
    status = Path(f"/proc/{release.pod.operator_pid()}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Uid"].split()[:2] == [str(spec.UID)] * 2
    assert fields["Gid"].split()[:2] == [str(spec.GID)] * 2
    assert int(fields["CapEff"].strip(), 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"


async def test_the_webhook_in_the_image_judges_workspaces(
    release: Release, kubectl: Kubectl, namespace: str
) -> None:
    """The API server calls the image's webhook (self-signed certificate, caBundle patched)."""
    config = release.get(
        f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{WEBHOOK_NAME}"
    )
    (hook,) = config["webhooks"]
    assert hook["clientConfig"]["caBundle"]
    assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:")
    secret = release.get(f"/api/v1/namespaces/{release.namespace}/secrets/{NAME}-webhook-cert")
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    bad = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "bad", "namespace": namespace},
        "resource": {
            "instanceType": "Standard_NC96ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": "bad"}},
        },
        "inference": {"preset": {"name": "no-such-model"}},
    }
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=json.dumps(bad))
    assert code != 0
    assert 'admission webhook "validation.workspace.kaito.sh" denied the request' in err
    assert "spec.inference.preset.name" in err


async def test_the_example_workspace_reaches_ready_through_the_image(
    release: Release, kubectl: Kubectl, namespace: str
) -> None:
    """docs/examples/workspace-phi-4-mini.yaml: Ready; deleted: nothing of it left."""
    (workspace,) = [d for d in documents(EXAMPLE) if d["kind"] == "Workspace"]
    name = workspace["metadata"]["name"]
    await kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    done = await wait_state(kubectl, namespace, name, "Ready", timeout=240)
    assert done["status"]["conditions"]
    await asyncio.sleep(10)  # idle again: nothing to do until the next resync
    release.measurements["rss_with_a_ready_workspace_bytes"] = release.pod.rss_bytes()
    await kubectl("delete", "-n", namespace, "-f", str(EXAMPLE), "--wait=true", "--timeout=120s")

    async def nothing_left() -> bool:
        return not await leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what=f"everything of {name} deleted")


def test_helm_uninstall_removes_the_release(release: Release) -> None:
    """The operator stops cleanly (exit 0); helm uninstall deletes every object it made."""
    assert release.pod.stop() == 0
    release.measurements["exit_status"] = 0
    rendered = release.helm_run("get", "manifest", RELEASE, "--namespace", release.namespace)
    release.helm_run("uninstall", RELEASE, "--namespace", release.namespace, "--wait")
    for obj in [d for d in yaml.safe_load_all(rendered) if d]:
        meta = obj["metadata"]
        kind = obj["kind"].lower()
        args = ["get", kind, meta["name"], "--ignore-not-found", "-o", "name"]
        if meta.get("namespace"):
            args += ["-n", meta["namespace"]]
        assert release.plane.kubectl(*args).stdout.strip() == "", f"{kind}/{meta['name']} left"
