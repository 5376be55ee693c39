"""``install_manifests`` and the generated Workspace CRD: valid objects, least privilege, and a
CRD compatible with upstream's (``tests/data/crds/kaito.sh_workspaces.yaml``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from kaito_backends.cli.output import dump_yaml
from kaito_backends.operator.crd import EXTRA_PRINTER_COLUMNS, workspace_crd, workspace_schema
from kaito_backends.operator.manifests import InstallOptions, install_manifests
from kaito_backends.operator.rbac import rules_have_wildcards
from kaito_backends.operator.settings import DEFAULT_LEASE_NAME
from kaito_backends.operator.webhook import WEBHOOK_NAME, WEBHOOK_PATH
from tests.conftest import EXAMPLES

UPSTREAM_CRD = Path(__file__).resolve().parents[1] / "data" / "crds" / "kaito.sh_workspaces.yaml"
BACKENDS = ("karpenter", "aks", "byo")
RBAC_KINDS = frozenset({"ClusterRole", "Role"})
VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete"})


def upstream() -> dict[str, Any]:
    return dict(yaml.safe_load(UPSTREAM_CRD.read_text()))


def upstream_schema(version: str) -> dict[str, Any]:
    for v in upstream()["spec"]["versions"]:
        if v["name"] == version:
            return dict(v["schema"]["openAPIV3Schema"])
    raise KeyError(version)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The first object of ``kind`` (the Workspace's, for those every kind has one of)."""
    found = [o for o in objects if o["kind"] == kind]
    assert found, kind
    return found[0]


