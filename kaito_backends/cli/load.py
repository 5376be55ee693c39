"""``kaito up FILE --load PROFILE``: simulated requests on an InferenceSet, and the autoscaler
that scales it, watched in virtual time.

`prepare` reads the profile (`kaito_backends.fake.load_profile`; each problem one line
``PROFILE: phases[1].rate: ...``, exit 1; an unreadable file exit 2) and picks its target: the
object of a scalable kind it names, else the only one in the input. The run then provisions the
KEDA ScaledObject the InferenceSet asks for (its ``scaledobject.kaito.sh/*`` annotations), and
`LoadRun.drive` runs the engine with the traffic simulation (`kaito_backends.fake.traffic`)
and the fake cluster's autoscaler (`kaito_backends.fake.autoscaler`), printing a progress line
for each load phase and each rescale::

    [00:21:05] phi-4-mini: autoscaler: 1 -> 2 replicas (vllm:num_requests_waiting 14.0 per
    replica, target 10)

It ends when the profile has run, every queue is empty, the autoscaler has nothing left to do
and every object settled; or when ``--timeout`` virtual minutes pass after the profile's end
(before the load starts: after the start of the run). `LoadRun.report` is the table printed
after ``kaito up``'s own: one row per load event and rescale (time, request rate, requests
waiting, desired and ready replicas), then the totals.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from kaito_backends.cli.output import table
from kaito_backends.cli.progress import Names
from kaito_backends.engine.controller import Controller, Settled
from kaito_backends.fake import FakeCluster
from kaito_backends.fake.autoscaler import FakeAutoscaler, Rescale
from kaito_backends.fake.load_profile import LoadProfile, LoadProfileError, read_load_profile
from kaito_backends.fake.traffic import Traffic, TrafficEvent
from kaito_backends.kinds.inferenceset import with_keda
from kaito_backends.objects import Key, ObjectRef
from kaito_core.api.yamlsafe import ManifestLoadError
from kaito_core.kinds import KindSpec, Registry

__all__ = ["LoadRun", "add_load_argument", "prepare"]


def add_load_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--load",
        metavar="PROFILE",
        default=None,
        help="simulate requests on an InferenceSet from a load profile (YAML: requests per "
        "second over virtual time) and let the autoscaler its ScaledObject describes scale it "
        "(see docs/inferenceset.md)",
    )


def _stamp(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@attrs.define
class _Row:
    at: float
    rate: float
    waiting: int
    replicas: str
    ready: str
    event: str


class LoadRun:
    """One load simulation of a ``kaito up`` run (see the module docstring)."""

    def __init__(
        self, profile: LoadProfile, *, path: str, spec: KindSpec[Any, Any], key: Key
    ) -> None:
        self.profile = profile
        self.path = path
        self.spec = spec
        self.key = key
        self.rows: list[_Row] = []
        self.traffic: Traffic | None = None
        self.autoscaler: FakeAutoscaler | None = None
        self.timed_out = False
        self._start = 0.0
        self._peak_replicas = 0

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.spec.api_version, self.spec.kind, self.key.name, self.key.namespace)

    @staticmethod
    def registry(registry: Registry) -> Registry:
        """The kinds the run reconciles: ``registry`` with ScaledObjects provisioned."""
        return with_keda(registry)

    # -- the run ---------------------------------------------------------------------------------
    def _replicas(self, cluster: FakeCluster) -> tuple[str, str]:
        ref = self.ref
        obj = cluster.store.find(ref.api_version, ref.kind, ref.namespace, ref.name) or {}
        desired = (obj.get("spec") or {}).get("replicas", 1)
        ready = (obj.get("status") or {}).get("readyReplicas", 0)
        if isinstance(desired, int):
            self._peak_replicas = max(self._peak_replicas, desired)
        return str(desired), str(ready)

    def _row(self, cluster: FakeCluster, at: float, event: str, replicas: str = "") -> None:
        traffic = self.traffic
        assert traffic is not None
        desired, ready = self._replicas(cluster)
        self.rows.append(
            _Row(
                at=at - self._start,
                rate=traffic.rate(),
                waiting=traffic.total_waiting(),
                replicas=replicas or desired,
                ready=ready,
                event=event,
            )
        )

    async def drive(
        self,
        controller: Controller,
        cluster: FakeCluster,
        *,
        out: TextIO | None,
        names: Names,
        timeout: float,
    ) -> Settled:
        """Run the engine, the traffic and the autoscaler until the load is over and everything
        settled, or the timeout (seconds) passed after the load's end."""
        clock = cluster.clock
        self._start = clock.monotonic()
        scales = {(s.group, s.kind): s.scale for s in controller.registry if s.scale is not None}
        scale = self.spec.scale
        assert scale is not None
        traffic = self.traffic = Traffic(cluster, self.profile, target=self.ref, scale=scale)
        autoscaler = self.autoscaler = FakeAutoscaler(cluster, scales=scales, metrics=traffic.value)

        def say(text: str) -> None:
            if out is not None:
                elapsed = clock.monotonic() - self._start
                print(f"[{_stamp(elapsed)}] {names(self.key)}: {text}", file=out, flush=True)

        def on_traffic(event: TrafficEvent) -> None:
            say(event.message)
            self._row(cluster, event.at, event.message)

        def on_rescale(change: Rescale) -> None:
            text = (
                f"autoscaler: {change.before} -> {change.after} replicas ({change.metric} "
                f"{change.average:.1f} per replica, target {change.threshold:g})"
            )
            say(text)
            self._row(cluster, change.at, text.partition(" (")[0], f"{change.after}")

        traffic.listeners.append(on_traffic)
        autoscaler.listeners.append(on_rescale)
        traffic.start()
        autoscaler.start()
        reconciles = 0
        try:
            while True:
                now = clock.monotonic()
                if traffic.started_at is None:
                    deadline = self._start + timeout
                else:
                    deadline = traffic.started_at + self.profile.duration + timeout
                settled = await controller.run_until_settled(max(0.0, deadline - now))
                reconciles += settled.reconciles
                done = traffic.finished and autoscaler.idle()
                if done and settled.settled:
                    break
                if clock.monotonic() >= deadline:
                    self.timed_out = not done
                    break
                due = clock.next_deadline()
                if due is None:
                    break
                clock.advance(max(0.0, due - clock.monotonic()))
        finally:
            await autoscaler.stop()
            traffic.stop()
        return Settled(
            results=dict(controller.results),
            settled=settled.settled and not self.timed_out,
            elapsed=clock.monotonic() - self._start,
            reconciles=reconciles,
        )

    # -- after the run ---------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Why the load part of the run did not complete (empty when it did)."""
        traffic, autoscaler = self.traffic, self.autoscaler
        found = []
        if traffic is None or traffic.started_at is None:
            found.append(f"the load never started: {self.key.name} had no Ready replica")
        elif self.timed_out:
            found.append("the load and the autoscaler did not settle within the timeout")
        if autoscaler is not None:
            for (namespace, name), errors in sorted(autoscaler.problems.items()):
                for error in errors:
                    found.append(f"ScaledObject {namespace}/{name}: {error}")
        return found

    def summary(self) -> dict[str, Any]:
        """The run's figures (``kaito up -o json``'s ``load``)."""
        traffic = self.traffic
        autoscaler = self.autoscaler
        return {
            "profile": self.path,
            "target": self.key.name,
            "namespace": self.key.namespace,
            "seed": self.profile.seed,
            "serviceRate": self.profile.service_rate,
            "requests": traffic.arrived if traffic else 0,
            "served": traffic.served if traffic else 0,
            "dropped": traffic.dropped if traffic else 0,
            "peakWaiting": traffic.peak_waiting if traffic else 0,
            "peakReplicas": self._peak_replicas,
            "rescales": len(autoscaler.rescales) if autoscaler else 0,
            "failedRescales": autoscaler.errors if autoscaler else 0,
            "events": [
                {
                    "time": _stamp(r.at),
                    "rate": round(r.rate, 3),
                    "waiting": r.waiting,
                    "replicas": r.replicas,
                    "ready": r.ready,
                    "event": r.event,
                }
                for r in self.rows
            ],
        }

    def report(self) -> str:
        """The load table and its totals (see the module docstring)."""
        figures = self.summary()
        rows = [
            [_stamp(r.at), f"{r.rate:.2f}", str(r.waiting), r.replicas, r.ready, r.event]
            for r in self.rows
        ]
        head = (
            f"load {self.path} on {self.key.name} (seed {self.profile.seed}, "
            f"{self.profile.service_rate:g} req/s per replica):"
        )
        body = table(["TIME", "REQ/S", "WAITING", "REPLICAS", "READY", "EVENT"], rows)
        totals = (
            f"requests: {figures['requests']} arrived, {figures['served']} served, "
            f"{figures['dropped']} dropped; peak {figures['peakWaiting']} waiting, "
            f"{figures['peakReplicas']} replicas; {figures['rescales']} rescale(s)"
        )
        return f"{head}\n{body}\n{totals}"


