"""Reading a request: which resource a URL names and what the client accepts.

(Bodies are read by `kaito_backends.apiserver.bodies`.)

URLs (``<gv>`` is ``api/v1`` or ``apis/<group>/<version>``)::

    /<gv>/<plural>                               list, watch, deletecollection, create (cluster)
    /<gv>/namespaces/<ns>/<plural>               the same in one namespace
    /<gv>[/namespaces/<ns>]/<plural>/<name>      get, update, patch, delete
    /<gv>[/namespaces/<ns>]/<plural>/<name>/status
    /<gv>[/namespaces/<ns>]/<plural>/<name>/scale   (a kind with a scale subresource)
    /<gv>/watch/...                              the legacy watch prefix (same as ?watch=true)
    /api/v1/namespaces/<name>[/status]           the Namespace object itself

``Accept`` negotiation: ``application/json;as=Table;v=v1;g=meta.k8s.io`` (or ``v1beta1``) gets a
Table, ``as=PartialObjectMetadata`` / ``as=PartialObjectMetadataList`` metadata only, anything
JSON-compatible plain JSON; an ``Accept`` that only allows protobuf is refused with 406.
"""

from __future__ import annotations

from typing import Literal

import attrs

from kaito_backends.apiserver.registry import Resource, ResourceTable, resource_table
from kaito_backends.apiserver.status import ApiError

__all__ = ["Negotiated", "Target", "flag", "negotiate", "parse_target"]

Representation = Literal["object", "table", "partial"]


@attrs.frozen(kw_only=True)
class Target:
    """What a resource URL names."""

    resource: Resource
    version: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    legacy_watch: bool = False

    @property
    def api_version(self) -> str:
        return self.resource.api_version(self.version)


def parse_target(
    group: str, version: str, segments: list[str], *, table: ResourceTable | None = None
) -> Target:
    """The target of ``segments`` (the path after the group-version) among the resources of
    ``table`` (default: the default registry's); raises `ApiError` 404."""
    legacy_watch = False
    if segments and segments[0] == "watch":
        legacy_watch = True
        segments = segments[1:]
    namespace: str | None = None
    if not segments:
        raise ApiError.not_found(None, None)
    if (
        segments[0] == "namespaces"
        and group == ""
        and (len(segments) <= 2 or (len(segments) == 3 and segments[2] in ("status", "finalize")))
    ):
        plural, rest = "namespaces", segments[1:]
    elif segments[0] == "namespaces" and len(segments) >= 3:
        namespace, plural, rest = segments[1], segments[2], segments[3:]
    else:
        plural, rest = segments[0], segments[1:]
    resource = (table or resource_table()).find_resource(group, version, plural)
    if resource is None or len(rest) > 2 or any(not part for part in rest):
        raise ApiError.not_found(None, None)
    if namespace is not None and not resource.namespaced:
        raise ApiError.not_found(None, None)
    name = rest[0] if rest else None
    subresource = rest[1] if len(rest) == 2 else None
    if subresource is not None and not (
        (subresource == "status" and resource.has_status)
        or (subresource == "scale" and resource.scale is not None)
    ):
        raise ApiError.not_found(None, None)
    return Target(
        resource=resource,
        version=version,
        namespace=namespace,
        name=name,
        subresource=subresource,
        legacy_watch=legacy_watch,
    )


def flag(value: str | None) -> bool:
    """A boolean query parameter, read as Go's ``strconv.ParseBool`` does (``True``, ``1``...)."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


@attrs.frozen
class Negotiated:
    """How to answer: plain objects, a Table (meta.k8s.io ``version``) or metadata only."""

    representation: Representation
    version: str = "v1"


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip()] = value.strip()
        ranges.append((pieces[0].lower(), params))
    return ranges


def negotiate(accept: str | None) -> Negotiated:
    """Pick the representation from an ``Accept`` header (see the module docstring)."""
    if not accept or not accept.strip():
        return Negotiated("object")
    refused = False
    for media, params in _media_ranges(accept):
        if media not in ("application/json", "application/*", "*/*", "application/yaml"):
            refused = True
            continue
        what = params.get("as")
        if what is None:
            return Negotiated("object")
        if params.get("g") != "meta.k8s.io":
            continue
        version = params.get("v", "v1")
        if version not in ("v1", "v1beta1"):
            continue
        if what == "Table":
            return Negotiated("table", version)
        if what in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Negotiated("partial", version)
    if refused:
        raise ApiError(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml "
            f"(asked for {accept})",
        )
    return Negotiated("object")
