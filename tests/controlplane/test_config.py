"""What the control plane is configured with: Karpenter-kwok's instance types, kwok's stages,
the credentials, and kaito's manifests adapted to an operator on loopback."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kaito_backends.operator.manifests import InstallOptions, install_manifests
from kaito_presets import default_catalog
from tools.cluster.build import SOURCES
from tools.cluster.controlplane import HAND_RUN_WORKSPACE
from tools.cluster.instance_types import instance_types, instance_types_json
from tools.cluster.operator import WEBHOOK_PATH, for_loopback
from tools.cluster.pki import CLIENTS, Pki

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")


def test_every_gpu_sku_of_the_catalog_is_an_instance_type() -> None:
    """One instance type per GPU SKU, its GPU count as nvidia.com/gpu capacity and label."""
    skus = {s.instance_type: s for s in default_catalog().skus() if s.gpu_count > 0}
    types = instance_types()
    assert [t["name"] for t in types] == sorted(skus)
    for entry in types:
        sku = skus[entry["name"]]
        assert entry["resources"]["nvidia.com/gpu"] == str(sku.gpu_count)
        (offering,) = entry["offerings"]
        labels = {r["key"]: r["values"][0] for r in offering["Requirements"]}
        assert labels["nvidia.com/gpu.count"] == str(sku.gpu_count)
        per_gpu = round(sku.gpu_memory_gib * 1024 / sku.gpu_count)
        assert labels["nvidia.com/gpu.memory"] == str(per_gpu)
        assert all(_LABEL_VALUE.match(v) for v in labels.values()), labels
        if sku.cloud == "azure":
            assert labels["karpenter.azure.com/sku-name"] == sku.instance_type


def test_the_instance_types_file_is_deterministic_json() -> None:
    """Byte-identical on every call; a JSON list Karpenter-kwok reads."""
    text = instance_types_json()
    assert text == instance_types_json()
    assert isinstance(json.loads(text), list)


def test_kwoks_stages_cover_nodes_pods_and_jobs() -> None:
    """The stages file: Nodes get Ready with their GPUs, Pods run, Job Pods end, deletes finish."""
    stages = list(yaml.safe_load_all((SOURCES / "kwok-stages.yaml").read_text()))
    kinds = {s["metadata"]["name"]: s["spec"]["resourceRef"]["kind"] for s in stages}
    assert kinds == {
        "kaito-node-ready": "Node",
        "kaito-pod-running": "Pod",
        "kaito-job-pod-succeeds": "Pod",
        "kaito-pod-deleted": "Pod",
    }
    node = next(s for s in stages if s["metadata"]["name"] == "kaito-node-ready")
    assert "nvidia.com/gpu" in node["spec"]["next"]["statusTemplate"]


def test_kwok_leaves_the_hand_run_workspaces_nodes_and_pods_to_the_test() -> None:
    """Nodes and Pods labelled with `HAND_RUN_WORKSPACE` never get Ready or Running from kwok."""
    stages = {
        s["metadata"]["name"]: s
        for s in yaml.safe_load_all((SOURCES / "kwok-stages.yaml").read_text())
    }
    gate = {
        "key": '.metadata.labels["kaito.sh/workspace"]',
        "operator": "NotIn",
        "values": [HAND_RUN_WORKSPACE],
    }
    for name in ("kaito-node-ready", "kaito-pod-running"):
        assert gate in stages[name]["spec"]["selector"]["matchExpressions"], name
    assert gate not in stages["kaito-pod-deleted"]["spec"]["selector"]["matchExpressions"]


def test_credentials_are_made_once_and_kept_private(tmp_path: Path) -> None:
    """CA-signed serving certificates for 127.0.0.1; keys and tokens 0600; re-running keeps all."""
    pki = Pki.create(tmp_path / "pki")
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    for name in ("apiserver", "webhook"):
        cert = x509.load_pem_x509_certificate(pki.cert(name).read_bytes())
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
        assert stat.S_IMODE(pki.key(name).stat().st_mode) == 0o600
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    tokens = {pki.token(client) for client in CLIENTS}
    assert len(tokens) == len(CLIENTS)
    assert stat.S_IMODE(pki.token_file.stat().st_mode) == 0o600
    before = {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()}
    Pki.create(tmp_path / "pki")
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()} == before


def test_kaito_manifests_for_an_operator_on_loopback() -> None:
    """No Deployment or PodDisruptionBudget; the webhook by url with its CA; the rest as is."""
    objects = install_manifests(
        InstallOptions(certificate="secret", ca_bundle="-----BEGIN CERTIFICATE-----\n")
    )
    local = for_loopback(objects, 4443)
    kinds = [o["kind"] for o in local]
    assert "Deployment" not in kinds
    assert "PodDisruptionBudget" not in kinds
    assert [
        o
        for o in objects
        if o["kind"] not in ("Deployment", "PodDisruptionBudget", "ValidatingWebhookConfiguration")
    ] == [o for o in local if o["kind"] != "ValidatingWebhookConfiguration"]
    configs = [o for o in local if o["kind"] == "ValidatingWebhookConfiguration"]
    urls = [c["webhooks"][0]["clientConfig"]["url"] for c in configs]
    assert urls == [  # each kind's webhook keeps its own path
        f"https://127.0.0.1:4443{WEBHOOK_PATH}",
        "https://127.0.0.1:4443/validate/inferenceset.kaito.sh",
        "https://127.0.0.1:4443/validate/ragengine.kaito.sh",
    ]
    (hook,) = configs[0]["webhooks"]
    assert "service" not in hook["clientConfig"]
    assert hook["clientConfig"]["caBundle"]
    original = next(o for o in objects if o["kind"] == "ValidatingWebhookConfiguration")
    assert "service" in original["webhooks"][0]["clientConfig"]  # the input is not changed