def _target(
    profile: LoadProfile, candidates: Sequence[tuple[KindSpec[Any, Any], Key]], path: str
) -> tuple[KindSpec[Any, Any], Key] | str:
    named = [
        (spec, key)
        for spec, key in candidates
        if (profile.target is None or key.name == profile.target)
        and (profile.namespace is None or key.namespace == profile.namespace)
    ]
    if len(named) == 1:
        return named[0]
    kinds = " or ".join(sorted({spec.kind for spec, _ in candidates})) or "InferenceSet"
    if not named and profile.target is not None:
        return f"{path}: target: no {kinds} named {profile.target!r} in the input"
    if not named:
        return f"{path}: the input has no object with a scale subresource (an InferenceSet)"
    return f"{path}: target: the input has {len(named)} {kinds}s; name one with target"


def prepare(
    path: str,
    objects: Sequence[tuple[KindSpec[Any, Any], Key]],
    *,
    err: TextIO | None = None,
) -> LoadRun | int:
    """The `LoadRun` of ``path`` for these input objects, or the exit code after saying why
    not on ``err`` (default standard error; 2: the file cannot be read; 1: the profile or its
    target is wrong)."""
    err = err if err is not None else sys.stderr
    try:
        profile = read_load_profile(path)
    except OSError as error:
        print(f"{path}: error: {error.strerror or error}", file=err)
        return 2
    except ManifestLoadError as error:
        print(f"{path}: error: {error}", file=err)
        return 2
    except LoadProfileError as error:
        for problem in error.errors:
            print(f"{path}: {problem}", file=err)
        return 1
    found = _target(profile, [(s, k) for s, k in objects if s.scale is not None], path)
    if isinstance(found, str):
        print(found, file=err)
        return 1
    spec, key = found
    return LoadRun(profile, path=path, spec=spec, key=key)
