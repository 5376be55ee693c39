"""The CLI reads any registered kind: ``validate``, ``plan``, ``up`` and ``manifests`` of a Widget.

The Widget (``tests/widget.py``) reaches the CLI only through ``main(..., registry=)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito_backends.cli import main
from kaito_core.api import load_documents
from tests.conftest import EXAMPLES
from tests.widget import CRATE, FORBIDDEN, crate, widget, widget_registry

WIDGETS = widget_registry()
PHI3 = EXAMPLES / "workspace-phi-3-mini.yaml"


def _write(tmp_path: Path, *docs: dict[str, Any], name: str = "in.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_load_documents_parses_registered_kinds_only() -> None:
    """A Widget is a parsed object with the registry that has it, a plain manifest without."""
    text = yaml.safe_dump_all([widget("w"), {**widget("bad"), "spec": {"message": 1}}])
    with_widgets = load_documents(text, registry=WIDGETS)
    assert [d.spec.kind if d.spec else None for d in with_widgets.documents] == ["Widget"] * 2
    assert with_widgets.documents[0].obj.spec.message == "hello"
    assert [e.path for e in with_widgets.documents[1].errors] == ["spec.message"]
    assert len(with_widgets.objects) == 2
    plain = load_documents(text)
    assert [(d.spec, d.obj, d.errors) for d in plain.documents] == [(None, None, ())] * 2


@pytest.mark.parametrize(
    ("docs", "code", "out", "err"),
    [
        ([widget("w")], 0, "", "1 Widget(s) valid"),
        ([widget("w", " ")], 1, "Widget/w: spec.message: must not be empty", ""),
        ([{**widget("w"), "spek": {}}], 1, "Widget/w: spek: unknown field", ""),
    ],
    ids=["valid", "invalid", "unknown-field"],
)
def test_validate_judges_widgets(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    docs: list[dict[str, Any]],
    code: int,
    out: str,
    err: str,
) -> None:
    """One ``FILE: Widget/NAME: FIELD.PATH: message`` line per problem, the Widget's rules."""
    path = _write(tmp_path, *docs)
    assert main(["validate", path], registry=WIDGETS) == code
    captured = capsys.readouterr()
    if out:
        assert captured.out.splitlines() == [f"{path}: {out}"]
    if err:
        assert captured.err.strip() == err


def test_validate_counts_each_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Workspaces and Widgets side by side, counted per kind in registry order."""
    path = _write(tmp_path, widget("w"), yaml.safe_load(PHI3.read_text()))
    assert main(["validate", path], registry=WIDGETS) == 0
    assert capsys.readouterr().err.strip() == "1 Workspace(s), 1 Widget(s) valid"


def test_without_the_registration_a_widget_is_not_handled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default registry does not know Widgets: --strict says so."""
    path = _write(tmp_path, widget("w"))
    assert main(["validate", "--strict", path]) == 1
    assert capsys.readouterr().out.strip() == (
        f"{path}: Widget/w: kind: Widget (test.kaito.sh/v1) is not handled by kaito validate"
    )


def test_plan_prints_the_widgets_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Widget's planner, its objects as YAML; a refused spec is a problem line."""
    path = _write(tmp_path, widget("w", "hi"))
    assert main(["plan", path], registry=WIDGETS) == 0
    (cm,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert (cm["kind"], cm["metadata"]["name"], cm["data"]) == (
        "ConfigMap",
        "w-widget",
        {"message": "hi"},
    )
    refused = _write(tmp_path, widget("no", FORBIDDEN), name="refused.yaml")
    assert main(["plan", refused], registry=WIDGETS) == 1
    assert capsys.readouterr().out.strip() == (
        f"{refused}: Widget/no: spec.message: this message is refused"
    )


def test_up_runs_a_widget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Progress, the Widget's own table (its summary columns), exit 0."""
    assert main(["up", _write(tmp_path, widget("w", "hi"))], registry=WIDGETS) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "[00:00:00] w: Ready" in lines
    header = lines.index(next(line for line in lines if line.startswith("NAME")))
    assert lines[header].split() == ["NAME", "MESSAGE", "READY", "AGE"]
    assert lines[header + 1].split() == ["w", "hi", "True", "0s"]


def test_up_with_two_kinds_names_the_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Workspace and a Widget: a table per kind, every name as ``Kind/name``."""
    path = _write(tmp_path, widget("w"), yaml.safe_load(PHI3.read_text()))
    assert main(["up", path], registry=WIDGETS) == 0
    out = capsys.readouterr().out
    assert "Workspace/workspace-phi-3-mini: Ready" in out
    assert "Widget/w: Ready" in out
    *tables, report = out.split("\n\n")  # then the Workspaces' predicted time to ready
    assert report.splitlines()[1].split()[:2] == ["Workspace/workspace-phi-3-mini", "total"]
    assert tables[-2].splitlines()[-1].split()[0] == "Workspace/workspace-phi-3-mini"
    assert tables[-1].splitlines()[0].split() == ["NAME", "MESSAGE", "READY", "AGE"]
    assert tables[-1].splitlines()[1].split()[0] == "Widget/w"


def test_up_json_keys_items_by_plural(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-o json``: one list per kind, under its plural, with its summary columns."""
    path = _write(tmp_path, widget("w", "hi"))
    assert main(["up", "-o", "json", "--quiet", path], registry=WIDGETS) == 0
    data = json.loads(capsys.readouterr().out)
    assert "workspaces" not in data
    (item,) = data["widgets"]
    assert {k: item[k] for k in ("name", "message", "ready", "state")} == {
        "name": "w",
        "message": "hi",
        "ready": "True",
        "state": "Succeeded",
    }


def test_up_names_the_kind_when_one_makes_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Crate alone makes Widgets: its lines and theirs are told apart by kind."""
    registry = WIDGETS.with_kind(CRATE)
    assert main(["up", _write(tmp_path, crate("c", count=2))], registry=registry) == 0
    out = capsys.readouterr().out
    assert "Crate/c: Ready" in out
    assert "Widget/c-0: Ready" in out


def test_up_reports_a_failed_widget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Widget its planner refuses fails with the reason and message; exit 1."""
    path = _write(tmp_path, widget("w", FORBIDDEN))
    assert main(["up", "--quiet", path], registry=WIDGETS) == 1
    assert "error: w failed: Refused: this message is refused" in capsys.readouterr().err


def test_manifests_has_every_kinds_crd(capsys: pytest.CaptureFixture[str]) -> None:
    """``kaito manifests --crd-only`` prints a CRD per registered kind."""
    assert main(["manifests", "--crd-only"], registry=WIDGETS) == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert names == [
        "workspaces.kaito.sh",
        "inferencesets.kaito.sh",
        "ragengines.kaito.sh",
        "widgets.test.kaito.sh",
    ]
