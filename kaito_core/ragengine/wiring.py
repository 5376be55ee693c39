"""Where ``inferenceService.url`` leads: the check upstream does not make.

Pure: no I/O, no clock, no logging.

A RAGEngine whose inference URL points at nothing deploys fine and fails every query later;
upstream never says so. When the URL names a Service of this cluster, the plan checks it against
what the shell observed (`kaito_core.observed.Observed.references`) and says what it found in the
condition ``InferenceServiceReady``:

- the Service exists (``InferenceServiceNotFound``; but a Workspace of that name that has not
  made its Service yet, as when both are applied at once, is a wait:
  ``InferenceWorkspaceNotReady``) and has the URL's port
  (``InferenceServicePortMismatch``: a Workspace's Service listens on 80, its pods on 5000);
- when a Workspace controls the Service: it serves inference (``InferenceWorkspaceNotServing``
  for a tuning Workspace), over plain HTTP (``InferenceServiceSchemeMismatch``), at the URL's
  path (``InferenceServicePathUnsupported``: vLLM serves ``/v1/chat/completions`` and
  ``/v1/completions``, the Transformers runtime ``/v1/chat/completions`` only; the RAG service
  posts to the URL exactly as written), and is ready (``InferenceWorkspaceNotReady``, a waiting
  state); then ``WorkspaceServiceReady``;
- a Service no Workspace controls: ``ServiceFound`` (its paths are its own business);
- a URL outside the cluster, or references not looked up: Unknown ``NotChecked``.

``ContextWindowFits`` compares ``contextWindowSize`` with the Workspace's max model length (its
inference ConfigMap's ``vllm.max-model-len``, else the preset's token limit): a larger window is
a warning (False ``ContextWindowTooLarge``), since the RAG service would build prompts the model
rejects.

URL forms taken to be in-cluster Services: ``<svc>`` (the RAGEngine's namespace),
``<svc>.<ns>.svc`` and ``<svc>.<ns>.svc.<cluster-domain>`` for sure, and ``<svc>.<ns>`` when
such a Service was observed (otherwise it may be a public name, and is not checked).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from kaito_core.api.ragengine import RAGEngine
from kaito_core.api.serde import ManifestError
from kaito_core.api.types import Condition, Workspace
from kaito_core.conditions import condition
from kaito_core.observed import Observed
from kaito_core.ragengine import conditions as rc
from kaito_core.render.context import RUNTIME_VLLM, runtime_name
from kaito_core.validation.configmaps import parse_inference_config
from kaito_presets import Catalog

__all__ = [
    "SERVED_PATHS",
    "InferenceTarget",
    "inference_target",
    "wiring_conditions",
]

#: OpenAI-compatible paths a KAITO Workspace serves that the RAG service can post to, by runtime.
SERVED_PATHS: Mapping[str, tuple[str, ...]] = {
    "vllm": ("/v1/chat/completions", "/v1/completions"),
    "transformers": ("/v1/chat/completions",),
}
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_INFERENCE_CONFIG_KEY = "inference_config.yaml"


@attrs.frozen(kw_only=True)
class InferenceTarget:
    """The in-cluster Service an inference URL names, and what it asks of it."""

    namespace: str
    service: str
    scheme: str
    port: int
    path: str
    #: False for ``<svc>.<ns>``, which might also be a public host name.
    certain: bool

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.service}"


def inference_target(rag: RAGEngine) -> InferenceTarget | None:
    """The Service of this cluster that ``inferenceService.url`` names, or None (no URL, an IP
    address, or a host that is not a Service name). The shell looks this Service up (and the
    Workspace controlling it, and that Workspace's inference ConfigMap) to fill
    `Observed.references`.

    Pure: no I/O, no clock, no logging.
    """
    service = rag.spec.inference_service if rag.spec is not None else None
    url = service.url if service is not None else None
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or host == "localhost":
        return None
    labels = host.split(".")
    if len(labels) == 1:
        name, namespace, certain = labels[0], rag.namespace, True
    elif len(labels) == 2:
        name, namespace, certain = labels[0], labels[1], False
    elif labels[2] == "svc":
        name, namespace, certain = labels[0], labels[1], True
    else:
        return None
    if not _DNS1035.fullmatch(name) or not _DNS1123.fullmatch(namespace):
        return None
    return InferenceTarget(
        namespace=namespace,
        service=name,
        scheme=scheme,
        port=port if port is not None else (443 if scheme == "https" else 80),
        path=parts.path or "/",
        certain=certain,
    )


def _controller(obj: Mapping[str, Any], kind: str) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if (
            ref.get("kind") == kind
            and ref.get("controller")
            and str(ref.get("apiVersion", "")).startswith("kaito.sh/")
        ):
            return str(ref.get("name") or "") or None
    return None


def _ports(service: Mapping[str, Any]) -> list[tuple[int, str]]:
    found = []
    for port in (service.get("spec") or {}).get("ports") or ():
        number = port.get("port")
        if isinstance(number, int):
            found.append((number, str(port.get("name") or "")))
    return sorted(found)


def _ready(ws: Workspace) -> tuple[bool, str]:
    status = ws.status.condition("InferenceReady") if ws.status is not None else None
    if status is not None and status.status == "True":
        return True, ""
    if status is None:
        return False, "it reports no InferenceReady condition yet"
    return False, f"InferenceReady is {status.status}: {status.reason or ''} {status.message or ''}"


def _max_model_len(ws: Workspace, observed: Observed, catalog: Catalog) -> tuple[int, str] | None:
    """(max model length, where it comes from) of a preset Workspace, if known."""
    preset = ws.inference.preset if ws.inference is not None else None
    model = catalog.find_model(preset.name) if preset is not None else None
    if model is None:
        return None
    config = ws.inference.config if ws.inference is not None else None
    if config:
        cm = observed.reference("ConfigMap", ws.namespace, config)
        text = ((cm or {}).get("data") or {}).get(_INFERENCE_CONFIG_KEY)
        if isinstance(text, str):
            params, _ = parse_inference_config(text)
            for key, value in params.items():
                number = value.strip()
                if key.replace("_", "-") == "max-model-len" and number.isdigit() and int(number):
                    return int(number), f"max-model-len of ConfigMap {config}"
    return model.token_limit, f"the token limit of {model.name}"


def _context_window(
    rag: RAGEngine, ws: Workspace, observed: Observed, catalog: Catalog
) -> Condition | None:
    service = rag.spec.inference_service if rag.spec is not None else None
    known = _max_model_len(ws, observed, catalog)
    if service is None or known is None:
        return None
    size, (limit, source) = service.context_window_size, known
    where = f"Workspace {ws.namespace}/{ws.name}"
    if size > limit:
        return condition(
            rc.CONDITION_CONTEXT_WINDOW_FITS,
            False,
            rc.REASON_CONTEXT_WINDOW_TOO_LARGE,
            f"contextWindowSize {size} is larger than the max model length {limit} of {where} "
            f"({source}); the RAG service would build prompts the model rejects: set "
            f"contextWindowSize to at most {limit}",
        )
    return condition(
        rc.CONDITION_CONTEXT_WINDOW_FITS,
        True,
        rc.REASON_CONTEXT_WINDOW_FITS,
        f"contextWindowSize {size} fits the max model length {limit} of {where} ({source})",
    )


def _unchecked(message: str) -> tuple[Condition, ...]:
    return (
        condition(rc.CONDITION_INFERENCE_SERVICE_READY, "Unknown", rc.REASON_NOT_CHECKED, message),
    )


def _failed(reason: str, message: str) -> Condition:
    return condition(rc.CONDITION_INFERENCE_SERVICE_READY, False, reason, message)


def _workspace_conditions(
    rag: RAGEngine,
    target: InferenceTarget,
    ws: Workspace,
    observed: Observed,
    catalog: Catalog,
    vllm_enabled: bool,
) -> tuple[Condition, ...]:
    where = f"Workspace {ws.namespace}/{ws.name}"
    if ws.inference is None:
        return (
            _failed(
                rc.REASON_TARGET_NOT_SERVING,
                f"{where} is a tuning Workspace: it serves no inference",
            ),
        )
    if target.scheme == "https":
        return (
            _failed(
                rc.REASON_TARGET_SCHEME_MISMATCH,
                f"{where} serves plain HTTP; use http://{target.service}.{target.namespace}"
                f".svc.cluster.local{target.path}",
            ),
        )
    window = _context_window(rag, ws, observed, catalog)
    extra = () if window is None else (window,)
    runtime = (
        None if ws.inference.template is not None else runtime_name(ws, vllm_enabled=vllm_enabled)
    )
    if runtime is not None:
        paths = SERVED_PATHS.get(runtime, SERVED_PATHS[RUNTIME_VLLM])
        if target.path not in paths:
            hint = (
                " (the URL must name the endpoint, not just the host)" if target.path == "/" else ""
            )
            return (
                _failed(
                    rc.REASON_TARGET_PATH_UNSUPPORTED,
                    f"{where} ({runtime}) serves {' and '.join(paths)}, not {target.path}{hint}; "
                    "the RAG service posts OpenAI requests to the URL exactly as written",
                ),
                *extra,
            )
    ready, why = _ready(ws)
    if not ready:
        return (
            _failed(rc.REASON_WORKSPACE_NOT_READY, f"{where} is not ready yet: {why}".strip()),
            *extra,
        )
    served = f" ({runtime}, {target.path})" if runtime is not None else ""
    message = f"inferenceService.url reaches {where}{served}"
    return (
        condition(rc.CONDITION_INFERENCE_SERVICE_READY, True, rc.REASON_TARGET_READY, message),
        *extra,
    )


def _pending_workspace(target: InferenceTarget, observed: Observed) -> Workspace | None:
    """The Workspace named like the missing Service (a Workspace's Service bears its name), as
    observed, if any."""
    manifest = observed.reference("Workspace", target.namespace, target.service)
    try:
        ws = Workspace.from_manifest(manifest) if manifest is not None else None
    except ManifestError:
        return None
    if ws is None:
        return None
    return attrs.evolve(ws, metadata=attrs.evolve(ws.metadata, namespace=target.namespace))


def _unserved(
    rag: RAGEngine,
    target: InferenceTarget,
    ws: Workspace,
    observed: Observed,
    catalog: Catalog,
    vllm_enabled: bool,
) -> tuple[Condition, ...]:
    """The Workspace's own checks, then a wait for its Service (never True without it)."""
    found = _workspace_conditions(rag, target, ws, observed, catalog, vllm_enabled)
    ready = found[0]
    if ready.reason not in (rc.REASON_TARGET_READY, rc.REASON_WORKSPACE_NOT_READY):
        return found
    waiting = _failed(
        rc.REASON_WORKSPACE_NOT_READY,
        f"Workspace {ws.namespace}/{ws.name} has not made its Service {target.service} yet",
    )
    return (waiting, *found[1:])


def wiring_conditions(
    rag: RAGEngine, *, observed: Observed, catalog: Catalog, vllm_enabled: bool = True
) -> tuple[Condition, ...]:
    """``InferenceServiceReady`` (and ``ContextWindowFits`` when the URL leads to a preset
    Workspace), without transition times; none for a retrieve-only RAGEngine.

    Pure: no I/O, no clock, no logging.
    """
    service = rag.spec.inference_service if rag.spec is not None else None
    if service is None or not service.url:
        return ()
    target = inference_target(rag)
    if target is None:
        return _unchecked(
            "inferenceService.url does not name a Service of this cluster; not checked"
        )
    if observed.references is None:
        return _unchecked(f"Service {target.where} was not looked up; not checked")
    found = observed.reference("Service", target.namespace, target.service)
    if found is None:
        pending = _pending_workspace(target, observed)
        if pending is not None:
            return _unserved(rag, target, pending, observed, catalog, vllm_enabled)
        if not target.certain:
            return _unchecked(
                f"no Service {target.where} exists, so {target.service}.{target.namespace} is "
                "taken to be outside the cluster; not checked"
            )
        return (
            _failed(
                rc.REASON_TARGET_NOT_FOUND,
                f"inferenceService.url names Service {target.where}, which does not exist: "
                "every query would fail; create the Workspace or fix the URL",
            ),
        )
    ports = _ports(found)
    if ports and target.port not in [number for number, _ in ports]:
        listing = ", ".join(f"{n} ({name})" if name else str(n) for n, name in ports)
        return (
            _failed(
                rc.REASON_TARGET_PORT_MISMATCH,
                f"Service {target.where} has no port {target.port}; it listens on {listing}",
            ),
        )
    owner = _controller(found, "Workspace")
    if owner is None:
        return (
            condition(
                rc.CONDITION_INFERENCE_SERVICE_READY,
                True,
                rc.REASON_SERVICE_FOUND,
                f"Service {target.where} exists; no KAITO Workspace controls it, so its paths "
                "are not checked",
            ),
        )
    manifest = observed.reference("Workspace", target.namespace, owner)
    try:
        ws = Workspace.from_manifest(manifest) if manifest is not None else None
    except ManifestError:
        ws = None
    if ws is None:
        return _unchecked(
            f"Service {target.where} belongs to Workspace {owner}, which was not read"
        )
    ws = attrs.evolve(ws, metadata=attrs.evolve(ws.metadata, namespace=target.namespace))
    return _workspace_conditions(rag, target, ws, observed, catalog, vllm_enabled)
