"""``kaito up FILE...``: run Workspaces (and objects of any registered kind) to completion on an
embedded fake cluster, in virtual time.

The files are read and validated by the code ``kaito validate`` runs, with the same flags
(``--cloud-provider``, ``--provisioner``, ``--byo``, ``--node-class``, ``--feature-gates``,
``--strict``; problems: one line each, exit 1). The objects of registered kinds (in the version
the engine reads: a v1alpha1 object that would not read as its kind's storage version, such as
a RAGEngine with a flat ``storage``, is converted first), ConfigMaps and Secrets are then
created in an in-memory `FakeCluster`, whose simulated provisioner launches the selected
cloud's instance types (Azure, AWS or Arc); with ``--byo`` (or ``--provisioner byo``) nothing
is provisioned and the Node manifests given in the files join the cluster as the GPU nodes.
Then the engine's controller runs them under a `VirtualClock`: GPU nodes launch, images pull,
models load, in seconds of wall time. Progress lines show what happens, at virtual time::

    [00:01:30] workspace-phi-3-mini: node ws1a2b3c4d5-0 Ready (Standard_NC6s_v3)

Then a table per kind, of the columns its `kaito_core.kinds.KindSpec` names for ``kaito up``
(a Workspace's are upstream's ``kubectl get workspace`` v1alpha1 columns). Names are qualified
as needed: ``namespace/name`` when the objects span namespaces, ``Kind/...`` when more than one
kind can appear (several in the input, or one that makes objects of another registered kind).
After them, the predicted and simulated time to ready of every Workspace (``--phases``: phase
by phase; `kaito_backends.cli.readiness`): the fake cluster takes its durations from the same
time-to-ready model, on the figures ``--readiness-figures FILE`` gives. Exit 0 when every
object succeeded; 1 when one failed or the ``--timeout`` (virtual minutes) passed first, with
the failing condition's message; 2 when a file cannot be read. ``--faults SEED`` injects
moderate, seeded API faults (conflicts, throttling, server errors, dropped watches): the result
must not change. ``--load PROFILE`` simulates requests on an InferenceSet and autoscales it
(`kaito_backends.cli.load`).

``--kubeconfig PATH`` (``--context NAME``) applies the objects to that cluster instead, where an
operator runs, and follows them there with the same lines, table, JSON and exit codes
(`kaito_backends.cli.up_remote`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from kaito_backends.cli import readiness
from kaito_backends.cli.faults import fault_json, fault_summary
from kaito_backends.cli.inputs import (
    Inputs,
    ObjectInput,
    add_validation_arguments,
    check,
    plan_settings,
    registry_of,
)
from kaito_backends.cli.load import LoadRun, add_load_argument, prepare
from kaito_backends.cli.output import dump_json, table
from kaito_backends.cli.progress import Names, Progress, condition_of, kinds_reached
from kaito_backends.cli.up_remote import add_remote_arguments
from kaito_backends.engine.controller import Controller, Settled
from kaito_backends.engine.logs import configure_logging
from kaito_backends.errors import AlreadyExists, BackendError
from kaito_backends.fake import FakeCluster, FaultPlan, Timings
from kaito_backends.objects import Key, Manifest, clone
from kaito_core.api import ManifestError
from kaito_core.kinds import KindSpec, Registry
from kaito_core.readiness import ReadinessFigures
from kaito_core.validation import ValidationContext

__all__ = ["human_duration", "moderate_faults", "register", "report", "run"]


def moderate_faults(seed: int) -> FaultPlan:
    """The ``--faults`` plan: a few percent of API calls conflict, throttle or fail, watches
    drop, and a quarter of machine launches are refused for capacity (the refused NodeClaim is
    replaced, as Karpenter would). Every fault here is one the engine recovers from."""
    return FaultPlan(
        seed,
        conflict_rate=0.05,
        throttle_rate=0.02,
        server_error_rate=0.02,
        watch_drop_rate=0.01,
        launch_failure_rate=0.25,
        retry_after=1.0,
    )


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "up",
        help="run Workspaces to completion on an embedded fake cluster (virtual time)",
        description="Validate the Workspaces (and objects of other KAITO kinds) in FILE..., "
        "create them (with the ConfigMaps and Secrets given) in an in-memory cluster with "
        "simulated GPU nodes, and run the engine until every object succeeded or failed, in "
        "virtual time. Exit 0 all succeeded, 1 invalid input, a failure or a timeout, 2 "
        "unreadable input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument(
        "--faults",
        type=int,
        metavar="SEED",
        default=None,
        help="inject moderate seeded API faults (conflicts, throttling, 500s, dropped watches)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="MINUTES",
        default=30.0,
        help="give up after this many virtual minutes (default 30)",
    )
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument(
        "--log-format",
        choices=("console", "json"),
        default="console",
        help="engine logs (warnings and errors) on stderr",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_load_argument(parser)
    add_validation_arguments(parser, provisioning=True)
    readiness.add_readiness_arguments(parser, command="up")
    add_remote_arguments(parser)
    parser.set_defaults(func=run)


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: ``45s``, ``6m30s``, ``15m``, ``2h5m``, ``3d4h``."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        days, rest = divmod(hours, 24)
        return f"{days}d" if rest == 0 else f"{days}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = divmod(hours // 24, 365)
    if hours < 24 * 365 * 8 and days:
        return f"{years}y{days}d"
    return f"{years}y"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _float16_note(obj: Mapping[str, Any]) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        for part in str(cond.get("message") or "").split("; "):
            if "float16" in part:
                return part
    return None


async def _bring_up(
    inputs: Inputs,
    args: argparse.Namespace,
    context: ValidationContext,
    progress_out: TextIO | None,
    names: Names,
    figures: ReadinessFigures,
    load: LoadRun | None = None,
) -> tuple[Settled, FakeCluster, readiness.PhaseClock]:
    faults = moderate_faults(args.faults) if args.faults is not None else None
    cluster = FakeCluster(faults=faults, timings=Timings(figures=figures))
    client = cluster.client()
    for (namespace, _), manifest in [*inputs.config_maps.items(), *inputs.secrets.items()]:
        obj = clone(dict(manifest))
        obj.setdefault("metadata", {})["namespace"] = namespace
        await _create(cluster, obj)
    for item in inputs.objects:
        obj = clone(dict(_stored_form(item)))
        obj.setdefault("metadata", {})["namespace"] = item.namespace
        await _create(cluster, obj)
    for node in inputs.nodes:
        _join(cluster, node)
    provisioner = cluster.provisioner()
    settings = plan_settings(context, provisioner=provisioner.name)
    controller = Controller(
        client,
        provisioner,
        clock=cluster.clock,
        settings=settings,
        workers=4,
        registry=registry_of(args),
        hooks=getattr(args, "hooks", None),
    )
    if progress_out is not None:
        Progress(controller, progress_out, names=names)
    phases = readiness.PhaseClock(controller)
    try:
        if load is not None:
            settled = await load.drive(
                controller, cluster, out=progress_out, names=names, timeout=args.timeout * 60.0
            )
        else:
            settled = await controller.run_until_settled(args.timeout * 60.0)
    finally:
        await controller.stop()
    return settled, cluster, phases


def _stored_form(item: ObjectInput) -> Mapping[str, Any]:
    """The manifest to store: as given, unless the engine could not read it in its kind's
    storage version (a v1alpha1 RAGEngine's flat ``storage``), then converted as the slice's
    ``as_v1beta1`` does. (A real API server without a conversion webhook prunes such fields.)"""
    manifest = item.document.manifest
    spec = item.spec
    if manifest.get("apiVersion") == spec.api_version:
        return manifest
    try:
        spec.parse({**manifest, "apiVersion": spec.api_version})
    except ManifestError:
        convert = getattr(item.obj, "as_v1beta1", None)
        if spec.storage_version == "v1beta1" and callable(convert):
            converted: Mapping[str, Any] = convert().to_manifest()
            return converted
    return manifest


class SetupError(Exception):
    """An input object the fake API server refuses (a name given twice, an invalid object)."""


async def _create(cluster: FakeCluster, obj: Manifest) -> None:
    """Create through the store: setting the stage is not subject to the fault plan."""
    meta = obj.get("metadata") or {}
    what = f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"
    try:
        cluster.store.create(obj)
    except AlreadyExists:
        raise SetupError(f"{what} is defined more than once") from None
    except BackendError as error:
        raise SetupError(f"{what}: {error}") from None


def _join(cluster: FakeCluster, node: Manifest) -> None:
    """A Node given in the files joins the cluster (bring-your-own nodes)."""
    name = (node.get("metadata") or {}).get("name")
    try:
        cluster.join_node(node)
    except AlreadyExists:
        raise SetupError(f"Node/{name} is defined more than once") from None
    except BackendError as error:
        raise SetupError(f"Node/{name}: {error}") from None


def _find(cluster: FakeCluster, spec: KindSpec[Any, Any], key: Key) -> Manifest | None:
    found: Manifest | None = cluster.store.find(
        spec.api_version, spec.kind, key.namespace, key.name
    )
    return found


def _cells(spec: KindSpec[Any, Any], obj: Mapping[str, Any] | None, now: datetime) -> list[str]:
    """The summary columns of one object (blank when it is gone), ages as kubectl prints them."""
    cells = []
    for column, _ in spec.summary():
        value = column.text(obj) if obj is not None else ""
        if value and column.type == "date":
            try:
                born = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                value = ""
            else:
                value = human_duration((now - born).total_seconds())
        cells.append(value)
    return cells


def _failure(
    spec: KindSpec[Any, Any],
    obj: Mapping[str, Any] | None,
    key: Key,
    settled: Settled,
    now: Any,
) -> tuple[str, str]:
    """(reason, message) of an object that did not succeed."""
    result = settled.results.get(key)
    if result is not None and result.state == "Failed":
        return result.reason, result.message
    if obj is not None:
        try:
            status = spec.read_status(obj)
        except Exception:
            status = None
        state, reason, message = spec.state(status, now=now, failure_grace=0.0)
        if state == "Failed":
            return reason, message
        for type_ in spec.conditions:
            cond = condition_of(obj, type_)
            if cond is not None and cond.get("status") != "True":
                return str(cond.get("reason") or "NotReady"), str(cond.get("message") or "")
    return "Unknown", "the engine never reconciled it"


def run(args: argparse.Namespace) -> int:
    remote = bool(getattr(args, "kubeconfig", None))
    # on a cluster, a ConfigMap the files do not hold may exist there: not "complete"
    checked = check(args, command="up", complete=not remote)
    if checked.status or checked.context is None:
        return checked.status
    inputs = checked.inputs
    registry = registry_of(args)
    keys = sorted(
        {Key(i.spec.kind, i.namespace, i.document.name) for i in inputs.objects},
        key=lambda k: (registry.names.index(k.kind), str(k)),
    )
    load: LoadRun | None = None
    if args.load is not None:
        prepared = prepare(args.load, [(registry[k.kind], k) for k in keys])
        if isinstance(prepared, int):
            return prepared
        load = prepared
        args.registry = registry = load.registry(registry)
    names = Names(
        namespaces=len({k.namespace for k in keys}) > 1,
        kinds=len(kinds_reached(registry, {k.kind for k in keys})) > 1,
    )
    figures, status = readiness.load_figures(args.readiness_figures, command="up")
    if figures is None:
        return status
    settings = plan_settings(checked.context, provisioner="fake")
    found = readiness.planned_predictions(inputs, settings=settings, figures=figures)
    configure_logging(format=args.log_format, level="warning")
    progress_out: TextIO | None = None
    if not args.quiet:
        progress_out = sys.stderr if args.output == "json" else sys.stdout
    if remote:  # kaito up --kubeconfig: a cluster where an operator runs (cli/up_remote.py)
        from kaito_backends.cli.up_remote import run_remote

        return run_remote(args, inputs, keys, names, found, progress_out)
    try:
        settled, cluster, phases = asyncio.run(
            _bring_up(inputs, args, checked.context, progress_out, names, figures, load)
        )
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    objects = {key: _find(cluster, registry[key.kind], key) for key in keys}
    return report(
        args,
        keys,
        names,
        settled,
        objects,
        cluster.clock.now(),
        found,
        phases,
        cluster=cluster,
        load=load,
    )


def report(
    args: argparse.Namespace,
    keys: list[Key],
    names: Names,
    settled: Settled,
    objects: Mapping[Key, Mapping[str, Any] | None],
    now: datetime,
    found: Mapping[str, Any],
    phases: readiness.PhaseClock,
    *,
    cluster: FakeCluster | None = None,
    load: LoadRun | None = None,
) -> int:
    """Print the tables (or ``-o json``), the time-to-ready report, what ``--faults`` injected
    and ``--load`` measured (the embedded `cluster` only) and one ``error:`` line per object
    that did not succeed; the exit code (0 all succeeded, else 1). Shared by the embedded run
    and ``--kubeconfig`` (`kaito_backends.cli.up_remote`)."""
    registry = registry_of(args)
    failures: list[tuple[Key, str, str]] = []
    notes: dict[Key, str] = {}
    objs: dict[Key, Mapping[str, Any] | None] = {}
    for key in keys:
        spec = registry[key.kind]
        obj = objects.get(key)
        objs[key] = obj
        if obj is not None:
            note = _float16_note(obj)
            if note:
                notes[key] = note
        if settled.state(key) != "Succeeded":
            reason, message = _failure(spec, obj, key, settled, now)
            failures.append((key, reason, message))
    load_problems = load.problems() if load is not None else []
    if args.output == "json":
        data = _json(registry, keys, settled, notes, failures, objs, now)
        for item in data.get("workspaces", ()):
            key = Key("Workspace", item["namespace"], item["name"])
            item.update(readiness.up_json(key, found, phases))
        if args.faults is not None and cluster is not None:
            data["faults"] = fault_json(cluster, args.faults)
        if load is not None:
            data["load"] = {**load.summary(), "problems": load_problems}
        print(dump_json(data), end="")
    else:
        tables = []
        for spec in registry:
            mine = [k for k in keys if k.kind == spec.kind]
            if mine:
                headers = ["NAME", *(column.name for column, _ in spec.summary())]
                rows = [[names(k), *_cells(spec, objs[k], now)] for k in mine]
                tables.append(table(headers, rows))
        if load is not None:
            tables.append(load.report())
        print("\n\n".join(tables))
        for key, note in notes.items():
            print(f"note: {names(key)}: {note}")
        readiness.print_up_report(keys, found, phases, names=names, phases=args.phases)
        if args.faults is not None and cluster is not None:
            print(f"\n{fault_summary(cluster, args.faults)}")
    for key, reason, message in failures:
        state = settled.state(key)
        if state == "Failed":
            print(f"error: {names(key)} failed: {reason}: {message}", file=sys.stderr)
        else:
            print(
                f"error: {names(key)} {_unfinished(settled, args)}: {reason}: {message}",
                file=sys.stderr,
            )
    for problem in load_problems:
        print(f"error: load: {problem}", file=sys.stderr)
    return 1 if failures or load_problems else 0


def _unfinished(settled: Settled, args: argparse.Namespace) -> str:
    """Why the run ended before an object succeeded, in the virtual time the table's ages count:
    the ``--timeout`` passed, or nothing was left to happen (stuck) sooner."""
    elapsed = human_duration(settled.elapsed)
    if settled.elapsed + 1e-6 < args.timeout * 60.0:
        return f"is stuck: nothing was left to happen after {elapsed}"
    return f"did not succeed within {elapsed} (--timeout {args.timeout:g} minutes)"


def _json(
    registry: Registry,
    keys: list[Key],
    settled: Settled,
    notes: Mapping[Key, str],
    failures: list[tuple[Key, str, str]],
    objs: Mapping[Key, Mapping[str, Any] | None],
    now: datetime,
) -> dict[str, Any]:
    failed = {k: (r, m) for k, r, m in failures}
    out: dict[str, Any] = {
        "settled": settled.settled,
        "virtualSeconds": round(settled.elapsed, 3),
        "reconciles": settled.reconciles,
    }
    for spec in registry:
        items = []
        for key in (k for k in keys if k.kind == spec.kind):
            obj = objs.get(key)
            item: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
            cells = _cells(spec, obj, now)
            for (_, json_key), value in zip(spec.summary(), cells, strict=True):
                item[json_key] = value
            item["state"] = settled.state(key)
            item["conditions"] = list(((obj or {}).get("status") or {}).get("conditions") or ())
            if key in failed:
                item["reason"], item["message"] = failed[key]
            if key in notes:
                item["note"] = notes[key]
            items.append(item)
        if items:
            out[spec.plural] = items
    return out
