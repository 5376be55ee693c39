"""Every object `plan` emits is valid for the API server that stores it.

- StatefulSet, Service, ConfigMap, Job, ControllerRevision: the Kubernetes 1.33 OpenAPI schema
  (`kubernetes_validate`, strict: unknown fields are errors);
- NodeClaims: the ``karpenter.sh_nodeclaims.yaml`` CRD schema (v1);
- Workspaces (``to_manifest()`` of every example, and Workspaces carrying the status `plan`
  computes): ``kaito.sh_workspaces.yaml``, v1beta1 and v1alpha1; a computed status also fits
  the CRD kaito-py generates, which has ``status.phase`` too (upstream's prunes it).

CRD schemas are checked with jsonschema, made strict the way the API server's pruning would
be noticed: an object schema with ``properties`` (and no ``x-kubernetes-preserve-unknown-fields``)
admits no other key, so a field the CRD does not know (which the server would silently drop)
fails here.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from kaito_backends.operator.crd import workspace_schema
from kaito_core.api import Workspace, load_documents
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Outcome
from kaito_core.plan import PlanSettings, plan
from tests.conftest import EXAMPLES, REFERENCE
from tests.core.test_plan_support import (
    CATALOG,
    NOW,
    ApiServer,
    converge,
    materialize,
    ready_node,
    settings_strategy,
    with_uid,
    workspace_manifests,
)

CRDS = Path(__file__).resolve().parents[1] / "data" / "crds"
KUBERNETES_VERSION = "1.33"
CORE_KINDS = frozenset({"StatefulSet", "Service", "ConfigMap", "Job", "ControllerRevision"})


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_validator(file: str, version: str) -> jsonschema.protocols.Validator:
    crd = yaml.safe_load((CRDS / file).read_text())
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = _strict(copy.deepcopy(entry["schema"]["openAPIV3Schema"]))
    # metadata is checked by the API server itself, not by the CRD schema
    schema["properties"]["metadata"] = {"type": "object"}
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    return validator_class(schema, format_checker=jsonschema.FormatChecker())  # type: ignore[no-any-return]


def check_object(obj: Manifest) -> None:
    kind = obj["kind"]
    if kind in CORE_KINDS:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    elif kind == "NodeClaim":
        crd_validator("karpenter.sh_nodeclaims.yaml", "v1").validate(obj)
        _check_node_claim_cel(obj)
    else:
        raise AssertionError(f"plan emitted an unexpected kind {kind}")


def _check_node_claim_cel(claim: Manifest) -> None:
    """The NodeClaim CRD's CEL rules that jsonschema cannot evaluate."""
    for requirement in claim["spec"]["requirements"]:
        operator, values = requirement["operator"], requirement.get("values") or []
        if operator == "In":
            assert values, requirement
        if operator in ("Gt", "Lt"):
            assert len(values) == 1, requirement
            assert int(values[0]) >= 0, requirement
    ref = claim["spec"]["nodeClassRef"]
    assert ref["group"]
    assert ref["kind"]
    assert ref["name"]


def check_outcome(outcome: Outcome) -> None:
    for obj in (*outcome.node_claims, *outcome.desired):
        check_object(obj)
    check_workspace_status(outcome)


def check_workspace(manifest: Manifest) -> None:
    version = manifest["apiVersion"].split("/")[1]
    crd_validator("kaito.sh_workspaces.yaml", version).validate(manifest)


def check_workspace_status(outcome: Outcome, name: str = "ws") -> None:
    """A v1beta1 Workspace carrying the status `plan` computed."""
    ws = Workspace.from_manifest(
        {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": name, "namespace": "default"},
            "resource": {
                "instanceType": "Standard_NC24ads_A100_v4",
                "labelSelector": {"matchLabels": {"apps": name}},
            },
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        }
    )
    manifest = attrs.evolve(ws, status=outcome.status).to_manifest()
    ours = jsonschema.Draft7Validator(_strict(workspace_schema("v1beta1")))  # type: ignore[arg-type]
    ours.validate({**manifest, "metadata": {}})
    # kaito-py's status.phase is not in upstream's CRD, whose API server prunes it
    (manifest.get("status") or {}).pop("phase", None)
    check_workspace(manifest)


