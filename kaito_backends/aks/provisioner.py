"""`AksProvisioner`: the `NodeProvisioner` protocol over AKS agent pools (azure-mgmt, async).

Each Workspace gets one User agent pool, named by `pool_name` (deterministic), with ``vmSize`` =
the NodeClaims' instance type, ``count`` = the number of claims, the claims' labels as node
labels, the taint ``sku=gpu:NoSchedule`` and the OS disk the preset needs (`pools`).

Long-running operations never block the caller: ``provision`` and ``release`` send the PUT or
DELETE, start polling the ``Azure-AsyncOperation`` in a background task and return. One
operation per Workspace at a time: a ``provision`` while one runs sends nothing and its claims
are applied when the operation ends (the latest call wins). ``provision`` is idempotent because
the pool name is: it reads the pool first, then

- no pool: create it (unless the claims are empty);
- a pool that is not ours (other tags): `Conflict`, never touched;
- busy with an operation we do not poll (an engine that restarted mid-create, the portal):
  poll the pool until it is done, then go on (no second pool, no second PUT meanwhile);
- no claims: delete it; another VM size (immutable): delete it, create the new one after;
- Failed, or count / labels / taints / tags differ: PUT the whole pool again (scale, relabel,
  retry a failed pool);
- else: nothing.

Before creating, the resource-SKU facts (`skus`) may refuse a VM size Azure does not offer in the
location, and the quota pre-flight (`preflight`) refuses VMs beyond the vCPU quota before a pool
is created or grown (`QuotaExceeded`). ``observe`` synthesizes NodeClaims from the pool and its
Nodes (`claims`), carrying the failed operation's message. ``release`` deletes the pool; absent
is fine. Errors map as `failures` says: quota/allocation -> `InsufficientCapacity` (Azure's
message), 429/5xx -> `Transient` (Retry-After), 404 -> `NotFound`, 409 -> `Conflict`, 400 ->
`Invalid`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kaito_backends.aks.claims import (
    BUSY_STATES,
    node_claims_of_pool,
    pool_failure,
    provisioning_state,
)
from kaito_backends.aks.config import AksConfig
from kaito_backends.aks.failures import backend_error
from kaito_backends.aks.naming import LABEL_AGENTPOOL, pool_name
from kaito_backends.aks.pools import PoolSpec, desired_pool, needs_update, owner_of, pool_body
from kaito_backends.aks.preflight import QuotaPreflight
from kaito_backends.aks.skus import AzureSkus
from kaito_backends.clock import Clock, SystemClock, rfc3339
from kaito_backends.errors import BackendError, Conflict, InsufficientCapacity, NotFound, Transient
from kaito_backends.objects import Key, Manifest
from kaito_backends.protocols import Notice

if TYPE_CHECKING:
    from kaito_backends.protocols import ClusterClient
    from kaito_presets import Catalog, GpuSku

__all__ = ["AksProvisioner", "NodeLister", "nodes_via"]

#: Lists the Kubernetes Nodes of an agent pool, by pool name.
NodeLister = Callable[[str], Awaitable[Sequence[Manifest]]]


def nodes_via(client: ClusterClient) -> NodeLister:
    """A `NodeLister` over a cluster client: Nodes labelled ``kubernetes.azure.com/agentpool``."""

    async def list_nodes(pool: str) -> Sequence[Manifest]:
        result = await client.list("v1", "Node", labels={LABEL_AGENTPOOL: pool})
        return result.items

    return list_nodes


@attrs.define
class _Operation:
    """One long-running operation on a Workspace's pool, polled in the background."""

    kind: str  # "put" | "delete" | "wait" (for an operation someone else started)
    pool: str
    task: asyncio.Task[None] | None = None
    error: BackendError | None = None
    #: polling ended (succeeded, failed, or stopped); the pool's state tells the rest
    finished: bool = False


