"""A workload for a controller on the real control plane, measured from the audit log.

`measure` creates Workspaces in sizes (cumulative: ``(100, 1000)`` adds 100, then 900 more;
each inference of ``phi-4-mini-instruct`` on ``Standard_NC24ads_A100_v4``: one NodeClaim,
one kwok Node, one Pod; spread over ``namespaces`` namespaces) and, for each size, returns a
`Stage`:

- **converge**: the controller's requests (`benchmarks.audit.Audit.tally`) from the first
  create until every Workspace is Ready and the controller has made no write for ``quiet``
  seconds, and the seconds until all were Ready;
- **steady**: its requests over the next ``window`` seconds, while nothing changes;
- its resident memory (``VmRSS``, peak ``VmHWM``) after each, the load average, and the
  resident memory of every process of the plane (kube-apiserver, kwok, Karpenter, ...).

`apply_and_wait`, `delete_and_wait` and `snapshot_examples` run a set of manifests (the
Workspace examples) for an object-by-object comparison (`benchmarks.snapshot`).
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.audit import BOOKKEEPING, Audit, resource_of
from benchmarks.controllers import Controller, rss_kib
from benchmarks.snapshot import Snapshot, capture, normalise
from tests.realcluster.cluster import WRITE_VERBS
from tests.realcluster.workspaces import documents, final_state
from tools.cluster import processes
from tools.cluster.controlplane import ControlPlane
from tools.cluster.operator import ROOT
from tools.cluster.rest import HttpError, Rest

__all__ = [
    "EXAMPLES",
    "LABEL",
    "Stage",
    "apply_and_wait",
    "delete_and_wait",
    "measure",
    "snapshot_examples",
]

#: The Workspace examples (``--examples`` default).
EXAMPLES = tuple(sorted((ROOT / "docs" / "examples").glob("workspace-*.yaml")))
#: The label marking a run's Workspaces (value: the run's name).
LABEL = "kaito-bench"
_WORKSPACES = "/apis/kaito.sh/v1beta1"
#: One size's measurements (see the module docstring).
Stage = dict[str, Any]
Say = Callable[[str], None]


def _quiet_say(line: str) -> None:
    del line


# -- Workspaces ------------------------------------------------------------------------------------
def _workspace(name: str, run: str) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "labels": {LABEL: run}},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": {"apps": name}},
        },
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }


def _create(rest: Rest, path: str, body: dict[str, Any], *, attempts: int = 6) -> None:
    """POST, tolerating AlreadyExists and retrying what a loaded machine answers (a webhook
    timeout, 5xx, a dropped connection)."""
    for attempt in range(attempts):
        try:
            rest.post(path, body, timeout=60)
            return
        except HttpError as error:
            if error.code == 409:
                return
            if error.code not in (0, 500, 503, 504) or attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


def _ensure_namespace(rest: Rest, name: str) -> None:
    _create(
        rest,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )


def _states(rest: Rest, run: str) -> collections.Counter[str]:
    listed = rest.get(f"{_WORKSPACES}/workspaces?labelSelector={LABEL}%3D{run}", timeout=120)
    states: collections.Counter[str] = collections.Counter()
    for item in listed.get("items") or ():
        state = str((item.get("status") or {}).get("state") or "(none)")
        states[state] += 1
        if state == "Failed":
            meta = item["metadata"]
            raise RuntimeError(
                f"workspace {meta['namespace']}/{meta['name']} Failed: {item['status']}"
            )
    return states


def _wait_quiet(audit: Audit, start: int, *, quiet: float, cap: float) -> int:
    """Wait until the user made no write (Leases aside) for ``quiet`` seconds (at most ``cap``);
    the mark then."""
    began = last = time.monotonic()
    mark = start
    while True:
        time.sleep(1.0)
        now_mark = audit.mark()
        if any(
            e.verb in WRITE_VERBS and resource_of(e) not in BOOKKEEPING
            for e in audit.events(mark, now_mark)
        ):
            last = time.monotonic()
        mark = now_mark
        if time.monotonic() - last >= quiet or time.monotonic() - began >= cap:
            return mark


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _memory(controller: Controller) -> dict[str, int]:
    pid = controller.pid()
    if pid is None:
        raise RuntimeError(f"the controller is not running ({controller.description})")
    rss, peak = rss_kib(pid)
    return {"rss_kib": rss, "peak_kib": peak}


def _plane_memory(plane: ControlPlane) -> dict[str, int]:
    """Resident KiB of every process the plane's state records (the components, operators)."""
    return {r.name: rss_kib(r.pid)[0] for r in processes.records(plane.state) if processes.alive(r)}


