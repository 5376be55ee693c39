"""``kaito plan FILE...``: every object a Workspace (or an object of any registered kind)
needs, rendered without touching a cluster.

The files are read and validated by the code ``kaito validate`` runs, with the same flags
(``--byo``, ``--provisioner``, ``--cloud-provider``, ``--feature-gates``, ``--node-class``,
``--strict``; ``vLLM=false`` plans Transformers); ConfigMaps, Secrets and Nodes are pooled
across files and, as the files are the whole cluster, a ConfigMap they lack does not exist. Any
problem prints one ``FILE: Kind/NAME: FIELD.PATH: message`` line and nothing is planned.
Each object is then planned by its kind's planner against an empty cluster (its namespace's
ConfigMaps and, for ``--provisioner byo`` or ``--byo``, the Nodes given in the files) and the
NodeClaims and objects are printed: multi-document YAML (default) or a JSON ``v1 List``;
``--summary`` prints one line per Workspace instead, an InferenceSet's replica Workspaces
included (with the predicted time to ready;
``--phases`` adds it phase by phase, ``--readiness-figures FILE`` changes the model's figures:
`kaito_backends.cli.readiness`), and with ``--check-quota`` whether each Workspace's nodes fit
the Azure vCPU quota (`kaito_backends.cli.quota_check`: read-only, needs Azure credentials).
Output is byte-identical across runs (the quota lines depend on Azure's answer).

Exit codes: 0 planned, 1 invalid input or an object that cannot be planned (one line each) or
whose nodes do not fit the quota, 2 unreadable input or a quota check that could not be made.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kaito_backends.cli.inputs import (
    Inputs,
    ObjectInput,
    add_validation_arguments,
    check,
    internal_error_line,
    plan_settings,
    problem_line,
)
from kaito_backends.cli.output import dump_json, dump_yaml, table
from kaito_backends.cli.quota_check import add_quota_arguments, check_quota_of
from kaito_backends.cli.readiness import (
    SUMMARY_HEADER,
    add_readiness_arguments,
    load_figures,
    predictions,
    print_phases,
    summary_cells,
)
from kaito_core.api import Workspace
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome, PlanSummary
from kaito_core.plan import PlanSettings
from kaito_core.readiness import Prediction
from kaito_core.registry import default_registry
from kaito_presets import default_catalog

__all__ = ["SUMMARY_HEADERS", "format_duration", "register", "run", "summary_row"]

#: A fixed instant: `kaito plan` output must not change from one run to the next.
_PLAN_TIME = "1970-01-01T00:00:00Z"
SUMMARY_HEADERS = (
    "workspace",
    "mode",
    "instance",
    "nodes",
    "gpus/node",
    "tp/pp/dp",
    "disk",
    "runtime",
    "dtype",
    "served model",
    "ready within",
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="render the objects a Workspace needs (node claims, StatefulSet, Services, Job)",
        description="Validate the Workspaces in FILE... and print every object the engine would "
        "create for them on an empty cluster. Output is byte-identical across runs. Exit 0 "
        "planned, 1 invalid input, 2 unreadable input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json"),
        default="yaml",
        help="yaml: one document per object (default); json: a v1 List",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="one line per Workspace (instance type, nodes, GPUs, parallelism, disk, runtime, "
        "dtype, served model, readiness timeout, predicted time to ready) instead of the "
        "manifests",
    )
    add_validation_arguments(parser, provisioning=True)
    add_quota_arguments(parser)
    add_readiness_arguments(parser, command="plan")
    parser.set_defaults(func=run)


def format_duration(seconds: int) -> str:
    """``1800`` -> ``30m``, ``3270`` -> ``54m30s``, ``0`` -> ``-``."""
    if seconds <= 0:
        return "-"
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest}s"
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"


def summary_row(summary: PlanSummary) -> tuple[object, ...]:
    """One row of ``kaito plan --summary``, in `SUMMARY_HEADERS` order."""
    return (
        summary.workspace,
        summary.mode,
        summary.instance_type,
        summary.nodes,
        summary.gpus_per_node,
        f"{summary.tensor_parallel}/{summary.pipeline_parallel}/{summary.data_parallel}",
        summary.disk,
        summary.runtime,
        summary.dtype,
        summary.served_model_name,
        format_duration(summary.readiness_timeout_seconds),
    )


def _problem(item: ObjectInput, outcome: Outcome[Any], byo: bool) -> str:
    error = outcome.error
    assert error is not None
    line = problem_line(item.file, item.label, error.path, error.message)
    if byo and error.reason == "NodesNotFound":
        line += " (with --provisioner byo, give the Node manifests in one of the files)"
    return line


def _plan_all(
    inputs: Inputs, settings: PlanSettings
) -> tuple[list[Outcome[Any]], list[str], list[str]]:
    """Outcomes, problem lines (stdout) and internal errors (stderr)."""
    catalog = default_catalog()
    nodes = inputs.nodes if not settings.node_auto_provisioning else ()
    outcomes: list[Outcome[Any]] = []
    problems: list[str] = []
    internal: list[str] = []
    for item in inputs.objects:
        observed = Observed(config_maps=inputs.config_maps_in(item.namespace), nodes=nodes)
        try:
            outcome = item.spec.plan(
                item.obj,
                observed=observed,
                catalog=catalog,
                now=_PLAN_TIME,
                settings=settings,
            )
        except Exception as exc:  # never a traceback, whatever the input
            internal.append(internal_error_line(item.file, item.label, exc))
            continue
        if outcome.error is not None:
            problems.append(_problem(item, outcome, not settings.node_auto_provisioning))
        else:
            outcomes.append(outcome)
    return outcomes, problems, internal


def _planned_children(
    outcomes: Sequence[Outcome[Any]], inputs: Inputs, settings: PlanSettings
) -> tuple[list[Outcome[Any]], list[Workspace]]:
    """For ``--summary``: the objects of registered kinds that planned objects ask for (an
    InferenceSet's replica Workspaces), each planned in turn against the same cluster, and the
    Workspaces among them (their predictions need them)."""
    registry = default_registry()
    catalog = default_catalog()
    nodes = inputs.nodes if not settings.node_auto_provisioning else ()
    children: list[Outcome[Any]] = []
    workspaces: list[Workspace] = []
    for outcome in outcomes:
        for manifest in outcome.desired:
            spec = registry.find(str(manifest.get("apiVersion")), str(manifest.get("kind")))
            if spec is None:
                continue
            obj = spec.parse(manifest)
            observed = Observed(config_maps=inputs.config_maps_in(obj.namespace), nodes=nodes)
            child = spec.plan(
                obj, observed=observed, catalog=catalog, now=_PLAN_TIME, settings=settings
            )
            if child.error is None and child.summary is not None:
                children.append(child)
                if isinstance(obj, Workspace):
                    workspaces.append(obj)
    return children, workspaces


def _print_summary(
    outcomes: Sequence[Outcome[Any]], found: Mapping[str, Prediction], phases: bool
) -> None:
    summaries = [o.summary for o in outcomes if o.summary is not None]
    rows = [(*summary_row(s), *summary_cells(s, found)) for s in summaries]
    print(table((*SUMMARY_HEADERS, SUMMARY_HEADER), rows))
    for summary in summaries:
        for note in summary.notes:
            print(f"note: {summary.workspace}: {note}")
    if phases:
        print_phases(found)


def run(args: argparse.Namespace) -> int:
    if args.check_quota and not args.summary:
        print("kaito plan: --check-quota needs --summary", file=sys.stderr)
        return 2
    if args.phases and not args.summary:
        print("kaito plan: --phases needs --summary", file=sys.stderr)
        return 2
    figures, status = load_figures(args.readiness_figures, command="plan")
    if figures is None:
        return status
    checked = check(args, command="plan", complete=True)
    if checked.status or checked.context is None:
        return checked.status
    inputs = checked.inputs
    settings = plan_settings(checked.context)
    outcomes, problems, internal = _plan_all(inputs, settings)
    for line in internal:
        print(line, file=sys.stderr)
    for line in problems:
        print(line)
    if internal:
        return 2
    if problems:
        return 1
    if args.summary:
        children, workspaces = _planned_children(outcomes, inputs, settings)
        outcomes = [*outcomes, *children]
        found = predictions(
            outcomes, inputs, settings=settings, figures=figures, workspaces=workspaces
        )
        _print_summary(outcomes, found, args.phases)
        if not args.check_quota:
            return 0
        return check_quota_of(args, [o for o in outcomes if o.summary is not None])
    documents = [obj for o in outcomes for obj in (*o.node_claims, *o.desired)]
    if args.output == "json":
        sys.stdout.write(dump_json({"apiVersion": "v1", "kind": "List", "items": documents}))
    else:
        sys.stdout.write(dump_yaml(documents))
    return 0
