"""Widget: a test-only kind, registered in tests to keep the shared code honest.

A whole vertical slice in one small module, as a real kind has one: the API type and its parser,
validation, a pure planner (one ConfigMap holding the widget's message), a status and how the
engine reads it, and its `KindSpec`. Nothing in ``kaito_core`` or ``kaito_backends`` knows of
it: the tests pass ``widget_registry()`` (the default registry plus Widget) to the engine, the
CLI and the fake API server and expect Widgets to work like Workspaces do.

    apiVersion: test.kaito.sh/v1
    kind: Widget
    metadata: {name: hello, namespace: default}
    spec: {message: hi}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from kaito_core.api import Condition, ManifestError, NamedObject, ObjectMeta
from kaito_core.api.serde import converter
from kaito_core.errors import FieldError, SpecError
from kaito_core.kinds import KindRef, KindSpec, PrinterColumn, Registry, ignoring_settings
from kaito_core.observed import Observed
from kaito_core.outcome import Event, Outcome
from kaito_core.registry import default_registry

__all__ = [
    "API_VERSION",
    "CRATE",
    "WIDGET",
    "Widget",
    "WidgetSpec",
    "WidgetStatus",
    "crate",
    "parse_widget",
    "plan_widget",
    "validate_widget",
    "widget",
    "widget_registry",
    "widget_state",
]

GROUP = "test.kaito.sh"
API_VERSION = f"{GROUP}/v1"
#: a message the planner refuses (a spec error the engine must report, not crash on)
FORBIDDEN = "forbidden"


@attrs.frozen(kw_only=True)
class WidgetSpec:
    message: str


@attrs.frozen(kw_only=True)
class WidgetStatus:
    conditions: tuple[Condition, ...] = ()
    state: str = "Pending"


@attrs.frozen(kw_only=True)
class Widget(NamedObject):
    metadata: ObjectMeta
    spec: WidgetSpec
    status: WidgetStatus | None = None


def parse_widget(manifest: Mapping[str, Any]) -> Widget:
    """A Widget manifest as a `Widget`; raises `ManifestError` naming each bad field."""
    errors: list[FieldError] = []
    if manifest.get("apiVersion") != API_VERSION:
        errors.append(FieldError(path="apiVersion", message=f"expected {API_VERSION}"))
    if manifest.get("kind") != "Widget":
        errors.append(FieldError(path="kind", message="expected Widget"))
    errors += [
        FieldError(path=str(key), message="unknown field")
        for key in manifest
        if key not in ("apiVersion", "kind", "metadata", "spec", "status")
    ]
    try:
        metadata = converter.structure(manifest.get("metadata"), ObjectMeta)
    except Exception:
        errors.append(FieldError(path="metadata", message="not a valid ObjectMeta"))
        metadata = ObjectMeta()
    spec = manifest.get("spec")
    message = spec.get("message") if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping):
        errors.append(FieldError(path="spec", message="required field is missing"))
    elif not isinstance(message, str):
        errors.append(FieldError(path="spec.message", message="expected a string"))
    else:
        errors += [
            FieldError(path=f"spec.{key}", message="unknown field")
            for key in spec
            if key != "message"
        ]
    status = None
    if manifest.get("status") is not None:
        try:
            status = converter.structure(manifest["status"], WidgetStatus)
        except Exception:
            errors.append(FieldError(path="status", message="not a valid Widget status"))
    if errors:
        raise ManifestError(errors)
    return Widget(metadata=metadata, spec=WidgetSpec(message=str(message)), status=status)


def validate_widget(
    obj: Widget, *, old: Widget | None = None, catalog: Any = None, context: Any = None
) -> list[FieldError]:
    """The message is 1 to 63 characters; it cannot change once set."""
    message = obj.spec.message
    if not message.strip():
        return [FieldError(path="spec.message", message="must not be empty")]
    if len(message) > 63:
        return [FieldError(path="spec.message", message="must be at most 63 characters")]
    if old is not None and old.spec.message != message:
        return [FieldError(path="spec.message", message="is immutable")]
    return []


def _config_map(obj: Widget) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{obj.name}-widget",
            "namespace": obj.namespace,
            "labels": {"kaito.sh/widget": obj.name},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Widget",
                    "name": obj.name,
                    "uid": obj.metadata.uid or "",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {"message": obj.spec.message},
    }


def _ready(
    ok: bool, reason: str, message: str, previous: WidgetStatus | None, now: str
) -> Condition:
    status = "True" if ok else "False"
    before = next((c for c in (previous.conditions if previous else ()) if c.type == "Ready"), None)
    since = before.last_transition_time if before is not None and before.status == status else now
    return Condition(
        type="Ready", status=status, reason=reason, message=message, last_transition_time=since
    )


def plan_widget(
    obj: Widget, *, observed: Observed, catalog: Any, now: str, settings: Any = None
) -> Outcome[WidgetStatus]:
    """One ConfigMap ``<name>-widget`` with the message; Ready once it is stored as planned."""
    if obj.metadata.deletion_timestamp:
        return Outcome(status=obj.status or WidgetStatus(), deleting=True)
    if obj.spec.message == FORBIDDEN:
        error = SpecError("this message is refused", path="spec.message", reason="Refused")
        ready = _ready(False, error.reason, error.message, obj.status, now)
        return Outcome(
            status=WidgetStatus(conditions=(ready,), state="Failed"),
            error=error,
            events=(Event(type="Warning", reason=error.reason, message=error.message),),
        )
    desired = _config_map(obj)
    current = observed.object("ConfigMap", desired["metadata"]["name"])
    stored = current is not None and current.get("data") == desired["data"]
    ready = _ready(
        stored,
        "ConfigMapReady" if stored else "ConfigMapPending",
        "the message is stored" if stored else "waiting for the ConfigMap",
        obj.status,
        now,
    )
    status = WidgetStatus(conditions=(ready,), state="Ready" if stored else "Pending")
    return Outcome(desired=(desired,), apply=() if stored else (desired,), status=status)


def widget_state(
    status: WidgetStatus | None, *, now: datetime, failure_grace: float = 600.0
) -> tuple[str, str, str]:
    """Succeeded when Ready is True, Failed when the planner refused it, else Pending."""
    if status is None:
        return "Pending", "", ""
    for condition in status.conditions:
        if condition.type == "Ready" and condition.status == "True":
            return "Succeeded", condition.reason or "", condition.message or ""
        if condition.type == "Ready" and status.state == "Failed":
            return "Failed", condition.reason or "", condition.message or ""
    return "Pending", "", ""


WIDGET: KindSpec[Widget, WidgetStatus] = KindSpec(
    group=GROUP,
    kind="Widget",
    plural="widgets",
    singular="widget",
    versions=("v1",),
    short_names=("wdg",),
    categories=("kaito-test",),
    finalizer="widget.finalizer.test.kaito.sh",
    parse=parse_widget,
    validate=validate_widget,
    plan=plan_widget,
    status_type=WidgetStatus,
    state=widget_state,
    owns=(KindRef("v1", "ConfigMap"),),
    printer_columns={
        "v1": (
            PrinterColumn(name="Message", type="string", json_path=".spec.message"),
            PrinterColumn(
                name="Ready",
                type="string",
                json_path='.status.conditions[?(@.type=="Ready")].status',
            ),
            PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
        )
    },
    conditions=("Ready",),
)


def widget_registry() -> Registry:
    """The default registry (Workspace first) plus Widget."""
    return default_registry().with_kind(WIDGET)


def widget(name: str, message: str = "hello", namespace: str = "default") -> dict[str, Any]:
    """A Widget manifest."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"message": message},
    }


