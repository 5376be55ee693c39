"""Which REST resources the fake API server serves, and how URLs name them.

Each `Resource` is one ``<plural>.<group>`` with its served versions (preferred first), kind,
scope, short names, categories and whether it has a ``/status`` subresource (the fake store's
rule: every kind but the status-less ones such as ConfigMap, Secret, Event, Lease and
ControllerRevision). Workspaces are served in ``v1beta1`` and ``v1alpha1`` from one storage;
an object is returned in the version the request names.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from kaito_backends.fake.admission import has_status_subresource

__all__ = [
    "ALL_VERBS",
    "GROUPS",
    "READ_VERBS",
    "RESOURCES",
    "Group",
    "Resource",
    "find_group",
    "find_resource",
    "resource_for_kind",
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

    def resources(self, version: str) -> Iterator[Resource]:
        for resource in RESOURCES:
            if resource.group == self.name and version in resource.versions:
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
    )


_V1 = ("v1",)

RESOURCES: tuple[Resource, ...] = (
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
    _r("karpenter.sh", _V1, "nodeclaims", "NodeClaim", namespaced=False, categories=("karpenter",)),
    _r("karpenter.sh", _V1, "nodepools", "NodePool", namespaced=False, categories=("karpenter",)),
    _r(
        "kaito.sh",
        ("v1beta1", "v1alpha1"),
        "workspaces",
        "Workspace",
        short=("wk", "wks"),
        categories=("workspace",),
    ),
)

#: Groups in the order discovery lists them (the core group is served under ``/api``).
GROUPS: tuple[Group, ...] = (
    Group(name="", versions=_V1),
    Group(name="apps", versions=_V1),
    Group(name="batch", versions=_V1),
    Group(name="coordination.k8s.io", versions=_V1),
    Group(name="apiextensions.k8s.io", versions=_V1),
    Group(name="karpenter.sh", versions=_V1),
    Group(name="kaito.sh", versions=("v1beta1", "v1alpha1")),
)

_BY_PATH = {(r.group, v, r.plural): r for r in RESOURCES for v in r.versions}
_BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``<group>/<version>/<plural>``, or None."""
    return _BY_PATH.get((group, version, plural))


def resource_for_kind(group: str, kind: str) -> Resource | None:
    """The resource of a kind in a group, or None."""
    return _BY_KIND.get((group, kind))


def find_group(name: str) -> Group | None:
    """The served group called ``name`` (``""`` for core), or None."""
    for group in GROUPS:
        if group.name == name:
            return group
    return None
