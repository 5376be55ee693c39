"""What a controller made for a set of Workspaces, captured from a cluster and normalised so two
runs (of the same controller, or of two controllers) can be compared object by object.

`capture` reads, with a `tools.cluster.rest.Rest` client, everything in one namespace that a
controller could have made for its Workspaces, and the NodeClaims labelled with that namespace.
`normalise` turns that capture into a `Snapshot`: a mapping from a stable key
(``<apiVersion> <kind> <namespace>/<name>`` after normalisation) to the normalised object. What
differs between two runs by construction is taken out or replaced by a placeholder:

- ``metadata.uid``, ``resourceVersion``, ``creationTimestamp``, ``deletionTimestamp``,
  ``managedFields``, ``selfLink`` and ``generation`` are dropped; every uid anywhere (an
  ``ownerReferences[].uid``) becomes ``<uid>``;
- the namespace becomes ``<namespace>`` wherever it appears (DNS names in env included);
- generated names: a NodeClaim's name becomes ``<nodeclaim:WORKSPACE:I>``, the Node it
  launched ``<node:WORKSPACE:I>`` (I counts a Workspace's NodeClaims in name order, so a sorted
  list of node names stays sorted), and an object made with ``generateName`` becomes
  ``<generated:PREFIX:I>``; each replaced wherever it appears as a whole name (labels,
  ``workerNodes``, node selectors, ``kwok://<node>``, ``<pod>.<service>.<namespace>.svc``: not
  next to a letter, digit or ``-``), longest name first;
- timestamps (any RFC 3339 string) become ``<time>``, content digests (32 or more lower-case
  hex digits: ``kaito.sh/template-hash``) ``<digest>``: what they hash is compared field by
  field, and it holds the namespace; a Service's allocated ``clusterIP`` and
  ``clusterIPs`` become ``<cluster-ip>`` (``None`` is kept);
- ``status`` is dropped from everything but the Workspaces: the children's status is written by
  kube-controller-manager, Karpenter and kwok, not by the controller under test;
- a Secret's values become ``<redacted>`` (its keys stay): a snapshot is written to a file and
  must never carry a secret;
- ``kubectl.kubernetes.io/last-applied-configuration`` is dropped (the client's, not the
  controller's).

Objects the benchmark itself applied (the example files' ConfigMaps and Secrets) are left out
by `capture`'s ``exclude``, and so are the namespace's defaults (``kube-root-ca.crt``) and what
other controllers own (a StatefulSet's ControllerRevisions, Pods, EndpointSlices).
`normalise` is pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tools.cluster.rest import Rest

__all__ = ["KINDS", "Snapshot", "capture", "normalise", "object_key"]

#: A normalised run: key -> normalised object.
Snapshot = dict[str, dict[str, Any]]

#: Namespaced kinds a Workspace controller may create: (API prefix, plural).
KINDS = (
    ("/apis/kaito.sh/v1beta1", "workspaces"),
    ("/apis/apps/v1", "statefulsets"),
    ("/apis/apps/v1", "deployments"),
    ("/apis/apps/v1", "controllerrevisions"),
    ("/apis/batch/v1", "jobs"),
    ("/api/v1", "services"),
    ("/api/v1", "configmaps"),
    ("/api/v1", "secrets"),
    ("/api/v1", "persistentvolumeclaims"),
    ("/apis/policy/v1", "poddisruptionbudgets"),
)
_NODECLAIMS = "/apis/karpenter.sh/v1/nodeclaims"
_NAMESPACE_LABEL = "kaito.sh/workspacenamespace"
_WORKSPACE_LABEL = "kaito.sh/workspace"
_DEFAULTS = {("ConfigMap", "kube-root-ca.crt")}
_DROPPED_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generation",
)
_CLIENT_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_DIGEST = re.compile(r"^[0-9a-f]{32,}$")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def capture(
    rest: Rest, namespace: str, *, exclude: Iterable[tuple[str, str]] = ()
) -> list[dict[str, Any]]:
    """Everything in ``namespace`` of `KINDS`, but what other controllers own (an owner that is
    not a Workspace), the namespace's defaults and ``exclude`` (``(kind, name)`` pairs: what the
    caller applied itself); then the NodeClaims labelled with the namespace (their
    ``status.nodeName`` names the Node each launched)."""
    skip = _DEFAULTS | set(exclude)
    found: list[dict[str, Any]] = []
    for prefix, plural in KINDS:
        listed = rest.get(f"{prefix}/namespaces/{namespace}/{plural}")
        kind_of_items = str(listed.get("kind", "")).removesuffix("List")
        for item in listed.get("items") or ():
            item.setdefault("kind", kind_of_items)
            item.setdefault("apiVersion", listed.get("apiVersion", ""))
            meta = item.get("metadata") or {}
            if (item["kind"], meta.get("name")) in skip:
                continue
            owners = meta.get("ownerReferences") or ()
            if owners and not any(o.get("kind") == "Workspace" for o in owners):
                continue
            found.append(item)
    claims = rest.get(f"{_NODECLAIMS}?labelSelector={_NAMESPACE_LABEL}%3D{namespace}")
    for item in claims.get("items") or ():
        item.setdefault("kind", "NodeClaim")
        item.setdefault("apiVersion", "karpenter.sh/v1")
        found.append(item)
    return found


def object_key(obj: Mapping[str, Any]) -> str:
    """``<apiVersion> <kind> <namespace>/<name>`` (cluster-scoped: ``<kind> <name>``)."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('apiVersion', '')} {obj.get('kind', '')} {where}{meta.get('name', '')}"


