"""The validating admission webhook of every registered kind (``AdmissionReview`` v1), on aiohttp.

Each kind of the registry (`kaito_core.kinds.Registry`; default: Workspace) is served at its
own path, ``POST /validate/<singular>.<group>`` (``/validate/workspace.kaito.sh``), with an
``admission.k8s.io/v1`` AdmissionReview. The answer is always HTTP 200 with an AdmissionReview
whose ``response`` carries the request's ``uid``:

- ``allowed: true`` when the object is valid (and for operations this webhook does not judge:
  DELETE, CONNECT, subresources, and updates of an object that is being deleted, so a stale
  spec can never keep its finalizer from being removed);
- ``allowed: false`` with ``status.code`` 422 (reason ``Invalid``) when it is not: the problems of
  the kind's ``parse`` (the object does not fit the schema) or of its ``validate`` (the
  webhook's rules, `kaito_core.validation.validate` for a Workspace; UPDATE compares
  ``oldObject``), one per line, ``spec.resource.instanceType: Unsupported instance type ...``;
- ``allowed: false`` with ``status.code`` 400 (reason ``BadRequest``) when the body is not a
  well-formed AdmissionReview v1 (`kaito_backends.operator.reviews`: not JSON, too deep, a
  non-finite number, no request or uid, an ``operation`` that is not one of the four, a
  ``namespace`` or ``name`` that is not a string, ...) or not about the path's kind; every
  operation is checked so, DELETE and CONNECT included;
- ``allowed: false`` with 500 when validation itself crashed (logged; the message names only the
  error class).

What the rules need to know of the cluster comes from a `ValidationContext` built from the
operator's settings. With a ``client``, a CREATE also reads what the kind's
`kaito_backends.kinds.KindHooks` ``admission`` hook asks for, through this validator's
`AdmissionReader` methods (each read time-boxed): a Workspace's ConfigMaps (so a missing one is
reported; a read that fails leaves existence unchecked) and, for bring-your-own nodes, the Nodes
its selector matches (the GPU checks; with none found the node checks are left to the
controller).

Nothing secret leaves the webhook: logs carry the uid, operation, kind, namespace/name and the
verdict, never the object; denial messages go through `mask_credentials` (URL userinfo,
secret-looking query parameters such as ``?token=``, ``hf_`` tokens). The metric label
``operation`` only takes the four operations and ``unknown``, so hostile reviews cannot grow
``/metrics``.

TLS: `tls_context` loads the serving certificate and key files given as flags;
`CertificateReloader` re-reads them when they change on disk (cert-manager rotates them).
Tests serve plain HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from kaito_backends.credentials import mask_credentials
from kaito_backends.engine.logs import library_logger
from kaito_backends.errors import BackendError, NotFound
from kaito_backends.kinds import DEFAULT_HOOKS, KindHooks
from kaito_backends.objects import Manifest, ObjectRef
from kaito_backends.operator.reviews import (
    ADMISSION_API_VERSION,
    OPERATIONS,
    ReviewError,
    decode_review,
)
from kaito_backends.operator.settings import WEBHOOK_NAME, WEBHOOK_PATH, webhook_path
from kaito_backends.protocols import ClusterClient
from kaito_core.api import ManifestError
from kaito_core.errors import FieldError
from kaito_core.kinds import KindSpec, Registry
from kaito_core.registry import default_registry
from kaito_core.validation import ValidationContext
from kaito_presets import Catalog

__all__ = [
    "ADMISSION_API_VERSION",
    "MAX_BODY_BYTES",
    "WEBHOOK_NAME",
    "WEBHOOK_PATH",
    "AdmissionValidator",
    "CertificateReloader",
    "WebhookMetrics",
    "WorkspaceValidator",
    "mask_credentials",
    "tls_context",
    "webhook_app",
]

#: Largest request body accepted (the API server's own object limit is ~3 MiB; reviews of an
#: UPDATE hold two objects).
MAX_BODY_BYTES = 8 * 1024 * 1024

_JUDGED_OPERATIONS = frozenset({"CREATE", "UPDATE"})


class WebhookMetrics:
    """``kaito_webhook_requests_total{operation,result}`` and ``kaito_webhook_latency_seconds``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "webhook_requests",
            "Admission reviews answered, by operation (CREATE, UPDATE, DELETE, CONNECT or "
            "unknown) and result (allowed, denied, bad_request, error).",
            ["operation", "result"],
            namespace="kaito",
            registry=self.registry,
        )
        self.latency = Histogram(
            "webhook_latency_seconds",
            "Time to answer one admission review.",
            namespace="kaito",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )


@attrs.frozen(kw_only=True)
class _Verdict:
    allowed: bool
    code: int = 200
    message: str = ""
    result: str = "allowed"


def _allowed() -> _Verdict:
    return _Verdict(allowed=True)


def _bad_request(message: str) -> _Verdict:
    return _Verdict(
        allowed=False, code=400, message=mask_credentials(message), result="bad_request"
    )


