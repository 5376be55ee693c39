"""Spec hash, ControllerRevisions and the rendered-template hash (controller.md §3.2)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaito_core.api.types import Workspace
from kaito_core.render.revision import (
    ANNOTATION_TEMPLATE_HASH,
    MAX_REVISION_HISTORY,
    controller_revision,
    next_revision,
    revision_name,
    spec_hash,
    stamp_template_hash,
    template_hash,
)


def manifest(preset: str = "phi-4", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "ns", "uid": "u-1"},
        "resource": {
            "instanceType": "Standard_NC24ads_A100_v4",
            "labelSelector": {"matchLabels": labels or {"a": "1", "b": "2"}},
        },
        "inference": {"preset": {"name": preset}},
    }


def workspace(preset: str = "phi-4", **kwargs: Any) -> Workspace:
    return Workspace.from_manifest(manifest(preset, **kwargs)).with_defaults()


def stored(
    ws: Workspace, number: int, *, hash: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A ControllerRevision as it would be stored for `ws` (or any given hash/name)."""
    digest = hash or spec_hash(ws)
    return controller_revision(ws, revision=number, hash=digest, name=name)


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


# --- spec hash --------------------------------------------------------------------------------


def test_spec_hash_is_our_canonical_json() -> None:
    """sha256 over resource, inference and tuning, one compact sorted-key JSON line each."""
    ws = workspace()
    body = ws.to_manifest()
    text = "".join(
        json.dumps(body.get(k), sort_keys=True, separators=(",", ":")) + "\n"
        for k in ("resource", "inference", "tuning")
    )
    assert spec_hash(ws) == hashlib.sha256(text.encode()).hexdigest()
    assert '"tuning"' not in text
    assert text.endswith("null\n")


def test_spec_hash_stable_across_key_order() -> None:
    """The same spec written with keys in another order hashes the same."""
    a = Workspace.from_manifest(manifest()).with_defaults()
    b = Workspace.from_manifest(reversed_keys(manifest())).with_defaults()
    assert spec_hash(a) == spec_hash(b)


@given(
    st.dictionaries(
        st.from_regex(r"\A[a-z]{1,8}\Z"), st.from_regex(r"\A[a-z0-9]{0,8}\Z"), min_size=1
    )
)
def test_spec_hash_ignores_label_order(labels: dict[str, str]) -> None:
    """matchLabels in any order: one hash."""
    shuffled = dict(reversed(list(labels.items())))
    assert spec_hash(workspace(labels=labels)) == spec_hash(workspace(labels=shuffled))


def test_spec_hash_follows_the_spec_only() -> None:
    """A spec change changes the hash; metadata and status do not."""
    base = manifest()
    changed = manifest(preset="phi-4-mini-instruct")
    relabelled = copy.deepcopy(base)
    relabelled["metadata"]["labels"] = {"x": "y"}
    relabelled["status"] = {"targetNodeCount": 3}
    h = spec_hash(Workspace.from_manifest(base))
    assert spec_hash(Workspace.from_manifest(changed)) != h
    assert spec_hash(Workspace.from_manifest(relabelled)) == h


# --- ControllerRevision -----------------------------------------------------------------------


def test_controller_revision_shape() -> None:
    """apps/v1 ControllerRevision <ws>-<hash[:5]>, labelled, hashed, owned, with the spec data."""
    ws = workspace()
    digest = spec_hash(ws)
    rev = controller_revision(ws, revision=4, hash=digest)
    kubernetes_validate.validate(rev, "1.33", strict=True)
    meta = rev["metadata"]
    assert meta["name"] == f"ws-{digest[:5]}"
    assert meta["namespace"] == "ns"
    assert meta["labels"]["workspace.kaito.io/name"] == "ws"
    assert meta["annotations"] == {"workspace.kaito.io/hash": digest}
    assert meta["ownerReferences"][0]["uid"] == "u-1"
    assert rev["revision"] == 4
    assert set(rev["data"]) == {"resource", "inference"}
    assert rev["data"]["inference"] == {"preset": {"name": "phi-4", "accessMode": "public"}}


# --- next_revision ----------------------------------------------------------------------------


def test_first_revision() -> None:
    """No history: revision 1 named <ws>-<hash[:5]>."""
    ws = workspace()
    decision = next_revision(ws, [])
    assert decision.revision == 1
    assert decision.name == revision_name(ws, spec_hash(ws))
    assert decision.existing is False
    assert decision.delete == ()


def test_unchanged_spec_keeps_its_revision() -> None:
    """The stored revision of the same spec is reused as it is."""
    ws = workspace()
    decision = next_revision(ws, [stored(ws, 1)])
    assert (decision.revision, decision.existing) == (1, True)