def _generated_names(objects: list[dict[str, Any]], namespace: str) -> dict[str, str]:
    """Generated name -> placeholder (see the module docstring)."""
    names: dict[str, str] = {namespace: "<namespace>"}
    claims: dict[str, list[dict[str, Any]]] = {}
    prefixes: dict[str, list[str]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "NodeClaim":
            owner = (meta.get("labels") or {}).get(_WORKSPACE_LABEL, "")
            claims.setdefault(owner, []).append(obj)
        elif meta.get("generateName"):
            prefixes.setdefault(str(meta["generateName"]), []).append(str(meta.get("name", "")))
    for owner, owned in claims.items():
        for i, claim in enumerate(sorted(owned, key=lambda c: str(c["metadata"]["name"]))):
            names[str(claim["metadata"]["name"])] = f"<nodeclaim:{owner}:{i}>"
            node = (claim.get("status") or {}).get("nodeName")
            if node:
                names[str(node)] = f"<node:{owner}:{i}>"
    for prefix, generated in prefixes.items():
        for i, name in enumerate(sorted(generated)):
            names[name] = f"<generated:{prefix}:{i}>"
    return names


class _Names:
    """Replaces whole names (not bounded by another name character: letters, digits, ``-``)
    by their placeholders, longest first."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)
        ordered = sorted(self.names, key=lambda n: (-len(n), n))
        alternatives = "|".join(re.escape(n) for n in ordered)
        self.pattern = re.compile(f"(?<![A-Za-z0-9-])(?:{alternatives})(?![A-Za-z0-9-])")

    def __call__(self, text: str) -> str:
        if _TIME.match(text):
            return "<time>"
        if _UID.match(text):
            return "<uid>"
        if _DIGEST.match(text):
            return "<digest>"
        return self.pattern.sub(lambda m: self.names[m.group(0)], text)


def _walk(value: Any, names: _Names) -> Any:
    if isinstance(value, Mapping):
        return {names(str(k)): _walk(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, names) for v in value]
    if isinstance(value, str):
        return names(value)
    return value


def _strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without what differs by construction (before substitution)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    for field in _DROPPED_METADATA:
        meta.pop(field, None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in _CLIENT_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if meta.get("ownerReferences"):
        meta["ownerReferences"] = [{**o, "uid": "<uid>"} for o in meta["ownerReferences"]]
    out["metadata"] = meta
    kind = out.get("kind")
    if kind != "Workspace":
        out.pop("status", None)
    if kind == "Secret":
        for field in ("data", "stringData"):
            if isinstance(out.get(field), Mapping):
                out[field] = dict.fromkeys(sorted(out[field]), "<redacted>")
    if kind == "Service":
        spec = dict(out.get("spec") or {})
        if spec.get("clusterIP") not in (None, "None"):
            spec["clusterIP"] = "<cluster-ip>"
        if spec.get("clusterIPs"):
            spec["clusterIPs"] = [
                ip if ip == "None" else "<cluster-ip>" for ip in spec["clusterIPs"]
            ]
        out["spec"] = spec
    return out


def normalise(objects: Iterable[Mapping[str, Any]], *, namespace: str) -> Snapshot:
    """The `Snapshot` of one run's captured ``objects`` in ``namespace`` (see the module
    docstring). Pure: no I/O, no clock, no logging."""
    raw = [dict(o) for o in objects]
    names = _Names(_generated_names(raw, namespace))
    snapshot: Snapshot = {}
    for obj in raw:
        normalised = _walk(_strip(obj), names)
        snapshot[object_key(normalised)] = normalised
    return dict(sorted(snapshot.items()))
