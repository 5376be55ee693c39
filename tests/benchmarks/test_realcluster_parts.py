"""The real-cluster benchmark's parts that need no cluster: the controller command template, the
audit log read as request counts, the tables, and the command line (``--compare``, bad usage).
The benchmark itself runs in the real-cluster tier (tests/realcluster/test_benchmark.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks import realcluster, run
from benchmarks.audit import Audit, counted, requests, resource_of, writes
from benchmarks.controllers import PLACEHOLDERS, TemplateError, render, rss_kib
from benchmarks.report import requests_table, summary_table
from tests.realcluster.cluster import AuditEvent

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS} | {"kubeconfig": "/tmp/a b/kubeconfig"}


@pytest.mark.parametrize(
    ("template", "argv"),
    [
        pytest.param(
            "/opt/manager --kubeconfig={kubeconfig} "
            "--health-probe-bind-address=127.0.0.1:{health_port}",
            [
                "/opt/manager",
                "--kubeconfig=/tmp/a b/kubeconfig",
                "--health-probe-bind-address=127.0.0.1:<health_port>",
            ],
            id="placeholders-in-words",
        ),
        pytest.param(
            "{python} -c 'import x; x.main()' run",
            ["<python>", "-c", "import x; x.main()", "run"],
            id="quoted-word-stays-one-argument",
        ),
        pytest.param("m '{{literal}}'", ["m", "{literal}"], id="doubled-braces"),
    ],
)
def test_a_template_becomes_an_argument_list(template: str, argv: list[str]) -> None:
    """Split as a shell would, never run by one; a value with a space stays one argument."""
    assert render(template, VALUES) == argv


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param("m {token}", "unknown placeholder {token}", id="unknown"),
        pytest.param("m {kubeconfig.__class__}", "unknown placeholder", id="attribute"),
        pytest.param("m {kubeconfig[0]}", "unknown placeholder", id="index"),
        pytest.param("m {kubeconfig!r}", "unknown placeholder", id="conversion"),
        pytest.param("m {kubeconfig:>9}", "unknown placeholder", id="format-spec"),
        pytest.param("m {", "--controller-command", id="unbalanced-brace"),
        pytest.param("m 'open", "--controller-command", id="unbalanced-quote"),
        pytest.param("   ", "is empty", id="empty"),
    ],
)
def test_a_bad_template_is_refused_with_a_reason(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("[", r"\[")):
        render(template, VALUES)


def test_resident_memory_of_this_process_is_read_from_proc() -> None:
    rss, peak = rss_kib(os.getpid())
    assert 0 < rss <= peak


def _entry(
    verb: str,
    resource: str,
    stage: str = "ResponseComplete",
    *,
    code: int = 200,
    group: str = "",
    subresource: str = "",
    user: str = "system:serviceaccount:kaito-system:kaito-workspace",
) -> dict[str, Any]:
    ref = {"resource": resource, "apiGroup": group, "subresource": subresource}
    return {
        "stage": stage,
        "verb": verb,
        "requestURI": f"/x/{resource}",
        "user": {"username": user},
        "objectRef": {k: v for k, v in ref.items() if v},
        "responseStatus": {"code": code},
        "requestReceivedTimestamp": "2026-12-06T07:50:23.856295Z",
    }


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(_entry("get", "pods"), True, id="a-get-when-complete"),
        pytest.param(_entry("watch", "pods", "ResponseStarted"), True, id="a-watch-when-started"),
        pytest.param(_entry("watch", "pods"), False, id="not-again-when-the-watch-ends"),
        pytest.param(_entry("watch", "pods", code=403), True, id="a-refused-watch-never-starts"),
        pytest.param(_entry("get", "pods", "Panic", code=500), True, id="a-panic"),
        pytest.param(_entry("get", "pods", "RequestReceived"), False, id="not-when-received"),
    ],
)
def test_each_request_is_counted_once(entry: dict[str, Any], expected: bool) -> None:
    assert counted(AuditEvent.of(entry)) is expected


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        pytest.param(_entry("get", "pods"), "pods", id="core"),
        pytest.param(
            _entry("patch", "workspaces", group="kaito.sh", subresource="status"),
            "workspaces.kaito.sh/status",
            id="group-and-subresource",
        ),
        pytest.param(
            {**_entry("get", ""), "objectRef": None, "requestURI": "/metrics?x=1"},
            "(non-resource) /metrics",
            id="non-resource",
        ),
    ],
)
def test_resources_are_named_as_kubectl_does(entry: dict[str, Any], name: str) -> None:
    assert resource_of(AuditEvent.of(entry)) == name


def test_the_audit_log_is_read_between_marks_without_losing_or_repeating(tmp_path: Path) -> None:
    """A line still being written at a mark belongs to the next window; other users are not
    counted."""
    log = tmp_path / "audit.log"
    first = [
        _entry("get", "pods"),
        _entry("patch", "workspaces", group="kaito.sh", subresource="status"),
        _entry("update", "leases", group="coordination.k8s.io"),
        _entry("get", "pods", user="kaito-admin"),
    ]
    partial = json.dumps(_entry("create", "events"))
    log.write_text("".join(json.dumps(e) + "\n" for e in first) + partial[:40])
    audit = Audit(log, "system:serviceaccount:kaito-system:kaito-workspace")
    mark = audit.mark()
    assert audit.tally(0, mark) == {
        "get pods": 1,
        "patch workspaces.kaito.sh/status": 1,
        "update leases.coordination.k8s.io": 1,
    }
    with log.open("a") as f:
        f.write(partial[40:] + "\n")
    end = audit.mark()
    tally = audit.tally(mark, end)
    assert tally == {"create events": 1}
    both = audit.tally(0, end)
    assert requests(both) == 3
    assert writes(both) == 2
    assert requests(both, bookkeeping=True) == 1
    assert writes(both, bookkeeping=True) == 1


STAGES: list[dict[str, Any]] = [
    {"stage": "start", "size": 0, "rss_kib": 102400, "peak_kib": 102400, "load": [1.0, 1.0, 1.0]},
    {
        "stage": "+10",
        "size": 10,
        "added": 10,
        "ready_s": 12.3,
        "converge": {
            "create events": 40,
            "patch workspaces.kaito.sh/status": 30,
            "list nodeclaims.karpenter.sh": 50,
            "update leases.coordination.k8s.io": 4,
        },
        "rss_kib": 153600,
        "peak_kib": 160000,
        "load": [2.0, 1.5, 1.0],
        "steady": {
            "window_s": 60.0,
            "requests": {
                "list nodeclaims.karpenter.sh": 10,
                "update leases.coordination.k8s.io": 20,
            },
            "rss_kib": 153600,
            "peak_kib": 161000,
            "load": [2.5, 1.5, 1.0],
        },
    },
]


def test_the_summary_has_a_row_per_stage_with_per_workspace_figures() -> None:
    text = summary_table(STAGES)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["STAGE", "WORKSPACES", "READY"]
    assert lines[1].startswith("start (idle)")
    row = lines[2].split()
    # 120 requests and 70 writes for 10 Workspaces; 10 steady requests, no steady write;
    # 24 Lease requests; 150 MiB resident, 157 MiB at peak
    assert row[:10] == ["converge", "+10", "10", "12", "12.00", "7.00", "60", "s", "10", "0"]
    assert row[10:13] == ["24", "150", "157"]


def test_the_requests_table_lists_each_verb_and_resource_leases_last() -> None:
    lines = requests_table(STAGES).splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [
        ["create", "events"],
        ["list", "nodeclaims.karpenter.sh"],
        ["patch", "workspaces.kaito.sh/status"],
        ["update", "leases.coordination.k8s.io"],
    ]
    assert lines[2].split()[2:] == ["50", "5.00", "10"]


def _snapshot(path: Path, value: str) -> Path:
    path.write_text(json.dumps({"v1 ConfigMap <namespace>/c": {"data": {"k": value}}}))
    return path


def test_compare_exits_0_for_equal_snapshots_and_1_with_the_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As ``diff`` does; no cluster is started for it, also through benchmarks.run."""
    a, b, c = (
        _snapshot(tmp_path / f"{n}.json", v) for n, v in (("a", "1"), ("b", "1"), ("c", "2"))
    )
    assert realcluster.main(["--compare", str(a), str(b)]) == 0
    assert "no differences" in capsys.readouterr().out
    assert run.main(["--realcluster", "--compare", str(a), str(c)]) == 1
    out = capsys.readouterr().out
    assert "data.k" in out
    assert "fields_differing=1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--sizes", "100,10"], "increasing", id="sizes-shrink"),
        pytest.param(["--sizes", "ten"], "comma-separated", id="sizes-not-numbers"),
        pytest.param(["--service-account", "kaito"], "NAMESPACE/NAME", id="service-account"),
        pytest.param(["--controller-command", "m {token}"], "unknown placeholder", id="template"),
        pytest.param(
            ["--controller-command", "m", "--ready-url", "http://{x}"],
            "unknown placeholder",
            id="ready-url",
        ),
        pytest.param(
            ["--install", "crds.yaml"], "goes with --controller-command", id="install-alone"
        ),
    ],
)
def test_bad_usage_exits_2_with_one_line_saying_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any cluster starts."""
    try:
        code = realcluster.main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_compare_of_an_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert realcluster.main(["--compare", str(tmp_path / "no"), str(tmp_path / "no")]) == 2
    assert "error:" in capsys.readouterr().err
