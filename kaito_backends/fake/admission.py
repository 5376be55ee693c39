"""What the fake API server checks and defaults before it stores an object.

Modelled (each raises `Invalid` with a Kubernetes-like message):
- apiVersion, kind and name present; names are DNS subdomains (Services: DNS labels);
  namespaced kinds need a namespace;
- label keys and values well formed;
- ownerReferences carry apiVersion, kind, name and a non-empty uid;
- no new finalizer on an object being deleted;
- immutable fields: StatefulSet spec beyond replicas/template/updateStrategy/...; Job
  ``spec.template``/``spec.selector``; ControllerRevision ``data``; Pod spec beyond images,
  tolerations and activeDeadlineSeconds; a Service's allocated ``spec.clusterIP``.

Defaulted: a new Namespace's ``spec.finalizers`` (``kubernetes``) and ``status.phase``
(``Active``); Service ``type``/``clusterIP``/``clusterIPs``/port ``protocol``/``targetPort``;
StatefulSet ``replicas``/``podManagementPolicy``/``updateStrategy``/``revisionHistoryLimit``;
Job ``parallelism``/``completions``/``backoffLimit`` and its controller-uid selector and labels.

Not modelled: admission webhooks (KAITO's own Workspace validation is `kaito_core.validate`),
OpenAPI schema validation, resource quotas, namespaces existing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kaito_backends.errors import Invalid
from kaito_backends.objects import Manifest, is_cluster_scoped, resource_of

__all__ = [
    "STATUSLESS_KINDS",
    "admit",
    "check_finalizers",
    "check_update",
    "default",
    "has_status_subresource",
    "invalid",
]

#: Kinds without a status subresource: ``status`` (if any) is written with the object.
STATUSLESS_KINDS = frozenset(
    {
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "ControllerRevision",
        "Endpoints",
        "Event",
        "Lease",
        "PriorityClass",
        "Role",
        "RoleBinding",
        "Secret",
        "ServiceAccount",
        "StorageClass",
    }
)

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def has_status_subresource(kind: str) -> bool:
    """True for kinds whose status is written only through the status subresource."""
    return kind not in STATUSLESS_KINDS


def invalid(obj: Mapping[str, Any], field: str, detail: str) -> Invalid:
    """An `Invalid` worded like the API server's."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    group = resource_of(api_version, kind).partition(".")[2]
    name = (obj.get("metadata") or {}).get("name", "")
    what = f"{kind}.{group}" if group else kind
    return Invalid(f'{what} "{name}" is invalid: {field}: {detail}')


def admit(obj: Manifest) -> None:
    """Check what every write needs; raise `Invalid`."""
    if not obj.get("apiVersion") or not obj.get("kind"):
        raise Invalid("Object 'Kind' or 'apiVersion' is missing")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise invalid(obj, "metadata", "Required value")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(obj, "metadata.name", "Required value: name or generateName is required")
    kind = obj["kind"]
    if kind == "Service":
        if len(name) > 63 or not _DNS_LABEL.match(name):
            raise invalid(
                obj,
                "metadata.name",
                f'Invalid value: "{name}": a DNS-1035 label must consist of lower case '
                "alphanumeric characters or '-', start with an alphabetic character, and end "
                "with an alphanumeric character",
            )
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        raise invalid(
            obj,
            "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character",
        )
    if not is_cluster_scoped(kind) and not meta.get("namespace"):
        raise invalid(obj, "metadata.namespace", "Required value")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and not isinstance(value, dict):
            raise invalid(obj, f"metadata.{field}", "Invalid value: must be a map")
        for key, val in (value or {}).items():
            if not isinstance(val, str):
                raise invalid(obj, f"metadata.{field}", f'Invalid value: "{key}": must be a string')
            _check_key(obj, field, key)
            if field == "labels" and val and (len(val) > 63 or not _LABEL_NAME.match(val)):
                raise invalid(
                    obj,
                    "metadata.labels",
                    f'Invalid value: "{val}": a valid label must be an empty string or consist of '
                    "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character (max 63 characters)",
                )
    for index, ref in enumerate(meta.get("ownerReferences") or ()):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not isinstance(ref, dict) or not ref.get(field):
                raise invalid(obj, f"metadata.ownerReferences[{index}].{field}", "Required value")


def _check_key(obj: Manifest, field: str, key: str) -> None:
    prefix, _, name = key.rpartition("/")
    ok = bool(name) and len(name) <= 63 and _LABEL_NAME.match(name) is not None
    if prefix:
        ok = ok and len(prefix) <= 253 and _SUBDOMAIN.match(prefix) is not None
    if not ok:
        raise invalid(
            obj,
            f"metadata.{field}",
            f'Invalid value: "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character",
        )


def check_finalizers(old: Manifest, new: Manifest) -> None:
    """No finalizer may be added once deletion started."""
    if not old["metadata"].get("deletionTimestamp"):
        return
    before = set(old["metadata"].get("finalizers") or ())
    added = sorted(set(new["metadata"].get("finalizers") or ()) - before)
    if added:
        raise invalid(
            new,
            "metadata.finalizers",
            f"Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {added!r}",
        )