def test_new_spec_gets_next_number() -> None:
    """A changed spec is last + 1."""
    old, new = workspace("phi-4"), workspace("phi-4-mini-instruct")
    decision = next_revision(new, [stored(old, 1), stored(old, 7, hash="f" * 64)])
    assert decision.revision == 8
    assert decision.existing is False


def test_revision_reused_on_revert() -> None:
    """Going back to an earlier spec restores its old number."""
    a, b = workspace("phi-4"), workspace("phi-4-mini-instruct")
    history = [stored(a, 1), stored(b, 2)]
    decision = next_revision(a, history)
    assert decision.revision == 1
    assert decision.name == history[0]["metadata"]["name"]
    assert decision.existing is True


def test_name_collision_uses_a_longer_hash_prefix() -> None:
    """Upstream errors on a name taken by another hash; we lengthen the prefix."""
    ws = workspace()
    digest = spec_hash(ws)
    squatter = stored(ws, 1, hash="0" * 64, name=f"ws-{digest[:5]}")
    decision = next_revision(ws, [squatter])
    assert decision.name == f"ws-{digest[:6]}"
    assert decision.revision == 2
    second = stored(ws, 2, hash="1" * 64, name=f"ws-{digest[:6]}")
    assert next_revision(ws, [squatter, second]).name == f"ws-{digest[:7]}"


def test_history_limit() -> None:
    """At most 10 revisions in all: the oldest others go, oldest first."""
    ws = workspace()
    history = [stored(ws, n, hash=f"{n:064x}", name=f"ws-old{n}") for n in range(1, 11)]
    decision = next_revision(ws, history)
    assert decision.revision == 11
    assert decision.delete == ("ws-old1",)
    more = [*history, stored(ws, 11, hash="e" * 64, name="ws-old11")]
    assert next_revision(ws, more).delete == ("ws-old1", "ws-old2")


def test_history_limit_never_deletes_the_current_revision() -> None:
    """Reverting to the oldest revision keeps it and drops the next-oldest instead."""
    ws = workspace()
    history = [stored(ws, 1)] + [
        stored(ws, n, hash=f"{n:064x}", name=f"ws-old{n}") for n in range(2, 13)
    ]
    decision = next_revision(ws, history)
    assert decision.revision == 1
    assert decision.name not in decision.delete
    assert decision.delete == ("ws-old2", "ws-old3")
    assert len(history) - len(decision.delete) == MAX_REVISION_HISTORY


def test_other_workspaces_revisions_are_ignored() -> None:
    """Only revisions labelled with this workspace (in its namespace) count."""
    ws, other = (
        workspace(),
        Workspace.from_manifest({**manifest(), "metadata": {"name": "other", "namespace": "ns"}}),
    )
    foreign = stored(other, 5)
    elsewhere = stored(ws, 9)
    elsewhere["metadata"]["namespace"] = "elsewhere"
    decision = next_revision(ws, [foreign, elsewhere])
    assert decision.revision == 1
    assert decision.delete == ()


# --- template hash ----------------------------------------------------------------------------


def job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "ws", "namespace": "ns", "labels": {"a": "b"}, "ownerReferences": []},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
    }


def test_template_hash_is_stable_and_order_free() -> None:
    """Same object, same hash, whatever the key order."""
    assert template_hash(job()) == template_hash(reversed_keys(job()))


def test_template_hash_sees_any_change() -> None:
    """A change anywhere in the rendered object changes the hash (upstream patched 4 fields)."""
    changed = job()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    assert template_hash(changed) != template_hash(job())


def test_stamp_is_idempotent_and_ignored_by_the_hash() -> None:
    """Stamping adds the annotation; the stamped object hashes like the unstamped one."""
    stamped = stamp_template_hash(job())
    digest = stamped["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH]
    assert digest == template_hash(job()) == template_hash(stamped)
    assert stamp_template_hash(stamped) == stamped
    assert list(stamped["metadata"]) == [
        "name",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
    ]
    assert "annotations" not in job()["metadata"]


@pytest.mark.parametrize("existing", [{}, {"x": "1"}], ids=["no-annotations", "other-annotations"])
def test_stamp_keeps_other_annotations(existing: dict[str, str]) -> None:
    """Other annotations survive stamping, sorted."""
    obj = job()
    if existing:
        obj["metadata"]["annotations"] = existing
    stamped = stamp_template_hash(obj)
    assert {
        k: v for k, v in stamped["metadata"]["annotations"].items() if k != ANNOTATION_TEMPLATE_HASH
    } == existing
    assert list(stamped["metadata"]["annotations"]) == sorted(stamped["metadata"]["annotations"])
