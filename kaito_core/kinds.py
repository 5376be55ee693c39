"""Kinds: everything the shared code knows of a custom resource, in one frozen description.

Pure: no I/O, no clock, no logging.

Workspace is the first of several custom resources. The engine, the operator, the webhook, the
fake API server and the CLI never name a kind: they read a `KindSpec` from a `Registry` (an
ordered table; `kaito_core.registry.default_registry` has Workspace first). A kind is a
vertical slice (API types and serde, validation, a pure planner returning an `Outcome`, a
status, printer columns) plus one registration: its `KindSpec` in the registry. What only the
imperative shell needs (informer indexes, the related objects that wake a reconcile, the CRD
with a full schema) is a `kaito_backends.kinds.KindHooks` keyed by the same kind name, and is
optional.

A `KindSpec` holds:

- **names**: API group, kind, plural, singular, short names, categories, the served versions
  (the first is the storage version), and whether objects live in namespaces;
- **functions of the slice**: ``parse`` (manifest -> typed object, raises
  `kaito_core.api.ManifestError`), ``validate`` (``(obj, *, old, catalog, context)`` ->
  ``list[FieldError]``), ``plan`` (``(obj, *, observed, catalog, now, settings)`` ->
  ``Outcome[StatusT]``), ``state`` (``(status, *, now, failure_grace)`` -> ``(state, reason,
  message)``, the engine's reading of a status: ``Succeeded``, ``Failed`` or ``Pending``);
- **ownership**: the finalizer, the child kinds its planner creates (``owns``: what the engine
  watches and hands back in `Observed.objects`), the labels that name an owner on objects that
  carry no owner reference (``owner_labels``), and whether it asks for GPU machines
  (``makes_node_claims``);
- **presentation**: printer columns per version, its condition types in order, and the columns
  ``kaito up`` prints;
- **scaling**: its ``scale`` subresource (`ScaleSubresource`), when ``kubectl scale``, an HPA
  or KEDA can set its replicas;
- **serde**: the status type, and the cattrs converter of the kind's model when it is not the
  shared one.

The typed object a kind parses to is a frozen attrs class with ``metadata``
(`kaito_core.api.ObjectMeta`) and ``status`` (an instance of ``status_type`` or ``None``)
fields; statuses go over the wire with the shared converter (`kaito_core.api.serde`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Generic, Protocol, TypeVar

import attrs
import cattrs

from kaito_core.api.serde import converter
from kaito_core.errors import FieldError
from kaito_core.observed import Observed
from kaito_core.outcome import Outcome

__all__ = [
    "TERMINAL_STATES",
    "KindPlanner",
    "KindRef",
    "KindSpec",
    "KindValidator",
    "OwnerLabels",
    "PrinterColumn",
    "Registry",
    "ScaleSubresource",
    "StateFunction",
    "conventional_owner_labels",
    "ignoring_settings",
]

ObjT = TypeVar("ObjT")
StatusT = TypeVar("StatusT")
ObjT_contra = TypeVar("ObjT_contra", contravariant=True)
StatusT_contra = TypeVar("StatusT_contra", contravariant=True)

#: States the engine stops at (`Controller.run_until_settled`): ``state`` returned one of these.
TERMINAL_STATES = frozenset({"Succeeded", "Failed"})


class KindValidator(Protocol[ObjT_contra]):
    """The admission rules of a kind: every problem, with its field path; empty when valid."""

    def __call__(
        self, obj: ObjT_contra, /, *, old: Any = ..., catalog: Any = ..., context: Any = ...
    ) -> list[FieldError]: ...


class KindPlanner(Protocol[ObjT_contra, StatusT]):
    """A kind's pure planner. ``settings`` is the engine's plan settings
    (`kaito_core.plan.PlanSettings`); a kind that reads none ignores it (`ignoring_settings`)."""

    def __call__(
        self, obj: ObjT_contra, /, *, observed: Observed, catalog: Any, now: str, settings: Any
    ) -> Outcome[StatusT]: ...


class StateFunction(Protocol[StatusT_contra]):
    """``(state, reason, message)`` of an object from its status alone: ``Succeeded``,
    ``Failed`` (terminal) or ``Pending``. ``failure_grace``: seconds a recoverable failure may
    last before it counts as ``Failed``."""

    def __call__(
        self, status: StatusT_contra | None, /, *, now: datetime, failure_grace: float = ...
    ) -> tuple[str, str, str]: ...


def ignoring_settings(
    planner: Callable[..., Outcome[StatusT]],
) -> KindPlanner[Any, StatusT]:
    """A planner of ``(obj, *, observed, catalog, now)`` as a `KindPlanner` (settings dropped).

    Pure: no I/O, no clock, no logging.
    """

    def plan(obj: Any, /, *, observed: Observed, catalog: Any, now: str, settings: Any) -> Any:
        return planner(obj, observed=observed, catalog=catalog, now=now)

    plan.__name__ = getattr(planner, "__name__", "plan")
    plan.__doc__ = planner.__doc__
    return plan


@attrs.frozen(kw_only=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry of a CRD version (what ``kubectl get`` shows)."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""

    def to_crd(self) -> dict[str, Any]:
        """The CRD form: ``jsonPath``, ``name``, (``priority``,) ``type``, keys sorted."""
        out: dict[str, Any] = {"jsonPath": self.json_path, "name": self.name}
        if self.priority:
            out["priority"] = self.priority
        out["type"] = self.type
        return out

    def text(self, obj: Mapping[str, Any]) -> str:
        """The column's value in ``obj`` as text (``""`` when absent), for the two JSONPath
        forms printer columns use: ``.a.b.c`` and ``.status.conditions[?(@.type=="X")].status``.
        Dates are returned as stored (callers turn them into ages)."""
        value = _evaluate(self.json_path, obj)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def _evaluate(path: str, obj: Mapping[str, Any]) -> Any:
    head, sep, rest = path.partition('[?(@.type=="')
    node: Any = _walk(obj, head)
    if not sep:
        return node
    wanted, _, tail = rest.partition('")]')
    for item in node if isinstance(node, list) else ():
        if isinstance(item, Mapping) and item.get("type") == wanted:
            return _walk(item, tail)
    return None


def _walk(node: Any, dotted: str) -> Any:
    for part in _segments(dotted):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _segments(dotted: str) -> Iterator[str]:
    """``.metadata.labels.node\\.kubernetes\\.io/x`` -> metadata, labels, node.kubernetes.io/x."""
    current = ""
    escaped = False
    for char in dotted:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            if current:
                yield current
            current = ""
        else:
            current += char
    if current:
        yield current


@attrs.frozen(kw_only=True)
class ScaleSubresource:
    """A kind's ``scale`` subresource (a CRD's ``subresources.scale``): where its desired and
    observed replica counts and its pod selector live, as dotted paths (``.spec.replicas``).

    ``kubectl scale``, an HPA and KEDA read and write the kind through it as an
    ``autoscaling/v1`` Scale. ``default_replicas`` is the CRD schema's default of the desired
    count: what the API server reads when an object was stored without it.
    """

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str | None = None
    default_replicas: int = 0

    def to_crd(self) -> dict[str, str]:
        """The CRD form (keys sorted)."""
        out = {"specReplicasPath": self.spec_replicas_path}
        if self.label_selector_path:
            out = {"labelSelectorPath": self.label_selector_path, **out}
        out["statusReplicasPath"] = self.status_replicas_path
        return out


@attrs.frozen
class KindRef:
    """A kind by apiVersion and name: ``KindRef("apps/v1", "StatefulSet")``.

    In `KindSpec.owns`, ``creates=False`` marks a child kind the planner only observes and
    deletes, never creates (a Workspace's legacy Deployment): the operator's RBAC then grants
    no create or update on it.
    """

    api_version: str
    kind: str
    creates: bool = True


@attrs.frozen(kw_only=True)
class OwnerLabels:
    """Labels naming an owner of this kind on an object without an owner reference to it:
    ``name`` holds the owner's name, ``namespace`` (if any) its namespace. Without a namespace
    label the owner is in the object's own namespace (cluster-scoped objects are then not
    mapped)."""

    name: str
    namespace: str | None = None


@cache
def conventional_owner_labels(kind: str) -> OwnerLabels:
    """``kaito.sh/<kind>`` + ``kaito.sh/<kind>namespace`` (lower case), the labels upstream puts
    on the NodeClaims and Nodes of a Workspace or a RAGEngine, and that node provisioners stamp.

    Pure: no I/O, no clock, no logging.
    """
    lower = kind.lower()
    return OwnerLabels(name=f"kaito.sh/{lower}", namespace=f"kaito.sh/{lower}namespace")


def _default_owner_labels(spec: KindSpec[Any, Any]) -> tuple[OwnerLabels, ...]:
    return (conventional_owner_labels(spec.kind),)


def _nonempty(_: Any, attribute: attrs.Attribute[Any], value: Sequence[str]) -> None:
    if not value:
        raise ValueError(f"KindSpec.{attribute.name} must not be empty")


@attrs.frozen(kw_only=True)
class KindSpec(Generic[ObjT, StatusT]):
    """What the shared code knows of one custom resource (see the module docstring)."""

    group: str
    kind: str
    plural: str
    singular: str
    #: served versions, the storage (and preferred) version first
    versions: tuple[str, ...] = attrs.field(validator=_nonempty)
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    namespaced: bool = True
    finalizer: str
    parse: Callable[[Mapping[str, Any]], ObjT]
    validate: KindValidator[ObjT]
    plan: KindPlanner[ObjT, StatusT]
    status_type: type[StatusT]
    state: StateFunction[StatusT]
    #: the child kinds the planner creates (apply/delete); `Observed.objects` holds them
    owns: tuple[KindRef, ...] = ()
    #: labels naming an owner of this kind on objects without an owner reference (the first:
    #: what list-based observers select Pods and Nodes by); a kind that makes NodeClaims keeps
    #: `conventional_owner_labels` among them: node provisioners stamp those
    owner_labels: tuple[OwnerLabels, ...] = attrs.field(
        default=attrs.Factory(_default_owner_labels, takes_self=True)
    )
    #: the planner asks for GPU machines (`Outcome.node_claims`): the engine observes and
    #: releases them through the node provisioner
    makes_node_claims: bool = False
    #: printer columns by version (a version not listed has none)
    printer_columns: Mapping[str, tuple[PrinterColumn, ...]] = attrs.field(factory=dict)
    #: the condition types of the status, in the order they are reported
    conditions: tuple[str, ...] = ()
    #: condition reasons a status recovers from, terminal once they last ``failure_grace``:
    #: the engine looks again when the grace is up
    persistent_failure_reasons: frozenset[str] = frozenset()
    #: ``kaito up``'s table: (printer column name, JSON key) pairs; empty = every priority-0
    #: printer column of the storage version, keyed by its lower-camel-case name
    summary_columns: tuple[tuple[str, str], ...] = ()
    #: the cattrs converter of the kind's model, for its status on the wire (default: the
    #: shared one, `kaito_core.api.serde.converter`; a kind with its own copy passes it)
    converter: cattrs.Converter | None = None
    #: its ``scale`` subresource (None: it has none)
    scale: ScaleSubresource | None = None

    def __attrs_post_init__(self) -> None:
        names = {c.name for c in self.columns()}
        missing = [name for name, _ in self.summary_columns if name not in names]
        if missing:
            raise ValueError(f"{self.kind}: summary columns {missing} are not printer columns")
        if self.makes_node_claims and conventional_owner_labels(self.kind) not in (
            self.owner_labels
        ):
            raise ValueError(
                f"{self.kind} makes NodeClaims: its owner labels must include "
                f"{conventional_owner_labels(self.kind)} (what node provisioners stamp)"
            )

    # -- names -----------------------------------------------------------------------------------
    @property
    def storage_version(self) -> str:
        return self.versions[0]

    @property
    def api_version(self) -> str:
        """``<group>/<storage version>``: what the engine reads and writes in."""
        return f"{self.group}/{self.storage_version}"

    @property
    def api_versions(self) -> tuple[str, ...]:
        """Every served ``<group>/<version>``, storage first."""
        return tuple(f"{self.group}/{v}" for v in self.versions)

    @property
    def qualified(self) -> str:
        """``workspaces.kaito.sh``: the CRD's name and how error messages spell the resource."""
        return f"{self.plural}.{self.group}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def columns(self, version: str | None = None) -> tuple[PrinterColumn, ...]:
        """The printer columns of ``version`` (default: the storage version)."""
        return tuple(self.printer_columns.get(version or self.storage_version, ()))

    def summary(self) -> tuple[tuple[PrinterColumn, str], ...]:
        """``kaito up``'s columns: (printer column, JSON key) pairs (see `summary_columns`)."""
        columns = {c.name: c for c in self.columns()}
        if self.summary_columns:
            return tuple((columns[name], key) for name, key in self.summary_columns)
        return tuple(
            (c, c.name[:1].lower() + c.name[1:]) for c in columns.values() if not c.priority
        )

    # -- statuses --------------------------------------------------------------------------------
    def status_of(self, obj: ObjT) -> StatusT | None:
        """The status of a parsed object (``None`` when it has none yet)."""
        status: StatusT | None = getattr(obj, "status", None)
        return status

    def read_status(self, manifest: Mapping[str, Any]) -> StatusT | None:
        """The status of a manifest; raises when it does not fit ``status_type``."""
        raw = manifest.get("status")
        if raw is None:
            return None
        return (self.converter or converter).structure(raw, self.status_type)

    def dump_status(self, status: StatusT) -> dict[str, Any]:
        """The wire form of a status (camelCase, absent fields omitted)."""
        out: dict[str, Any] = (self.converter or converter).unstructure(status)
        return out

    def is_terminal(self, status: StatusT | None, *, now: datetime, failure_grace: float) -> bool:
        """Whether `state` reads ``status`` as terminal (``Succeeded`` or ``Failed``)."""
        return self.state(status, now=now, failure_grace=failure_grace)[0] in TERMINAL_STATES


