"""A RAGEngine's ControllerRevisions: one per distinct spec, numbered in creation order.

Pure: no I/O, no clock, no logging.

Upstream (``syncControllerRevision``) hashes the spec, keeps ``apps/v1`` ControllerRevisions
named ``<rag>-<hash[:5]>`` labelled ``ragengine.kaito.io/name`` with the hash in the annotation
``ragengine.kaito.io/hash``, numbers them in creation order (returning to an earlier spec reuses
its number), keeps at most 10, and puts the number on the Deployment
(``ragengine.kaito.io/revision``). Upstream fails the reconcile when the short name is taken by
another hash, and also writes both annotations onto the RAGEngine itself; here a taken name grows
to a longer prefix of the hash, and the RAGEngine is left alone (a plan changes only children).
The hash is sha256 of the v1beta1 spec as canonical JSON (never equal to upstream's Go hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api.ragengine import RAGEngine
from kaito_core.observed import Manifest
from kaito_core.ragengine.render import rag_child_metadata
from kaito_core.render.revision import MAX_REVISION_HISTORY, canonical_json

__all__ = [
    "ANNOTATION_HASH",
    "LABEL_REVISION_OWNER",
    "RAGRevision",
    "controller_revision",
    "decide_revision",
    "spec_hash",
]

ANNOTATION_HASH = "ragengine.kaito.io/hash"
LABEL_REVISION_OWNER = "ragengine.kaito.io/name"
_SHORT = 5


def _spec(rag: RAGEngine) -> Any:
    return rag.to_manifest().get("spec")


def spec_hash(rag: RAGEngine) -> str:
    """sha256 hex of the spec's canonical JSON (``null`` without a spec).

    Pure: no I/O, no clock, no logging.
    """
    return hashlib.sha256(canonical_json(_spec(rag)).encode()).hexdigest()


@attrs.frozen(kw_only=True)
class RAGRevision:
    """The current spec's revision: its number, hash and name; old revisions to delete."""

    revision: int
    hash: str
    name: str
    delete: tuple[str, ...] = ()


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _number(obj: Mapping[str, Any]) -> int:
    value = obj.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decide_revision(rag: RAGEngine, existing: Sequence[Manifest]) -> RAGRevision:
    """Which revision the current spec is, given the observed objects (only ControllerRevisions
    labelled ``ragengine.kaito.io/name=<rag>`` count).

    Pure: no I/O, no clock, no logging.
    """
    digest = spec_hash(rag)
    mine = [
        obj
        for obj in existing
        if obj.get("kind") == "ControllerRevision"
        and (_meta(obj).get("labels") or {}).get(LABEL_REVISION_OWNER) == rag.name
        and isinstance(_meta(obj).get("name"), str)
    ]
    mine.sort(key=lambda obj: (_number(obj), str(_meta(obj)["name"])))
    same = [o for o in mine if (_meta(o).get("annotations") or {}).get(ANNOTATION_HASH) == digest]
    if same:
        name, number = str(_meta(same[-1])["name"]), _number(same[-1])
    else:
        taken = {str(_meta(obj)["name"]) for obj in mine}
        length = _SHORT
        while f"{rag.name}-{digest[:length]}" in taken and length < len(digest):
            length += 1
        name = f"{rag.name}-{digest[:length]}"
        number = (_number(mine[-1]) if mine else 0) + 1
    others = [str(_meta(obj)["name"]) for obj in mine if str(_meta(obj)["name"]) != name]
    doomed = others[: max(0, len(others) - (MAX_REVISION_HISTORY - 1))]
    return RAGRevision(revision=number, hash=digest, name=name, delete=tuple(doomed))


def controller_revision(rag: RAGEngine, revision: RAGRevision) -> Manifest:
    """The ControllerRevision recording the spec as `revision`.

    Pure: no I/O, no clock, no logging.
    """
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": rag_child_metadata(
            rag,
            revision.name,
            labels={LABEL_REVISION_OWNER: rag.name},
            annotations={ANNOTATION_HASH: revision.hash},
        ),
        "data": _spec(rag) or {},
        "revision": revision.revision,
    }
