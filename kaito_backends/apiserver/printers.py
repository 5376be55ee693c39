"""Built-in kinds' table columns, modelled on kubectl's own printers.

Pods: NAME READY STATUS RESTARTS AGE (wide: IP NODE NOMINATED NODE READINESS GATES); nodes:
NAME STATUS ROLES AGE VERSION; services, configmaps, secrets, namespaces, events, statefulsets,
deployments, jobs, controllerrevisions, leases and CRDs likewise. Cells are computed from the
object and the fake cluster's current time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaito_backends.apiserver.columns import (
    AGE,
    CREATED_AT,
    NAME,
    NAME_DESCRIPTION,
    NONE,
    Cell,
    Column,
    column,
    get_path,
    human_duration,
    meta_of,
    name_cell,
    or_none,
    parse_time,
    since,
)
from kaito_backends.objects import Manifest

__all__ = ["BUILTIN_COLUMNS"]


# -- pods ----------------------------------------------------------------------------------------
def _pod_ready(pod: Manifest, _now: datetime) -> Any:
    total = len(get_path(pod, "spec", "containers") or ())
    ready = sum(1 for s in get_path(pod, "status", "containerStatuses") or () if s.get("ready"))
    return f"{ready}/{total}"


def _pod_status(pod: Manifest, _now: datetime) -> Any:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for index, init in enumerate(status.get("initContainerStatuses") or ()):
        state = init.get("state") or {}
        terminated = state.get("terminated")
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if terminated is not None:
            reason = "Init:" + (
                terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            )
        elif (state.get("waiting") or {}).get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            total = len(get_path(pod, "spec", "initContainers") or ())
            reason = f"Init:{index}/{total}"
        break
    else:
        running = False
        for container in reversed(status.get("containerStatuses") or ()):
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                signal = terminated.get("signal")
                reason = (
                    f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif container.get("ready") and "running" in state:
                running = True
        if reason == "Completed" and running:
            reason = (
                "Running"
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or ()
                )
                else "NotReady"
            )
    if meta_of(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _pod_restarts(pod: Manifest, now: datetime) -> Any:
    restarts = 0
    last: datetime | None = None
    for container in get_path(pod, "status", "containerStatuses") or ():
        restarts += int(container.get("restartCount") or 0)
        finished = parse_time(get_path(container, "lastState", "terminated", "finishedAt"))
        if finished is not None and (last is None or finished > last):
            last = finished
    if restarts and last is not None:
        return f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return str(restarts)


_POD = (
    NAME,
    column("Ready", _pod_ready),
    column("Status", _pod_status),
    column("Restarts", _pod_restarts),
    AGE,
    column("IP", lambda o, _: or_none(get_path(o, "status", "podIP")), priority=1),
    column("Node", lambda o, _: or_none(get_path(o, "spec", "nodeName")), priority=1),
    column(
        "Nominated Node",
        lambda o, _: or_none(get_path(o, "status", "nominatedNodeName")),
        priority=1,
    ),
    column(
        "Readiness Gates", lambda o, _: or_none(get_path(o, "spec", "readinessGates")), priority=1
    ),
)


# -- nodes ---------------------------------------------------------------------------------------
def _node_status(node: Manifest, _now: datetime) -> Any:
    conditions = get_path(node, "status", "conditions") or ()
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    words = [
        "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    ]
    if get_path(node, "spec", "unschedulable"):
        words.append("SchedulingDisabled")
    return ",".join(words)


def _node_roles(node: Manifest, _now: datetime) -> Any:
    roles = set()
    for key, value in (meta_of(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.partition("/")[2]:
            roles.add(key.partition("/")[2])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def _node_address(kind: str) -> Cell:
    def cell(node: Manifest, _now: datetime) -> Any:
        for address in get_path(node, "status", "addresses") or ():
            if address.get("type") == kind:
                return address.get("address")
        return NONE

    return cell


def _node_info(field: str) -> Cell:
    return lambda o, _: get_path(o, "status", "nodeInfo", field) or ""


_NODE = (
    NAME,
    column("Status", _node_status),
    column("Roles", _node_roles),
    AGE,
    column("Version", _node_info("kubeletVersion")),
    column("Internal-IP", _node_address("InternalIP"), priority=1),
    column("External-IP", _node_address("ExternalIP"), priority=1),
    column("OS-Image", _node_info("osImage"), priority=1),
    column("Kernel-Version", _node_info("kernelVersion"), priority=1),
    column("Container-Runtime", _node_info("containerRuntimeVersion"), priority=1),
)


# -- services ------------------------------------------------------------------------------------
def _service_ports(svc: Manifest, _now: datetime) -> Any:
    parts = []
    for port in get_path(svc, "spec", "ports") or ():
        protocol = port.get("protocol", "TCP")
        node_port = port.get("nodePort")
        number = f"{port.get('port')}:{node_port}" if node_port else f"{port.get('port')}"
        parts.append(f"{number}/{protocol}")
    return ",".join(parts) or NONE


def _service_external(svc: Manifest, _now: datetime) -> Any:
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return spec.get("externalName") or NONE
    external = list(spec.get("externalIPs") or ())
    if kind == "LoadBalancer":
        ingress = get_path(svc, "status", "loadBalancer", "ingress") or ()
        external += [i.get("ip") or i.get("hostname") for i in ingress]
        return ",".join(e for e in external if e) or "<pending>"
    return ",".join(external) or NONE


def _selector(svc: Manifest, _now: datetime) -> Any:
    selector = get_path(svc, "spec", "selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE


_SERVICE = (
    NAME,
    column("Type", lambda o, _: get_path(o, "spec", "type") or "ClusterIP"),
    column("Cluster-IP", lambda o, _: or_none(get_path(o, "spec", "clusterIP"))),
    column("External-IP", _service_external),
    column("Port(s)", _service_ports),
    AGE,
    column("Selector", _selector, priority=1),
)


# -- workloads -----------------------------------------------------------------------------------
def _containers(obj: Manifest, _now: datetime) -> Any:
    return ",".join(
        c.get("name", "") for c in get_path(obj, "spec", "template", "spec", "containers") or ()
    )


def _images(obj: Manifest, _now: datetime) -> Any:
    return ",".join(
        c.get("image", "") for c in get_path(obj, "spec", "template", "spec", "containers") or ()
    )


def _replicas(obj: Manifest, _now: datetime) -> Any:
    wanted = get_path(obj, "spec", "replicas")
    return f"{get_path(obj, 'status', 'readyReplicas') or 0}/{1 if wanted is None else wanted}"


def _condition_true(obj: Manifest, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True"
        for c in get_path(obj, "status", "conditions") or ()
    )


def _job_status(job: Manifest, _now: datetime) -> Any:
    for type_ in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if _condition_true(job, type_):
            return type_
    if meta_of(job).get("deletionTimestamp"):
        return "Terminating"
    return "Running"


def _job_completions(job: Manifest, _now: datetime) -> Any:
    completions = get_path(job, "spec", "completions")
    succeeded = get_path(job, "status", "succeeded") or 0
    if completions is None:
        parallelism = get_path(job, "spec", "parallelism")
        return (
            f"{succeeded}/1 of {parallelism}"
            if parallelism and parallelism > 1
            else f"{succeeded}/1"
        )
    return f"{succeeded}/{completions}"


def _job_duration(job: Manifest, now: datetime) -> Any:
    start = parse_time(get_path(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(get_path(job, "status", "completionTime")) or now
    return human_duration((end - start).total_seconds())


_STATEFULSET = (
    NAME,
    column("Ready", _replicas),
    AGE,
    column("Containers", _containers, priority=1),
    column("Images", _images, priority=1),
)
_DEPLOYMENT = (
    NAME,
    column("Ready", _replicas),
    column(
        "Up-to-date", lambda o, _: get_path(o, "status", "updatedReplicas") or 0, type_="integer"
    ),
    column(
        "Available", lambda o, _: get_path(o, "status", "availableReplicas") or 0, type_="integer"
    ),
    AGE,
    column("Containers", _containers, priority=1),
    column("Images", _images, priority=1),
)
_JOB = (
    NAME,
    column("Status", _job_status),
    column("Completions", _job_completions),
    column("Duration", _job_duration),
    AGE,
    column("Containers", _containers, priority=1),
    column("Images", _images, priority=1),
)


def _revision_controller(rev: Manifest, _now: datetime) -> Any:
    for ref in meta_of(rev).get("ownerReferences") or ():
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return NONE


_CONTROLLER_REVISION = (
    NAME,
    column("Controller", _revision_controller),
    column("Revision", lambda o, _: o.get("revision", 0), type_="integer"),
    AGE,
)


# -- configuration and the rest ------------------------------------------------------------------
def _data_count(obj: Manifest, _now: datetime) -> Any:
    return (
        len(obj.get("data") or {})
        + len(obj.get("binaryData") or {})
        + len(obj.get("stringData") or {})
    )


def _event_object(event: Manifest, _now: datetime) -> Any:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_last_seen(event: Manifest, now: datetime) -> Any:
    stamp = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or meta_of(event).get("creationTimestamp")
    )
    return since(stamp, now)


def _event_first_seen(event: Manifest, now: datetime) -> Any:
    stamp = (
        event.get("firstTimestamp")
        or event.get("eventTime")
        or meta_of(event).get("creationTimestamp")
    )
    return since(stamp, now)


#: (group, kind) -> columns.
BUILTIN_COLUMNS: dict[tuple[str, str], tuple[Column, ...]] = {
    ("", "Pod"): _POD,
    ("", "Node"): _NODE,
    ("", "Service"): _SERVICE,
    ("", "ConfigMap"): (NAME, column("Data", _data_count, type_="integer"), AGE),
    ("", "Secret"): (
        NAME,
        column("Type", lambda o, _: o.get("type") or "Opaque"),
        column("Data", _data_count, type_="integer"),
        AGE,
    ),
    ("", "Namespace"): (
        NAME,
        column("Status", lambda o, _: get_path(o, "status", "phase") or "Active"),
        AGE,
    ),
    ("", "Event"): (
        column("Last Seen", _event_last_seen),
        column("Type", lambda o, _: o.get("type") or ""),
        column("Reason", lambda o, _: o.get("reason") or ""),
        column("Object", _event_object),
        column(
            "Subobject", lambda o, _: get_path(o, "involvedObject", "fieldPath") or "", priority=1
        ),
        column(
            "Source",
            lambda o, _: get_path(o, "source", "component") or o.get("reportingComponent") or "",
            priority=1,
        ),
        column("Message", lambda o, _: str(o.get("message") or "").strip()),
        column("First Seen", _event_first_seen, priority=1),
        column("Count", lambda o, _: o.get("count") or 1, type_="integer", priority=1),
        Column(
            name="Name",
            type="string",
            format="name",
            description=NAME_DESCRIPTION,
            cell=name_cell,
            priority=1,
        ),
    ),
    ("apps", "StatefulSet"): _STATEFULSET,
    ("apps", "Deployment"): _DEPLOYMENT,
    ("apps", "ControllerRevision"): _CONTROLLER_REVISION,
    ("batch", "Job"): _JOB,
    ("coordination.k8s.io", "Lease"): (
        NAME,
        column("Holder", lambda o, _: get_path(o, "spec", "holderIdentity") or ""),
        AGE,
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (NAME, CREATED_AT),
}
