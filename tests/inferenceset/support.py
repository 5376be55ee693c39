"""Builders shared by the InferenceSet tests: manifests, observed replicas, a tiny API server."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kaito_core.api import Condition, InferenceSet
from kaito_core.decision import PlanSettings
from kaito_core.inferenceset import InferenceSetOptions, plan_inferenceset
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import Outcome
from kaito_presets import default_catalog

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"
A100 = "Standard_NC24ads_A100_v4"
V1BETA1 = "kaito.sh/v1beta1"
V1ALPHA1 = "kaito.sh/v1alpha1"
CATALOG = default_catalog()


def manifest(
    name: str = "phi",
    *,
    replicas: int | None = 2,
    instance: str | None = A100,
    preset: str = "phi-4-mini-instruct",
    namespace: str | None = "default",
    uid: str | None = "uid-1",
    api: str = V1BETA1,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    template_metadata: Mapping[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A valid InferenceSet manifest; keyword arguments in camelCase go into ``spec``."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if uid is not None:
        meta["uid"] = uid
    if annotations:
        meta["annotations"] = dict(annotations)
    if labels:
        meta["labels"] = dict(labels)
    template: dict[str, Any] = {"inference": {"preset": {"name": preset}}}
    if instance is not None:
        template["resource"] = {"instanceType": instance}
    if template_metadata is not None:
        template["metadata"] = dict(template_metadata)
    body: dict[str, Any] = {"labelSelector": {"matchLabels": {"apps": name}}, "template": template}
    if replicas is not None:
        body["replicas"] = replicas
    body.update(spec)
    return {"apiVersion": api, "kind": "InferenceSet", "metadata": meta, "spec": body}


def iset(name: str = "phi", **kwargs: Any) -> InferenceSet:
    """`manifest` parsed."""
    return InferenceSet.from_manifest(manifest(name, **kwargs))


def with_spec(obj: InferenceSet, **changes: Any) -> InferenceSet:
    """`obj` with spec fields replaced (snake_case)."""
    return attrs.evolve(obj, spec=attrs.evolve(obj.spec, **changes))


def replica(
    obj: InferenceSet,
    slot: int | None,
    *,
    ready: bool = True,
    deleting: bool = False,
    current: bool = True,
    name: str | None = None,
    target_node_count: int | None = None,
    generation: int | None = None,
    observed_generation: int | None = None,
) -> Manifest:
    """An observed replica Workspace of `obj` in `slot` (None: an upstream-named one), made from
    the current template (or, with ``current=False``, an older one)."""
    from kaito_core.inferenceset.plan import replica_manifest

    base = replica_manifest(obj.with_defaults(), slot=slot or 0)
    meta = base["metadata"]
    if name is not None:
        meta["name"] = name
    elif slot is None:
        meta["name"] = f"{obj.name}-x7k2q"
    if not current:
        meta["labels"]["inferenceset.kaito.sh/template-hash"] = "0ld0ld0ld0"
        base["inference"] = {"preset": {"name": "phi-3-mini-4k-instruct", "accessMode": "public"}}
    if deleting:
        meta["deletionTimestamp"] = NOW
    if generation is not None:
        meta["generation"] = generation
    condition: dict[str, Any] = {
        "type": "WorkspaceSucceeded",
        "status": "True" if ready else "False",
        "reason": "workspaceSucceeded" if ready else "workspacePending",
        "message": "",
        "lastTransitionTime": NOW,
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    status: dict[str, Any] = {"conditions": [condition]}
    if target_node_count is not None:
        status["targetNodeCount"] = target_node_count
    base["status"] = status
    return base


def run(
    obj: InferenceSet,
    *objects: dict[str, Any],
    settings: PlanSettings | None = None,
    options: InferenceSetOptions | None = None,
    now: str = NOW,
) -> Outcome[Any]:
    return plan_inferenceset(
        obj,
        observed=Observed(objects=objects),
        catalog=CATALOG,
        now=now,
        settings=settings,
        options=options,
    )


def condition(outcome: Outcome[Any], type_: str) -> Condition:
    found = outcome.status.condition(type_)
    assert found is not None, f"no {type_} condition"
    return found


def names(objects: Sequence[Manifest]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


@attrs.define
class Store:
    """Replica Workspaces as an API server keeps them: apply creates or updates in place (status
    and deletion kept), delete marks the object deleting; `settle` finishes deletions and makes
    chosen replicas ready."""

    objects: dict[str, Manifest] = attrs.field(factory=dict)

    def observed(self, *extra: Manifest) -> Observed:
        return Observed(objects=tuple(copy.deepcopy(o) for o in (*self.objects.values(), *extra)))

    def apply(self, obj: Manifest) -> None:
        name = obj["metadata"]["name"]
        old = self.objects.get(name)
        new = copy.deepcopy(obj)
        if old is not None:
            new["status"] = old.get("status", {})
            if old["metadata"].get("deletionTimestamp"):
                new["metadata"]["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        else:
            new["status"] = {"conditions": []}
        self.objects[name] = new

    def delete(self, name: str) -> None:
        if name in self.objects:
            self.objects[name]["metadata"]["deletionTimestamp"] = NOW

    def actions(self, outcome: Outcome[Any]) -> list[tuple[str, Any]]:
        """The outcome's writes in the engine's order: every apply, then every delete."""
        return [("apply", o) for o in outcome.apply] + [("delete", k.name) for k in outcome.delete]

    def run(self, action: tuple[str, Any]) -> None:
        kind, what = action
        if kind == "apply":
            self.apply(what)
        else:
            self.delete(what)

    def set_ready(self, name: str, ready: bool) -> None:
        obj = self.objects[name]
        obj["status"] = {
            "conditions": [
                {
                    "type": "WorkspaceSucceeded",
                    "status": "True" if ready else "False",
                    "reason": "workspaceSucceeded" if ready else "workspacePending",
                    "message": "",
                    "lastTransitionTime": NOW,
                }
            ]
        }

    def finish_deletions(self) -> None:
        for name in [n for n, o in self.objects.items() if o["metadata"].get("deletionTimestamp")]:
            del self.objects[name]

    def live(self) -> dict[str, Manifest]:
        return {n: o for n, o in self.objects.items() if not o["metadata"].get("deletionTimestamp")}

    def ready(self) -> set[str]:
        return {
            n
            for n, o in self.live().items()
            if any(
                c["type"] == "WorkspaceSucceeded" and c["status"] == "True"
                for c in o.get("status", {}).get("conditions", [])
            )
        }
