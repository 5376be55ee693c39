"""Which REST resource serves a kind, and the URL of an object, collection or subresource.

The backend works on plain manifests, so it needs no model classes and no discovery round trip:
a small map from (apiVersion, kind) to the resource's plural, scope and whether it has a
``/status`` subresource covers every kind KAITO reads or writes. ``ResourceMap.register`` adds
more; a kind the map does not know falls back to Kubernetes' naming rule (lower-case plural,
`kaito_backends.objects.resource_of`) and the scope `kaito_backends.objects.is_cluster_scoped`
gives, which is right for most kinds and is what ``kubectl`` would guess too.

URLs::

    core:   /api/v1[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
    groups: /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

import attrs

from kaito_backends.objects import group_of, is_cluster_scoped, resource_of

__all__ = ["DEFAULT_RESOURCES", "Resource", "ResourceMap"]


@attrs.frozen(kw_only=True)
class Resource:
    """One REST resource as served in one version: ``Resource(api_version="apps/v1", ...)``."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    #: ``status`` is written only through ``<plural>/<name>/status``
    has_status: bool = True

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group)."""
        return group_of(self.api_version)

    @property
    def qualified(self) -> str:
        """``statefulsets.apps``, ``pods``: how RBAC rules and error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection(self, namespace: str | None) -> str:
        """The collection URL path (all namespaces when ``namespace`` is None)."""
        root = f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{_segment(namespace)}/{self.plural}"
        return f"{root}/{self.plural}"

    def item(self, name: str, namespace: str | None, subresource: str | None = None) -> str:
        """The URL path of one object (or one of its subresources)."""
        if self.namespaced and not namespace:
            raise ValueError(f"{self.kind} {name!r} is namespaced: a namespace is required")
        path = f"{self.collection(namespace)}/{_segment(name)}"
        return f"{path}/{subresource}" if subresource else path


def _segment(text: str) -> str:
    return quote(text, safe="")


def _core(kind: str, plural: str, *, namespaced: bool = True, status: bool = True) -> Resource:
    return Resource(
        api_version="v1", kind=kind, plural=plural, namespaced=namespaced, has_status=status
    )


def _grouped(
    api_version: str, kind: str, plural: str, *, namespaced: bool = True, status: bool = True
) -> Resource:
    return Resource(
        api_version=api_version, kind=kind, plural=plural, namespaced=namespaced, has_status=status
    )


#: The kinds KAITO uses. RBAC in docs/kubernetes.md lists the same resources.
DEFAULT_RESOURCES: tuple[Resource, ...] = (
    _core("ConfigMap", "configmaps", status=False),
    _core("Event", "events", status=False),
    _core("Namespace", "namespaces", namespaced=False),
    _core("Node", "nodes", namespaced=False),
    _core("Pod", "pods"),
    _core("Secret", "secrets", status=False),
    _core("Service", "services"),
    _grouped("apps/v1", "ControllerRevision", "controllerrevisions", status=False),
    _grouped("apps/v1", "Deployment", "deployments"),
    _grouped("apps/v1", "StatefulSet", "statefulsets"),
    _grouped("batch/v1", "Job", "jobs"),
    _grouped("coordination.k8s.io/v1", "Lease", "leases", status=False),
    _grouped("events.k8s.io/v1", "Event", "events", status=False),
    _grouped("karpenter.sh/v1", "NodeClaim", "nodeclaims", namespaced=False),
    _grouped("karpenter.sh/v1", "NodePool", "nodepools", namespaced=False),
    _grouped("kaito.sh/v1beta1", "Workspace", "workspaces"),
    _grouped("kaito.sh/v1alpha1", "Workspace", "workspaces"),
    _grouped(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
    ),
)


class ResourceMap:
    """(apiVersion, kind) -> `Resource`; unknown kinds are guessed (see the module docstring)."""

    def __init__(self, resources: Iterable[Resource] = DEFAULT_RESOURCES) -> None:
        self._by_kind: dict[tuple[str, str], Resource] = {}
        for resource in resources:
            self.register(resource)

    def register(self, resource: Resource) -> None:
        """Serve ``resource.kind`` in ``resource.api_version`` from ``resource`` (replacing any)."""
        self._by_kind[(resource.api_version, resource.kind)] = resource

    def known(self, api_version: str, kind: str) -> bool:
        """Whether the kind is in the map (rather than guessed)."""
        return (api_version, kind) in self._by_kind

    def resource(self, api_version: str, kind: str) -> Resource:
        """The resource of a kind; raises ValueError for an empty apiVersion or kind."""
        if not api_version or not kind:
            raise ValueError(f"apiVersion and kind are required (got {api_version!r}, {kind!r})")
        found = self._by_kind.get((api_version, kind))
        if found is not None:
            return found
        plural = resource_of(api_version, kind).partition(".")[0]
        return Resource(
            api_version=api_version,
            kind=kind,
            plural=plural,
            namespaced=not is_cluster_scoped(kind),
        )

    def resources(self) -> tuple[Resource, ...]:
        """Every registered resource, sorted by (apiVersion, kind)."""
        return tuple(sorted(self._by_kind.values(), key=lambda r: (r.api_version, r.kind)))
