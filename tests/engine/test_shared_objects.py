"""The fake cluster's watch events share the store's dicts with the engine's informer caches.

Nothing may mutate a shared object: not the informers, their handlers, the observer, the
reconciler nor ``kaito_core.plan``. These tests fail if anything does.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kaito_backends.engine import Controller
from kaito_backends.objects import Manifest, clone

from .conftest import MAXWELL, V100, cluster_with, workspace


def _freeze(value: Any) -> Any:
    """A deep read-only view: dicts become mapping proxies, lists and tuples tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _cluster() -> Any:
    return cluster_with(
        workspace("a"),
        workspace("b", instance_type=V100),
        workspace("t", tuning=True),
        workspace("bad", instance_type=MAXWELL),
    )


async def test_watch_events_carry_the_stored_dict() -> None:
    """The sharing the other tests guard: a cached object is the store's own dict."""
    cluster = _cluster()
    async with Controller(cluster.client(), cluster.provisioner(), clock=cluster.clock) as ctl:
        assert (await ctl.run_until_settled(3600)).settled
        shared = 0
        for informer in ctl.informers:
            for (ns, name), obj in informer.objects.items():
                stored = cluster.store.find(obj["apiVersion"], obj["kind"], ns or None, name)
                assert stored is not None
                shared += stored is obj
        assert shared > 20


async def test_converging_and_resyncing_never_mutate_a_shared_object() -> None:
    """Every object the store committed (and so every watch event) is unchanged at the end,
    and every input ``plan()`` was given is unchanged after it returned."""
    cluster = _cluster()
    committed: list[tuple[Manifest, Manifest]] = []
    cluster.store.listeners.append(
        lambda change, obj, old: committed.append((obj, clone(obj))),
    )
    from kaito_core.plan import plan

    planned = 0

    def checked_plan(ws: Any, *, observed: Any, **kwargs: Any) -> Any:
        nonlocal planned
        before = clone([observed.node_claims, observed.nodes, observed.pods, observed.objects])
        maps = clone(dict(observed.config_maps))
        outcome = plan(ws, observed=observed, **kwargs)
        after = [observed.node_claims, observed.nodes, observed.pods, observed.objects]
        assert clone(after) == before
        assert clone(dict(observed.config_maps)) == maps
        planned += 1
        return outcome

    ctl = Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, planner=checked_plan
    )
    async with ctl:
        ctl.reconciler.memoize = False
        assert (await ctl.run_until_settled(3600)).settled
        for _ in range(2):
            ctl.resync()
            await ctl.run_until_settled(3600)
        cluster.store.delete("kaito.sh/v1beta1", "Workspace", "default", "a")
        await ctl.run_until_settled(3600)
    assert planned > 20
    assert len(committed) > 50
    for obj, snapshot in committed:
        assert obj == snapshot, f"{obj['kind']} {obj['metadata'].get('name')} was mutated"


async def test_plan_gives_the_same_outcome_on_frozen_observed_objects() -> None:
    """``plan()`` only reads what the observer hands it: on deep read-only views of the same
    objects (mapping proxies, tuples) it returns the same outcome, at every step of a converge."""
    from kaito_core.plan import plan

    compared = 0

    def frozen_plan(ws: Any, *, observed: Any, **kwargs: Any) -> Any:
        nonlocal compared
        outcome = plan(ws, observed=observed, **kwargs)
        frozen = plan(ws, observed=_frozen_observed(observed), **kwargs)
        assert frozen.status == outcome.status
        assert frozen.apply == outcome.apply
        assert frozen.delete == outcome.delete
        assert frozen.node_claims == outcome.node_claims
        compared += 1
        return outcome

    cluster = _cluster()
    ctl = Controller(
        cluster.client(), cluster.provisioner(), clock=cluster.clock, planner=frozen_plan
    )
    async with ctl:
        assert (await ctl.run_until_settled(3600)).settled
    assert compared > 20


def _frozen_observed(observed: Any) -> Any:
    import attrs

    return attrs.evolve(
        observed,
        node_claims=_freeze(observed.node_claims),
        nodes=_freeze(observed.nodes),
        pods=_freeze(observed.pods),
        objects=_freeze(observed.objects),
        config_maps=MappingProxyType({k: _freeze(v) for k, v in observed.config_maps.items()}),
    )
