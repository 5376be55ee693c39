"""``kaito plan``: every object a Workspace needs, rendered without touching a cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kaito_backends.cli.inputs import InputError, read_inputs
from kaito_backends.cli.output import dump_json, dump_yaml, table
from kaito_core.observed import Observed
from kaito_core.plan import PlanSettings, plan
from kaito_presets import default_catalog

__all__ = ["register", "run"]

#: A fixed instant: `kaito plan` output must not change from one run to the next.
_PLAN_TIME = "1970-01-01T00:00:00Z"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="render the objects a Workspace needs (node claims, StatefulSet, Services, Job)",
        description="Validate the Workspaces in FILE... and print every object the engine would "
        "create for them on an empty cluster. Output is byte-identical across runs.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--summary", action="store_true", help="one line per Workspace instead of the manifests"
    )
    parser.add_argument(
        "--provisioner",
        default="karpenter",
        choices=("karpenter", "azure-gpu-provisioner", "aks", "fake", "byo"),
        help="how nodes are provisioned (default: karpenter NodeClaims)",
    )
    parser.set_defaults(func=run)


def _summary_rows(outcomes: list[Any]) -> list[tuple[object, ...]]:
    rows = []
    for o in outcomes:
        s = o.summary
        rows.append(
            (
                s.workspace,
                s.mode,
                s.instance_type,
                s.nodes,
                s.gpus_per_node,
                f"{s.tensor_parallel}/{s.pipeline_parallel}/{s.data_parallel}",
                s.disk,
                s.runtime,
                s.dtype,
                s.served_model_name,
                f"{s.readiness_timeout_seconds // 60}m" if s.readiness_timeout_seconds else "-",
            )
        )
    return rows


def run(args: argparse.Namespace) -> int:
    try:
        inputs = read_inputs([Path(f) if f != "-" else None for f in args.files])
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    problems = inputs.validate(provisioner=args.provisioner)
    if problems:
        for line in problems:
            print(line)
        return 1
    settings = PlanSettings(provisioner=args.provisioner)
    catalog = default_catalog()
    outcomes = []
    for item in inputs.workspaces:
        observed = Observed(config_maps=inputs.config_maps_for(item.workspace))
        outcome = plan(item.workspace, observed=observed, catalog=catalog, now=_PLAN_TIME, settings=settings)
        if outcome.error is not None:
            print(f"{item.file}: {item.label}: {outcome.error.path}: {outcome.error.message}")
            return 1
        outcomes.append(outcome)
    if args.summary:
        headers = ("workspace", "mode", "instance", "nodes", "gpus/node", "tp/pp/dp", "disk",
                   "runtime", "dtype", "served model", "ready within")
        print(table(headers, _summary_rows(outcomes)))
        for o in outcomes:
            for note in o.summary.notes:
                print(f"note: {o.summary.workspace}: {note}")
        return 0
    documents = [obj for o in outcomes for obj in (*o.node_claims, *o.desired)]
    sys.stdout.write(dump_json(documents) if args.output == "json" else dump_yaml(documents))
    return 0
