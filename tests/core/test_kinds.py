"""The kind registry: what the shared code knows of each custom resource, Workspace first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from kaito_core.api import Condition, Workspace, WorkspaceStatus
from kaito_core.kinds import (
    KindRef,
    OwnerLabels,
    PrinterColumn,
    Registry,
    conventional_owner_labels,
    ignoring_settings,
)
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from kaito_core.plan import plan
from kaito_core.registry import default_registry
from kaito_core.validation import validate
from kaito_core.workspace_kind import PHASE_COLUMNS, WORKSPACE, workspace_state
from tests.widget import WIDGET, widget, widget_registry

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_default_registry_has_workspace_first() -> None:
    """Workspace is registered first; its spec names the slice's functions."""
    registry = default_registry()
    assert registry.names[0] == "Workspace"
    assert registry["Workspace"] is WORKSPACE
    assert WORKSPACE.parse == Workspace.from_manifest
    assert WORKSPACE.validate is validate
    assert WORKSPACE.plan is plan
    assert WORKSPACE.state is workspace_state
    assert WORKSPACE.status_type is WorkspaceStatus


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ("api_version", "kaito.sh/v1beta1"),
        ("api_versions", ("kaito.sh/v1beta1", "kaito.sh/v1alpha1")),
        ("storage_version", "v1beta1"),
        ("qualified", "workspaces.kaito.sh"),
        ("list_kind", "WorkspaceList"),
        ("finalizer", "workspace.finalizer.kaito.sh"),
        ("short_names", ("wk", "wks")),
        ("makes_node_claims", True),
    ],
    ids=lambda v: str(v),
)
def test_workspace_names_are_upstreams(prop: str, expected: Any) -> None:
    """The Workspace's names are those of upstream's CRD and controller."""
    assert getattr(WORKSPACE, prop) == expected


@pytest.mark.upstream
def test_workspace_printer_columns_are_upstreams(reference: Path) -> None:
    """Every version's printer columns begin with upstream's CRD's, in order; v1beta1 then has
    kaito-py's Phase and Since (``status.phase``), and nothing else."""
    crd = yaml.safe_load((reference / "crds" / "kaito.sh_workspaces.yaml").read_text())
    for version in crd["spec"]["versions"]:
        ours = [c.to_crd() for c in WORKSPACE.columns(version["name"])]
        theirs = [
            {k: v for k, v in c.items() if k != "description"}
            for c in version["additionalPrinterColumns"]
        ]
        extra = PHASE_COLUMNS if version["name"] == "v1beta1" else ()
        assert ours == [*theirs, *(c.to_crd() for c in extra)], version["name"]


def test_summary_columns_are_kaito_ups() -> None:
    """``kaito up`` shows the v1alpha1 columns of a Workspace, with its JSON keys."""
    assert [(c.name, key) for c, key in WORKSPACE.summary()] == [
        ("Instance", "instanceType"),
        ("ResourceReady", "resourceReady"),
        ("InferenceReady", "inferenceReady"),
        ("JobStarted", "jobStarted"),
        ("WorkspaceSucceeded", "workspaceSucceeded"),
        ("Age", "age"),
    ]


def test_summary_defaults_to_the_storage_versions_columns() -> None:
    """A kind without summary columns shows its priority-0 printer columns."""
    assert [(c.name, key) for c, key in WIDGET.summary()] == [
        ("Message", "message"),
        ("Ready", "ready"),
        ("Age", "age"),
    ]


@pytest.mark.parametrize(
    ("path", "obj", "expected"),
    [
        (".resource.instanceType", {"resource": {"instanceType": "NC6"}}, "NC6"),
        (".resource.instanceType", {}, ""),
        (".status.targetNodeCount", {"status": {"targetNodeCount": 2}}, "2"),
        (".spec.on", {"spec": {"on": True}}, "true"),
        (
            '.status.conditions[?(@.type=="Ready")].status',
            {
                "status": {
                    "conditions": [
                        {"type": "A", "status": "x"},
                        {"type": "Ready", "status": "True"},
                    ]
                }
            },
            "True",
        ),
        ('.status.conditions[?(@.type=="Ready")].status', {"status": {}}, ""),
        (
            r".metadata.labels.node\.kubernetes\.io/x",
            {"metadata": {"labels": {"node.kubernetes.io/x": "y"}}},
            "y",
        ),
        (".a.b", {"a": "not a map"}, ""),
    ],
    ids=[
        "path",
        "absent",
        "integer",
        "boolean",
        "condition",
        "no-condition",
        "escaped",
        "not-a-map",
    ],
)
def test_printer_column_text(path: str, obj: dict[str, Any], expected: str) -> None:
    """A printer column's value as text, for the JSONPath forms printer columns use."""
    assert PrinterColumn(name="X", type="string", json_path=path).text(obj) == expected


def test_printer_column_crd_form() -> None:
    """``priority`` is written only when set, keys in CRD order."""
    assert PrinterColumn(name="A", type="string", json_path=".a").to_crd() == {
        "jsonPath": ".a",
        "name": "A",
        "type": "string",
    }
    assert PrinterColumn(name="A", type="string", json_path=".a", priority=1).to_crd() == {
        "jsonPath": ".a",
        "name": "A",
        "priority": 1,
        "type": "string",
    }


def test_a_registry_looks_kinds_up_by_name_and_served_version() -> None:
    """``find`` needs a served apiVersion; ``[]`` names the registered kinds when it fails."""
    registry = widget_registry()
    assert registry.names == ("Workspace", "InferenceSet", "RAGEngine", "Widget")
    assert registry.find("kaito.sh/v1alpha1", "Workspace") is WORKSPACE
    assert registry.find("kaito.sh/v2", "Workspace") is None
    assert registry.find("test.kaito.sh/v1", "Widget") is WIDGET
    assert "Widget" in registry
    assert "Gadget" not in registry
    with pytest.raises(KeyError, match="registered: Workspace, InferenceSet, RAGEngine, Widget"):
        registry["Gadget"]


