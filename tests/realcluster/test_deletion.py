"""Deletion on the real cluster (issue #10, defects 1, 2 and 6), counted from the audit log and
the operator's log.

- A Workspace deleted: its Events go with it (kube-controller-manager's garbage collector
  ignores Events), one finalizer write, no read of the Workspace once it is gone, one log line
  per step.
- A namespace deleted with Workspaces in it: the namespace controller deletes their children
  first; the operator's re-applies are refused (403 ``NamespaceTerminating``) at most once per
  Workspace, nothing is logged as a failure, and everything goes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import OPERATOR_USER, RESYNC_SECONDS, RealCluster, eventually
from tests.realcluster.workspaces import leftovers, manifest, wait_state, workspace_json
from tools.cluster.operator import Operator

NOISE = ("reconcile.failed", "reconcile.retry", "reconcile.crashed", "event.dropped")


def _log_lines(log: Path, after: int) -> list[dict[str, Any]]:
    """The operator's JSON log lines written after byte ``after``."""
    with log.open("rb") as handle:
        handle.seek(after)
        data = handle.read()
    lines = []
    for raw in data.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # not a log line (or one being written)
    return lines


async def _events_about(kubectl: Kubectl, namespace: str, uid: str) -> list[str]:
    """Names of the Events about the object ``uid``, through both Event APIs."""
    core = json.loads(
        await kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.uid={uid}",
            "-o",
            "json",
        )
    )
    new = json.loads(
        await kubectl(
            "get",
            "events.events.k8s.io",
            "-n",
            namespace,
            "--field-selector",
            f"regarding.uid={uid}",
            "-o",
            "json",
        )
    )
    return sorted({i["metadata"]["name"] for i in [*core["items"], *new["items"]]})


async def test_deleting_a_workspace_takes_its_events_one_write_and_no_reads(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl, namespace: str
) -> None:
    """After the user's delete: the Events about the Workspace are gone (listed once by
    involvedObject.uid, deleted one by one), the operator wrote the finalizer once and never read
    the Workspace again, and it logged workspace.deleting and workspace.finalizer_removed once."""
    name = "gone"
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest(name)))
    await wait_state(kubectl, namespace, name, "Ready")
    uid = (await workspace_json(kubectl, namespace, name))["metadata"]["uid"]
    recorded = await _events_about(kubectl, namespace, uid)
    assert recorded, "the operator recorded Events on the Workspace"
    mark, log_mark = real_cluster.audit_mark(), operator.log.stat().st_size

    await kubectl("delete", "workspace", name, "-n", namespace, "--wait=true", "--timeout=120s")

    async def nothing_left() -> bool:
        return not await leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what=f"everything of {name} deleted")
    await asyncio.sleep(RESYNC_SECONDS + 2)  # a resync and late child deletions: no late reads
    assert await _events_about(kubectl, namespace, uid) == []
    audit = [e for e in real_cluster.audit(mark, user=OPERATOR_USER) if e.namespace == namespace]
    on_it = [e for e in audit if e.resource == "workspaces" and e.name == name]
    assert [str(e) for e in on_it if e.verb == "get"] == []
    finalizer = [e for e in on_it if e.verb == "update" and not e.subresource]
    assert [e.code for e in finalizer] == [200], [str(e) for e in finalizer]
    events = [e for e in audit if e.resource == "events"]
    lists = [e for e in events if e.verb == "list"]
    assert len(lists) == 1, [str(e) for e in lists]
    assert f"involvedObject.uid%3D{uid}" in lists[0].uri or f"involvedObject.uid={uid}" in (
        lists[0].uri
    )
    assert len([e for e in events if e.verb == "delete"]) >= len(recorded)
    steps = [
        line["event"]
        for line in _log_lines(operator.log, log_mark)
        if line.get("workspace") == f"{namespace}/{name}"
    ]
    assert steps.count("workspace.deleting") == 1, steps
    assert steps.count("workspace.finalizer_removed") == 1, steps
    assert [s for s in steps if s in NOISE] == []


async def test_deleting_a_namespace_with_workspaces_makes_no_403_noise(
    real_cluster: RealCluster, operator: Operator, kubectl: Kubectl
) -> None:
    """The namespace controller removes children before Workspaces: at most one refused write
    per Workspace (the first tells the operator the namespace is going away), no failure or
    dropped Event logged, and the namespace, its Workspaces and their NodeClaims go."""
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    await kubectl("create", "namespace", namespace)
    names = ("ns-a", "ns-b")
    for name in names:
        await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest(name)))
    for name in names:
        await wait_state(kubectl, namespace, name, "Ready")
    mark, log_mark = real_cluster.audit_mark(), operator.log.stat().st_size

    await kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=240s")

    async def nodeclaims_gone() -> bool:
        out = await kubectl(
            "get", "nodeclaims", "-l", f"kaito.sh/workspacenamespace={namespace}", "-o", "name"
        )
        return not out.strip()

    await eventually(nodeclaims_gone, timeout=180, what=f"NodeClaims of {namespace} deleted")
    audit = [e for e in real_cluster.audit(mark, user=OPERATOR_USER) if e.namespace == namespace]
    refused = [str(e) for e in audit if e.code == 403]
    assert len(refused) <= len(names), refused
    lines = [
        line
        for line in _log_lines(operator.log, log_mark)
        if namespace in str(line.get("workspace", "")) or line.get("namespace") == namespace
    ]
    assert [line["event"] for line in lines if line["event"] in NOISE] == []
    removed = [line for line in lines if line["event"] == "workspace.finalizer_removed"]
    assert len(removed) == len(names), lines