@pytest.mark.parametrize("certificate", ["self-signed", "cert-manager", "secret"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_core_object_is_valid_for_kubernetes_1_33(backend: Any, certificate: Any) -> None:
    """Strict OpenAPI validation of each object (the CRD included); cert-manager's are CRs."""
    options = InstallOptions(backend=backend, certificate=certificate)
    objects = install_manifests(options)
    checked = 0
    for obj in objects:
        if obj["apiVersion"].startswith("cert-manager.io/"):
            continue
        kubernetes_validate.validate(obj, "1.33", strict=True)
        checked += 1
    assert checked == len(objects) - (2 if certificate == "cert-manager" else 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rbac_has_no_wildcards_and_only_plain_verbs(backend: Any) -> None:
    """No ``*`` anywhere in the roles; every verb is a plain, named one."""
    objects = install_manifests(InstallOptions(backend=backend))
    roles = [o for o in objects if o["kind"] in RBAC_KINDS]
    assert len(roles) == 2
    for role in roles:
        assert not rules_have_wildcards(role["rules"])
        assert "*" not in yaml.safe_dump(role)
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= VERBS


def test_rbac_depends_on_the_backend() -> None:
    """Only the karpenter backend may write NodeClaims; every backend may read them."""

    def nodeclaim_verbs(backend: Any) -> set[str]:
        role = by_kind(install_manifests(InstallOptions(backend=backend)), "ClusterRole")
        rules = [r for r in role["rules"] if "nodeclaims" in r["resources"]]
        return {v for r in rules for v in r["verbs"]}

    assert {"create", "delete"} <= nodeclaim_verbs("karpenter")
    assert nodeclaim_verbs("byo") == {"get", "list", "watch"}
    assert nodeclaim_verbs("aks") == {"get", "list", "watch"}


def test_the_lease_role_is_narrow() -> None:
    """The Role grants create of leases and get/update of the election Lease only."""
    role = by_kind(install_manifests(InstallOptions(certificate="cert-manager")), "Role")
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [DEFAULT_LEASE_NAME],
            "verbs": ["get", "update"],
        },
    ]


def test_the_deployment_runs_two_electing_hardened_replicas() -> None:
    """2 replicas, --leader-elect, probes, ports, non-root read-only, resources."""
    objects = install_manifests(InstallOptions(image="example.com/kaito:1"))
    deployment = by_kind(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "example.com/kaito:1"
    assert "command" not in container  # the image's entrypoint: kaito operator
    assert container["args"][:2] == ["--backend=karpenter", "--leader-elect"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"webhook": 9443, "metrics": 8080, "health": 8081}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert any(f"--leader-election-id={DEFAULT_LEASE_NAME}" == a for a in container["args"])
    env = {e["name"] for e in container["env"]}
    assert {"POD_NAME", "POD_NAMESPACE"} <= env
    assert "--webhook-cert-secret=kaito-workspace-webhook-cert" in container["args"]
    assert [m["name"] for m in container["volumeMounts"]] == ["tmp"]
    assert by_kind(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_the_service_and_the_webhook_configuration_agree() -> None:
    """The webhook calls the Service's 443, which targets the pod's webhook port."""
    objects = install_manifests(InstallOptions(namespace="ai", certificate="cert-manager"))
    service = by_kind(objects, "Service")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["webhook"]["targetPort"] == "webhook"
    assert ports["metrics"]["targetPort"] == "metrics"
    configs = [o for o in objects if o["kind"] == "ValidatingWebhookConfiguration"]
    assert [c["metadata"]["name"] for c in configs] == [
        WEBHOOK_NAME,
        "validation.inferenceset.kaito.sh",
        "validation.ragengine.kaito.sh",
    ]
    config = configs[0]
    (hook,) = config["webhooks"]
    assert hook["name"] == WEBHOOK_NAME
    assert hook["clientConfig"]["service"] == {
        "name": service["metadata"]["name"],
        "namespace": "ai",
        "path": WEBHOOK_PATH,
        "port": ports["webhook"]["port"],
    }
    assert hook["rules"] == [
        {
            "apiGroups": ["kaito.sh"],
            "apiVersions": ["v1alpha1", "v1beta1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["workspaces"],
            "scope": "Namespaced",
        }
    ]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    certificate = by_kind(objects, "Certificate")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"ai/{certificate['metadata']['name']}"
    )
    assert "kaito-workspace.ai.svc" in certificate["spec"]["dnsNames"]
    secret = certificate["spec"]["secretName"]
    volumes = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-cert", "secret": {"secretName": secret}} in volumes
    (container,) = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert f"--webhook-cert={mounts['webhook-cert']}/tls.crt" in container["args"]


def test_without_cert_manager_the_ca_bundle_is_embedded() -> None:
    """A provided Secret: no Issuer/Certificate, the caBundle given is base64 in the config."""
    pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    objects = install_manifests(InstallOptions(certificate="secret", ca_bundle=pem))
    assert not [o for o in objects if o["apiVersion"].startswith("cert-manager.io/")]
    configs = [o for o in objects if o["kind"] == "ValidatingWebhookConfiguration"]
    assert len(configs) == 3  # Workspace, InferenceSet, RAGEngine
    for config in configs:
        assert "annotations" not in config["metadata"]
        assert config["webhooks"][0]["clientConfig"]["caBundle"].startswith("LS0tLS1CRUdJTi")


def test_output_is_deterministic() -> None:
    """The same options give the same bytes."""
    assert dump_yaml(install_manifests()) == dump_yaml(install_manifests())


# -- the CRD against upstream's ----------------------------------------------------------------


def tree(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, node) of every schema node: ``.a.b``, ``[]`` for items, ``{}`` for map values."""
    yield path or ".", schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from tree(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from tree(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from tree(schema["additionalProperties"], f"{path}{{}}")


def enums(node: dict[str, Any]) -> set[Any] | None:
    found = node.get("enum")
    for part in node.get("allOf") or ():
        found = part.get("enum", found)
    return set(found) if found is not None else None


#: Schema paths kaito-py adds on purpose (docs/upstream-differences.md).
EXTENSIONS = (".status.phase",)


def test_the_extensions_are_only_in_v1beta1_status() -> None:
    """status.phase {name, since, message} is in v1beta1 only; upstream has no such field."""
    beta = dict(tree(workspace_schema("v1beta1")))  # type: ignore[arg-type]
    alpha = dict(tree(workspace_schema("v1alpha1")))  # type: ignore[arg-type]
    assert sorted(p for p in beta if p.startswith(EXTENSIONS)) == [
        ".status.phase",
        ".status.phase.message",
        ".status.phase.name",
        ".status.phase.since",
    ]
    assert beta[".status.phase"]["required"] == ["name"]
    assert beta[".status.phase.since"]["format"] == "date-time"
    assert not any(p.startswith(EXTENSIONS) for p in alpha)
    for version in ("v1alpha1", "v1beta1"):
        assert not any(p.startswith(EXTENSIONS) for p, _ in tree(upstream_schema(version)))


@pytest.mark.parametrize("version", ["v1alpha1", "v1beta1"])
def test_every_upstream_property_exists_with_the_same_type(version: str) -> None:
    """Upstream's property tree is ours: same types, defaults, enums, required; deeper upstream
    paths are allowed only under a node of ours that preserves unknown fields."""
    ours = dict(tree(workspace_schema(version)))  # type: ignore[arg-type]
    theirs = dict(tree(upstream_schema(version)))
    schemaless = [p for p, n in ours.items() if n.get("x-kubernetes-preserve-unknown-fields")]
    for path, node in theirs.items():
        if path not in ours:
            assert any(path.startswith(s) for s in schemaless), f"{path} is missing"
            continue
        mine = ours[path]
        assert mine.get("type") == node.get("type"), path
        assert mine.get("default") == node.get("default"), path
        assert enums(mine) == enums(node), path
        assert sorted(mine.get("required") or []) == sorted(node.get("required") or []), path
        assert mine.get("format") == node.get("format"), path
        for key in ("x-kubernetes-map-type", "x-kubernetes-list-type"):
            assert mine.get(key) == node.get(key), (path, key)
    extra = sorted(p for p in set(ours) - set(theirs) if not p.startswith(EXTENSIONS))
    assert extra == [], f"properties upstream does not have: {extra}"
    assert schemaless == [
        p for p in schemaless if p.endswith(("template", "volumeSource", "metrics"))
    ]


def test_the_crd_metadata_matches_upstream() -> None:
    """Names, scope, versions, storage, subresources and printer columns are upstream's; in
    v1beta1 kaito-py's Phase and Since columns follow upstream's."""
    ours, theirs = workspace_crd(), upstream()
    assert ours["metadata"]["name"] == theirs["metadata"]["name"]
    assert ours["spec"]["names"] == theirs["spec"]["names"]
    assert ours["spec"]["scope"] == theirs["spec"]["scope"] == "Namespaced"
    for mine, upstream_version in zip(
        ours["spec"]["versions"], theirs["spec"]["versions"], strict=True
    ):
        for key in ("name", "served", "storage", "subresources"):
            assert mine[key] == upstream_version[key], (mine["name"], key)
        extra = EXTRA_PRINTER_COLUMNS if mine["name"] == "v1beta1" else []
        assert mine["additionalPrinterColumns"] == [
            *upstream_version["additionalPrinterColumns"],
            *extra,
        ], mine["name"]
    assert [v["name"] for v in ours["spec"]["versions"] if v["storage"]] == ["v1beta1"]


def _strict(schema: Any) -> Any:
    """Object schemas with properties admit no other key (as pruning would notice)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def workspace_documents(*roots: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "Workspace":
                    found.append((f"{path.name}:{doc['metadata']['name']}", doc))
    return found


def test_every_example_workspace_validates_against_our_schema(reference: Path) -> None:
    """Upstream's Workspace examples (and ours) fit the generated schema, strictly."""
    documents = workspace_documents(reference / "examples", EXAMPLES)
    assert len(documents) > 30
    validators = {
        f"kaito.sh/{v}": jsonschema.Draft7Validator(_strict(workspace_schema(v)))  # type: ignore[arg-type]
        for v in ("v1alpha1", "v1beta1")
    }
    for label, doc in documents:
        errors = list(validators[doc["apiVersion"]].iter_errors(doc))
        assert not errors, f"{label}: {[e.message for e in errors]}"


def test_our_schema_rejects_what_upstream_rejects() -> None:
    """Enums and types bite: a bad accessMode, a string count, an unknown field."""
    validator = jsonschema.Draft7Validator(_strict(workspace_schema("v1beta1")))
    base = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "x"},
        "resource": {"labelSelector": {"matchLabels": {"a": "b"}}},
        "inference": {"preset": {"name": "phi-4", "accessMode": "public"}},
    }
    assert not list(validator.iter_errors(base))
    for bad in (
        {**base, "inference": {"preset": {"name": "phi-4", "accessMode": "secret"}}},
        {**base, "resource": {"count": "2", "labelSelector": {}}},
        {**base, "resource": {}},
        {**base, "colour": "blue"},
    ):
        assert list(validator.iter_errors(bad))
