"""The Pod Security Standards, as a test helper: which controls a pod spec breaks.

Written from the standards' documented list of controls
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, the policy version
``latest``), the way the PodSecurity admission plugin evaluates them: a field that is absent
counts as its default, and a control on containers covers ``containers``,
``initContainers`` and ``ephemeralContainers``.

Baseline: HostProcess, host namespaces, privileged containers, capabilities beyond the baseline
set, hostPath volumes, host ports, AppArmor, SELinux, ``/proc`` mount, seccomp ``Unconfined``,
unsafe sysctls. Restricted adds: volume types, privilege escalation, running as non-root, a
non-zero user id, a seccomp profile, dropping ALL capabilities.

`violations(pod_spec, "restricted")` returns one ``control: detail`` string per problem, empty
when the pod passes; `pod_specs(manifest)` finds the pod specs of a workload manifest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

__all__ = ["BASELINE", "RESTRICTED", "Level", "pod_specs", "violations"]

Level = Literal["baseline", "restricted"]
BASELINE: Level = "baseline"
RESTRICTED: Level = "restricted"

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_VOLUME_FIELDS_IGNORED = frozenset({"name"})


def _containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(field) or ()


def _context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("securityContext")
    return found if isinstance(found, Mapping) else {}


def _baseline(pod: Mapping[str, Any]) -> Iterator[str]:
    pod_context = _context(pod)
    if (pod_context.get("windowsOptions") or {}).get("hostProcess"):
        yield "hostProcess: the pod is a Windows HostProcess pod"
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield f"host namespaces: {field} is true"
    for volume in pod.get("volumes") or ():
        if "hostPath" in volume:
            yield f"hostPath volumes: volume {volume.get('name')} is a hostPath"
    sysctls = [s.get("name") for s in pod_context.get("sysctls") or ()]
    for name in sysctls:
        if name not in _SAFE_SYSCTLS:
            yield f"sysctls: {name} is not a safe sysctl"
    contexts = [("pod", pod_context)] + [(c.get("name"), _context(c)) for c in _containers(pod)]
    for name, context in contexts:
        seccomp = (context.get("seccompProfile") or {}).get("type")
        if seccomp == "Unconfined":
            yield f"seccomp: {name} sets seccompProfile Unconfined"
        apparmor = (context.get("appArmorProfile") or {}).get("type")
        if apparmor == "Unconfined":
            yield f"AppArmor: {name} sets appArmorProfile Unconfined"
        selinux = context.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in _SELINUX_TYPES:
            yield f"SELinux: {name} sets type {selinux.get('type')}"
        if selinux.get("user") or selinux.get("role"):
            yield f"SELinux: {name} sets a user or role"
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            yield f"hostProcess: {name} is a Windows HostProcess container"
    for container in _containers(pod):
        name = container.get("name")
        context = _context(container)
        if context.get("privileged"):
            yield f"privileged: {name} is privileged"
        added = (context.get("capabilities") or {}).get("add") or ()
        for capability in added:
            if capability not in _BASELINE_CAPABILITIES:
                yield f"capabilities: {name} adds {capability}"
        for port in container.get("ports") or ():
            if port.get("hostPort"):
                yield f"host ports: {name} uses hostPort {port.get('hostPort')}"
        if context.get("procMount", "Default") != "Default":
            yield f"/proc mount: {name} sets procMount {context.get('procMount')}"


def _restricted(pod: Mapping[str, Any]) -> Iterator[str]:
    pod_context = _context(pod)
    for volume in pod.get("volumes") or ():
        kinds = set(volume) - _VOLUME_FIELDS_IGNORED
        if not kinds <= _RESTRICTED_VOLUMES:
            yield f"volume types: volume {volume.get('name')} is {', '.join(sorted(kinds))}"
    pod_non_root = pod_context.get("runAsNonRoot")
    if pod_non_root is False:
        yield "running as non-root: the pod sets runAsNonRoot false"
    if pod_context.get("runAsUser") == 0:
        yield "running as non-root user: the pod sets runAsUser 0"
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in ("RuntimeDefault", "Localhost"):
        yield f"seccomp: the pod sets seccompProfile {pod_seccomp}"
    for container in _containers(pod):
        name = container.get("name")
        context = _context(container)
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"privilege escalation: {name} does not set allowPrivilegeEscalation false"
        non_root = context.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            yield f"running as non-root: {name} does not run with runAsNonRoot true"
        if context.get("runAsUser") == 0:
            yield f"running as non-root user: {name} sets runAsUser 0"
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"seccomp: {name} has no RuntimeDefault or Localhost seccompProfile"
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or ()):
            yield f"capabilities: {name} does not drop ALL"
        for capability in capabilities.get("add") or ():
            if capability != "NET_BIND_SERVICE":
                yield f"capabilities: {name} adds {capability}"


def violations(pod: Mapping[str, Any], level: Level = RESTRICTED) -> list[str]:
    """The controls of ``level`` that the pod spec breaks (empty: it passes)."""
    found = list(_baseline(pod))
    if level == RESTRICTED:
        found += _restricted(pod)
    return found


def pod_specs(manifest: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(``Kind/name``, pod spec) of a Pod or of a workload's pod template (StatefulSet,
    Deployment, Job, ReplicaSet, DaemonSet)."""
    kind = manifest.get("kind")
    name = f"{kind}/{(manifest.get('metadata') or {}).get('name')}"
    if kind == "Pod":
        yield name, manifest.get("spec") or {}
        return
    template = (manifest.get("spec") or {}).get("template")
    if isinstance(template, Mapping) and kind in (
        "StatefulSet",
        "Deployment",
        "Job",
        "ReplicaSet",
        "DaemonSet",
    ):
        yield name, template.get("spec") or {}
