"""The REST verbs over the fake cluster: get, list, create, update, patch, delete, status.

Every verb goes through the fake cluster's `ClusterClient` (so its call records and fault
injection apply); objects come back in the version the URL names. (The only read past the client
is the store's current resourceVersion, for watch bookmarks.)

Semantics beyond the client's own:
- POST fills ``apiVersion``/``kind`` when absent and rejects a body whose group-version or kind
  differs from the URL (400); the URL's namespace wins (a different one in the body is a 400).
  Creating an object (POST, or a server-side apply that creates) in a namespace that does not
  exist is a 404 ``namespaces "x" not found``, as the NamespaceLifecycle admission answers:
  create the Namespace first (``default``, ``kube-system``, ``kube-public`` and
  ``kube-node-lease`` exist from the start).
- PUT/PATCH on an object compare names with the URL (400); a ``metadata.resourceVersion`` in the
  body or patch is a precondition (409 Conflict when stale).
- PATCH: JSON merge, strategic merge, JSON patch, and server-side apply
  (``application/apply-patch+yaml``, which needs ``fieldManager`` and creates absent objects).
  ``force`` is accepted; the fake keeps one field set per manager and has no ownership
  conflicts, so ``force`` changes nothing. A JSON-patch body that is an object (not a list of
  operations) is read as a merge patch: kubernetes-asyncio's CustomObjectsApi sends dict
  patches that way. Patching ``/status`` changes only ``status``; patching the object ignores
  ``status`` for kinds with a status subresource.
- DELETE honours ``propagationPolicy`` (query or DeleteOptions body; ``orphanDependents``) and
  ``preconditions``. Deleting a Namespace makes it Terminating: the fake cluster's namespace
  controller deletes what is in it and removes it once it is empty; meanwhile creates in it are
  403 (`kaito_backends.fake.namespaces`). ``default``, ``kube-system`` and ``kube-public``
  cannot be deleted (403). ``dryRun`` is refused everywhere (400).
- Bodies are read by `kaito_backends.apiserver.bodies` (3 MiB, media types, bounded JSON and
  YAML) and checked by `kaito_backends.apiserver.shapes` before anything is stored; a JSON
  patch is bounded as kube-apiserver bounds it (`kaito_backends.apiserver.patches`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from kaito_backends.apiserver.bodies import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    decode_body,
    media_type,
    read_body,
)
from kaito_backends.apiserver.parsing import Negotiated, Target, flag, negotiate
from kaito_backends.apiserver.patches import (
    PatchError,
    PatchTooLarge,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kaito_backends.apiserver.selectors import (
    Selector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from kaito_backends.apiserver.shapes import check_object
from kaito_backends.apiserver.status import ApiError, from_backend
from kaito_backends.apiserver.tables import columns_for, partial_metadata, table
from kaito_backends.errors import BackendError, NotFound
from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest, ObjectRef, deep_merge

__all__ = ["PROTECTED_NAMESPACES", "Handlers", "json_response", "ordered", "selectors"]

#: Namespaces that always exist and cannot be deleted.
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
_PATCHES: dict[str, Callable[[Any, Any], Any]] = {
    MERGE_PATCH: merge_patch,
    STRATEGIC_MERGE_PATCH: strategic_merge_patch,
    JSON_PATCH: json_patch,
}
_PROPAGATIONS = ("Background", "Foreground", "Orphan")
_PRECONDITION_NAMES = {"uid": "UID", "resourceVersion": "ResourceVersion"}


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response, compact, with ``Content-Type: application/json``."""
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def ordered(obj: Manifest) -> Manifest:
    """The object with ``kind``, ``apiVersion`` and ``metadata`` first, as the server writes it."""
    head: dict[str, Any] = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = obj.get("metadata") or {}
    return meta


def selectors(request: web.Request) -> tuple[Selector, Selector]:
    try:
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"))
    except SelectorError as exc:
        raise ApiError.bad_request(str(exc)) from None
    return labels, fields


def _no_dry_run(request: web.Request, options: Mapping[str, Any] | None = None) -> None:
    if request.query.getall("dryRun", []) or (options or {}).get("dryRun"):
        raise ApiError.bad_request("dryRun is not supported by the kaito fake API server")


