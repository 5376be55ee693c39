"""Properties of the replica planner over generated replica sets, strategies and crashes.

- Availability: no step deletes a ready replica when that leaves fewer ready replicas than
  ``target - maxUnavailable`` (nor, when fewer are ready already, any ready replica).
- Crash safety: applying any prefix of a step's writes, then planning again (any number of
  times, with replicas becoming ready or finishing their deletion in between), never makes a
  second replica for a slot, never writes over a replica being deleted or an outdated one, and
  never grows the set beyond its target plus the surplus it started with.
- Convergence: once replicas are left to become ready, every surplus and outdated replica is
  gone, slots ``0 .. target-1`` hold current replicas, and the plan is empty.
- Determinism: the same input gives byte-identical plans, whatever the order of observation.
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.api import InferenceSet, RollingUpdate, UpdateStrategy
from kaito_core.inferenceset import plan_inferenceset
from kaito_core.inferenceset.rollout import resolve_max_unavailable
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome
from tests.inferenceset.support import CATALOG, NOW, Store, iset, replica, with_spec

SETTINGS = settings(
    max_examples=int(os.environ.get("PLAN_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HASH = "inferenceset.kaito.sh/template-hash"


@attrs.frozen
class World:
    obj: InferenceSet
    store: Store
    surplus: int


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """An InferenceSet (target 0-5, a maxUnavailable, RollingUpdate or OnDelete) and observed
    replicas: any slots 0-6, ready or not, current or outdated, some being deleted, maybe a
    replica upstream's controller named."""
    target = draw(st.integers(0, 5))
    max_unavailable = draw(st.sampled_from([1, 2, 3, "25%", "50%", "100%"]))
    on_delete = draw(st.booleans()) and draw(st.booleans())
    strategy = (
        UpdateStrategy(type="OnDelete")
        if on_delete
        else UpdateStrategy(
            type="RollingUpdate", rolling_update=RollingUpdate(max_unavailable=max_unavailable)
        )
    )
    obj = with_spec(iset(), replicas=target, update_strategy=strategy)
    store = Store()
    for slot in draw(st.sets(st.integers(0, 6), max_size=7)):
        store.objects[f"phi-{slot}"] = replica(
            obj,
            slot,
            ready=draw(st.booleans()),
            current=draw(st.booleans()),
            deleting=draw(st.integers(0, 4)) == 0,
        )
    for index in range(draw(st.integers(0, 2))):
        name = f"phi-legacy{index}"
        store.objects[name] = replica(obj, None, name=name, ready=draw(st.booleans()))
    surplus = sum(
        1
        for name, o in store.live().items()
        if not name[len("phi-") :].isdigit() or int(name[len("phi-") :]) >= target
    )
    return World(obj=obj, store=store, surplus=surplus)


def _plan(obj: InferenceSet, observed: Observed) -> Outcome[Any]:
    return plan_inferenceset(obj, observed=observed, catalog=CATALOG, now=NOW)


def _floor(obj: InferenceSet) -> int:
    strategy = obj.spec.update_strategy
    rolling = strategy.rolling_update if strategy else None
    target = obj.replicas
    return max(
        0, target - resolve_max_unavailable(rolling.max_unavailable if rolling else None, target)
    )


@SETTINGS
@given(worlds())
def test_no_step_takes_ready_replicas_below_the_floor(world: World) -> None:
    """Ready replicas deleted by one step leave at least min(ready, target - maxUnavailable)."""
    store = world.store
    outcome = _plan(world.obj, store.observed())
    ready = store.ready()
    deleted_ready = {k.name for k in outcome.delete} & ready
    assert len(ready) - len(deleted_ready) >= min(len(ready), _floor(world.obj))


def _check_writes(world: World, outcome: Outcome[Any]) -> None:
    store, target = world.store, world.obj.replicas
    for obj in outcome.apply:
        name = obj["metadata"]["name"]
        slot = int(name[len("phi-") :])
        assert slot < target
        existing = store.objects.get(name)
        if existing is not None:  # only a current replica is written over (a label refresh)
            assert not existing["metadata"].get("deletionTimestamp")
            assert existing["metadata"]["labels"][HASH] == obj["metadata"]["labels"][HASH]


@SETTINGS
@given(worlds(), st.data())
def test_a_crash_at_any_step_never_duplicates_a_replica(world: World, data: st.DataObject) -> None:
    """Apply a prefix of each plan, let the world move, plan again: never a second replica."""
    store, obj = world.store, world.obj
    for _ in range(data.draw(st.integers(1, 6))):
        outcome = _plan(obj, store.observed())
        _check_writes(world, outcome)
        actions = store.actions(outcome)
        for action in actions[: data.draw(st.integers(0, len(actions)))]:
            store.run(action)
            assert len(store.live()) <= obj.replicas + world.surplus
        for name in sorted(store.objects):
            if store.objects[name]["metadata"].get("deletionTimestamp"):
                if data.draw(st.booleans()):
                    del store.objects[name]
            elif data.draw(st.booleans()):
                store.set_ready(name, data.draw(st.booleans()))
    _converge(world)


def _converge(world: World) -> None:
    """Let everything become ready and every deletion finish; the set must converge."""
    store, obj = world.store, world.obj
    for _ in range(4 * (len(store.objects) + obj.replicas) + 4):
        outcome = _plan(obj, store.observed())
        settled = store.live().keys() == store.objects.keys() == store.ready()
        if settled and not outcome.apply and not outcome.delete:
            break
        for action in store.actions(outcome):
            store.run(action)
        store.finish_deletions()
        for name in store.live():
            store.set_ready(name, True)
    final = _plan(obj, store.observed())
    assert final.apply == ()
    assert final.delete == ()
    live = store.live()
    assert sorted(live) == sorted(f"phi-{s}" for s in range(obj.replicas))
    strategy = obj.spec.update_strategy
    if strategy is None or strategy.type != "OnDelete":
        hashes = {o["metadata"]["labels"][HASH] for o in live.values()}
        assert len(hashes) <= 1
    assert final.status.ready_replicas == obj.replicas


@SETTINGS
@given(worlds())
def test_surplus_and_outdated_replicas_are_always_removed(world: World) -> None:
    """From any observed state, the set converges to exactly its target current replicas."""
    _converge(world)


@SETTINGS
@given(worlds(), st.randoms(use_true_random=False))
def test_plans_are_byte_identical(world: World, rng: Any) -> None:
    """The same input gives the same bytes, whatever the order replicas are observed in."""
    observed = world.store.observed()
    shuffled = list(observed.objects)
    rng.shuffle(shuffled)
    first = _plan(world.obj, observed)
    second = _plan(world.obj, Observed(objects=tuple(shuffled)))

    def dump(outcome: Outcome[Any]) -> str:
        return json.dumps(
            {
                "desired": outcome.desired,
                "apply": outcome.apply,
                "delete": [str(k) for k in outcome.delete],
                "status": outcome.status.conditions
                and [attrs.asdict(c) for c in outcome.status.conditions],
                "counts": [outcome.status.replicas, outcome.status.ready_replicas],
                "events": [attrs.asdict(e) for e in outcome.events],
            },
            sort_keys=False,
        )

    assert dump(first) == dump(second)
    assert first == second