def test_with_kind_appends_or_replaces() -> None:
    """A new kind goes last; a kind of the same name replaces its namesake in place."""
    registry = widget_registry()
    replaced = registry.with_kind(attrs.evolve(WORKSPACE, finalizer="x"))
    assert replaced.names == ("Workspace", "InferenceSet", "RAGEngine", "Widget")
    assert replaced["Workspace"].finalizer == "x"
    assert default_registry().names == ("Workspace", "InferenceSet", "RAGEngine"), (
        "registries are values: nothing leaks"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "Workspace"},
        {"plural": "workspaces", "group": "kaito.sh"},
        {"short_names": ("wk",), "group": "kaito.sh"},
    ],
    ids=["kind", "plural", "short-name"],
)
def test_names_are_unique_in_a_registry(change: dict[str, Any]) -> None:
    """Two kinds cannot share a kind name, a plural or a short name in one group."""
    with pytest.raises(ValueError, match="already taken by Workspace"):
        Registry((WORKSPACE, attrs.evolve(WIDGET, **change)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"summary_columns": (("Nope", "nope"),)}, "summary columns"),
        ({"makes_node_claims": True, "owner_labels": ()}, "owner labels must include"),
    ],
    ids=["summary-column", "machine-labels"],
)
def test_a_spec_is_consistent(change: dict[str, Any], message: str) -> None:
    """Summary columns name printer columns; a kind with machines keeps the labels they carry."""
    with pytest.raises(ValueError, match=message):
        attrs.evolve(WIDGET, **change)


def test_versions_are_required() -> None:
    """A kind serves at least one version (the first is its storage version)."""
    with pytest.raises(ValueError, match="versions"):
        attrs.evolve(WIDGET, versions=())


def test_child_kinds_leave_out_registered_kinds() -> None:
    """Children that are themselves registered kinds have informers of their own already."""
    parent = attrs.evolve(
        WIDGET,
        kind="Parent",
        plural="parents",
        singular="parent",
        short_names=(),
        owns=(KindRef("kaito.sh/v1beta1", "Workspace"), KindRef("v1", "Secret")),
    )
    kinds = [ref.kind for ref in widget_registry().with_kind(parent).child_kinds()]
    assert kinds == [
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Job",
        "ControllerRevision",
        "Deployment",
        "Secret",
    ]


def test_owner_labels_default_to_the_upstream_convention() -> None:
    """``kaito.sh/<kind>`` and ``kaito.sh/<kind>namespace``, as on upstream's NodeClaims."""
    assert WIDGET.owner_labels == (
        OwnerLabels(name="kaito.sh/widget", namespace="kaito.sh/widgetnamespace"),
    )
    assert WORKSPACE.owner_labels[0] == conventional_owner_labels("Workspace")
    assert conventional_owner_labels("RAGEngine") == OwnerLabels(
        name="kaito.sh/ragengine", namespace="kaito.sh/ragenginenamespace"
    )


def test_statuses_round_trip_on_the_wire() -> None:
    """``dump_status`` writes camelCase; ``read_status`` reads it back."""
    status = WorkspaceStatus(
        conditions=(Condition(type="ResourceReady", status="True", reason="ok"),),
        target_node_count=2,
    )
    wire = WORKSPACE.dump_status(status)
    assert wire["targetNodeCount"] == 2
    assert WORKSPACE.read_status({"status": wire}) == status
    assert WORKSPACE.read_status({}) is None
    parsed = WORKSPACE.parse({**_workspace_manifest(), "status": wire})
    assert WORKSPACE.status_of(parsed) == status


def test_is_terminal_reads_the_kinds_state() -> None:
    """Succeeded and Failed are terminal, Pending is not."""
    done = WorkspaceStatus(
        conditions=(Condition(type="WorkspaceSucceeded", status="True", reason="x"),)
    )
    assert WORKSPACE.is_terminal(done, now=NOW, failure_grace=600)
    assert not WORKSPACE.is_terminal(None, now=NOW, failure_grace=600)


def test_ignoring_settings_adapts_a_settings_free_planner() -> None:
    """A planner of (obj, *, observed, catalog, now) fits the engine's planner shape."""
    seen: list[Any] = []

    def plan_thing(obj: Any, *, observed: Observed, catalog: Any, now: str) -> Outcome[str]:
        """Plans a thing."""
        seen.append((obj, now))
        return Outcome(status="done")

    adapted = ignoring_settings(plan_thing)
    outcome = adapted("thing", observed=Observed(), catalog=None, now="t", settings=object())
    assert outcome.status == "done"
    assert seen == [("thing", "t")]
    assert adapted.__doc__ == "Plans a thing."


def test_the_widget_slice_parses_validates_and_plans() -> None:
    """The test-only kind is a complete slice (what the engine, CLI and server tests use)."""
    obj = WIDGET.parse(widget("w", "hi"))
    assert WIDGET.validate(obj, old=None, catalog=None, context=None) == []
    outcome = WIDGET.plan(obj, observed=Observed(), catalog=None, now="t", settings=None)
    assert [o["kind"] for o in outcome.apply] == ["ConfigMap"]
    assert WIDGET.state(outcome.status, now=NOW)[0] == "Pending"


def _workspace_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default"},
        "resource": {"instanceType": "Standard_NC6s_v3"},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }
