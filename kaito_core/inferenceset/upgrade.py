"""Automatic base-image upgrades of an InferenceSet's replicas: how many have drifted.

Pure: no I/O, no clock, no logging.

Upstream's ``AutoUpgradeRunner`` (``pkg/controllers/autoupgrade``, behind the
``enableBaseImageAutoUpgrade`` gate, off by default) finds replicas whose StatefulSet still runs
an older base image after a controller upgrade and rolls them one at a time, in place or by
surging a new replica, inside the maintenance window; it reports ``status.autoUpgrade``.

Here a replica's own Workspace planner renders the current base image whenever it plans (the
whole rendered template is its revision), so a drifted replica is rolled by its own reconciler
and there is nothing for the InferenceSet to trigger or to schedule. What remains is the
report: with the gate on and ``spec.autoUpgrade.enabled``, `auto_upgrade_status` counts the
preset replicas whose observed StatefulSet runs another image than the current base image
(``numDriftedWorkspaces``), and stamps ``lastSuccessfulUpgradeTime`` when that count falls to
zero. With the gate off or auto-upgrade disabled the report is absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kaito_core.api.inferenceset import AutoUpgradeStatus, InferenceSet
from kaito_core.inferenceset.children import Replica
from kaito_core.observed import Observed

__all__ = ["auto_upgrade_status", "inference_image"]


def inference_image(statefulset: Mapping[str, Any]) -> str | None:
    """The image of a Workspace StatefulSet's inference container (the one named after the
    StatefulSet, else the first)."""
    spec = ((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [c for c in spec.get("containers") or () if isinstance(c, Mapping)]
    name = (statefulset.get("metadata") or {}).get("name")
    for container in containers:
        if container.get("name") == name:
            return str(container.get("image") or "")
    return str(containers[0].get("image") or "") if containers else None


def auto_upgrade_status(
    iset: InferenceSet,
    *,
    replicas: Sequence[Replica],
    observed: Observed,
    desired_image: str,
    gate: bool,
    now: str,
) -> AutoUpgradeStatus | None:
    """``status.autoUpgrade`` (see the module docstring); None when not reported.

    `observed.objects` should hold the replicas' StatefulSets (a replica whose StatefulSet is
    not there yet counts as up to date: it is being created from the current template).

    Pure: no I/O, no clock, no logging.
    """
    policy = iset.spec.auto_upgrade
    if not gate or policy is None or not policy.enabled:
        return None
    drifted = 0
    if iset.spec.template.inference.preset is not None:
        for replica in replicas:
            if replica.deleting:
                continue
            sts = observed.object("StatefulSet", replica.name)
            image = inference_image(sts) if sts is not None else None
            if image is not None and image != desired_image:
                drifted += 1
    previous = iset.status.auto_upgrade if iset.status else None
    before = (previous.num_drifted_workspaces if previous else None) or 0
    last = previous.last_successful_upgrade_time if previous else None
    if drifted == 0 and before > 0:
        last = now
    return AutoUpgradeStatus(num_drifted_workspaces=drifted, last_successful_upgrade_time=last)
