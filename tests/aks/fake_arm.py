"""A small Azure Resource Manager on loopback: AKS agent pools and Compute resource SKUs.

`FakeArm` serves, over TLS on ``127.0.0.1`` (a throwaway self-signed certificate), the subset of
ARM the AKS backend calls, in ARM's wire shapes, so the real ``azure-mgmt-*`` async clients talk
to it unchanged:

- ``GET .../managedClusters/{cluster}``: the cluster (its ``location``);
- ``PUT|GET|DELETE .../managedClusters/{cluster}/agentPools/{pool}``, ``GET .../agentPools``;
  PUT answers 201 (create) or 200 (update) and DELETE 202, both with an ``Azure-AsyncOperation``
  header; a pool busy with an operation refuses a PUT with 409 ``OperationNotAllowed``, as AKS does;
- ``GET /subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operations/{id}``:
  the operation's status (``InProgress``, ``Succeeded``, ``Failed`` with an ``error`` body);
- ``GET /subscriptions/{sub}/providers/Microsoft.Compute/skus?$filter=location eq '...'``;
- ``GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/usages``: the compute
  quotas, as ARM lists them (``{"value": [{"unit": "Count", "currentValue", "limit", "name":
  {"value", "localizedValue"}}]}``): ``cores`` (Total Regional vCPUs), one per VM family of the
  SKUs, ``virtualMachines`` and ``availabilitySets``. A family's ``currentValue`` is
  `quota_used` (VMs not ours) plus the vCPUs of the pools that exist; limits are `quota_limits`
  (by usage name), else `default_quota`.

An operation completes ``lro_seconds`` after it started (0: at the next request), whoever asks.
Fault knobs: `fail_next_operation` (the LRO ends Failed, the pool ``Failed`` with
``status.provisioningError``), `refuse_next_put` (e.g. a quota error on PUT), `inject` (any
status, e.g. 429 with Retry-After or 403 AuthorizationFailed, on the next N matching requests),
`delete_pool_behind_our_back`,
`hold` (a slow LRO: nothing completes until `finish`). Requests are recorded in `requests`;
`creates` counts pools created per name. `nodes_of` synthesizes the Kubernetes Nodes a pool has.

Hooks, for a test that plays the cluster side (in AKS a pool brings its Kubernetes Nodes):
``on_pool_ready(pool_name, pool_body)`` is called when a PUT's operation succeeds (create, scale,
update), ``on_pool_deleted(pool_name, pool_body)`` when a pool is gone (its DELETE succeeded, or
`delete_pool_behind_our_back`). Both run synchronously on the event loop, with a copy of the pool.

Not modelled: authentication (any bearer token is accepted), ETags, polling by the ``Location``
header alone, agent-pool validation beyond the name and immutable fields, zones, upgrades.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import re
import ssl
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from tests.aks.tls import self_signed_certificate

__all__ = ["FakeArm", "Injection", "PoolHook", "gpu_sku"]

#: ``hook(pool_name, pool_body)``: see the module docstring.
PoolHook = Callable[[str, dict[str, Any]], None]

_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_AKS = "/providers/Microsoft.ContainerService"
_BUSY = frozenset({"Creating", "Scaling", "Updating", "Deleting", "Upgrading"})
_READONLY = ("provisioningState", "status", "currentOrchestratorVersion", "nodeImageVersion")


@attrs.define
class Injection:
    """An error to answer instead of the real thing, ``remaining`` more times."""

    status: int
    code: str
    message: str
    remaining: int
    retry_after: str | None = None
    method: str | None = None
    path_contains: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path_contains is None or self.path_contains in path


@attrs.define
class _Operation:
    id: str
    kind: str  # "put" | "delete"
    pool: str
    due: float
    error: dict[str, str] | None = None
    status: str = "InProgress"


def gpu_sku(
    name: str,
    *,
    gpus: int,
    vcpus: int = 24,
    memory_gb: float = 220,
    location: str = "eastus",
    restricted: str | None = None,
    zones: Sequence[str] = ("1", "2", "3"),
    family: str | None = None,
) -> dict[str, Any]:
    """A ``Microsoft.Compute/skus`` entry for a VM size; ``restricted`` is a reasonCode;
    ``family`` the quota family (default: made up from the name)."""
    capabilities = [
        {"name": "vCPUs", "value": str(vcpus)},
        {"name": "MemoryGB", "value": str(memory_gb)},
        {"name": "GPUs", "value": str(gpus)},
    ]
    restrictions = []
    if restricted is not None:
        restrictions.append(
            {
                "type": "Location",
                "values": [location],
                "restrictionInfo": {"locations": [location]},
                "reasonCode": restricted,
            }
        )
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "size": name.removeprefix("Standard_"),
        "family": family or "standard" + re.sub(r"\d+", "", name.split("_")[1]) + "Family",
        "locations": [location],
        "locationInfo": [{"location": location, "zones": list(zones)}],
        "capabilities": capabilities,
        "restrictions": restrictions,
    }


class FakeArm:
    """The fake ARM endpoint (see the module docstring). ``await start()``, then ``base_url``."""

    def __init__(
        self,
        *,
        subscription: str = "00000000-0000-0000-0000-000000000001",
        resource_group: str = "rg-kaito",
        cluster: str = "aks-kaito",
        location: str = "eastus",
        skus: Sequence[dict[str, Any]] = (),
        lro_seconds: float = 0.0,
        on_pool_ready: PoolHook | None = None,
        on_pool_deleted: PoolHook | None = None,
    ) -> None:
        self.subscription = subscription
        self.resource_group = resource_group
        self.cluster = cluster
        self.location = location
        self.skus: list[dict[str, Any]] = list(skus)
        self.lro_seconds = lro_seconds
        self.on_pool_ready = on_pool_ready
        self.on_pool_deleted = on_pool_deleted
        self.pools: dict[str, dict[str, Any]] = {}
        #: vCPU quota limits by usage name (``cores``, a family); others get `default_quota`
        self.quota_limits: dict[str, int] = {}
        #: vCPUs in use by VMs that are not our pools, by usage name
        self.quota_used: dict[str, int] = {}
        self.default_quota = 1000
        self.operations: dict[str, _Operation] = {}
        self.injections: list[Injection] = []
        self.requests: list[tuple[str, str]] = []
        self.creates: Counter[str] = Counter()
        self.base_url = ""
        self._held = False
        self._fail_next: dict[str, str] | None = None
        self._refuse_next: tuple[int, str, str] | None = None
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on a random loopback port; returns the base URL (``https://127.0.0.1:PORT``)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-arm-")
        cert, key = self_signed_certificate(Path(self._tmp.name))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"https://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- knobs -----------------------------------------------------------------------------------
    def fail_next_operation(self, code: str, message: str) -> None:
        """The next pool PUT is accepted, but its operation ends Failed with this error."""
        self._fail_next = {"code": code, "message": message}

    def refuse_next_put(self, status: int, code: str, message: str) -> None:
        """The next pool PUT is refused at once (e.g. 409 OperationNotAllowed for quota)."""
        self._refuse_next = (status, code, message)

    def inject(
        self,
        status: int,
        *,
        code: str = "TooManyRequests",
        message: str = "The request is being throttled.",
        times: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with this ARM error."""
        self.injections.append(
            Injection(status, code, message, times, retry_after, method, path_contains)
        )

    def hold(self) -> None:
        """A slow LRO: operations stay InProgress until `finish`."""
        self._held = True

    def finish(self) -> None:
        """Complete every running operation now (and stop holding)."""
        self._held = False
        for op in self.operations.values():
            if op.status == "InProgress":
                self._complete(op)

    def delete_pool_behind_our_back(self, name: str) -> None:
        """Someone else deleted the pool (the portal, ``az aks nodepool delete``)."""
        self._gone(name, self.pools.pop(name, None))

    # -- reading ---------------------------------------------------------------------------------
    def pool(self, name: str) -> dict[str, Any] | None:
        self._advance()
        return self.pools.get(name)

    def count(self, method: str, contains: str = "") -> int:
        """How many requests of a method (and whose path contains ``contains``) were served."""
        return sum(1 for m, p in self.requests if m == method and contains in p)

    def nodes_of(self, pool_name: str, *, ready: bool = True) -> list[dict[str, Any]]:
        """The Kubernetes Nodes of a pool that has Succeeded (none before), labelled as AKS does."""
        pool = self.pool(pool_name)
        if pool is None:
            return []
        props = pool["properties"]
        if props.get("provisioningState") not in ("Succeeded", "Scaling", "Updating"):
            return []
        nodes = []
        for index in range(int(props.get("count") or 0)):
            name = f"aks-{pool_name}-12345678-vmss{index:06d}"
            labels = {
                **(props.get("nodeLabels") or {}),
                "kubernetes.azure.com/agentpool": pool_name,
                "node.kubernetes.io/instance-type": props["vmSize"],
                "kubernetes.io/os": "linux",
            }
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": dict(sorted(labels.items()))},
                    "spec": {
                        "providerID": (
                            f"azure:///subscriptions/{self.subscription}/resourceGroups/"
                            f"mc_{self.resource_group}/providers/Microsoft.Compute/"
                            f"virtualMachineScaleSets/aks-{pool_name}-vmss/virtualMachines/{index}"
                        ),
                        "taints": [_taint(t) for t in props.get("nodeTaints") or ()],
                    },
                    "status": {
                        "capacity": {"nvidia.com/gpu": "1", "cpu": "24"},
                        "allocatable": {"nvidia.com/gpu": "1", "cpu": "24"},
                        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                    },
                }
            )
        return nodes

    def usages(self, location: str) -> list[dict[str, Any]]:
        """The compute quotas of a location, as ``usages`` lists them (pools counted)."""
        skus = {
            str(s["name"]).lower(): s
            for s in self.skus
            if location.lower() in (loc.lower() for loc in s.get("locations", ()))
        }
        used: Counter[str] = Counter(self.quota_used)
        vms = 0
        for pool in self.pools.values():
            props = pool["properties"]
            sku = skus.get(str(props.get("vmSize")).lower())
            count = int(props.get("count") or 0)
            vms += count
            if sku is not None:
                vcpus = count * int(_capability(sku, "vCPUs"))
                used[sku["family"]] += vcpus
                used["cores"] += vcpus
        quotas = {"cores": "Total Regional vCPUs"}
        for sku in skus.values():
            quotas[sku["family"]] = f"{sku['family']} vCPUs"
        limits = self.quota_limits
        rows = [
            _usage(name, label, used[name], limits.get(name, self.default_quota))
            for name, label in quotas.items()
        ]
        rows.append(_usage("virtualMachines", "Virtual Machines", vms, 25000))
        rows.append(_usage("availabilitySets", "Availability Sets", 0, 2500))
        return rows

    # -- serving ---------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((request.method, path))
        self._advance()
        for injection in self.injections:
            if injection.remaining > 0 and injection.matches(request.method, path):
                injection.remaining -= 1
                headers = {"Retry-After": injection.retry_after} if injection.retry_after else {}
                return _error(injection.status, injection.code, injection.message, headers)
        sub = f"/subscriptions/{self.subscription}"
        if not path.startswith(sub + "/"):
            return _error(
                404, "SubscriptionNotFound", f"The subscription '{path}' could not be found."
            )
        rest = path[len(sub) :]
        if rest == "/providers/Microsoft.Compute/skus":
            return self._skus(request)
        match = re.fullmatch(r"/providers/Microsoft.Compute/locations/([^/]+)/usages", rest)
        if match and request.method == "GET":
            return web.json_response({"value": self.usages(match.group(1))})
        match = re.fullmatch(rf"{_AKS}/locations/([^/]+)/operations/([^/]+)", rest)
        if match and request.method == "GET":
            return self._operation(match.group(2))
        cluster = f"/resourceGroups/{self.resource_group}{_AKS}/managedClusters/{self.cluster}"
        if not rest.lower().startswith(cluster.lower()):
            return _error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.ContainerService/managedClusters/{rest.split('/')[-1]}' "
                f"under resource group '{self.resource_group}' was not found.",
            )
        tail = rest[len(cluster) :]
        if tail == "" and request.method == "GET":
            return web.json_response(self._cluster())
        if tail == "/agentPools" and request.method == "GET":
            return web.json_response({"value": [self._view(p) for p in self.pools.values()]})
        match = re.fullmatch(r"/agentPools/([^/]+)", tail)
        if match is None:
            return _error(404, "NotFound", f"no route for {request.method} {path}")
        name = match.group(1)
        if request.method == "GET":
            return self._get_pool(name)
        if request.method == "PUT":
            return await self._put_pool(request, name)
        if request.method == "DELETE":
            return self._delete_pool(request, name)
        return _error(405, "MethodNotAllowed", f"{request.method} is not allowed")

    def _cluster(self) -> dict[str, Any]:
        return {
            "id": self._cluster_id(),
            "name": self.cluster,
            "type": "Microsoft.ContainerService/ManagedClusters",
            "location": self.location,
            "properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.33.2"},
        }

    def _cluster_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"{_AKS}/managedClusters/{self.cluster}"
        )

    def _view(self, pool: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(pool))  # type: ignore[no-any-return]

    def _get_pool(self, name: str) -> web.Response:
        pool = self.pools.get(name)
        if pool is None:
            return _error(
                404,
                "NotFound",
                f"Could not find agent pool {name} in managed cluster {self.cluster}.",
            )
        return web.json_response(self._view(pool))

    async def _put_pool(self, request: web.Request, name: str) -> web.Response:
        if not _POOL_NAME.fullmatch(name):
            return _error(
                400,
                "InvalidParameter",
                f"The value of parameter agentPoolProfile.name is invalid: {name!r}. "
                "Agent pool names must start with a lowercase letter, have max length of 12, "
                "and only have characters a-z0-9.",
            )
        body = await request.json()
        props = dict(body.get("properties") or {})
        if not props.get("vmSize"):
            return _error(400, "InvalidParameter", "The value of parameter vmSize is invalid.")
        existing = self.pools.get(name)
        if existing is not None:
            state = existing["properties"].get("provisioningState")
            if state in _BUSY:
                return _error(
                    409,
                    "OperationNotAllowed",
                    f"Operation is not allowed because there's an in progress {state.lower()} "
                    f"operation on agent pool {name}. Please wait for it to finish.",
                )
        if self._refuse_next is not None:
            status, code, message = self._refuse_next
            self._refuse_next = None
            return _error(status, code, message)
        for key in _READONLY:
            props.pop(key, None)
        if existing is None:
            state = "Creating"
            self.creates[name] += 1
        else:
            old = existing["properties"]
            if props.get("osDiskSizeGB") not in (None, old.get("osDiskSizeGB")):
                return _error(
                    400,
                    "PropertyChangeNotAllowed",
                    f"Changing property 'osDiskSizeGB' is not allowed on agent pool {name}.",
                )
            if str(props.get("vmSize")).lower() != str(old.get("vmSize")).lower():
                return _error(
                    400,
                    "PropertyChangeNotAllowed",
                    f"Changing property 'vmSize' is not allowed on agent pool {name}.",
                )
            state = "Scaling" if props.get("count") != old.get("count") else "Updating"
        props["provisioningState"] = state
        now = _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")
        created = existing["systemData"]["createdAt"] if existing is not None else now
        pool = {
            "id": f"{self._cluster_id()}/agentPools/{name}",
            "name": name,
            "type": "Microsoft.ContainerService/managedClusters/agentPools",
            "systemData": {"createdAt": created, "lastModifiedAt": now},
            "properties": props,
        }
        self.pools[name] = pool
        op = self._start("put", name)
        if self._fail_next is not None:
            op.error, self._fail_next = self._fail_next, None
        return web.json_response(
            self._view(pool),
            status=201 if existing is None else 200,
            headers={"Azure-AsyncOperation": self._op_url(op)},
        )

    def _delete_pool(self, request: web.Request, name: str) -> web.Response:
        pool = self.pools.get(name)
        if pool is None:
            return web.Response(status=204)
        pool["properties"]["provisioningState"] = "Deleting"
        for other in self.operations.values():
            if other.pool == name and other.status == "InProgress":
                other.status = "Canceled"
                other.error = {"code": "Canceled", "message": "superseded by a delete"}
        op = self._start("delete", name)
        url = self._op_url(op)
        return web.Response(
            status=202, headers={"Azure-AsyncOperation": url, "Location": url + "&result=1"}
        )

    def _operation(self, op_id: str) -> web.Response:
        op = self.operations.get(op_id)
        if op is None:
            return _error(404, "NotFound", f"operation {op_id} not found")
        body: dict[str, Any] = {
            "name": op.id,
            "status": op.status,
            "startTime": "2026-01-01T00:00:00Z",
        }
        if op.error is not None and op.status != "InProgress":
            body["error"] = dict(op.error)
        return web.json_response(body)

    def _skus(self, request: web.Request) -> web.Response:
        wanted = None
        match = re.fullmatch(r"\s*location\s+eq\s+'([^']*)'\s*", request.query.get("$filter", ""))
        if match:
            wanted = match.group(1).lower()
        value = [
            s
            for s in self.skus
            if wanted is None or wanted in (loc.lower() for loc in s.get("locations", ()))
        ]
        return web.json_response({"value": value})

    # -- operations ------------------------------------------------------------------------------
    def _start(self, kind: str, pool: str) -> _Operation:
        op = _Operation(
            id=f"op-{next(self._ids):04d}",
            kind=kind,
            pool=pool,
            due=time.monotonic() + self.lro_seconds,
        )
        self.operations[op.id] = op
        return op

    def _op_url(self, op: _Operation) -> str:
        return (
            f"{self.base_url}/subscriptions/{self.subscription}{_AKS}/locations/{self.location}"
            f"/operations/{op.id}?api-version=2017-08-31"
        )

    def _advance(self) -> None:
        if self._held:
            return
        now = time.monotonic()
        for op in self.operations.values():
            if op.status == "InProgress" and op.due <= now:
                self._complete(op)

    def _complete(self, op: _Operation) -> None:
        pool = self.pools.get(op.pool)
        if op.kind == "delete":
            op.status = "Succeeded"
            self._gone(op.pool, self.pools.pop(op.pool, None))
            return
        if pool is None:  # deleted behind our back while the operation ran
            op.status = "Canceled"
            op.error = {"code": "NotFound", "message": f"agent pool {op.pool} was deleted"}
            return
        props = pool["properties"]
        if op.error is not None:
            op.status = "Failed"
            props["provisioningState"] = "Failed"
            props["status"] = {"provisioningError": dict(op.error)}
        else:
            op.status = "Succeeded"
            props["provisioningState"] = "Succeeded"
            props.pop("status", None)
            if self.on_pool_ready is not None:
                self.on_pool_ready(op.pool, self._view(pool))

    def _gone(self, name: str, pool: dict[str, Any] | None) -> None:
        if pool is not None and self.on_pool_deleted is not None:
            self.on_pool_deleted(name, self._view(pool))


def _capability(sku: dict[str, Any], name: str) -> str:
    return next((c["value"] for c in sku.get("capabilities", ()) if c["name"] == name), "0")


def _usage(name: str, label: str, current: int, limit: int) -> dict[str, Any]:
    return {
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": label},
    }


def _taint(text: str) -> dict[str, str]:
    key_value, _, effect = text.partition(":")
    key, _, value = key_value.partition("=")
    return {"key": key, "value": value, "effect": effect}


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An ARM error response: ``{"error": {"code": ..., "message": ...}}``."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or {}
    )
