"""`KubernetesClient`: the `ClusterClient` protocol over a real API server (kubernetes-asyncio).

It speaks the REST API with plain manifests: requests go through ``ApiClient.call_api`` (so the
kubeconfig / service-account authentication, TLS and proxy settings of kubernetes-asyncio
apply), with ``_preload_content=False`` so the JSON is read here, with no model classes, and
every HTTP failure is mapped by `kaito_backends.kubernetes.failures` (the Retry-After header
included). The verbs:

- ``get`` GET; ``list`` GET in pages of ``page_size`` (``limit``/``continue``; an expired
  continue token restarts the list; ``labels`` and ``fields`` become ``labelSelector`` and
  ``fieldSelector``), items sorted by (namespace, name) and given their
  ``apiVersion``/``kind``; a kind the server does not serve (a CRD not installed) lists empty;
- ``create`` POST; ``update`` PUT;
- every write but ``delete`` names the client's ``field_manager`` (``?fieldManager=kaito``), so
  ``metadata.managedFields`` attributes what the operator wrote to it, whatever the verb;
- ``apply``: server-side apply, ``PATCH`` with ``Content-Type: application/apply-patch+yaml``
  (JSON is YAML), ``?fieldManager=<manager>&force=true``; ``metadata.managedFields`` is
  dropped from the body, a ``metadata.resourceVersion`` stays (the server's precondition);
- ``apply_status``: ``PATCH <object>/status`` with a JSON patch that replaces ``status`` whole
  (and sets ``metadata.resourceVersion`` when given: a stale one is a 409 Conflict);
- ``delete``: DELETE with ``DeleteOptions{propagationPolicy}``;
- ``list``/``watch`` with ``metadata_only``: the same requests with ``Accept:
  application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`` (``as=PartialObjectMetadata``
  for a watch) and no plain-JSON fallback, so the server sends metadata only (a Secret's data
  never crosses the wire; a server that cannot answers 406); items come back as
  ``{"apiVersion", "kind", "metadata"}`` of the kind asked for;
- ``watch``: ``GET ?watch=true&allowWatchBookmarks=true&timeoutSeconds=<watch_timeout>``,
  read line by line. BOOKMARK events are passed on (only ``metadata.resourceVersion`` is
  meaningful in them); an ERROR event raises its error (`Gone` for 410 Expired); a dropped
  connection or the server's timeout ends the iterator (the caller rewatches from the last
  version it saw, as `kaito_backends.kubernetes.cache.Informer` does).

A path the server does not serve at all (``404 page not found``: a CRD not installed) raises
`KindNotServed` naming the kind (a `NotFound`; lists read it as empty). Connection failures
raise `Unreachable`, timeouts `Transient`. The client never keeps a dict it was given or hands
out one it keeps.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from kaito_backends.errors import BackendError, Gone, Invalid, KindNotServed, NotFound
from kaito_backends.kubernetes.failures import error_from_status, transport_error
from kaito_backends.kubernetes.resources import Resource, ResourceMap
from kaito_backends.objects import Manifest, ObjectRef, clone, group_of
from kaito_backends.protocols import ObjectList, WatchEvent

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "METADATA",
    "METADATA_LIST",
    "KubernetesClient",
    "field_selector",
    "label_selector",
]

APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
#: ``Accept`` of a metadata-only watch (and get) and of a metadata-only list.
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
_JSON = "application/json"
_PROPAGATIONS = frozenset({"Background", "Foreground", "Orphan"})
_EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
#: How many times a list restarts when its continue token expires before giving up.
_LIST_RESTARTS = 3


def label_selector(labels: Mapping[str, str] | None) -> str:
    """``a=1,b=2`` (sorted by key): the equality selector of a label map."""
    return ",".join(f"{key}={value}" for key, value in sorted((labels or {}).items()))


def field_selector(fields: Mapping[str, str] | None) -> str:
    """``a.b=1,c=2`` (sorted by path): the equality field selector of a map; a backslash, comma
    or equals sign in a value is escaped with a backslash, as the API server reads it."""
    return ",".join(f"{path}={_escape(value)}" for path, value in sorted((fields or {}).items()))


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = _meta(obj)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class KubernetesClient:
    """A `ClusterClient` over a Kubernetes API server (see the module docstring).

    ``api_client`` is a configured ``kubernetes_asyncio.client.ApiClient``
    (`kaito_backends.kubernetes.config.from_kubeconfig` / ``in_cluster`` make one). The client
    closes it on `close` only when ``owns_api_client`` is true. ``request_timeout`` bounds every
    request but watches, whose reads are bounded by ``watch_timeout`` (sent to the server as
    ``timeoutSeconds``) plus a grace period.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        resources: ResourceMap | None = None,
        field_manager: str = "kaito",
        force: bool = True,
        page_size: int = 500,
        request_timeout: float = 60.0,
        watch_timeout: float = 300.0,
        owns_api_client: bool = False,
    ) -> None:
        self.api_client = api_client
        self.resources = resources or ResourceMap()
        self.field_manager = field_manager
        self.force = force
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.watch_timeout = watch_timeout
        self.owns_api_client = owns_api_client

    async def close(self) -> None:
        """Close the API client's connections (only if this client owns it)."""
        if self.owns_api_client:
            await self.api_client.close()

    async def __aenter__(self) -> KubernetesClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing --------------------------------------------------------------------------------
    def _resource(self, api_version: str, kind: str) -> Resource:
        try:
            return self.resources.resource(api_version, kind)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    def _path(self, ref: ObjectRef, subresource: str | None = None) -> str:
        resource = self._resource(ref.api_version, ref.kind)
        if not ref.name:
            raise Invalid(f"{ref.kind}: metadata.name is required")
        try:
            return resource.item(ref.name, ref.namespace, subresource)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    def _manager(self) -> list[tuple[str, str]]:
        """The query naming this client's field manager (writes other than apply)."""
        return [("fieldManager", self.field_manager)]

    @staticmethod
    def _ref(obj: Mapping[str, Any]) -> ObjectRef:
        if not isinstance(obj, Mapping):
            raise Invalid(f"an object must be a mapping, got {type(obj).__name__}")
        return ObjectRef.of_(obj)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = _JSON,
        timeout: Any = None,
        accept: str = _JSON,
    ) -> Any:
        """Send a request; the (unread) aiohttp response. `Transient` when nothing answers."""
        try:
            return await self.api_client.call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Accept": accept, "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout if timeout is not None else self.request_timeout,
            )
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc, f"{method} {path}") from exc

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = _JSON,
        accept: str = _JSON,
        kind: tuple[str, str] | None = None,
    ) -> Any:
        """One request; the decoded JSON answer, or the mapped error (a `KindNotServed` names
        ``kind``, the (apiVersion, kind) asked for)."""
        response = await self._send(
            method, path, query=query, body=body, content_type=content_type, accept=accept
        )
        try:
            data = await response.read()
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(exc, f"{method} {path}") from exc
        finally:
            response.release()
        if not 200 <= response.status < 300:
            error = error_from_status(response.status, data, response.headers)
            if isinstance(error, KindNotServed) and kind is not None:
                error = self._not_served(*kind)
            raise error
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BackendError(f"{method} {path}: the server's answer is not JSON") from exc

    def _not_served(self, api_version: str, kind: str) -> KindNotServed:
        resource = self._resource(api_version, kind)
        group = group_of(api_version)
        name = f"{resource.plural}.{group}" if group else resource.plural
        return KindNotServed(
            f"the API server does not serve {name} ({api_version} {kind}): its "
            "CustomResourceDefinition is not installed",
            api_version=api_version,
            kind=kind,
        )

    @staticmethod
    def _typed(obj: Any, api_version: str, kind: str) -> Manifest:
        """The object with its apiVersion and kind filled in (list items come without them)."""
        if not isinstance(obj, dict):
            raise BackendError(f"expected a {kind} object, got {type(obj).__name__}")
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        return obj

    # -- reads -----------------------------------------------------------------------------------
    async def get(self, ref: ObjectRef) -> Manifest:
        found = await self._call("GET", self._path(ref), kind=(ref.api_version, ref.kind))
        return self._typed(found, ref.api_version, ref.kind)

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
        resource = self._resource(api_version, kind)
        accept = METADATA_LIST if metadata_only else _JSON
        typed = _metadata_only if metadata_only else self._typed
        path = resource.collection(namespace)
        base: list[tuple[str, str]] = []
        if labels:
            base.append(("labelSelector", label_selector(labels)))
        if fields:
            base.append(("fieldSelector", field_selector(fields)))
        if self.page_size > 0:
            base.append(("limit", str(self.page_size)))
        for attempt in range(_LIST_RESTARTS + 1):
            items: builtins.list[Manifest] = []
            version = ""
            token = ""
            try:
                while True:
                    query = [*base, ("continue", token)] if token else base
                    page = await self._call("GET", path, query=query, accept=accept)
                    meta = _meta(page)
                    version = version or str(meta.get("resourceVersion") or "")
                    items.extend(typed(o, api_version, kind) for o in page.get("items") or ())
                    token = str(meta.get("continue") or "")
                    if not token:
                        break
            except NotFound:
                return ObjectList(items=(), resource_version="")
            except Gone:
                if attempt == _LIST_RESTARTS:
                    raise
                continue  # the continue token expired: list again from the start
            items.sort(key=_key)
            return ObjectList(items=tuple(items), resource_version=version)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writes ----------------------------------------------------------------------------------
    async def create(self, obj: Manifest) -> Manifest:
        ref = self._ref(obj)
        resource = self._resource(ref.api_version, ref.kind)
        if resource.namespaced and not ref.namespace:
            raise Invalid(f"{ref.kind} {ref.name!r}: metadata.namespace is required")
        body = clone(dict(obj))
        created = await self._call(
            "POST",
            resource.collection(ref.namespace),
            query=self._manager(),
            body=body,
            kind=(ref.api_version, ref.kind),
        )
        return self._typed(created, ref.api_version, ref.kind)

    async def apply(self, obj: Manifest, *, field_manager: str | None = None) -> Manifest:
        ref = self._ref(obj)
        body: Manifest = clone(dict(obj))
        meta = body.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        query = [("fieldManager", field_manager or self.field_manager)]
        if self.force:
            query.append(("force", "true"))
        applied = await self._call(
            "PATCH",
            self._path(ref),
            query=query,
            body=body,
            content_type=APPLY_PATCH,
            kind=(ref.api_version, ref.kind),
        )
        return self._typed(applied, ref.api_version, ref.kind)

    async def update(self, obj: Manifest) -> Manifest:
        ref = self._ref(obj)
        updated = await self._call(
            "PUT",
            self._path(ref),
            query=self._manager(),
            body=clone(dict(obj)),
            kind=(ref.api_version, ref.kind),
        )
        return self._typed(updated, ref.api_version, ref.kind)

    async def apply_status(self, obj: Manifest) -> Manifest:
        ref = self._ref(obj)
        status = obj.get("status")
        operations: builtins.list[Manifest] = [
            {"op": "add", "path": "/status", "value": clone(status) if status else {}}
        ]
        version = _meta(obj).get("resourceVersion")
        if version:
            operations.append(
                {"op": "replace", "path": "/metadata/resourceVersion", "value": str(version)}
            )
        written = await self._call(
            "PATCH",
            self._path(ref, "status"),
            query=self._manager(),
            body=operations,
            content_type=JSON_PATCH,
            kind=(ref.api_version, ref.kind),
        )
        return self._typed(written, ref.api_version, ref.kind)

    async def delete(self, ref: ObjectRef, *, propagation: str = "Background") -> None:
        if propagation not in _PROPAGATIONS:
            raise Invalid(f"unsupported propagation policy {propagation!r}")
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        await self._call("DELETE", self._path(ref), body=options, kind=(ref.api_version, ref.kind))

    # -- watch -----------------------------------------------------------------------------------
    def watch(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        labels: Mapping[str, str] | None = None,
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        resource = self._resource(api_version, kind)
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(max(1, round(self.watch_timeout)))),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if labels:
            query.append(("labelSelector", label_selector(labels)))
        return self._watch(resource, resource.collection(namespace), query, metadata_only)

    async def _watch(
        self,
        resource: Resource,
        path: str,
        query: builtins.list[tuple[str, str]],
        metadata_only: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.request_timeout,
            sock_read=self.watch_timeout + max(30.0, self.watch_timeout / 10),
        )
        accept = METADATA if metadata_only else _JSON
        response = await self._send("GET", path, query=query, timeout=timeout, accept=accept)
        try:
            if response.status != 200:
                try:
                    data = await response.read()
                except _TRANSPORT_ERRORS as exc:
                    raise transport_error(exc, f"watch {path}") from exc
                raise error_from_status(response.status, data, response.headers)
            while True:
                try:
                    line = await response.content.readline()
                except (*_TRANSPORT_ERRORS, ValueError):
                    return  # dropped (or an oversized line): the caller rewatches
                if not line:
                    return  # the server ended the watch (timeoutSeconds, shutdown)
                if not line.strip():
                    continue
                event = _event(line, resource)
                if event is None:
                    return  # a torn last line of a dropped stream
                if metadata_only:
                    event = WatchEvent(
                        type=event.type,
                        object=_metadata_only(event.object, resource.api_version, resource.kind),
                    )
                yield event
        finally:
            response.close()


def _metadata_only(obj: Any, api_version: str, kind: str) -> Manifest:
    """A ``PartialObjectMetadata`` as ``{"apiVersion", "kind", "metadata"}`` of the kind asked
    for; anything else the server sent is dropped."""
    if not isinstance(obj, dict):
        raise BackendError(f"expected a {kind} object, got {type(obj).__name__}")
    meta = obj.get("metadata")
    metadata = meta if isinstance(meta, dict) else {}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def _event(line: bytes, resource: Resource) -> WatchEvent | None:
    """One watch line as a `WatchEvent`; raises the error of an ERROR event."""
    try:
        decoded = json.loads(line)
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    kind = decoded.get("type")
    obj = decoded.get("object")
    if kind == "ERROR":
        status = obj if isinstance(obj, Mapping) else {}
        code = status.get("code")
        raise error_from_status(code if isinstance(code, int) else 500, status)
    if kind not in _EVENT_TYPES or not isinstance(obj, dict):
        raise BackendError(f"unexpected watch event {str(decoded)[:200]}")
    obj.setdefault("apiVersion", resource.api_version)
    obj.setdefault("kind", resource.kind)
    return WatchEvent(type=kind, object=obj)