def measure(
    plane: ControlPlane,
    controller: Controller,
    *,
    sizes: Sequence[int],
    window: float,
    run: str = "bench",
    namespaces: int = 10,
    quiet: float = 10.0,
    timeout: float | None = None,
    say: Say = _quiet_say,
) -> list[Stage]:
    """Converge the sizes one after another, each followed by a steady-state window (module
    docstring); one `Stage` per size, after a ``start`` stage (the controller idle)."""
    rest = plane.rest()
    audit = Audit(plane.audit_log, controller.user)
    stages: list[Stage] = [{"stage": "start", "size": 0, **_memory(controller), "load": _load()}]
    for ns in range(namespaces):
        _ensure_namespace(rest, f"{run}-{ns:02d}")
    done = 0
    for size in sizes:
        if size <= done:
            raise ValueError(f"--sizes must grow: {size} after {done}")
        start = audit.mark()
        began = time.monotonic()
        for i in range(done, size):
            name = f"ws-{i:05d}"
            namespace = f"{run}-{i % namespaces:02d}"
            _create(rest, f"{_WORKSPACES}/namespaces/{namespace}/workspaces", _workspace(name, run))
        created = time.monotonic() - began
        say(f"{size - done} Workspaces created in {created:.1f} s; waiting until all are Ready")
        limit = timeout if timeout is not None else 300 + 3 * (size - done)
        last_said = 0.0
        while True:
            states = _states(rest, run)
            if states.get("Ready", 0) >= size:
                break
            elapsed = time.monotonic() - began
            if elapsed > limit:
                raise TimeoutError(
                    f"not all {size} Workspaces Ready after {limit:.0f} s: {dict(states)}"
                )
            if elapsed - last_said >= 30:
                say(f"  {elapsed:.0f} s: {dict(sorted(states.items()))}")
                last_said = elapsed
            time.sleep(2.0 if size - done <= 100 else 5.0)
        ready_s = time.monotonic() - began
        end = _wait_quiet(audit, start, quiet=quiet, cap=max(60.0, quiet * 6))
        converge = audit.tally(start, end)
        stage: Stage = {
            "stage": f"+{size - done}",
            "size": size,
            "added": size - done,
            "ready_s": round(ready_s, 1),
            "converge": converge,
            **_memory(controller),
            "load": _load(),
        }
        say(f"{size} Workspaces Ready in {ready_s:.1f} s; steady state for {window:.0f} s")
        start = audit.mark()
        time.sleep(window)
        end = audit.mark()
        stage["steady"] = {
            "window_s": window,
            "requests": audit.tally(start, end),
            **_memory(controller),
            "load": _load(),
            "plane_rss_kib": _plane_memory(plane),
        }
        stages.append(stage)
        done = size
    return stages


# -- snapshots -------------------------------------------------------------------------------------
def apply_and_wait(
    plane: ControlPlane,
    files: Iterable[Path],
    namespace: str,
    *,
    controller: Controller,
    timeout: float = 300.0,
    quiet: float = 5.0,
) -> list[tuple[str, str]]:
    """Apply the files in a new ``namespace``, wait until every Workspace in them reached its
    end state (`final_state`) and the controller is quiet; the ``(kind, name)`` of every other
    object applied (what `capture` leaves out)."""
    rest = plane.rest()
    audit = Audit(plane.audit_log, controller.user)
    start = audit.mark()
    _ensure_namespace(rest, namespace)
    wanted: dict[str, str] = {}
    applied = []
    for path in files:
        for doc in documents(path):
            if doc["kind"] == "Workspace":
                wanted[doc["metadata"]["name"]] = final_state(doc)
            else:
                applied.append((str(doc["kind"]), str(doc["metadata"]["name"])))
        plane.kubectl("apply", "-n", namespace, "-f", str(path), timeout=120)
    deadline = time.monotonic() + timeout
    while True:
        listed = rest.get(f"{_WORKSPACES}/namespaces/{namespace}/workspaces")
        states = {
            i["metadata"]["name"]: (i.get("status") or {}).get("state") for i in listed["items"]
        }
        if all(states.get(name) == want for name, want in wanted.items()):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"examples in {namespace} not done after {timeout:.0f} s: {states}")
        time.sleep(2.0)
    _wait_quiet(audit, start, quiet=quiet, cap=60.0)
    return applied


def delete_and_wait(plane: ControlPlane, namespace: str, *, timeout: float = 300.0) -> None:
    """Delete the namespace and wait until it and the NodeClaims labelled with it are gone."""
    plane.kubectl(
        "delete",
        "namespace",
        namespace,
        "--ignore-not-found",
        "--wait=true",
        f"--timeout={timeout:.0f}s",
        timeout=timeout + 30,
    )
    rest = plane.rest()
    deadline = time.monotonic() + timeout
    while rest.get(
        f"/apis/karpenter.sh/v1/nodeclaims?labelSelector=kaito.sh/workspacenamespace%3D{namespace}"
    )["items"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"NodeClaims of {namespace} still there after {timeout:.0f} s")
        time.sleep(2.0)


def snapshot_examples(
    plane: ControlPlane,
    controller: Controller,
    files: Sequence[Path],
    *,
    namespace: str = "bench-examples",
) -> Snapshot:
    """Apply the example files, capture and normalise what the controller made, delete them."""
    exclude = apply_and_wait(plane, files, namespace, controller=controller)
    snapshot = normalise(capture(plane.rest(), namespace, exclude=exclude), namespace=namespace)
    delete_and_wait(plane, namespace)
    return snapshot