# --- examples ---------------------------------------------------------------------------------


def _example_files() -> list[Path]:
    files = sorted(EXAMPLES.glob("workspace-*.yaml"))
    root = REFERENCE / "examples"
    if root.is_dir():
        files += sorted(p for p in root.rglob("*.yaml") if "kind: Workspace" in p.read_text())
    return files


def _documents(path: Path) -> Iterator[tuple[Workspace, dict[str, Manifest]]]:
    result = load_documents(path.read_bytes())
    config_maps = {d.name: dict(d.manifest) for d in result.documents if d.kind == "ConfigMap"}
    for doc in result.documents:
        if doc.kind == "Workspace" and doc.workspace is not None:
            yield doc.workspace, config_maps


def _label(path: Path) -> str:
    if path.parent == EXAMPLES:
        return path.name
    return f"upstream/{path.relative_to(REFERENCE / 'examples').as_posix()}"


@pytest.mark.parametrize("path", _example_files(), ids=_label)
def test_example_workspaces_match_the_crd(path: Path) -> None:
    for ws, _ in _documents(path):
        check_workspace(ws.to_manifest())


@pytest.mark.parametrize("path", _example_files(), ids=_label)
def test_everything_planned_for_an_example_validates(path: Path) -> None:
    byo = path.name == "kaito_workspace_accelerator.yaml"
    planned = 0
    for ws, config_maps in _documents(path):
        nodes = (ready_node("n", labels=dict(ws.match_labels), gpu_count=4),) if byo else ()
        settings = PlanSettings(provisioner="byo") if byo else PlanSettings()
        outcome = plan(
            with_uid(ws),
            observed=Observed(config_maps=config_maps, nodes=nodes),
            catalog=CATALOG,
            now=NOW,
            settings=settings,
        )
        check_outcome(outcome)  # an error outcome has only a status, which must validate too
        planned += outcome.error is None
    if path.parent == EXAMPLES:
        assert planned


# --- chosen cases -----------------------------------------------------------------------------


def _ws(**inference: Any) -> dict[str, Any]:
    resource = inference.pop("resource", {"instanceType": "Standard_NC24ads_A100_v4"})
    annotations = inference.pop("annotations", {})
    section = "tuning" if "method" in inference else "inference"
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default", "annotations": annotations},
        "resource": {"labelSelector": {"matchLabels": {"apps": "ws"}}, **resource},
        section: inference,
    }