def _denied(problems: Sequence[FieldError]) -> _Verdict:
    lines = [mask_credentials(str(p)) for p in problems]
    return _Verdict(allowed=False, code=422, message="\n".join(lines), result="denied")


_REASONS = {400: "BadRequest", 422: "Invalid", 500: "InternalError"}


class AdmissionValidator:
    """Answers AdmissionReviews for the registered kinds (see the module docstring).

    ``context`` is the `ValidationContext` of the operator's settings, or a callable returning
    the current one. ``client`` (optional) reads what a CREATE needs (a Workspace's ConfigMaps
    and BYO Nodes), each read bounded by ``lookup_timeout`` seconds. ``registry`` and ``hooks``
    default to `default_registry` and `kaito_backends.kinds.DEFAULT_HOOKS`.
    """

    def __init__(
        self,
        context: ValidationContext | Callable[[], ValidationContext] | None = None,
        *,
        client: ClusterClient | None = None,
        catalog: Catalog | None = None,
        lookup_timeout: float = 3.0,
        metrics: WebhookMetrics | None = None,
        log: Any = None,
        registry: Registry | None = None,
        hooks: Mapping[str, KindHooks] | None = None,
    ) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.hooks = hooks if hooks is not None else DEFAULT_HOOKS
        self._context = context if context is not None else ValidationContext()
        self.client = client
        self.catalog = catalog
        self.lookup_timeout = lookup_timeout
        self.metrics = metrics
        self.log = log if log is not None else library_logger("kaito.webhook")

    def context(self) -> ValidationContext:
        """The settings-derived context requests start from."""
        found = self._context
        return found if isinstance(found, ValidationContext) else found()

    # -- the HTTP edge ---------------------------------------------------------------------------
    async def handle(self, request: web.Request, *, kind: str | None = None) -> web.Response:
        """The aiohttp handler: read the body, review it (as ``kind``), answer JSON."""
        body = await request.read()
        review = await self.review(body, kind=kind)
        return web.json_response(review)

    def paths(self) -> dict[str, str]:
        """Where each kind is served: path -> kind name (`webhook_path`)."""
        return {webhook_path(spec): spec.kind for spec in self.registry}

    def app(self, *, path: str | None = None) -> web.Application:
        """An aiohttp application serving every kind at its path (``path``: the first kind
        at that path instead)."""
        return webhook_app(self, path=path)

    # -- reviewing -------------------------------------------------------------------------------
    async def review(self, body: bytes | str, *, kind: str | None = None) -> dict[str, Any]:
        """The AdmissionReview answering ``body`` (the raw request body); ``kind``: the only
        kind this path judges (None: any registered kind)."""
        started = time.perf_counter()
        uid, operation = "", ""
        try:
            request = decode_review(body, max_bytes=MAX_BODY_BYTES)
        except ReviewError as error:
            uid, verdict = error.uid, _bad_request(str(error))
        else:
            uid, operation = request["uid"], request["operation"]
            try:
                verdict = await self._judge(request, kind)
            except Exception as error:
                self.log.error(
                    "webhook.crashed", uid=uid, error=type(error).__name__, exc_info=True
                )
                verdict = _Verdict(
                    allowed=False,
                    code=500,
                    message=f"internal error while validating: {type(error).__name__}",
                    result="error",
                )
        if self.metrics is not None:
            label = operation if operation in OPERATIONS else "unknown"
            self.metrics.requests.labels(operation=label, result=verdict.result).inc()
            self.metrics.latency.observe(time.perf_counter() - started)
        return _review(uid, verdict)

    def _kind_of(
        self, request: Mapping[str, Any], expected: str | None
    ) -> KindSpec[Any, Any] | str:
        """The spec of the request's kind, or why it is not one this path judges."""
        kind = request["kind"]
        spec = self.registry.get(kind["kind"])
        judged_here = expected is None or (spec is not None and spec.kind == expected)
        if spec is not None and spec.group == kind["group"] and judged_here:
            return spec
        judged = [self.registry[expected]] if expected is not None else list(self.registry)
        what = ", ".join(f"{s.group} {s.kind}s" for s in judged)
        shown = f"{kind['group'][:63]}/{kind['kind'][:63]}"
        return f"this webhook validates {what}, not {shown}"

    async def _judge(self, request: Mapping[str, Any], expected: str | None = None) -> _Verdict:
        operation = request["operation"]
        where = _where(request)
        if operation not in _JUDGED_OPERATIONS or request.get("subResource"):
            return _allowed()
        spec = self._kind_of(request, expected)
        if isinstance(spec, str):
            return _bad_request(spec)
        obj = request.get("object")
        if not isinstance(obj, Mapping):
            return _bad_request("request.object is missing or not an object")
        meta = obj.get("metadata")
        if operation == "UPDATE" and isinstance(meta, Mapping) and meta.get("deletionTimestamp"):
            return _allowed()
        try:
            parsed = _with_identity(spec.parse(obj), request)
        except ManifestError as error:
            self._log_verdict(spec, request, where, len(error.errors))
            return _denied(error.errors)
        old: Any = None
        if operation == "UPDATE":
            old_obj = request.get("oldObject")
            if isinstance(old_obj, Mapping):
                try:
                    old = _with_identity(spec.parse(old_obj), request)
                except ManifestError:
                    old = None  # a stored object we cannot read: judge the new one on its own
        context = self.context()
        if old is None:
            context = await self._cluster_facts(spec, parsed, context)
        problems = spec.validate(parsed, old=old, catalog=self.catalog, context=context)
        self._log_verdict(spec, request, where, len(problems))
        return _denied(problems) if problems else _allowed()

    def _log_verdict(
        self, spec: KindSpec[Any, Any], request: Mapping[str, Any], where: str, problems: int
    ) -> None:
        self.log.info(
            "webhook.reviewed",
            uid=request.get("uid"),
            operation=request.get("operation"),
            **{spec.singular: where},
            allowed=problems == 0,
            problems=problems,
        )

    # -- what a CREATE reads from the cluster ----------------------------------------------------
    async def _cluster_facts(
        self, spec: KindSpec[Any, Any], obj: Any, context: ValidationContext
    ) -> ValidationContext:
        hooks = self.hooks.get(spec.kind)
        if self.client is None or hooks is None or hooks.admission is None:
            return context
        found: ValidationContext = await hooks.admission(obj, context, self)
        return found

    async def config_maps(
        self, namespace: str, names: Sequence[str]
    ) -> dict[tuple[str, str], Mapping[str, Any]] | None:
        """The named ConfigMaps found, by (namespace, name); None when a read failed."""
        client = self.client
        if client is None:
            return None
        found: dict[tuple[str, str], Mapping[str, Any]] = {}
        for name in names:
            try:
                cm = await asyncio.wait_for(
                    client.get(ObjectRef("v1", "ConfigMap", name, namespace)),
                    timeout=self.lookup_timeout,
                )
            except NotFound:
                continue
            except (BackendError, TimeoutError) as error:
                self.log.warning(
                    "webhook.lookup_failed", kind="ConfigMap", error=type(error).__name__
                )
                return None  # unknown: existence is not checked
            found[(namespace, name)] = cm
        return found

    async def nodes(self, labels: Mapping[str, str]) -> tuple[Manifest, ...]:
        """The Nodes with these labels; empty when the read failed."""
        client = self.client
        if client is None:
            return ()
        try:
            result = await asyncio.wait_for(
                client.list("v1", "Node", labels=dict(labels)), timeout=self.lookup_timeout
            )
        except (BackendError, TimeoutError) as error:
            self.log.warning("webhook.lookup_failed", kind="Node", error=type(error).__name__)
            return ()
        return tuple(result.items)