class AksProvisioner:
    """GPU nodes for Workspaces as AKS agent pools. See the module docstring.

    ``containers`` is an ``azure.mgmt.containerservice.aio.ContainerServiceClient``; ``compute``
    an ``azure.mgmt.compute.aio.ComputeManagementClient`` (None: the static catalog alone);
    ``nodes`` lists a pool's Kubernetes Nodes (None: readiness from the pool's state alone).
    ``check_quota``: the quota pre-flight before creating or growing a pool (needs `compute`).
    `from_config` builds the clients with ``DefaultAzureCredential``. Use ``async with`` or
    `close` (which stops polling, not the operations Azure runs).
    """

    name = "aks"

    def __init__(
        self,
        *,
        config: AksConfig,
        containers: Any,
        compute: Any = None,
        nodes: NodeLister | None = None,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        check_skus: bool = True,
        check_quota: bool = True,
        log: Any = None,
        closing: Sequence[Any] = (),
    ) -> None:
        if catalog is None:
            from kaito_presets import default_catalog

            catalog = default_catalog()
        if log is None:
            from kaito_backends.engine.logs import library_logger

            log = library_logger("kaito.aks")
        self.config = config
        self.catalog = catalog
        self.clock = clock or SystemClock()
        self._containers = containers
        self._nodes = nodes
        self._log = log
        self._closing = tuple(closing)
        self._check_skus = check_skus and compute is not None
        self._location: str | None = config.location
        self.skus: AzureSkus | None = None
        if compute is not None:
            self.skus = AzureSkus(
                compute,
                location=self.location,
                catalog=catalog,
                clock=self.clock,
                ttl=config.sku_ttl,
                log=log,
            )
        self.preflight = QuotaPreflight(
            compute if check_quota else None,
            skus=self.skus,
            location=self.location,
            subscription_id=config.subscription_id,
            clock=self.clock,
            ttl=config.quota_ttl,
            log=log,
        )
        self._ops: dict[Key, _Operation] = {}
        #: the latest pool asked for while an operation ran (None: no pool), applied when it ends
        self._pending: dict[Key, PoolSpec | None] = {}
        self._failures: dict[Key, BackendError] = {}
        self._deleting_since: dict[Key, str] = {}
        self._locks: dict[Key, asyncio.Lock] = {}

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: AksConfig,
        *,
        credential: Any = None,
        nodes: NodeLister | None = None,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        log: Any = None,
        check_quota: bool = True,
        **client_kwargs: Any,
    ) -> AksProvisioner:
        """Build the Azure clients for `config` (``DefaultAzureCredential`` unless `credential`
        is given) and a provisioner that closes them. ``client_kwargs`` go to both clients
        (azure-core transport and policy options, e.g. ``connection_verify``)."""
        from azure.mgmt.compute.aio import ComputeManagementClient
        from azure.mgmt.containerservice.aio import ContainerServiceClient

        closing: list[Any] = []
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential()
            closing.append(credential)
        options: dict[str, Any] = {
            "polling_interval": config.polling_interval,
            # throttling and server errors surface at once as Transient(delay=Retry-After):
            # the engine's retry decorator and per-key backoff wait, not a reconcile worker
            "retry_total": 0,
        }
        if config.arm_endpoint:
            options["base_url"] = config.arm_endpoint
            options["credential_scopes"] = [f"{config.arm_endpoint}/.default"]
        options.update(client_kwargs)
        containers = ContainerServiceClient(credential, config.subscription_id, **options)
        compute = ComputeManagementClient(credential, config.subscription_id, **options)
        return cls(
            config=config,
            containers=containers,
            compute=compute,
            nodes=nodes,
            catalog=catalog,
            clock=clock,
            log=log,
            check_quota=check_quota,
            closing=[containers, compute, *closing],
        )

    async def __aenter__(self) -> AksProvisioner:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop polling (Azure carries on) and close the clients and credential we made."""
        self._pending.clear()
        tasks = [op.task for op in self._ops.values() if op.task is not None and not op.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ops.clear()
        for resource in self._closing:
            await resource.close()
        self._closing = ()

    # -- reading ---------------------------------------------------------------------------------
    async def location(self) -> str:
        """The Azure region: configured, else the cluster's (read once)."""
        if self._location is None:
            try:
                cluster = await self._containers.managed_clusters.get(
                    self.config.resource_group, self.config.cluster
                )
            except Exception as exc:
                raise backend_error(exc) from exc
            self._location = str(cluster.location).lower()
        return self._location

    def pool_name(self, key: Key) -> str:
        """The agent-pool name of a Workspace."""
        return pool_name(key)

    def in_flight(self, key: Key) -> str | None:
        """``"put"``, ``"delete"`` or ``"wait"`` while we poll the Workspace's pool."""
        op = self._ops.get(key)
        if op is None or op.finished:
            return None
        return op.kind

    async def wait(self, key: Key | None = None) -> None:
        """Wait until we poll no operation (of one Workspace, or any), follow-ups included."""
        while True:
            ops = [op for k, op in self._ops.items() if key is None or k == key]
            tasks = [op.task for op in ops if op.task is not None and not op.task.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _get(self, name: str) -> Manifest | None:
        try:
            pool = await self._containers.agent_pools.get(
                self.config.resource_group, self.config.cluster, name
            )
        except Exception as exc:
            error = backend_error(exc)
            if isinstance(error, NotFound):
                return None
            raise error from exc
        result: Manifest = pool.as_dict()
        return result

    # -- the protocol ----------------------------------------------------------------------------
    async def instance_types(self) -> Sequence[GpuSku]:
        if self.skus is None:
            return self.catalog.skus(cloud="azure")
        return await self.skus.instance_types()

    async def provision(self, key: Key, node_claims: Sequence[Manifest]) -> None:
        spec = desired_pool(key, node_claims, name=pool_name(key))  # Invalid: at once
        async with self._lock(key):
            if self.in_flight(key) is not None:
                # one operation at a time: remember the latest wish for when this one ends
                self._pending[key] = spec
                return
            self._pending.pop(key, None)
            await self._converge(key, spec)

    async def _converge(self, key: Key, spec: PoolSpec | None) -> None:
        """Bring the pool towards `spec` with at most one operation (the caller holds the lock)."""
        name = pool_name(key)
        self._ops.pop(key, None)
        pool = await self._get(name)
        if pool is None:
            self._deleting_since.pop(key, None)
            if spec is None:
                return
            await self._refuse_unavailable(spec.vm_size)
            check = await self.preflight.check(key, spec.vm_size, spec.count)
            await self._put(key, name, pool_body(spec), create=True)
            self.preflight.reserve(check)
            return
        self._check_owner(key, name, pool)
        state = provisioning_state(pool)
        if state in BUSY_STATES:
            # an operation we do not poll (an engine before a restart, the portal): wait it out
            self._pending[key] = spec
            waiting = _Operation(kind="wait", pool=name)
            self._start_task(key, waiting, self._wait_idle(key, waiting))
            return
        props = pool.get("properties") or {}
        if spec is None or str(props.get("vmSize", "")).lower() != spec.vm_size.lower():
            await self._delete(key, name)
            if spec is not None and self.in_flight(key) == "delete":
                self._pending[key] = spec  # the new size comes once the old pool is gone
            return
        if state == "Failed" or needs_update(pool, spec):
            grow = spec.count - int(props.get("count") or 0)
            check = await self.preflight.check(key, spec.vm_size, grow)
            await self._put(key, name, pool_body(spec, pool), create=False)
            self.preflight.reserve(check)

    async def observe(self, key: Key) -> tuple[Manifest, ...]:
        name = pool_name(key)
        pool = await self._get(name)
        if pool is None or owner_of(pool) != key:
            self._deleting_since.pop(key, None)
            return ()
        state = provisioning_state(pool)
        deleting_since = None
        if state == "Deleting":
            deleting_since = self._deleting_since.setdefault(key, rfc3339(self.clock.now()))
        nodes = await self._nodes(name) if self._nodes is not None else None
        return node_claims_of_pool(
            key,
            pool,
            nodes=nodes,
            failure=pool_failure(pool, self._failures.get(key)) if state == "Failed" else None,
            now=rfc3339(self.clock.now()),
            deleting_since=deleting_since,
        )

    async def release(self, key: Key) -> None:
        name = pool_name(key)
        self._pending.pop(key, None)
        async with self._lock(key):
            op = self._ops.get(key)
            if self.in_flight(key) == "delete":
                return
            if op is not None and op.task is not None and not op.task.done():
                op.task.cancel()  # stop polling the create or scale; the delete supersedes it
                await asyncio.gather(op.task, return_exceptions=True)
            self._ops.pop(key, None)
            pool = await self._get(name)
            if pool is None:
                self._forget(key)
                return
            if owner_of(pool) != key:
                self._log.warning("aks.pool.foreign", pool=name, workspace=str(key))
                return
            if provisioning_state(pool) == "Deleting":
                return
            await self._delete(key, name)

    # -- effects ---------------------------------------------------------------------------------
    def _lock(self, key: Key) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _forget(self, key: Key) -> None:
        self._ops.pop(key, None)
        self._failures.pop(key, None)
        self._deleting_since.pop(key, None)
        self._locks.pop(key, None)
        self.preflight.forget(key)

    def _check_owner(self, key: Key, name: str, pool: Mapping[str, Any]) -> None:
        owner = owner_of(pool)
        if owner != key:
            whose = f"{owner.kind} {owner}" if owner is not None else "no kaito object"
            raise Conflict(f"agent pool {name} exists and belongs to {whose}, not {key}")

    async def _refuse_unavailable(self, vm_size: str) -> None:
        if not self._check_skus or self.skus is None:
            return
        problem = await self.skus.problem(vm_size)
        if problem is not None:
            raise InsufficientCapacity(problem)

    def take_notices(self, key: Key) -> tuple[Notice, ...]:
        """The notices not handed out yet about a Workspace (`NoticeSource`)."""
        return self.preflight.take_notices(key)

    async def _put(self, key: Key, name: str, body: Manifest, *, create: bool) -> None:
        try:
            poller = await self._containers.agent_pools.begin_create_or_update(
                self.config.resource_group, self.config.cluster, name, body
            )
        except Exception as exc:
            error = backend_error(exc)
            self._log.info(
                "aks.pool.put_refused", pool=name, workspace=str(key), error=error.message
            )
            raise error from exc
        self._failures.pop(key, None)
        props = body.get("properties") or {}
        self._log.info(
            "aks.pool.create" if create else "aks.pool.update",
            pool=name,
            workspace=str(key),
            vm_size=props.get("vmSize"),
            count=props.get("count"),
        )
        self._track(key, _Operation(kind="put", pool=name), poller)

    async def _delete(self, key: Key, name: str) -> None:
        try:
            poller = await self._containers.agent_pools.begin_delete(
                self.config.resource_group, self.config.cluster, name
            )
        except Exception as exc:
            error = backend_error(exc)
            if isinstance(error, NotFound):
                self._forget(key)
                return
            raise error from exc
        self._deleting_since.setdefault(key, rfc3339(self.clock.now()))
        self._log.info("aks.pool.delete", pool=name, workspace=str(key))
        self._track(key, _Operation(kind="delete", pool=name), poller)

    def _track(self, key: Key, op: _Operation, poller: Any) -> None:
        self._start_task(key, op, self._poll(key, op, poller))

    def _start_task(self, key: Key, op: _Operation, work: Coroutine[Any, Any, None]) -> None:
        op.task = asyncio.get_running_loop().create_task(work, name=f"aks-{op.kind}-{op.pool}")
        self._ops[key] = op

    async def _wait_idle(self, key: Key, op: _Operation) -> None:
        """Poll the pool (GET) until no operation runs on it, then apply the pending wish."""
        name = op.pool
        try:
            while True:
                await asyncio.sleep(self.config.polling_interval)
                try:
                    pool = await self._get(name)
                except Transient:
                    continue
                if pool is None or provisioning_state(pool) not in BUSY_STATES:
                    break
        except BackendError as error:
            self._log.warning("aks.pool.wait_failed", pool=name, error=error.message)
        finally:
            op.finished = True
        await self._follow_up(key)

    async def _poll(self, key: Key, op: _Operation, poller: Any) -> None:
        try:
            await poller.result()
        except asyncio.CancelledError:
            op.finished = True
            raise
        except Exception as exc:
            op.finished = True
            error = backend_error(exc, operation_failed=True)
            op.error = error
            self._log.warning(
                "aks.operation.failed", pool=op.pool, operation=op.kind, error=error.message
            )
            # a poll that could not be read (throttled, network) says nothing of the pool, its
            # provisioningState does; real failures are kept for observe's message
            if op.kind == "put" and not isinstance(error, NotFound | Transient):
                self._failures[key] = error
        else:
            op.finished = True
            self._log.info("aks.operation.succeeded", pool=op.pool, operation=op.kind)
            if op.kind == "delete":
                self._deleting_since.pop(key, None)
        await self._follow_up(key)

    async def _follow_up(self, key: Key) -> None:
        """Apply the pool asked for while the operation ran (unless a newer call did)."""
        if key not in self._pending:
            return
        spec = self._pending.pop(key)
        async with self._lock(key):
            if self.in_flight(key) is not None:
                return
            try:
                await self._converge(key, spec)
            except BackendError as error:
                # nobody to raise to: the engine sees the pool differ and provisions again
                self._log.warning(
                    "aks.pool.follow_up_failed", workspace=str(key), error=error.message
                )