# -- Crate: a kind built from another registered kind (as an InferenceSet is from Workspaces) ----
@attrs.frozen(kw_only=True)
class Crate(NamedObject):
    metadata: ObjectMeta
    count: int
    message: str
    status: WidgetStatus | None = None


def parse_crate(manifest: Mapping[str, Any]) -> Crate:
    """A Crate manifest (``spec.count`` Widgets saying ``spec.message``)."""
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), Mapping) else {}
    count, message = spec.get("count"), spec.get("message")
    errors = []
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count < 10:
        errors.append(FieldError(path="spec.count", message="expected an integer from 1 to 9"))
    if not isinstance(message, str):
        errors.append(FieldError(path="spec.message", message="expected a string"))
    if errors:
        raise ManifestError(errors)
    status = manifest.get("status")
    return Crate(
        metadata=converter.structure(manifest.get("metadata"), ObjectMeta),
        count=int(count),
        message=str(message),
        status=converter.structure(status, WidgetStatus) if status else None,
    )


def plan_crate(obj: Crate, *, observed: Observed, catalog: Any, now: str) -> Outcome[WidgetStatus]:
    """``count`` child Widgets; Ready once every one of them is."""
    if obj.metadata.deletion_timestamp:
        return Outcome(status=obj.status or WidgetStatus(), deleting=True)
    desired = []
    for i in range(obj.count):
        child = widget(f"{obj.name}-{i}", obj.message, obj.namespace)
        child["metadata"]["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": "Crate",
                "name": obj.name,
                "uid": obj.metadata.uid or "",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        desired.append(child)
    names = {c["metadata"]["name"] for c in desired}
    present = {o["metadata"]["name"]: o for o in observed.objects if o.get("kind") == "Widget"}
    ready = all(
        any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (present[n].get("status") or {}).get("conditions") or ()
        )
        for n in names
        if n in present
    ) and names <= set(present)
    condition = _ready(
        ready,
        "WidgetsReady" if ready else "WidgetsPending",
        "every widget is ready" if ready else "waiting for the widgets",
        obj.status,
        now,
    )
    return Outcome(
        desired=tuple(desired),
        apply=tuple(c for c in desired if c["metadata"]["name"] not in present),
        status=WidgetStatus(conditions=(condition,), state="Ready" if ready else "Pending"),
    )


CRATE: KindSpec[Crate, WidgetStatus] = attrs.evolve(
    WIDGET,
    kind="Crate",
    plural="crates",
    singular="crate",
    short_names=(),
    finalizer="crate.finalizer.test.kaito.sh",
    parse=parse_crate,
    validate=lambda obj, *, old=None, catalog=None, context=None: [],
    plan=ignoring_settings(plan_crate),
    owns=(KindRef(API_VERSION, "Widget"),),
    printer_columns={},
)


def crate(
    name: str, count: int = 2, message: str = "hi", namespace: str = "default"
) -> dict[str, Any]:
    """A Crate manifest."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Crate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"count": count, "message": message},
    }
