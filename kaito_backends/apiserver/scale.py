"""``/scale``: GET, PUT and PATCH of an ``autoscaling/v1`` Scale, for a kind with a scale
subresource (an InferenceSet), as kube-apiserver serves a CRD's.

- GET: the Scale of the object (`kaito_backends.scale.scale_of`); as a Table (``kubectl get
  --subresource=scale``): NAME, DESIRED, AVAILABLE.
- PUT: a Scale (``apiVersion`` ``autoscaling/v1`` and ``kind`` ``Scale`` when given, the name
  of the URL); its ``spec.replicas`` is written at the kind's ``specReplicasPath`` and nothing
  else changes; its ``metadata.resourceVersion``, when set, is a precondition (409 Conflict).
- PATCH: a JSON merge, strategic merge or JSON patch of the Scale (what ``kubectl scale``
  sends: ``{"spec":{"replicas":N}}`` as a merge patch), then as PUT; server-side apply is
  refused (415), as kube-apiserver refuses it on a CRD's scale subresource.
- A ``spec.replicas`` that is not an integer from 0 to 2^31-1 is 422 Invalid
  (``Scale.autoscaling "x" is invalid: spec.replicas: ...``). Replicas beyond what the kind
  accepts (an InferenceSet's 1,000) are stored, as on a real cluster (admission webhooks
  registered for the resource do not see its scale subresource); the kind's planner refuses
  them (``InferenceSetReady`` False, ``inferencesetFailed``).

The write goes through `kaito_backends.scale.set_replicas`, the path the fake cluster's
autoscaler takes too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kaito_backends.apiserver.bodies import APPLY_PATCH, JSON_PATCH, read_body
from kaito_backends.apiserver.columns import NAME, Column
from kaito_backends.apiserver.handlers import Handlers, json_response
from kaito_backends.apiserver.parsing import Target, negotiate
from kaito_backends.apiserver.patches import (
    PatchError,
    PatchTooLarge,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kaito_backends.apiserver.status import ApiError, from_backend
from kaito_backends.apiserver.tables import table
from kaito_backends.errors import BackendError
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.scale import SCALE_API_VERSION, replicas_problem, scale_of, set_replicas
from kaito_core.kinds import ScaleSubresource

__all__ = ["SCALE_COLUMNS", "serve_scale"]

#: kubectl's columns of a Scale.
SCALE_COLUMNS = (
    NAME,
    Column(
        name="Desired",
        type="integer",
        description="Desired replicas",
        cell=lambda obj, _now: obj["spec"]["replicas"],
    ),
    Column(
        name="Available",
        type="integer",
        description="Available replicas",
        cell=lambda obj, _now: obj["status"]["replicas"],
    ),
)
_PATCHERS = {JSON_PATCH: json_patch, "application/merge-patch+json": merge_patch}


def _scale(target: Target) -> ScaleSubresource:
    scale = target.resource.scale
    if scale is None:  # parse_target only routes kinds that have one
        raise ApiError.not_found(None, None)
    return scale


def _invalid(target: Target, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'Scale.autoscaling "{target.name}" is invalid: {message}',
        details={"name": target.name or "", "group": "autoscaling", "kind": "Scale"},
    )


def _desired(body: Any, target: Target) -> tuple[int, str | None]:
    """The replicas and resourceVersion precondition of a Scale body (raises `ApiError`)."""
    if not isinstance(body, dict):
        raise ApiError.bad_request("the request body must be a JSON object")
    for key, expected in (("apiVersion", SCALE_API_VERSION), ("kind", "Scale")):
        if body.get(key) not in (None, "", expected):
            raise ApiError.bad_request(
                f"{key} {body.get(key)!r:.60} does not match the expected {expected}"
            )
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ApiError.bad_request("metadata must be an object")
    if meta.get("name") not in (None, "", target.name):
        raise ApiError.bad_request(
            f"the name of the object ({meta['name']!s:.253}) does not match the name on the URL "
            f"({target.name})"
        )
    spec = body.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    problem = replicas_problem(replicas)
    if problem is not None:
        raise _invalid(target, problem)
    version = meta.get("resourceVersion")
    return int(replicas), str(version) if version else None


def _ref(target: Target) -> ObjectRef:
    namespace = target.namespace if target.resource.namespaced else None
    return ObjectRef(target.api_version, target.resource.kind, target.name or "", namespace)


async def _current(handlers: Handlers, target: Target) -> Manifest:
    try:
        return await handlers.client.get(_ref(target))
    except BackendError as exc:
        raise from_backend(exc, target.resource, target.name) from None


async def _write(
    handlers: Handlers, target: Target, replicas: int, version: str | None
) -> Manifest:
    try:
        return await set_replicas(
            handlers.client, _ref(target), _scale(target), replicas, resource_version=version
        )
    except BackendError as exc:
        raise from_backend(exc, target.resource, target.name) from None


def _respond(
    handlers: Handlers, scale: Manifest, request: web.Request, target: Target
) -> web.Response:
    negotiated = negotiate(request.headers.get("Accept"))
    if negotiated.representation == "table":
        body = table(
            SCALE_COLUMNS,
            [scale],
            now=handlers.now(),
            resource_version=str(scale["metadata"].get("resourceVersion", "")),
            include_object=request.query.get("includeObject", "Metadata"),
            table_version=negotiated.version,
        )
        return json_response(body)
    return json_response(scale)


async def serve_scale(handlers: Handlers, request: web.Request, target: Target) -> web.Response:
    """Answer a request to ``<plural>/<name>/scale`` (see the module docstring)."""
    method = request.method
    if method in ("GET", "HEAD"):
        scale = scale_of(await _current(handlers, target), _scale(target))
        return _respond(handlers, scale, request, target)
    if request.query.getall("dryRun", []):
        raise ApiError.bad_request("dryRun is not supported by the kaito fake API server")
    if method == "PUT":
        _, body = await read_body(request)
        replicas, version = _desired(body, target)
        written = await _write(handlers, target, replicas, version)
        return _respond(handlers, written, request, target)
    if method == "PATCH":
        media, patch = await read_body(request, "patch")
        if media == APPLY_PATCH:
            raise ApiError.unsupported_media_type(media)
        current = scale_of(await _current(handlers, target), _scale(target))
        read_at = current["metadata"].get("resourceVersion")
        patcher = _PATCHERS.get(media, strategic_merge_patch)
        try:
            patched = patcher(current, patch)
        except PatchTooLarge as exc:
            raise ApiError(413, "RequestEntityTooLarge", str(exc)) from None
        except PatchError as exc:
            raise _invalid(target, f"the patch does not apply: {exc}") from None
        replicas, version = _desired(patched, target)
        # a resourceVersion is a precondition only when the patch changed it (set one)
        precondition = version if version != read_at else None
        return _respond(
            handlers, await _write(handlers, target, replicas, precondition), request, target
        )
    raise ApiError.method_not_allowed(method.lower(), target.resource)