_STS_MUTABLE = frozenset(
    {
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    }
)


def _without(mapping: Mapping[str, Any] | None, keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in (mapping or {}).items() if k not in keys}


def _pod_spec_mask(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    masked = _without(spec, frozenset({"activeDeadlineSeconds", "tolerations", "schedulingGates"}))
    for field in ("containers", "initContainers"):
        if field in masked:
            masked[field] = [_without(c, frozenset({"image"})) for c in masked[field]]
    return masked


def check_update(old: Manifest, new: Manifest) -> None:
    """Raise `Invalid` when ``new`` changes a field that cannot change."""
    kind = new["kind"]
    check = _IMMUTABLE.get(kind)
    if check is not None:
        for field, detail in check(old, new):
            raise invalid(new, field, detail)


def _sts(old: Manifest, new: Manifest) -> Iterator[tuple[str, str]]:
    if _without(old.get("spec"), _STS_MUTABLE) != _without(new.get("spec"), _STS_MUTABLE):
        yield (
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )


def _job(old: Manifest, new: Manifest) -> Iterator[tuple[str, str]]:
    for field in ("selector", "template", "completions"):
        if (old.get("spec") or {}).get(field) != (new.get("spec") or {}).get(field):
            yield f"spec.{field}", "Invalid value: field is immutable"


def _revision(old: Manifest, new: Manifest) -> Iterator[tuple[str, str]]:
    if old.get("data") != new.get("data"):
        yield "data", "Invalid value: field is immutable"


def _pod(old: Manifest, new: Manifest) -> Iterator[tuple[str, str]]:
    if _pod_spec_mask(old.get("spec")) != _pod_spec_mask(new.get("spec")):
        yield (
            "spec",
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
            "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
            "(allow it to be set to 1 if it was previously negative)",
        )


def _service(old: Manifest, new: Manifest) -> Iterator[tuple[str, str]]:
    before = (old.get("spec") or {}).get("clusterIP")
    after = (new.get("spec") or {}).get("clusterIP")
    if before and after and before != after:
        yield "spec.clusterIPs[0]", f'Invalid value: "{after}": may not change once set'


_IMMUTABLE: dict[str, Callable[[Manifest, Manifest], Iterator[tuple[str, str]]]] = {
    "StatefulSet": _sts,
    "Job": _job,
    "ControllerRevision": _revision,
    "Pod": _pod,
    "Service": _service,
}


def default(obj: Manifest, old: Manifest | None, allocate_ip: Callable[[], str]) -> None:
    """Fill the defaults the API server sets, in place (``obj`` is the server's own copy)."""
    kind = obj["kind"]
    if kind == "Namespace" and old is None:
        _default_namespace(obj)
        return
    spec = obj.get("spec")
    if kind not in ("Service", "StatefulSet", "Job") or not isinstance(spec, dict):
        return
    spec = obj["spec"] = dict(spec)  # the top level may be shared with the stored object
    if kind == "Service":
        _default_service(spec, old, allocate_ip)
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
        spec.setdefault("revisionHistoryLimit", 10)
    else:
        _default_job(obj, spec, old)


def _default_namespace(obj: Manifest) -> None:
    """A new Namespace is Active and carries the ``kubernetes`` finalizer in its spec."""
    spec = dict(obj["spec"]) if isinstance(obj.get("spec"), dict) else {}
    finalizers = spec.get("finalizers")
    finalizers = list(finalizers) if isinstance(finalizers, list) else []
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    obj["spec"] = {**spec, "finalizers": finalizers}
    obj["status"] = {"phase": "Active"}


def _default_service(
    spec: dict[str, Any], old: Manifest | None, allocate_ip: Callable[[], str]
) -> None:
    spec.setdefault("type", "ClusterIP")
    old_spec = (old or {}).get("spec") or {}
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec.get("clusterIP") or allocate_ip()
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    ports = spec.get("ports")
    if isinstance(ports, list):
        spec["ports"] = [
            {
                **p,
                "protocol": p.get("protocol", "TCP"),
                "targetPort": p.get("targetPort", p.get("port")),
            }
            if isinstance(p, dict)
            else p
            for p in ports
        ]


def _default_job(obj: Manifest, spec: dict[str, Any], old: Manifest | None) -> None:
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    meta = obj["metadata"]
    uid = meta.get("uid") or ((old or {}).get("metadata") or {}).get("uid")
    if not uid or spec.get("manualSelector"):
        return
    job_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": meta["name"],
        "controller-uid": uid,
        "job-name": meta["name"],
    }
    if "selector" not in spec:
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template = spec.get("template")
    if isinstance(template, dict):
        tmeta = dict(template.get("metadata") or {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), **job_labels}
        spec["template"] = {**template, "metadata": tmeta}
