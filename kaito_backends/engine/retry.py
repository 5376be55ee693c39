"""Retrying `Transient` backend errors, as a decorator that keeps the backend's protocol.

``retrying(client)`` is a `ClusterClient`, ``retrying(provisioner)`` a `NodeProvisioner`: every
call is retried (tenacity) while it raises `Transient`, waiting the server's ``delay``
(Retry-After) when it sent one, else an exponential backoff, for at most ``attempts`` tries; then
the last `Transient` is raised as it was. Every other error (`NotFound`, `Conflict`, `Invalid`,
`InsufficientCapacity`, ...) passes through at once: retrying cannot fix those, the reconcile
loop decides what they mean. `watch` is not retried (a watch that ends is re-opened by the
informer, which resumes from the last version it saw).

Sleeping goes through a `Clock`, so on a `VirtualClock` a retry costs virtual seconds only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

import attrs
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from kaito_backends.clock import Clock, SystemClock
from kaito_backends.errors import Transient
from kaito_backends.objects import Key, Manifest, ObjectRef
from kaito_backends.protocols import ClusterClient, NodeProvisioner, ObjectList, WatchEvent

if TYPE_CHECKING:
    from kaito_presets import GpuSku

__all__ = ["RetryPolicy", "RetryingClient", "RetryingProvisioner", "retrying"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard to retry one call: ``attempts`` tries in all, backing off from ``initial``
    doubling to ``maximum`` seconds; a server's Retry-After is honoured up to ``max_server_delay``.
    """

    attempts: int = 4
    initial: float = 0.1
    maximum: float = 5.0
    max_server_delay: float = 60.0

    def delay(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if isinstance(error, Transient) and error.delay is not None:
            return max(0.0, min(error.delay, self.max_server_delay))
        return float(min(self.initial * (2 ** max(0, attempt - 1)), self.maximum))


#: Called after each failed attempt that will be retried: (operation, attempt, error, delay).
RetryHook = Callable[[str, int, BaseException, float], None]


class _Retrier:
    """The tenacity set-up both wrappers share."""

    def __init__(self, policy: RetryPolicy, clock: Clock, on_retry: RetryHook | None) -> None:
        self.policy = policy
        self.clock = clock
        self.on_retry = on_retry
        #: failed attempts that were retried, over the wrapper's life
        self.retries = 0

    def _wait(self, state: RetryCallState) -> float:
        # attempt 1 ran before tenacity took over (the fast path), so tenacity's attempt n is n+1
        error = state.outcome.exception() if state.outcome is not None else None
        return self.policy.delay(state.attempt_number + 1, error)

    def _note(self, operation: str, attempt: int, error: BaseException, delay: float) -> None:
        self.retries += 1
        if self.on_retry is not None:
            self.on_retry(operation, attempt, error, delay)

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        # Fast path: most calls succeed at once and never pay for setting tenacity up.
        try:
            return await fn()
        except Transient as error:
            if self.policy.attempts <= 1:
                raise
            delay = self.policy.delay(1, error)
            self._note(operation, 1, error, delay)
        await self.clock.sleep(delay)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is not None:
                self._note(operation, state.attempt_number + 1, error, self._wait(state))

        retrier = AsyncRetrying(
            sleep=self.clock.sleep,
            stop=stop_after_attempt(self.policy.attempts - 1),
            wait=self._wait,
            retry=retry_if_exception_type(Transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrier:
            with attempt:
                result = await fn()
            if not attempt.retry_state.outcome or not attempt.retry_state.outcome.failed:
                return result
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


class RetryingClient:
    """A `ClusterClient` that retries `Transient` errors of the client it wraps."""

    def __init__(
        self,
        inner: ClusterClient,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.inner = inner
        self._r = _Retrier(policy or RetryPolicy(), clock or SystemClock(), on_retry)

    @property
    def retries(self) -> int:
        return self._r.retries

    def __getattr__(self, name: str) -> Any:  # backend extras (counters, ...) stay reachable
        return getattr(self.inner, name)

    async def get(self, ref: ObjectRef) -> Manifest:
        return await self._r.call("get", lambda: self.inner.get(ref))

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        metadata_only: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> ObjectList:
        options: dict[str, Any] = {
            "namespace": namespace,
            "labels": labels,
            "metadata_only": metadata_only,
        }
        if fields:
            options["fields"] = fields
        return await self._r.call("list", lambda: self.inner.list(api_version, kind, **options))

    async def create(self, obj: Manifest) -> Manifest:
        return await self._r.call("create", lambda: self.inner.create(obj))

    async def apply(self, obj: Manifest, *, field_manager: str = "kaito") -> Manifest:
        return await self._r.call(
            "apply", lambda: self.inner.apply(obj, field_manager=field_manager)
        )

    async def update(self, obj: Manifest) -> Manifest:
        return await self._r.call("update", lambda: self.inner.update(obj))

    async def apply_status(self, obj: Manifest) -> Manifest:
        return await self._r.call("apply_status", lambda: self.inner.apply_status(obj))

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background") -> None:
        await self._r.call("delete", lambda: self.inner.delete(ref, propagation=propagation))

    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(
            api_version,
            kind,
            namespace=namespace,
            resource_version=resource_version,
            metadata_only=metadata_only,
        )


class RetryingProvisioner:
    """A `NodeProvisioner` that retries `Transient` errors of the provisioner it wraps."""

    def __init__(
        self,
        inner: NodeProvisioner,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._r = _Retrier(policy or RetryPolicy(), clock or SystemClock(), on_retry)

    @property
    def retries(self) -> int:
        return self._r.retries

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def instance_types(self) -> Sequence[GpuSku]:
        return await self._r.call("instance_types", self.inner.instance_types)

    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        await self._r.call("provision", lambda: self.inner.provision(key, node_claims))

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        return await self._r.call("observe", lambda: self.inner.observe(key))

    async def release(self, key: Key) -> None:
        await self._r.call("release", lambda: self.inner.release(key))


@overload
def retrying(
    backend: RetryingClient,
    *,
    policy: RetryPolicy | None = ...,
    clock: Clock | None = ...,
    on_retry: RetryHook | None = ...,
) -> RetryingClient: ...


@overload
def retrying(
    backend: RetryingProvisioner,
    *,
    policy: RetryPolicy | None = ...,
    clock: Clock | None = ...,
    on_retry: RetryHook | None = ...,
) -> RetryingProvisioner: ...


@overload
def retrying(
    backend: NodeProvisioner,
    *,
    policy: RetryPolicy | None = ...,
    clock: Clock | None = ...,
    on_retry: RetryHook | None = ...,
) -> RetryingProvisioner: ...


@overload
def retrying(
    backend: ClusterClient,
    *,
    policy: RetryPolicy | None = ...,
    clock: Clock | None = ...,
    on_retry: RetryHook | None = ...,
) -> RetryingClient: ...


def retrying(
    backend: ClusterClient | NodeProvisioner,
    *,
    policy: RetryPolicy | None = None,
    clock: Clock | None = None,
    on_retry: RetryHook | None = None,
) -> RetryingClient | RetryingProvisioner:
    """Wrap a backend so its `Transient` errors are retried; the wrapper keeps its protocol."""
    if isinstance(backend, RetryingClient | RetryingProvisioner):
        return backend
    if isinstance(backend, NodeProvisioner):
        return RetryingProvisioner(backend, policy=policy, clock=clock, on_retry=on_retry)
    if isinstance(backend, ClusterClient):
        return RetryingClient(backend, policy=policy, clock=clock, on_retry=on_retry)
    raise TypeError(f"not a ClusterClient or NodeProvisioner: {type(backend).__name__}")