def _check(specs: tuple[KindSpec[Any, Any], ...]) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        for what, name in (
            ("kind", spec.kind),
            ("plural", spec.qualified),
            ("singular", f"{spec.singular}.{spec.group}"),
            *(("short name", f"{s}.{spec.group}") for s in spec.short_names),
        ):
            if name in seen:
                raise ValueError(f"{spec.kind}: {what} {name!r} is already taken by {seen[name]}")
            seen[name] = spec.kind


def _as_tuple(kinds: Iterable[KindSpec[Any, Any]]) -> tuple[KindSpec[Any, Any], ...]:
    return tuple(kinds)


@attrs.frozen
class Registry:
    """The registered kinds, in order (the first is listed first everywhere).

    Kind names, plurals, singulars and short names are unique (``ValueError`` otherwise).
    """

    kinds: tuple[KindSpec[Any, Any], ...] = attrs.field(converter=_as_tuple)
    _by_kind: Mapping[str, KindSpec[Any, Any]] = attrs.field(init=False, repr=False, eq=False)
    _labels: tuple[tuple[str, OwnerLabels], ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        _check(self.kinds)
        object.__setattr__(self, "_by_kind", {spec.kind: spec for spec in self.kinds})
        labels = tuple((spec.kind, ol) for spec in self.kinds for ol in spec.owner_labels)
        object.__setattr__(self, "_labels", labels)

    def __iter__(self) -> Iterator[KindSpec[Any, Any]]:
        return iter(self.kinds)

    def __len__(self) -> int:
        return len(self.kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def __getitem__(self, kind: str) -> KindSpec[Any, Any]:
        """The spec of a kind name; raises KeyError naming the registered kinds."""
        try:
            return self._by_kind[kind]
        except KeyError:
            known = ", ".join(self._by_kind) or "none"
            raise KeyError(f"{kind} is not a registered kind (registered: {known})") from None

    def get(self, kind: str) -> KindSpec[Any, Any] | None:
        return self._by_kind.get(kind)

    def find(self, api_version: str, kind: str) -> KindSpec[Any, Any] | None:
        """The spec of ``kind`` when ``api_version`` is one it serves, else None."""
        spec = self._by_kind.get(kind)
        if spec is None or api_version not in spec.api_versions:
            return None
        return spec

    def with_kind(self, spec: KindSpec[Any, Any]) -> Registry:
        """This registry plus ``spec`` (last), or with ``spec`` in place of its namesake."""
        if spec.kind in self._by_kind:
            return Registry(tuple(spec if s.kind == spec.kind else s for s in self.kinds))
        return Registry((*self.kinds, spec))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.kind for spec in self.kinds)

    @property
    def owner_labels(self) -> tuple[tuple[str, OwnerLabels], ...]:
        """Every (kind, `OwnerLabels`) pair, in registry order."""
        return self._labels

    def child_kinds(self) -> tuple[KindRef, ...]:
        """Every kind some registered kind owns and that is not itself registered, in order."""
        found: dict[str, KindRef] = {}
        for spec in self.kinds:
            for ref in spec.owns:
                if ref.kind not in self._by_kind:
                    found.setdefault(ref.kind, ref)
        return tuple(found.values())
