"""The replica Workspaces of an InferenceSet: how each is built, named, hashed and recognised.

Pure: no I/O, no clock, no logging.

A replica is the Workspace upstream's ``NewWorkspaceForInferenceSet`` builds
(``pkg/utils/inferenceset/inferenceset.go``): the template's labels and annotations (plus
``kaito.sh/disable-benchmark: "true"`` when the InferenceSet disables the benchmark), the
InferenceSet's ``kaito.sh/inference-role`` and MRI-parent labels, the
``inferenceset.kaito.sh/created-by: <set>`` label (the Workspace renderer serves the model under
that name), a controller owner reference to the InferenceSet, ``resource.labelSelector`` from
``spec.labelSelector``, the template's partition, its instance type unless nodes are brought by
the user, and the template's inference.

Two things are ours: replicas are named ``<set>-<ordinal>`` instead of ``generateName: <set>-``,
so planning twice (or after a crash) can never create a second replica for the same slot; and
each carries ``inferenceset.kaito.sh/template-hash``, the hash of everything it is made of, which
is how a rolling update tells an outdated replica from a current one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api.inferenceset import InferenceSet
from kaito_core.api.types import V1BETA1, ObjectMeta, ResourceSpec, Workspace
from kaito_core.errors import FieldError
from kaito_core.inferenceset.facts import (
    ANNOTATION_DISABLE_BENCHMARK,
    KIND,
    LABEL_CREATED_BY,
    LABEL_INFERENCE_ROLE,
    LABEL_MRI_PARENT,
    LABEL_TEMPLATE_HASH,
)
from kaito_core.observed import Manifest

__all__ = [
    "HASH_LENGTH",
    "Replica",
    "child_name",
    "child_workspace",
    "observed_replicas",
    "ordinal_of",
    "owner_reference",
    "replica_name_problem",
    "template_hash",
    "up_to_date",
]

#: Hex digits of the template hash kept in the label (40 bits: collisions are not a concern
#: between two templates of one InferenceSet).
HASH_LENGTH = 10
_SUCCEEDED = "WorkspaceSucceeded"
_ENVELOPE = frozenset({"apiVersion", "kind", "metadata"})
_DELETING = "WorkspaceDeleting"


def child_name(set_name: str, ordinal: int) -> str:
    """``<set>-<ordinal>``: the name of the replica in slot `ordinal`."""
    return f"{set_name}-{ordinal}"


def ordinal_of(set_name: str, name: str) -> int | None:
    """The slot of a replica named ``<set>-<n>`` (`n` written without leading zeros), else None.

    Pure: no I/O, no clock, no logging.
    """
    prefix = f"{set_name}-"
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix) :]
    if not digits.isascii() or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        return None
    return int(digits)


def replica_name_problem(iset: InferenceSet) -> FieldError | None:
    """A problem when the longest replica name (``<set>-<replicas-1>``) is not a valid Workspace
    name: the InferenceSet's name leaves too little room for its replicas' slot numbers.

    Pure: no I/O, no clock, no logging.
    """
    # imported here: kaito_core.validation imports this module (a cycle at import time)
    from kaito_core.validation.names import dns1123_label

    if not iset.name:
        return None
    longest = child_name(iset.name, max(iset.replicas - 1, 0))
    problems = dns1123_label(longest)
    if not problems:
        return None
    return FieldError(
        path="metadata.name",
        message=f"replica Workspaces are named <name>-<slot> and {longest!r} is not a valid "
        f"name: {'; '.join(problems)}",
    )


def owner_reference(iset: InferenceSet) -> dict[str, Any]:
    """A controller owner reference to the InferenceSet (always the v1beta1 storage version)."""
    return {
        "apiVersion": V1BETA1,
        "kind": KIND,
        "name": iset.name,
        "uid": iset.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(iset: InferenceSet) -> dict[str, str]:
    labels = dict(iset.template_labels)
    for key in (LABEL_INFERENCE_ROLE, LABEL_MRI_PARENT):
        if key in iset.labels:
            labels[key] = iset.labels[key]
    labels[LABEL_CREATED_BY] = iset.name
    labels.pop(LABEL_TEMPLATE_HASH, None)
    return labels


def _annotations(iset: InferenceSet) -> dict[str, str]:
    annotations = dict(iset.template_annotations)
    if iset.annotations.get(ANNOTATION_DISABLE_BENCHMARK) == "true":
        annotations[ANNOTATION_DISABLE_BENCHMARK] = "true"
    return annotations


def child_workspace(
    iset: InferenceSet, *, ordinal: int, node_auto_provisioning: bool = True
) -> Workspace:
    """The replica in slot `ordinal`, as a v1beta1 Workspace (no hash label, no owner reference:
    `kaito_core.inferenceset.plan` adds both to the manifest it applies).

    `iset` should be defaulted (`InferenceSet.with_defaults`) so the replica carries the same
    defaults the API server stored. With bring-your-own nodes (`node_auto_provisioning` False)
    the instance type is left out, as upstream does: the Workspace webhook would reject it.

    Pure: no I/O, no clock, no logging.
    """
    template = iset.spec.template
    resource = template.resource
    return Workspace(
        api_version=V1BETA1,
        metadata=ObjectMeta(
            name=child_name(iset.name, ordinal),
            namespace=iset.namespace,
            labels=dict(sorted(_labels(iset).items())),
            annotations=dict(sorted(_annotations(iset).items())) or None,
        ),
        resource=ResourceSpec(
            instance_type=(resource.instance_type if resource and node_auto_provisioning else None)
            or None,
            label_selector=iset.spec.label_selector,
            partition=resource.partition if resource else None,
        ),
        inference=template.inference,
    )


def template_hash(child: Mapping[str, Any]) -> str:
    """The hash of a replica manifest's labels (but the hash label), annotations, resource and
    inference: equal for every replica of one template, different when any of it changes.

    Pure: no I/O, no clock, no logging.
    """
    meta = child.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != LABEL_TEMPLATE_HASH}
    content = {
        "labels": labels,
        "annotations": meta.get("annotations") or {},
        "resource": child.get("resource"),
        "inference": child.get("inference"),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


@attrs.frozen(kw_only=True)
class Replica:
    """An observed replica Workspace of this InferenceSet, as the planner sees it."""

    name: str
    #: The slot of an ``<set>-<n>`` name; None for a replica named otherwise (one made by
    #: upstream's controller with ``generateName``, adopted through its label).
    ordinal: int | None
    template_hash: str | None
    ready: bool
    deleting: bool
    #: ``status.targetNodeCount`` (0 when not reported).
    target_node_count: int
    manifest: Manifest = attrs.field(eq=False, repr=False)


def _condition_true(status: Mapping[str, Any], type_: str, generation: Any) -> bool:
    for condition in status.get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == type_:
            seen = condition.get("observedGeneration")
            if isinstance(seen, int) and isinstance(generation, int) and seen < generation:
                return False  # about an older spec: not known yet
            return bool(condition.get("status") == "True")
    return False


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def _is_ours(iset: InferenceSet, meta: Mapping[str, Any]) -> bool:
    if (meta.get("labels") or {}).get(LABEL_CREATED_BY) != iset.name:
        return False
    ref = _controller(meta)
    if ref is None:
        return True  # labelled as ours and controlled by nobody: adopted, as upstream lists them
    if ref.get("kind") != KIND or ref.get("name") != iset.name:
        return False
    uid, ref_uid = iset.metadata.uid, ref.get("uid")
    return not (uid and ref_uid and uid != ref_uid)


def observed_replicas(
    iset: InferenceSet, objects: Sequence[Manifest]
) -> tuple[tuple[Replica, ...], tuple[str, ...]]:
    """The replicas of `iset` among the observed `objects`, by name, and the names of observed
    Workspaces that hold a replica's name (``<set>-<n>``) without being this set's (another
    owner's Workspace, or one left by an earlier InferenceSet of the same name).

    A replica is ready when its ``WorkspaceSucceeded`` condition is True for its current
    generation and it is not being deleted (upstream's ``DetermineWorkspacePhase`` ==
    ``succeeded``).

    Pure: no I/O, no clock, no logging.
    """
    replicas: list[Replica] = []
    foreign: list[str] = []
    namespace = iset.namespace
    for obj in objects:
        if obj.get("kind") != "Workspace":
            continue
        meta = obj.get("metadata") or {}
        if (meta.get("namespace") or namespace) != namespace:
            continue
        name = str(meta.get("name") or "")
        ordinal = ordinal_of(iset.name, name)
        if not _is_ours(iset, meta):
            if ordinal is not None:
                foreign.append(name)
            continue
        status = obj.get("status") or {}
        deleting = bool(meta.get("deletionTimestamp")) or _condition_true(status, _DELETING, None)
        target = status.get("targetNodeCount")
        replicas.append(
            Replica(
                name=name,
                ordinal=ordinal,
                template_hash=(meta.get("labels") or {}).get(LABEL_TEMPLATE_HASH),
                ready=not deleting and _condition_true(status, _SUCCEEDED, meta.get("generation")),
                deleting=deleting,
                target_node_count=target if isinstance(target, int) and target > 0 else 0,
                manifest=obj,
            )
        )
    replicas.sort(key=lambda r: r.name)
    return tuple(replicas), tuple(sorted(foreign))


def _covers(have: Any, want: Any) -> bool:
    """Every field of `want` is in `have` with the same value (maps compared key by key; lists
    and values exactly): applying `want` would change nothing."""
    if have == want:
        return True
    if not isinstance(want, dict) or not isinstance(have, dict):
        return False
    for key, value in want.items():
        if key not in have or not _covers(have[key], value):
            return False
    return True


def up_to_date(observed: Manifest, desired: Manifest) -> bool:
    """The observed object already has everything `desired` sets (owner references: ours is
    among them), so applying `desired` again would change nothing.

    Pure: no I/O, no clock, no logging.
    """
    have, want = observed.get("metadata") or {}, desired["metadata"]
    for key in ("labels", "annotations"):
        if not _covers(have.get(key) or {}, want.get(key) or {}):
            return False
    refs = have.get("ownerReferences") or []
    for ref in want.get("ownerReferences") or ():
        if ref not in refs:
            return False
    for key, value in desired.items():
        if key not in _ENVELOPE and not _covers(observed.get(key), value):
            return False
    return True
