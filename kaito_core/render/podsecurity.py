"""How the pods the engine renders are secured: the Pod Security Standards' "restricted" profile
where the workload allows it.

Pure: no I/O, no clock, no logging.

`secure_pod` turns a rendered pod spec into one that passes "restricted" (profile
`PROFILE_RESTRICTED`, the default of `kaito_core.plan.PlanSettings`):

- the pod runs as a non-root user: ``runAsNonRoot``, ``runAsUser``/``runAsGroup``/``fsGroup``
  `RUN_AS` (so emptyDirs and volumes that honour ``fsGroup`` are writable), and the
  ``RuntimeDefault`` seccomp profile;
- every container (init containers too) sets ``allowPrivilegeEscalation: false`` and drops
  ``ALL`` capabilities;
- what the images write goes to emptyDirs: ``HOME`` is `HOME` (the ``kaito-home`` emptyDir, with
  ``XDG_CACHE_HOME`` and ``HF_HOME`` under it: Hugging Face, vLLM, Triton and pip caches) and
  ``/tmp`` is the ``kaito-tmp`` emptyDir (Ray's session files, ``mktemp``); ``/dev/shm`` and the
  weights already are emptyDirs (or a PVC). Registry credentials are mounted under
  ``$HOME/.docker`` (`home_directory`), where the non-root user's tools look.

A container named in ``root`` runs as root (``runAsUser: 0``, ``runAsNonRoot: false``; still no
privilege escalation and no capabilities): the CUDA toolkit provisioner, which writes into a
root-owned host directory. Such a pod, like one with a hostPath volume (local weights), does not
pass "restricted" (nor "baseline", for hostPath); docs/security.md lists these workloads.

`PROFILE_BASELINE` renders the pods as upstream KAITO does: no security context, the images' own
user (root in the upstream images), credentials under ``/root``. Those pods pass "baseline" but
not "restricted"; it is the operator's ``--pod-security baseline``, for images that must run as
root.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = [
    "HOME",
    "HOME_VOLUME",
    "PROFILES",
    "PROFILE_BASELINE",
    "PROFILE_RESTRICTED",
    "ROOT_HOME",
    "RUN_AS",
    "TMP_VOLUME",
    "home_directory",
    "secure_pod",
]

PROFILE_RESTRICTED = "restricted"
PROFILE_BASELINE = "baseline"
#: The profiles the operator's ``--pod-security`` accepts, the default first.
PROFILES = (PROFILE_RESTRICTED, PROFILE_BASELINE)
#: The user, group and fsGroup of every rendered container (not root).
RUN_AS = 1000
#: ``HOME`` of the rendered containers under "restricted": an emptyDir.
HOME = "/home/kaito"
#: ``HOME`` of the upstream images (root's), under "baseline".
ROOT_HOME = "/root"
HOME_VOLUME = "kaito-home"
TMP_VOLUME = "kaito-tmp"
#: ``/tmp`` in the containers, on its own emptyDir.
_TMP = "/tmp"


def home_directory(profile: str) -> str:
    """Where the containers' ``HOME`` is under `profile` (registry credentials go below it).

    Pure: no I/O, no clock, no logging.
    """
    return HOME if profile == PROFILE_RESTRICTED else ROOT_HOME


def _environment() -> list[dict[str, str]]:
    return [
        {"name": "HOME", "value": HOME},
        {"name": "XDG_CACHE_HOME", "value": f"{HOME}/.cache"},
        {"name": "HF_HOME", "value": f"{HOME}/.cache/huggingface"},
    ]


def _container(container: Mapping[str, Any], *, root: bool) -> dict[str, Any]:
    out = dict(container)
    env = list(out.get("env") or ())
    named = {e.get("name") for e in env}
    env += [e for e in _environment() if e["name"] not in named]
    out["env"] = env
    mounts = list(out.get("volumeMounts") or ())
    paths = {m.get("mountPath") for m in mounts}
    for name, path in ((HOME_VOLUME, HOME), (TMP_VOLUME, _TMP)):
        if path not in paths:
            mounts.append({"name": name, "mountPath": path})
    out["volumeMounts"] = mounts
    context: dict[str, Any] = {}
    if root:
        context["runAsNonRoot"] = False
        context["runAsUser"] = 0
    context["allowPrivilegeEscalation"] = False
    context["capabilities"] = {"drop": ["ALL"]}
    out["securityContext"] = {**dict(out.get("securityContext") or {}), **context}
    return out


def secure_pod(
    pod: Mapping[str, Any], *, profile: str, root: Collection[str] = ()
) -> dict[str, Any]:
    """The pod spec `pod` under `profile` (see the module docstring); containers named in `root`
    run as root. A new dict; `pod` is not changed.

    Pure: no I/O, no clock, no logging.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown pod security profile {profile!r}: use {' or '.join(PROFILES)}")
    out = dict(pod)
    if profile != PROFILE_RESTRICTED:
        return out
    out["securityContext"] = {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for field in ("initContainers", "containers"):
        if field in out:
            out[field] = [_container(c, root=str(c.get("name")) in root) for c in out[field] or ()]
    volumes = list(out.get("volumes") or ())
    names = {v.get("name") for v in volumes}
    volumes += [
        {"name": name, "emptyDir": {}} for name in (HOME_VOLUME, TMP_VOLUME) if name not in names
    ]
    out["volumes"] = volumes
    return out
