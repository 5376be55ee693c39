"""Which REST resources the fake API server serves, and how URLs name them.

Each `Resource` is one ``<plural>.<group>`` with its served versions (preferred first), kind,
scope, short names, categories, whether it has a ``/status`` subresource (the fake store's
rule: every kind but the status-less ones such as ConfigMap, Secret, Event, Lease and
ControllerRevision), for custom resources its printer columns per version, and its ``/scale``
subresource when its kind has one (an InferenceSet).

A `ResourceTable` is what one server serves: the built-in kinds (`BUILTIN_RESOURCES`: core,
apps, batch, leases, CRDs, Karpenter's NodeClaims and NodePools) plus one resource per kind of
a `kaito_core.kinds.Registry` (default: Workspace, served in ``v1beta1`` and ``v1alpha1``
from one storage; an object is returned in the version the request names). `resource_table`
builds it; `RESOURCES`, `GROUPS`, `find_resource`, `find_group` and `resource_for_kind` are
the default registry's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import attrs

from kaito_backends.fake.admission import has_status_subresource
from kaito_core.kinds import KindSpec, PrinterColumn, Registry, ScaleSubresource
from kaito_core.registry import default_registry

__all__ = [
    "ALL_VERBS",
    "BUILTIN_RESOURCES",
    "GROUPS",
    "READ_VERBS",
    "RESOURCES",
    "Group",
    "Resource",
    "ResourceTable",
    "find_group",
    "find_resource",
    "resource_for_kind",
    "resource_of_kind",
    "resource_table",
]

#: Verbs of a writable resource, as discovery lists them.
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
#: Verbs of a read-only resource (CustomResourceDefinitions here).
READ_VERBS = ("get", "list", "watch")


@attrs.frozen(kw_only=True)
class Resource:
    """One REST resource: ``/apis/<group>/<version>[/namespaces/<ns>]/<plural>``."""

    group: str
    versions: tuple[str, ...]
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    read_only: bool = False
    #: printer columns by version (a custom resource: it has a CRD); None for a built-in kind
    columns: Mapping[str, tuple[PrinterColumn, ...]] | None = None
    #: the ``/scale`` subresource (None: it has none)
    scale: ScaleSubresource | None = None

    @property
    def custom(self) -> bool:
        """A custom resource (served through a CustomResourceDefinition)."""
        return self.columns is not None

    @property
    def has_status(self) -> bool:
        """Whether ``<plural>/status`` exists (writes to the main resource ignore ``status``)."""
        return has_status_subresource(self.kind)

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    @property
    def verbs(self) -> tuple[str, ...]:
        return READ_VERBS if self.read_only else ALL_VERBS

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``workspaces.kaito.sh``, ``pods``: how messages and CRD names spell it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        """``<group>/<version>`` (``v1`` for the core group) of ``version`` or the preferred one."""
        chosen = version or self.preferred_version
        return f"{self.group}/{chosen}" if self.group else chosen


@attrs.frozen(kw_only=True)
class Group:
    """An API group and its versions, preferred first (``""`` is the core group)."""

    name: str
    versions: tuple[str, ...]
    #: the group's resources (all versions)
    members: tuple[Resource, ...] = ()

    def resources(self, version: str) -> Iterator[Resource]:
        for resource in self.members:
            if version in resource.versions:
                yield resource


def _r(
    group: str,
    versions: tuple[str, ...],
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    read_only: bool = False,
    columns: Mapping[str, tuple[PrinterColumn, ...]] | None = None,
) -> Resource:
    return Resource(
        group=group,
        versions=versions,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        read_only=read_only,
        columns=columns,
    )


def _col(name: str, json_path: str, type_: str = "string", priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name=name, type=type_, json_path=json_path, priority=priority)


def _condition(type_: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].status'


_AGE = _col("Age", ".metadata.creationTimestamp", "date")
#: Karpenter's printer columns (``karpenter.sh/v1`` NodeClaim and NodePool CRDs).
_NODECLAIM_V1 = (
    _col("Type", r".metadata.labels.node\.kubernetes\.io/instance-type"),
    _col("Capacity", r".metadata.labels.karpenter\.sh/capacity-type"),
    _col("Zone", r".metadata.labels.topology\.kubernetes\.io/zone"),
    _col("Node", ".status.nodeName"),
    _col("Ready", _condition("Ready")),
    _AGE,
    _col("ImageID", ".status.imageID", priority=1),
    _col("ID", ".status.providerID", priority=1),
    _col("NodePool", r".metadata.labels.karpenter\.sh/nodepool", priority=1),
    _col("NodeClass", ".spec.nodeClassRef.name", priority=1),
    _col("Drifted", _condition("Drifted"), priority=1),
)
_NODEPOOL_V1 = (
    _col("NodeClass", ".spec.template.spec.nodeClassRef.name"),
    _col("Nodes", ".status.resources.nodes"),
    _col("Ready", _condition("Ready")),
    _AGE,
    _col("Weight", ".spec.weight", "integer", priority=1),
    _col("CPU", ".status.resources.cpu", priority=1),
    _col("Memory", ".status.resources.memory", priority=1),
)

_V1 = ("v1",)

#: What every fake API server serves, whatever kinds are registered.
BUILTIN_RESOURCES: tuple[Resource, ...] = (
    _r("", _V1, "configmaps", "ConfigMap", short=("cm",)),
    _r("", _V1, "events", "Event", short=("ev",)),
    _r("", _V1, "namespaces", "Namespace", namespaced=False, short=("ns",)),
    _r("", _V1, "nodes", "Node", namespaced=False, short=("no",)),
    _r("", _V1, "pods", "Pod", short=("po",), categories=("all",)),
    _r("", _V1, "secrets", "Secret"),
    _r("", _V1, "services", "Service", short=("svc",), categories=("all",)),
    _r("apps", _V1, "controllerrevisions", "ControllerRevision"),
    _r("apps", _V1, "deployments", "Deployment", short=("deploy",), categories=("all",)),
    _r("apps", _V1, "statefulsets", "StatefulSet", short=("sts",), categories=("all",)),
    _r("batch", _V1, "jobs", "Job", categories=("all",)),
    _r("coordination.k8s.io", _V1, "leases", "Lease"),
    _r(
        "apiextensions.k8s.io",
        _V1,
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        read_only=True,
    ),
    _r(
        "karpenter.sh",
        _V1,
        "nodeclaims",
        "NodeClaim",
        namespaced=False,
        categories=("karpenter",),
        columns={"v1": _NODECLAIM_V1},
    ),
    _r(
        "karpenter.sh",
        _V1,
        "nodepools",
        "NodePool",
        namespaced=False,
        categories=("karpenter",),
        columns={"v1": _NODEPOOL_V1},
    ),
)


def resource_of_kind(spec: KindSpec[Any, Any]) -> Resource:
    """The REST resource of a registered kind (a custom resource, served in every version)."""
    return Resource(
        group=spec.group,
        versions=spec.versions,
        plural=spec.plural,
        singular=spec.singular,
        kind=spec.kind,
        namespaced=spec.namespaced,
        short_names=spec.short_names,
        categories=spec.categories,
        columns={version: spec.columns(version) for version in spec.versions},
        scale=spec.scale,
    )


class ResourceTable:
    """What one fake API server serves: `BUILTIN_RESOURCES` plus the registered kinds."""

    def __init__(self, resources: tuple[Resource, ...]) -> None:
        self.resources = resources
        members: dict[str, list[Resource]] = {}
        versions: dict[str, list[str]] = {}
        for resource in resources:
            members.setdefault(resource.group, []).append(resource)
            known = versions.setdefault(resource.group, [])
            known += [v for v in resource.versions if v not in known]
        #: groups in the order discovery lists them (the core group is served under ``/api``)
        self.groups = tuple(
            Group(name=name, versions=tuple(versions[name]), members=tuple(found))
            for name, found in members.items()
        )
        self._by_path = {(r.group, v, r.plural): r for r in resources for v in r.versions}
        self._by_kind = {(r.group, r.kind): r for r in resources}
        self._groups = {g.name: g for g in self.groups}

    def find_resource(self, group: str, version: str, plural: str) -> Resource | None:
        """The resource served at ``<group>/<version>/<plural>``, or None."""
        return self._by_path.get((group, version, plural))

    def resource_for_kind(self, group: str, kind: str) -> Resource | None:
        """The resource of a kind in a group, or None."""
        return self._by_kind.get((group, kind))

    def find_group(self, name: str) -> Group | None:
        """The served group called ``name`` (``""`` for core), or None."""
        return self._groups.get(name)

    def custom(self) -> tuple[Resource, ...]:
        """The custom resources (each has a CRD), by CRD name."""
        return tuple(sorted((r for r in self.resources if r.custom), key=lambda r: r.qualified))


def _table(registry: Registry) -> ResourceTable:
    taken = {(r.group, r.kind) for r in BUILTIN_RESOURCES}
    kinds = tuple(
        resource_of_kind(spec) for spec in registry if (spec.group, spec.kind) not in taken
    )
    return ResourceTable((*BUILTIN_RESOURCES, *kinds))


@cache
def _default_table() -> ResourceTable:
    return _table(default_registry())


def resource_table(registry: Registry | None = None) -> ResourceTable:
    """The resources served for ``registry`` (default `default_registry`)."""
    return _default_table() if registry is None else _table(registry)


#: The resources and groups served for the default registry.
RESOURCES: tuple[Resource, ...] = resource_table().resources
GROUPS: tuple[Group, ...] = resource_table().groups


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``<group>/<version>/<plural>`` (default registry), or None."""
    return _default_table().find_resource(group, version, plural)


def resource_for_kind(group: str, kind: str) -> Resource | None:
    """The resource of a kind in a group (default registry), or None."""
    return _default_table().resource_for_kind(group, kind)


def find_group(name: str) -> Group | None:
    """The served group called ``name`` (``""`` for core; default registry), or None."""
    return _default_table().find_group(name)