CASES = {
    "multi-node": (_ws(preset={"name": "llama-3.3-70b-instruct"}), PlanSettings()),
    "nvme": (_ws(preset={"name": "phi-4"}), PlanSettings(nvme_storage_class=True)),
    "aws": (
        _ws(preset={"name": "phi-4"}, resource={"instanceType": "g5.12xlarge"}),
        PlanSettings(cloud="aws"),
    ),
    "load-balancer-transformers": (
        _ws(
            preset={"name": "phi-3-mini-4k-instruct"},
            annotations={"kaito.sh/enablelb": "True", "kaito.sh/runtime": "transformers"},
            adapters=[{"source": {"name": "a", "image": "r.io/a:1"}, "strength": "0.5"}],
        ),
        PlanSettings(),
    ),
    "adapters-with-secrets": (
        _ws(
            preset={"name": "phi-3-mini-4k-instruct"},
            adapters=[
                {"source": {"name": "a", "image": "r.io/a:1", "imagePullSecrets": ["s1"]}},
                {
                    "source": {
                        "name": "b",
                        "volumeSource": {"persistentVolumeClaim": {"claimName": "p"}},
                    }
                },
            ],
        ),
        PlanSettings(),
    ),
    "local-weights-decode-role": (
        {
            **_ws(preset={"name": "phi-4"}, annotations={"kaito.sh/use-local-weights": "true"}),
            "metadata": {
                "name": "ws",
                "namespace": "default",
                "annotations": {"kaito.sh/use-local-weights": "true"},
                "labels": {"kaito.sh/inference-role": "decode"},
            },
        },
        PlanSettings(),
    ),
    "tuning-image-io": (
        _ws(
            preset={"name": "phi-3-mini-128k-instruct"},
            method="qlora",
            input={"image": "r.io/data:1", "imagePullSecrets": ["pull"]},
            output={"image": "r.io/out:1", "imagePushSecret": "push"},
        ),
        PlanSettings(),
    ),
    "tuning-volumes": (
        _ws(
            preset={"name": "phi-3-mini-128k-instruct"},
            method="lora",
            input={"volumeSource": {"persistentVolumeClaim": {"claimName": "in"}}},
            output={"volumeSource": {"persistentVolumeClaim": {"claimName": "out"}}},
        ),
        PlanSettings(),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_chosen_cases_validate(case: str) -> None:
    doc, plan_settings = CASES[case]
    outcome = plan(
        materialize(doc), observed=Observed(), catalog=CATALOG, now=NOW, settings=plan_settings
    )
    assert outcome.error is None, outcome.error
    check_outcome(outcome)
    check_workspace(materialize(doc).to_manifest())


def test_byo_mig_validates() -> None:
    doc = _ws(preset={"name": "phi-4-mini-instruct"}, resource={})
    doc["resource"]["partition"] = {"mode": "mig", "profile": "3g.40gb"}
    outcome = plan(
        materialize(doc),
        observed=Observed(nodes=(ready_node("n", labels={"apps": "ws"}),)),
        catalog=CATALOG,
        now=NOW,
        settings=PlanSettings(provisioner="byo"),
    )
    assert outcome.error is None, outcome.error
    check_outcome(outcome)


def test_a_converged_workspace_status_validates() -> None:
    server = ApiServer()
    outcome = converge(materialize(_ws(preset={"name": "llama-3.3-70b-instruct"})), server)
    assert outcome.status.state == "Ready"
    check_workspace_status(outcome)
    for obj in server.objects.values():  # what the server stores, defaults included
        if obj["kind"] in CORE_KINDS:
            stored = {k: v for k, v in obj.items() if k != "status"}
            stored["metadata"] = {
                k: v for k, v in obj["metadata"].items() if k not in ("managedFields",)
            }
            kubernetes_validate.validate(stored, KUBERNETES_VERSION, strict=True)


def test_the_strict_checks_catch_unknown_fields() -> None:
    outcome = plan(
        materialize(_ws(preset={"name": "phi-4"})), observed=Observed(), catalog=CATALOG, now=NOW
    )
    claim = copy.deepcopy(outcome.node_claims[0])
    claim["spec"]["unknownField"] = 1
    with pytest.raises(jsonschema.ValidationError):
        check_object(claim)
    sts = copy.deepcopy(outcome.desired[-1])
    sts["spec"]["template"]["spec"]["containers"][0]["unknownField"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        check_object(sts)
    with pytest.raises(jsonschema.ValidationError):
        check_workspace({**materialize(_ws(preset={"name": "phi-4"})).to_manifest(), "spec": {}})


# --- a hypothesis sample ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=workspace_manifests(), plan_settings=settings_strategy())
def test_generated_workspaces_and_their_objects_validate(
    spec: tuple[dict[str, Any], dict[str, Manifest]], plan_settings: PlanSettings
) -> None:
    doc, config_maps = spec
    ws = materialize(doc)
    check_workspace(ws.to_manifest())
    outcome = plan(
        ws,
        observed=Observed(config_maps=config_maps),
        catalog=CATALOG,
        now=NOW,
        settings=plan_settings,
    )
    check_outcome(outcome)
