"""`plan_ragengine`: from a RAGEngine and what is observed, everything that must exist.

Pure: no I/O, no clock, no logging. The same RAGEngine, observed state, catalog, settings and
`now` always give an equal `Outcome`, and its manifests serialise byte-identically.

1. The RAGEngine is defaulted and read as v1beta1.
2. Being deleted: ``RAGEngineDeleting`` and ``Outcome.deleting``; the engine releases the
   NodeClaim and drops the finalizer, and owner references take the children.
3. What cannot be rendered is a `SpecError` (no embedding, or both kinds; a guardrails
   ConfigMap that is missing or has no ``guardrails.yaml``; an object of ours already taken by
   someone else's object of the same name), returned with the status that says so.
4. The NodeClaim (`kaito_core.ragengine.nodes`) and the children: the ControllerRevision, the
   Service, the default guardrails policy ConfigMap when it is used, and the Deployment.
5. The children are compared with the observed ones (`kaito_core.diff.satisfies` and
   `needs_replace`): only what differs is applied; children no longer wanted (the policy copy
   after guardrails are turned off, revisions beyond the history) are deleted.
6. The status comes from the observed state alone (`kaito_core.ragengine.status`).

The shell fills `Observed` for a RAGEngine with: ``node_claims`` labelled
``kaito.sh/ragengine``/``kaito.sh/ragenginenamespace``; ``nodes`` matching the compute label
selector; ``pods`` labelled ``kaito.sh/ragengine=<name>``; ``objects``, its children (kinds
`kaito_core.ragengine.kind.CHILD_KINDS`); ``config_maps``, the ConfigMap named by
``guardrails.configMapRef.name`` by name and the release namespace's
``<ns>/ragengine-guardrails-policy-template`` if it exists; ``references``, what
`kaito_core.ragengine.wiring.inference_target` names (see `Observed.references`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import attrs

from kaito_core.api.ragengine import (
    DEFAULT_GUARDRAILS_POLICY_CONFIG_MAP,
    GUARDRAILS_POLICY_FILE,
    RAGEngine,
    RAGEngineStatus,
)
from kaito_core.decision import REPLACE_REQUEUE_SECONDS
from kaito_core.diff import needs_replace, satisfies
from kaito_core.errors import SpecError
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import ObjectKey, Outcome
from kaito_core.ragengine.kind import CHILD_KINDS
from kaito_core.ragengine.nodes import desired_node_claims, gpu_count
from kaito_core.ragengine.render import (
    guardrails_config_map,
    guardrails_config_map_name,
    rag_deployment,
    rag_service,
)
from kaito_core.ragengine.revision import controller_revision, decide_revision
from kaito_core.ragengine.settings import RAGEngineSettings
from kaito_core.ragengine.status import compute_ragengine_status, ragengine_events
from kaito_presets import Catalog

__all__ = ["default_guardrails_policy", "plan_ragengine"]

_CHILD_KINDS = frozenset(kind for _, kind in CHILD_KINDS)


@functools.cache
def default_guardrails_policy() -> str:
    """kaito-py's built-in default guardrails policy (``guardrails.yaml`` text).

    Pure: reads package data only (once); no clock, no logging.
    """
    path = resources.files("kaito_core.ragengine") / "data" / "guardrails-policy.yaml"
    return path.read_text(encoding="utf-8")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _check_shape(rag: RAGEngine) -> None:
    embedding = rag.spec.embedding if rag.spec is not None else None
    if embedding is None or (embedding.local is None and embedding.remote is None):
        raise SpecError(
            "Either remote embedding or local embedding must be specified, not neither",
            path="spec.embedding",
            reason="InvalidSpec",
        )
    if embedding.local is not None and embedding.remote is not None:
        raise SpecError(
            "Either remote embedding or local embedding must be specified, but not both",
            path="spec.embedding",
            reason="InvalidSpec",
        )


def _policy_text(manifest: Mapping[str, Any] | None) -> str | None:
    data = (manifest or {}).get("data")
    text = data.get(GUARDRAILS_POLICY_FILE) if isinstance(data, Mapping) else None
    return text if isinstance(text, str) else None


def _guardrails(
    rag: RAGEngine, observed: Observed, settings: RAGEngineSettings
) -> tuple[str | None, Manifest | None]:
    """(the ConfigMap to mount, the policy copy to render): the user's ConfigMap as it is, or
    our copy of the release namespace's template (else of the built-in default)."""
    guardrails = rag.spec.guardrails if rag.spec is not None else None
    if guardrails is None or not guardrails.enabled:
        return None, None
    ref = guardrails.config_map_ref.name if guardrails.config_map_ref is not None else ""
    if ref:
        path = "spec.guardrails.configMapRef.name"
        found = observed.config_maps.get(ref)
        if found is None:
            raise SpecError(
                f"guardrails.configMapRef.name references ConfigMap {ref!r}, but it was not "
                f"found in namespace {rag.namespace!r}",
                path=path,
                reason="GuardrailsPolicyNotFound",
            )
        if _policy_text(found) is None:
            raise SpecError(
                f"ConfigMap {ref!r} has no key {GUARDRAILS_POLICY_FILE} (the policy document "
                "the RAG service reads)",
                path=path,
                reason="GuardrailsPolicyInvalid",
            )
        return ref, None
    template = observed.config_maps.get(
        f"{settings.release_namespace}/{DEFAULT_GUARDRAILS_POLICY_CONFIG_MAP}"
    )
    policy = _policy_text(template) or default_guardrails_policy()
    return guardrails_config_map_name(rag), guardrails_config_map(rag, policy)