def _where(request: Mapping[str, Any]) -> str:
    return f"{request.get('namespace') or ''}/{request.get('name') or ''}"


def _with_identity(obj: Any, request: Mapping[str, Any]) -> Any:
    """Fill the namespace (and name) from the request when the object omits them."""
    meta = obj.metadata
    namespace = meta.namespace or request.get("namespace") or None
    name = meta.name or request.get("name") or None
    if namespace == meta.namespace and name == meta.name:
        return obj
    return attrs.evolve(obj, metadata=attrs.evolve(meta, namespace=namespace, name=name))


def _review(uid: str, verdict: _Verdict) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        response["status"] = {
            "status": "Failure",
            "message": verdict.message,
            "reason": _REASONS.get(verdict.code, "BadRequest"),
            "code": verdict.code,
        }
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}


def webhook_app(validator: AdmissionValidator, *, path: str | None = None) -> web.Application:
    """An aiohttp application with the validator at each kind's path (POST only); with
    ``path``, the registry's first kind at that path alone."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    paths = validator.paths() if path is None else {path: validator.registry.kinds[0].kind}
    for where, kind in paths.items():
        app.router.add_post(where, functools.partial(validator.handle, kind=kind))
    return app


#: The former name of `AdmissionValidator` (it judges every registered kind).
WorkspaceValidator = AdmissionValidator


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer) from PEM certificate and key files.

    Raises OSError when a file cannot be read and ssl.SSLError when they do not match.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class CertificateReloader:
    """Re-reads the serving certificate into the same `ssl.SSLContext` when its files change.

    New connections get the new certificate; established ones keep theirs. Call
    `reload_if_changed` periodically (the runner does every ``interval`` seconds).
    """

    def __init__(self, context: ssl.SSLContext, cert_file: str, key_file: str) -> None:
        self.context = context
        self.cert_file = cert_file
        self.key_file = key_file
        self._stamp = self._mtimes()
        self.reloads = 0

    def _mtimes(self) -> tuple[float, float]:
        try:
            return (os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime)
        except OSError:
            return (0.0, 0.0)

    def reload_if_changed(self) -> bool:
        """Load the files again when either changed; True when reloaded. Errors keep the old."""
        stamp = self._mtimes()
        if stamp == self._stamp or stamp == (0.0, 0.0):
            return False
        try:
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError):
            return False  # a half-written rotation: try again next time
        self._stamp = stamp
        self.reloads += 1
        return True