class Handlers:
    """The verbs of one fake cluster (the server routes requests here)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.client = cluster.client()

    def now(self) -> datetime:
        return self.cluster.clock.now()

    # -- plumbing --------------------------------------------------------------------------------
    def _ref(self, target: Target, name: str | None = None) -> ObjectRef:
        namespace = target.namespace if target.resource.namespaced else None
        return ObjectRef(
            target.api_version, target.resource.kind, name or target.name or "", namespace
        )

    def _error(self, error: BackendError, target: Target, name: str | None = None) -> ApiError:
        return from_backend(error, target.resource, name or target.name)

    def represent(
        self, obj: Manifest, target: Target, negotiated: Negotiated, request: web.Request
    ) -> Any:
        """An object as the client asked for it (the object, a one-row Table, or its metadata)."""
        if negotiated.representation == "table":
            return table(
                columns_for(target.resource, target.version),
                [obj],
                now=self.now(),
                resource_version=str(_meta(obj).get("resourceVersion", "")),
                include_object=request.query.get("includeObject", "Metadata"),
                table_version=negotiated.version,
            )
        if negotiated.representation == "partial":
            return partial_metadata(obj)
        return ordered(obj)

    def _check_identity(self, obj: Any, target: Target) -> Manifest:
        """Fill and check apiVersion, kind, name and namespace of a body against the URL."""
        if not isinstance(obj, dict):
            raise ApiError.bad_request("the request body must be a JSON object")
        expected = target.api_version
        api_version = obj.setdefault("apiVersion", expected)
        if api_version != expected:
            raise ApiError.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({expected})"
            )
        kind = obj.setdefault("kind", target.resource.kind)
        if kind != target.resource.kind:
            raise ApiError.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind "
                f"({target.resource.kind})"
            )
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError.bad_request("metadata must be an object")
        if target.name is not None:
            if meta.get("name") not in (None, "", target.name):
                raise ApiError.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the "
                    f"URL ({target.name})"
                )
            meta["name"] = target.name
        if target.resource.namespaced:
            if target.namespace is None:
                raise ApiError.method_not_allowed("create", target.resource)
            if meta.get("namespace") not in (None, "", target.namespace):
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = target.namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _writable(self, target: Target, verb: str) -> None:
        if target.resource.read_only:
            raise ApiError.method_not_allowed(verb, target.resource)

    async def require_namespace(self, name: str | None) -> None:
        """Raise the API server's 404 when the Namespace ``name`` does not exist."""
        if not name:
            return
        try:
            await self.client.get(ObjectRef("v1", "Namespace", name))
        except NotFound:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{name}" not found',
                details={"name": name, "kind": "namespaces"},
            ) from None

    async def ensure_namespace(self, name: str | None) -> None:
        """Create the Namespace ``name`` (phase Active) unless it exists."""
        if not name:
            return
        ref = ObjectRef("v1", "Namespace", name)
        try:
            await self.client.get(ref)
            return
        except NotFound:
            pass
        created = await self.client.create(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
                "spec": {"finalizers": ["kubernetes"]},
            }
        )
        await self.client.apply_status({**created, "status": {"phase": "Active"}})

    # -- reads -----------------------------------------------------------------------------------
    async def get(self, request: web.Request, target: Target) -> web.Response:
        negotiated = negotiate(request.headers.get("Accept"))
        try:
            obj = await self.client.get(self._ref(target))
        except BackendError as exc:
            raise self._error(exc, target) from None
        return json_response(self.represent(obj, target, negotiated, request))

    async def select(self, request: web.Request, target: Target) -> tuple[list[Manifest], str]:
        """The objects a list names (namespace and selectors applied) and the list's version."""
        labels, fields = selectors(request)
        namespace = target.namespace if target.resource.namespaced else None
        try:
            listed = await self.client.list(
                target.api_version,
                target.resource.kind,
                namespace=namespace,
                labels=labels.equalities() or None,
            )
        except BackendError as exc:
            raise self._error(exc, target) from None
        items = [
            o
            for o in listed.items
            if labels.matches_labels(_meta(o).get("labels") or {}) and fields.matches_fields(o)
        ]
        return items, listed.resource_version

    async def list(self, request: web.Request, target: Target) -> web.Response:
        negotiated = negotiate(request.headers.get("Accept"))
        items, version = await self.select(request, target)
        if negotiated.representation == "table":
            body = table(
                columns_for(target.resource, target.version),
                items,
                now=self.now(),
                resource_version=version,
                include_object=request.query.get("includeObject", "Metadata"),
                table_version=negotiated.version,
            )
        elif negotiated.representation == "partial":
            body = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{negotiated.version}",
                "metadata": {"resourceVersion": version},
                "items": [partial_metadata(o) for o in items],
            }
        else:
            body = {
                "kind": target.resource.list_kind,
                "apiVersion": target.api_version,
                "metadata": {"resourceVersion": version},
                "items": [ordered(o) for o in items],
            }
        return json_response(body)

    # -- writes ----------------------------------------------------------------------------------
    async def create(self, request: web.Request, target: Target) -> web.Response:
        self._writable(target, "create")
        if target.name is not None:
            raise ApiError.method_not_allowed("create", target.resource)
        _no_dry_run(request)
        obj = self._check_identity((await read_body(request))[1], target)
        check_object(obj, target.resource, target.version)
        negotiated = negotiate(request.headers.get("Accept"))
        try:
            await self.require_namespace(target.namespace if target.resource.namespaced else None)
            created = await self.client.create(obj)
            if target.resource.kind == "Namespace":
                created = await self.client.apply_status({**created, "status": {"phase": "Active"}})
        except BackendError as exc:
            raise self._error(exc, target, _meta(obj).get("name")) from None
        return json_response(self.represent(created, target, negotiated, request), status=201)

    async def update(self, request: web.Request, target: Target) -> web.Response:
        self._writable(target, "update")
        _no_dry_run(request)
        obj = self._check_identity((await read_body(request))[1], target)
        check_object(obj, target.resource, target.version)
        negotiated = negotiate(request.headers.get("Accept"))
        try:
            if target.subresource == "status":
                result = await self.client.apply_status(obj)
            else:
                result = await self.client.update(obj)
        except BackendError as exc:
            raise self._error(exc, target) from None
        return json_response(self.represent(result, target, negotiated, request))

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        self._writable(target, "patch")
        _no_dry_run(request)
        media, body = await read_body(request, "patch")
        negotiated = negotiate(request.headers.get("Accept"))
        if media == APPLY_PATCH:
            return await self._apply(request, target, body, negotiated)
        patcher = _PATCHES[media]
        if patcher is json_patch and isinstance(body, dict):
            # kubernetes-asyncio's CustomObjectsApi labels dict patches as JSON patches; the real
            # server would refuse them, the playground reads them as merge patches.
            patcher = merge_patch
        ref = self._ref(target)
        try:
            current = await self.client.get(ref)
        except BackendError as exc:
            raise self._error(exc, target) from None
        try:
            patched = patcher(current, body)
        except PatchTooLarge as exc:
            raise ApiError(413, "RequestEntityTooLarge", str(exc)) from None
        except PatchError as exc:
            if media == JSON_PATCH and not isinstance(body, list):
                raise ApiError.bad_request(str(exc)) from None
            raise ApiError.invalid(
                target.resource, target.name, f"the patch does not apply: {exc}"
            ) from None
        if not isinstance(patched, dict):
            raise ApiError.bad_request("the patch did not produce an object")
        patched = self._check_identity(patched, target)
        check_object(patched, target.resource, target.version)
        try:
            if target.subresource == "status":
                update = {k: v for k, v in current.items() if k != "status"}
                update["metadata"] = {
                    **_meta(current),
                    "resourceVersion": _meta(patched).get("resourceVersion"),
                }
                if "status" in patched:
                    update["status"] = patched["status"]
                result = await self.client.apply_status(update)
            else:
                result = await self.client.update(patched)
        except BackendError as exc:
            raise self._error(exc, target) from None
        return json_response(self.represent(result, target, negotiated, request))

    async def _apply(
        self, request: web.Request, target: Target, body: Any, negotiated: Negotiated
    ) -> web.Response:
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError.bad_request(
                "PATCH apply requests require fieldManager (?fieldManager=<name>)"
            )
        if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
            raise ApiError.bad_request("an applied object needs apiVersion and kind")
        obj = self._check_identity(body, target)
        check_object(obj, target.resource, target.version)
        ref = self._ref(target)
        try:
            try:
                current: Manifest | None = await self.client.get(ref)
            except NotFound:
                current = None
            if target.subresource == "status":
                if current is None:
                    raise self._error(
                        NotFound(f'{target.resource.qualified} "{target.name}" not found'), target
                    )
                status = deep_merge(current.get("status") or {}, obj.get("status") or {})
                meta = {
                    **_meta(current),
                    **{k: v for k, v in _meta(obj).items() if k == "resourceVersion"},
                }
                result = await self.client.apply_status(
                    {**current, "metadata": meta, "status": status}
                )
            else:
                if current is None:
                    await self.require_namespace(
                        target.namespace if target.resource.namespaced else None
                    )
                result = await self.client.apply(obj, field_manager=manager)
        except BackendError as exc:
            raise self._error(exc, target) from None
        return json_response(
            self.represent(result, target, negotiated, request),
            status=201 if current is None else 200,
        )

    # -- deletes ---------------------------------------------------------------------------------
    async def _delete_options(self, request: web.Request) -> tuple[str, Mapping[str, Any]]:
        options: Mapping[str, Any] = {}
        media = media_type(request) or "application/json"
        raw = await request.read()
        if raw.strip() and "protobuf" not in media:
            decoded = await decode_body(raw, media)
            if not isinstance(decoded, dict):
                raise ApiError.bad_request("DeleteOptions must be an object")
            options = decoded
        _no_dry_run(request, options)
        policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        orphan = options.get("orphanDependents") is True or flag(
            request.query.get("orphanDependents")
        )
        if policy is None and orphan:
            policy = "Orphan"
        policy = policy or "Background"
        if policy not in _PROPAGATIONS:
            raise ApiError.bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Background", "Foreground", "Orphan"'
            )
        return policy, options

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        self._writable(target, "delete")
        policy, options = await self._delete_options(request)
        negotiated = negotiate(request.headers.get("Accept"))
        result = await self.delete_one(
            target, target.name or "", policy, options.get("preconditions") or {}
        )
        return json_response(self.represent(result, target, negotiated, request))

    async def delete_one(
        self, target: Target, name: str, policy: str, preconditions: Mapping[str, Any]
    ) -> Manifest:
        """Delete one object; returns it as it is afterwards (or as it was, when gone)."""
        ref = self._ref(target, name)
        if target.resource.kind == "Namespace" and name in PROTECTED_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
        try:
            before = await self.client.get(ref)
            for field in ("uid", "resourceVersion"):
                wanted = preconditions.get(field)
                if wanted and wanted != _meta(before).get(field):
                    raise ApiError(
                        409,
                        "Conflict",
                        f"Precondition failed: {_PRECONDITION_NAMES[field]} in precondition: "
                        f"{wanted}, {_PRECONDITION_NAMES[field]} in object meta: "
                        f"{_meta(before).get(field)}",
                        details={"name": name, "kind": target.resource.plural},
                    )
            await self.client.delete(ref, propagation=policy)
        except BackendError as exc:
            raise self._error(exc, target, name) from None
        try:
            return await self.client.get(ref)
        except NotFound:
            return before

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        self._writable(target, "deletecollection")
        policy, _ = await self._delete_options(request)
        items, version = await self.select(request, target)
        deleted = []
        for obj in items:
            single = Target(
                resource=target.resource,
                version=target.version,
                namespace=_meta(obj).get("namespace") or target.namespace,
                name=_meta(obj)["name"],
            )
            try:
                deleted.append(await self.delete_one(single, _meta(obj)["name"], policy, {}))
            except ApiError as exc:
                if exc.code != 404:
                    raise
        body = {
            "kind": target.resource.list_kind,
            "apiVersion": target.api_version,
            "metadata": {"resourceVersion": version},
            "items": [ordered(o) for o in deleted],
        }
        return json_response(body)