def _controlled(obj: Mapping[str, Any], rag: RAGEngine) -> bool:
    uid = rag.metadata.uid
    for ref in _meta(obj).get("ownerReferences") or ():
        if (
            ref.get("kind") == rag.kind
            and ref.get("name") == rag.name
            and ref.get("controller")
            and (not uid or not ref.get("uid") or ref.get("uid") == uid)
        ):
            return True
    return False


def _check_foreign(
    desired: Sequence[Manifest], observed: Sequence[Manifest], rag: RAGEngine
) -> None:
    by_key = {(o.get("kind"), _meta(o).get("name")): o for o in observed}
    for obj in desired:
        current = by_key.get((obj["kind"], obj["metadata"]["name"]))
        if current is not None and not _controlled(current, rag):
            raise SpecError(
                f"{obj['kind']} {rag.namespace}/{obj['metadata']['name']} already exists and "
                f"does not belong to this RAGEngine; delete or rename it, or rename the RAGEngine",
                path="metadata.name",
                reason="ObjectConflict",
            )


def _changes(
    desired: Sequence[Manifest], observed: Sequence[Manifest], rag: RAGEngine, stale: Sequence[str]
) -> tuple[tuple[Manifest, ...], tuple[ObjectKey, ...], bool]:
    """(apply, delete, waiting): what differs, what goes, and whether something waits to be
    recreated."""
    by_key = {(o.get("kind"), _meta(o).get("name")): o for o in observed}
    apply: list[Manifest] = []
    delete: set[ObjectKey] = set()
    waiting = False
    wanted = set()
    for obj in desired:
        key = (obj["kind"], obj["metadata"]["name"])
        wanted.add(key)
        current = by_key.get(key)
        if current is None:
            apply.append(obj)
        elif _meta(current).get("deletionTimestamp"):
            waiting = True
        elif needs_replace(current, obj):
            delete.add(ObjectKey.of(current))
            waiting = True
        elif not satisfies(current, obj):
            apply.append(obj)
    doomed = frozenset(stale)
    for key, current in by_key.items():
        kind, name = key
        if kind not in _CHILD_KINDS or key in wanted or _meta(current).get("deletionTimestamp"):
            continue
        if kind == "ControllerRevision" and name not in doomed:
            continue
        if _controlled(current, rag):
            delete.add(ObjectKey.of(current))
    return tuple(apply), tuple(sorted(delete)), waiting


def _canonical_instance_type(rag: RAGEngine, catalog: Catalog) -> RAGEngine:
    """`rag` with the catalog's spelling of its instance type, the one its node will carry
    (the NodeClaim asks for it; any case is accepted)."""
    compute = rag.compute
    if rag.spec is None or compute is None or not compute.instance_type:
        return rag
    canonical = catalog.canonical_instance_type(compute.instance_type)
    if canonical == compute.instance_type:
        return rag
    compute = attrs.evolve(compute, instance_type=canonical)
    return attrs.evolve(rag, spec=attrs.evolve(rag.spec, compute=compute))


def plan_ragengine(
    rag: RAGEngine,
    *,
    observed: Observed,
    catalog: Catalog,
    now: str,
    settings: RAGEngineSettings | None = None,
) -> Outcome[RAGEngineStatus]:
    """Everything that must exist for `rag`, what must change, and its new status.

    `now` is an RFC 3339 timestamp used only for condition transition times. A `SpecError` is
    returned in `Outcome.error` with the False condition that says so, and no objects.

    Pure: no I/O, no clock, no logging.
    """
    settings = settings or RAGEngineSettings()
    rag = rag.with_defaults()
    if rag.is_v1alpha1:
        rag = rag.as_v1beta1()
    rag = _canonical_instance_type(rag, catalog)
    previous = rag.status.conditions if rag.status and rag.status.conditions else ()

    def status_of(error: SpecError | None = None) -> RAGEngineStatus:
        return compute_ragengine_status(
            rag, observed=observed, catalog=catalog, settings=settings, now=now, error=error
        )

    if rag.metadata.deletion_timestamp:
        return Outcome(status=status_of(), deleting=True)
    try:
        _check_shape(rag)
        mounted, policy = _guardrails(rag, observed, settings)
        claims = desired_node_claims(rag, observed=observed, settings=settings)
        revision = decide_revision(rag, observed.objects)
        local = rag.spec is not None and rag.spec.embedding is not None and rag.spec.embedding.local
        gpus = gpu_count(rag, catalog=catalog, cloud=settings.cloud) if local else 0
        desired = [controller_revision(rag, revision), rag_service(rag)]
        if policy is not None:
            desired.append(policy)
        desired.append(
            rag_deployment(
                rag,
                image=settings.image,
                gpus=gpus,
                policy_config_map=mounted,
                revision=revision.revision,
                pod_security=settings.pod_security,
            )
        )
        _check_foreign(desired, observed.objects, rag)
    except SpecError as error:
        status = status_of(error)
        return Outcome(
            status=status,
            error=error,
            events=ragengine_events(previous, status.conditions or (), observed=observed),
        )
    apply, delete, waiting = _changes(desired, observed.objects, rag, revision.delete)
    status = status_of()
    return Outcome(
        node_claims=tuple(claims),
        desired=tuple(desired),
        apply=apply,
        delete=delete,
        status=status,
        events=ragengine_events(
            previous, status.conditions or (), observed=observed, claims=claims
        ),
        requeue_after=REPLACE_REQUEUE_SECONDS if waiting else None,
        target_node_count=len(claims),
    )
