"""Revisions: the spec hash, the ControllerRevision history and the rendered-template hash.

Pure: no I/O, no clock, no logging.

Upstream (controller.md §3.2) hashes ``resource``, ``inference`` and ``tuning`` and keeps one
``apps/v1`` ControllerRevision per distinct spec, numbered in creation order; returning to an
earlier spec reuses its number. We keep that scheme with three changes:

- The hash is sha256 over *our* canonical JSON of the three sections (the Workspace's wire form,
  keys sorted, no whitespace, each section on its own line, ``null`` when absent), not over Go's
  encoding of its structs, so our hashes never equal upstream's. Pass the defaulted v1beta1
  Workspace so that a manifest and its defaulted form hash alike.
- A revision name ``<ws>-<hash[:5]>`` already taken by a different hash is not an error: the name
  grows to a longer prefix of the hash until it is free.
- The history keeps at most 10 revisions in all, the current one always among them.

The spec hash says when the *user's* spec changed. It misses a change in what we render from the
same spec (a new operator version, a different GPU policy), which upstream never rolls out.
`template_hash` closes that gap: the plan stamps it on the StatefulSet or Job
(`ANNOTATION_TEMPLATE_HASH`), so any change to the rendered workload is detected by comparing
one annotation.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api.types import Workspace
from kaito_core.observed import Manifest
from kaito_core.render.meta import (
    ANNOTATION_HASH,
    LABEL_REVISION_OWNER,
    child_metadata,
)

__all__ = [
    "ANNOTATION_TEMPLATE_HASH",
    "MAX_REVISION_HISTORY",
    "RevisionDecision",
    "canonical_json",
    "controller_revision",
    "next_revision",
    "revision_name",
    "spec_hash",
    "spec_hash_memo",
    "spec_hash_of_manifest",
    "stamp_template_hash",
    "template_hash",
]

#: Revisions kept per workspace (upstream ``MaxRevisionHistoryLimit``).
MAX_REVISION_HISTORY = 10
#: Annotation carrying `template_hash` on the workloads the plan renders.
ANNOTATION_TEMPLATE_HASH = "kaito.sh/template-hash"

_SECTIONS = ("resource", "inference", "tuning")
_SHORT_HASH = 5


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and no ASCII escaping: the text every hash here is over.

    Pure: no I/O, no clock, no logging.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sections(workspace: Workspace) -> dict[str, Any]:
    manifest = workspace.to_manifest()
    return {key: manifest[key] for key in _SECTIONS if manifest.get(key) is not None}


def spec_hash(workspace: Workspace) -> str:
    """sha256 hex of ``resource``, ``inference`` and ``tuning``, each as canonical JSON on its
    own line (``null`` when absent).

    Pure: no I/O, no clock, no logging.
    """
    return spec_hash_of_manifest(workspace.to_manifest())


def spec_hash_of_manifest(manifest: Mapping[str, Any]) -> str:
    """`spec_hash` of the workspace whose wire form (`Workspace.to_manifest`) is `manifest`.

    Pure: no I/O, no clock, no logging.
    """
    text = "".join(canonical_json(manifest.get(key)) + "\n" for key in _SECTIONS)
    return hashlib.sha256(text.encode()).hexdigest()


#: `spec_hash_of_manifest` by the manifest's JSON text (`json.dumps` in its own key order, the
#: render memo's key too). The text determines the manifest (it is plain JSON data), hence the
#: hash; bounded, and the values are immutable strings, so a hit is exactly a recomputation.
_SPEC_HASHES: dict[str, str] = {}
_SPEC_HASHES_SIZE = 16384


def spec_hash_memo(manifest: Mapping[str, Any], text: str) -> str:
    """`spec_hash_of_manifest(manifest)`, memoised by `text`, which must be
    ``json.dumps(manifest)`` (any key order, any separators: it is only a key).

    Pure: no I/O, no clock, no logging.
    """
    digest = _SPEC_HASHES.get(text)
    if digest is None:
        digest = spec_hash_of_manifest(manifest)
        if len(_SPEC_HASHES) >= _SPEC_HASHES_SIZE:
            _SPEC_HASHES.clear()  # rare; a plain reset keeps this simple and bounded
        _SPEC_HASHES[text] = digest
    return digest


def revision_name(workspace: Workspace, hash: str, *, length: int = _SHORT_HASH) -> str:
    """``<ws>-<first length hex of hash>``.

    Pure: no I/O, no clock, no logging.
    """
    return f"{workspace.name}-{hash[:length]}"


def controller_revision(
    workspace: Workspace, *, revision: int, hash: str, name: str | None = None
) -> Manifest:
    """The ``apps/v1`` ControllerRevision recording the spec with this `hash` as `revision`.

    Pure: no I/O, no clock, no logging.

    `name` is `RevisionDecision.name` (defaults to `revision_name`).
    """
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": child_metadata(
            workspace,
            name or revision_name(workspace, hash),
            labels={LABEL_REVISION_OWNER: workspace.name},
            annotations={ANNOTATION_HASH: hash},
        ),
        "data": _sections(workspace),
        "revision": revision,
    }


@attrs.frozen(kw_only=True)
class RevisionDecision:
    """Which revision the current spec is, and which old revisions to delete.

    `existing` is true when a revision with this hash is already stored (its name and number are
    reused). `delete` lists revision names, oldest first.
    """

    revision: int
    hash: str
    name: str
    existing: bool
    delete: tuple[str, ...] = ()


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _number(obj: Mapping[str, Any]) -> int:
    value = obj.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _stored_hash(obj: Mapping[str, Any]) -> str | None:
    value = (_meta(obj).get("annotations") or {}).get(ANNOTATION_HASH)
    return value if isinstance(value, str) else None


def next_revision(
    workspace: Workspace,
    existing: Sequence[Manifest],
    *,
    history_limit: int = MAX_REVISION_HISTORY,
    hash: str | None = None,
) -> RevisionDecision:
    """Decide the revision of the workspace's current spec, given its stored revisions.

    Pure: no I/O, no clock, no logging.

    Only `existing` revisions labelled ``workspace.kaito.io/name=<ws>`` in the workspace's
    namespace count. A stored revision with the same hash is reused (reverting a spec restores
    its old number); otherwise the number is one more than the highest stored. Beyond
    `history_limit` revisions, the lowest-numbered ones other than the current are deleted.
    `hash` is `spec_hash(workspace)` when the caller already has it.
    """
    current = spec_hash(workspace) if hash is None else hash
    mine = [
        obj
        for obj in existing
        if (_meta(obj).get("labels") or {}).get(LABEL_REVISION_OWNER) == workspace.name
        and _meta(obj).get("namespace", workspace.namespace) == workspace.namespace
        and isinstance(_meta(obj).get("name"), str)
    ]
    mine.sort(key=lambda obj: (_number(obj), str(_meta(obj)["name"])))
    same = [obj for obj in mine if _stored_hash(obj) == current]
    if same:
        chosen = same[-1]
        name, number, found = str(_meta(chosen)["name"]), _number(chosen), True
    else:
        taken = {str(_meta(obj)["name"]) for obj in mine}
        length = _SHORT_HASH
        while revision_name(workspace, current, length=length) in taken and length < len(current):
            length += 1
        name = revision_name(workspace, current, length=length)
        number = (_number(mine[-1]) if mine else 0) + 1
        found = False
    others = [str(_meta(obj)["name"]) for obj in mine if str(_meta(obj)["name"]) != name]
    keep = max(0, history_limit - 1)
    doomed = others[: max(0, len(others) - keep)]
    return RevisionDecision(
        revision=number, hash=current, name=name, existing=found, delete=tuple(doomed)
    )


def template_hash(obj: Manifest) -> str:
    """sha256 hex of a rendered object's canonical JSON, ignoring its own template-hash
    annotation (so stamping does not change it).

    Pure: no I/O, no clock, no logging.
    """
    annotations = _meta(obj).get("annotations")
    if isinstance(annotations, Mapping) and ANNOTATION_TEMPLATE_HASH in annotations:
        # A shallow copy down to the annotations (the JSON below sorts keys, so order is moot).
        stripped = {k: v for k, v in annotations.items() if k != ANNOTATION_TEMPLATE_HASH}
        meta = dict(obj["metadata"])
        if stripped:
            meta["annotations"] = stripped
        else:
            del meta["annotations"]
        obj = {**obj, "metadata": meta}
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def stamp_template_hash(obj: Manifest) -> Manifest:
    """A copy of `obj` with `ANNOTATION_TEMPLATE_HASH` set to its `template_hash`.

    Pure: no I/O, no clock, no logging.
    """
    stamped = copy.deepcopy(obj)
    meta: dict[str, Any] = stamped.get("metadata") or {}
    annotations = {**(meta.get("annotations") or {}), ANNOTATION_TEMPLATE_HASH: template_hash(obj)}
    # Keep the metadata key order of `child_metadata`: annotations follow the labels.
    ordered: dict[str, Any] = {}
    for key, value in meta.items():
        if key == "annotations":
            continue
        if key in ("ownerReferences", "finalizers") and "annotations" not in ordered:
            ordered["annotations"] = dict(sorted(annotations.items()))
        ordered[key] = value
    ordered.setdefault("annotations", dict(sorted(annotations.items())))
    stamped["metadata"] = ordered
    return stamped
