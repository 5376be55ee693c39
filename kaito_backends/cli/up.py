"""``kaito up FILE...``: run Workspaces to completion on an embedded fake cluster, in virtual time.

The files are read and validated by the code ``kaito validate`` runs, for the fake provisioner
(problems: one line each, exit 1; ``--feature-gates`` and ``--strict`` as there).
The Workspaces, ConfigMaps and Secrets are then created in an in-memory `FakeCluster`, and the
engine's controller runs them under a `VirtualClock`: GPU nodes launch, images pull, models load,
in seconds of wall time. Progress lines show what happens, at virtual time::

    [00:01:30] workspace-phi-3-mini: node ws1a2b3c4d5-0 Ready (Standard_NC6s_v3)

Then the upstream ``kubectl get workspace`` table. Exit 0 when every Workspace succeeded; 1 when
one failed or the ``--timeout`` (virtual minutes) passed first, with the failing condition's
message; 2 when a file cannot be read. ``--faults SEED`` injects moderate, seeded API faults
(conflicts, throttling, server errors, dropped watches): the result must not change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from kaito_backends.cli.inputs import Inputs, add_validation_arguments, check
from kaito_backends.cli.output import dump_json, table
from kaito_backends.engine.controller import Controller, Settled
from kaito_backends.engine.events import RecordedEvent
from kaito_backends.engine.logs import configure_logging
from kaito_backends.engine.reconciler import workspace_state
from kaito_backends.errors import AlreadyExists, BackendError
from kaito_backends.fake import FakeCluster, FaultPlan
from kaito_backends.objects import Manifest, WorkspaceKey, clone
from kaito_core.api import Workspace
from kaito_core.plan import PlanSettings
from kaito_core.validation import FeatureGates

__all__ = ["human_duration", "moderate_faults", "register", "run"]

COLUMNS = (
    "NAME",
    "INSTANCE",
    "RESOURCEREADY",
    "INFERENCEREADY",
    "JOBSTARTED",
    "WORKSPACESUCCEEDED",
    "AGE",
)
_CONDITIONS = ("ResourceReady", "InferenceReady", "JobStarted", "WorkspaceSucceeded")


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
        description="Validate the Workspaces in FILE..., create them (with the ConfigMaps and "
        "Secrets given) in an in-memory cluster with simulated GPU nodes, and run the engine "
        "until every Workspace succeeded or failed, in virtual time. Exit 0 all succeeded, "
        "1 invalid input, a failure or a timeout, 2 unreadable input.",
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
    add_validation_arguments(parser, provisioning=False)
    parser.set_defaults(func=run, provisioner="fake")


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


def _stamp(seconds: float) -> str:
    s = int(seconds)
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def _pod_phase(pod: Mapping[str, Any]) -> str:
    """A short description of where a pod is, for progress lines."""
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    if phase == "Succeeded":
        return "completed"
    if phase == "Failed":
        return "failed"
    scheduled = next(
        (c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None
    )
    if scheduled is not None and scheduled.get("status") == "False":
        return "waiting for a node"
    containers = status.get("containerStatuses") or ()
    first = containers[0] if containers else {}
    state = first.get("state") or {}
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ContainerCreating":
            return "pulling image"
        if reason == "CrashLoopBackOff":
            last = ((first.get("lastState") or {}).get("terminated") or {}).get("reason", "Error")
            return f"crash-looping ({last}, {first.get('restartCount', 0)} restarts)"
        return f"waiting ({reason})"
    if "running" in state:
        owners = (pod.get("metadata") or {}).get("ownerReferences") or ()
        if any(ref.get("kind") == "Job" for ref in owners):
            return "running"
        return "Ready" if first.get("ready") else "loading model"
    if not containers:
        return "scheduled" if scheduled is not None else "created"
    return "starting"


class Progress:
    """Prints one line per interesting change, stamped with virtual time since the start."""

    def __init__(self, controller: Controller, out: TextIO, *, qualify: bool) -> None:
        self.controller = controller
        self.out = out
        self.qualify = qualify
        self.start = controller.clock.monotonic()
        self._seen: dict[tuple[str, str], str] = {}
        controller.informer("NodeClaim").add_handler(self._on_claim)
        controller.informer("Node").add_handler(self._on_node)
        controller.informer("Pod").add_handler(self._on_pod)
        controller.informer("Workspace").add_handler(self._on_workspace)
        controller.recorder.add_sink(self._on_event)

    def _name(self, key: WorkspaceKey) -> str:
        return str(key) if self.qualify else key.name

    def _say(self, key: WorkspaceKey, text: str, *, what: tuple[str, str] | None = None) -> None:
        if what is not None:
            if self._seen.get(what) == text:
                return
            self._seen[what] = text
        elapsed = self.controller.clock.monotonic() - self.start
        print(f"{_stamp(elapsed)} {self._name(key)}: {text}", file=self.out, flush=True)

    def _owners(self, obj: Manifest) -> list[WorkspaceKey]:
        from kaito_backends.engine.observer import workspace_keys_of

        return workspace_keys_of(obj)

    def _on_claim(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        name = str(_meta(obj).get("name"))
        itype = _instance_type(obj)
        for key in self._owners(obj):
            if change == "ADDED":
                self._say(key, f"node claim {name} requested ({itype})", what=("claim", name))
            launched = _condition(obj, "Launched")
            if (
                launched is not None
                and launched.get("status") == "False"
                and launched.get("reason")
            ):
                self._say(
                    key,
                    f"node claim {name} not launched: {launched.get('reason')}",
                    what=("claim", name),
                )

    def _on_node(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        name = str(_meta(obj).get("name"))
        ready = _condition(obj, "Ready")
        state = "Ready" if ready is not None and ready.get("status") == "True" else "registered"
        labels = _meta(obj).get("labels") or {}
        itype = labels.get("node.kubernetes.io/instance-type", "")
        suffix = f" ({itype})" if itype else ""
        for key in self._owners(obj):
            self._say(key, f"node {name} {state}{suffix}", what=("node", name))

    def _on_pod(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        name = str(_meta(obj).get("name"))
        phase = _pod_phase(obj)
        for key in self._owners(obj):
            self._say(
                key, f"pod {name} {phase}", what=("pod", f"{_meta(obj).get('namespace')}/{name}")
            )

    def _on_workspace(self, change: str, obj: Manifest, old: Manifest | None) -> None:
        if change == "DELETED":
            return
        meta = _meta(obj)
        key = WorkspaceKey(str(meta.get("namespace") or "default"), str(meta.get("name")))
        succeeded = _condition(obj, "WorkspaceSucceeded")
        if succeeded is not None and succeeded.get("status") == "True":
            text = "Ready" if (obj.get("inference") is not None) else "Succeeded"
            self._say(key, text, what=("ws", str(key)))

    def _on_event(self, event: RecordedEvent) -> None:
        # Unschedulable while the GPU node boots is expected: the pod lines say "waiting"
        if event.type == "Warning" and event.reason != "Unschedulable":
            self._say(
                event.key,
                f"warning: {event.reason}: {event.message}",
                what=("event", f"{event.key}/{event.reason}/{event.message}"),
            )


def _instance_type(claim: Mapping[str, Any]) -> str:
    for req in (claim.get("spec") or {}).get("requirements") or ():
        if req.get("key") == "node.kubernetes.io/instance-type" and req.get("values"):
            return str(req["values"][0])
    labels = _meta(claim).get("labels") or {}
    return str(labels.get("node.kubernetes.io/instance-type", "?"))


def _float16_note(obj: Mapping[str, Any]) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        for part in str(cond.get("message") or "").split("; "):
            if "float16" in part:
                return part
    return None


async def _bring_up(
    inputs: Inputs, args: argparse.Namespace, gates: FeatureGates, progress_out: TextIO | None
) -> tuple[Settled, FakeCluster, Controller]:
    faults = moderate_faults(args.faults) if args.faults is not None else None
    cluster = FakeCluster(faults=faults)
    client = cluster.client()
    for (namespace, _), manifest in [*inputs.config_maps.items(), *inputs.secrets.items()]:
        obj = clone(dict(manifest))
        obj.setdefault("metadata", {})["namespace"] = namespace
        await _create(cluster, obj)
    for item in inputs.workspaces:
        obj = clone(dict(item.document.manifest))
        obj.setdefault("metadata", {})["namespace"] = item.workspace.namespace
        await _create(cluster, obj)
    provisioner = cluster.provisioner()
    settings = PlanSettings(provisioner=provisioner.name, vllm_enabled=gates.vllm)
    controller = Controller(client, provisioner, clock=cluster.clock, settings=settings, workers=4)
    qualify = len({item.workspace.namespace for item in inputs.workspaces}) > 1
    if progress_out is not None:
        Progress(controller, progress_out, qualify=qualify)
    try:
        settled = await controller.run_until_settled(args.timeout * 60.0)
    finally:
        await controller.stop()
    return settled, cluster, controller


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


def _rows(cluster: FakeCluster, keys: list[WorkspaceKey], qualify: bool) -> list[list[str]]:
    now = cluster.clock.now()
    rows = []
    for key in keys:
        obj = cluster.store.find("kaito.sh/v1beta1", "Workspace", key.namespace, key.name)
        name = str(key) if qualify else key.name
        if obj is None:
            rows.append([name, "", "", "", "", "", ""])
            continue
        ws_resource = obj.get("resource") or {}
        values = []
        for type_ in _CONDITIONS:
            cond = _condition(obj, type_)
            values.append(str(cond.get("status", "")) if cond else "")
        created = _meta(obj).get("creationTimestamp")
        age = ""
        if created:
            from datetime import UTC, datetime

            born = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            age = human_duration((now - born).total_seconds())
        rows.append([name, str(ws_resource.get("instanceType") or ""), *values, age])
    return rows


def _failure(
    obj: Mapping[str, Any] | None, key: WorkspaceKey, settled: Settled, now: Any
) -> tuple[str, str]:
    """(reason, message) of a Workspace that did not succeed."""
    result = settled.results.get(key)
    if result is not None and result.state == "Failed":
        return result.reason, result.message
    if obj is not None:
        try:
            status = Workspace.from_manifest(obj).status
        except Exception:
            status = None
        state, reason, message = workspace_state(status, now=now, failure_grace=0.0)
        if state == "Failed":
            return reason, message
        for type_ in ("ResourceReady", "InferenceReady", "JobStarted", "WorkspaceSucceeded"):
            cond = _condition(obj, type_)
            if cond is not None and cond.get("status") != "True":
                return str(cond.get("reason") or "NotReady"), str(cond.get("message") or "")
    return "Unknown", "the engine never reconciled it"


def run(args: argparse.Namespace) -> int:
    checked = check(args, command="up", complete=True)
    if checked.status or checked.context is None:
        return checked.status
    inputs = checked.inputs
    if not inputs.workspaces:
        print("no Workspaces found in " + ", ".join(args.files), file=sys.stderr)
        return 1
    configure_logging(format=args.log_format, level="warning")
    progress_out: TextIO | None = None
    if not args.quiet:
        progress_out = sys.stderr if args.output == "json" else sys.stdout
    try:
        settled, cluster, _ = asyncio.run(
            _bring_up(inputs, args, checked.context.feature_gates, progress_out)
        )
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    keys = sorted(
        {WorkspaceKey(i.workspace.namespace, i.workspace.name) for i in inputs.workspaces}, key=str
    )
    qualify = len({k.namespace for k in keys}) > 1
    now = cluster.clock.now()
    failures: list[tuple[WorkspaceKey, str, str]] = []
    notes: dict[WorkspaceKey, str] = {}
    objs: dict[WorkspaceKey, Mapping[str, Any] | None] = {}
    for key in keys:
        obj = cluster.store.find("kaito.sh/v1beta1", "Workspace", key.namespace, key.name)
        objs[key] = obj
        if obj is not None:
            note = _float16_note(obj)
            if note:
                notes[key] = note
        if settled.state(key) != "Succeeded":
            reason, message = _failure(obj, key, settled, now)
            failures.append((key, reason, message))
    label: Callable[[WorkspaceKey], str] = (lambda k: str(k)) if qualify else (lambda k: k.name)
    if args.output == "json":
        print(dump_json(_json(cluster, keys, settled, notes, failures, objs)), end="")
    else:
        print(table(COLUMNS, _rows(cluster, keys, qualify)))
        for key, note in notes.items():
            print(f"note: {label(key)}: {note}")
    for key, reason, message in failures:
        state = settled.state(key)
        if state == "Failed":
            print(f"error: {label(key)} failed: {reason}: {message}", file=sys.stderr)
        else:
            print(
                f"error: {label(key)} did not succeed within {human_duration(args.timeout * 60)}: "
                f"{reason}: {message}",
                file=sys.stderr,
            )
    return 1 if failures else 0


def _json(
    cluster: FakeCluster,
    keys: list[WorkspaceKey],
    settled: Settled,
    notes: Mapping[WorkspaceKey, str],
    failures: list[tuple[WorkspaceKey, str, str]],
    objs: Mapping[WorkspaceKey, Mapping[str, Any] | None],
) -> dict[str, Any]:
    failed = {k: (r, m) for k, r, m in failures}
    items = []
    for key, row in zip(keys, _rows(cluster, keys, qualify=False), strict=True):
        obj = objs.get(key) or {}
        item: dict[str, Any] = {
            "name": key.name,
            "namespace": key.namespace,
            "instanceType": row[1],
            "resourceReady": row[2],
            "inferenceReady": row[3],
            "jobStarted": row[4],
            "workspaceSucceeded": row[5],
            "age": row[6],
            "state": settled.state(key),
            "conditions": list((obj.get("status") or {}).get("conditions") or ()),
        }
        if key in failed:
            item["reason"], item["message"] = failed[key]
        if key in notes:
            item["note"] = notes[key]
        items.append(item)
    return {
        "settled": settled.settled,
        "virtualSeconds": round(settled.elapsed, 3),
        "reconciles": settled.reconciles,
        "workspaces": items,
    }
