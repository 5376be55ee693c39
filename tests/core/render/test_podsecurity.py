"""Every pod the engine renders passes the Pod Security Standards' "restricted" profile, where the
workload allows it (issue #10, defect 7); the exceptions are exactly the documented ones.

The checker (`tests.podsecurity`) is tested first, control by control, so a pass means
something. Then: every pod template in the golden plans (docs/examples, upstream examples, the
RAGEngine goldens), and the shapes the goldens do not cover (multi-node with Ray, adapters with
pull secrets, tuning with an image input and an image output, URL input, the decode role's
routing sidecar, Transformers, a GPU embedding RAG service). The CUDA toolkit presets and local
weights keep their hostPath (docs/security.md); ``baseline`` renders upstream's pods.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_core.api.types import AdapterSpec, DataSource
from kaito_core.observed import Observed
from kaito_core.ragengine import RAGEngineSettings, plan_ragengine
from kaito_core.render.inference import inference_statefulset
from kaito_core.render.podsecurity import (
    HOME,
    HOME_VOLUME,
    PROFILE_BASELINE,
    PROFILE_RESTRICTED,
    RUN_AS,
    TMP_VOLUME,
    home_directory,
    secure_pod,
)
from kaito_core.render.tuning import tuning_job
from tests.core.render import test_inference as inference
from tests.core.render import test_tuning as tuning
from tests.podsecurity import BASELINE, RESTRICTED, pod_specs, violations
from tests.ragengine.support import CATALOG, NOW, materialize, rag_manifest

ROOT = Path(__file__).resolve().parents[3]
GOLDENS = sorted((ROOT / "tests" / "golden").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "ragengine" / "golden").glob("*.yaml")
)
#: Golden plans whose pod is the user's own template (inference.template): not ours to secure.
USER_TEMPLATES = frozenset({"custom-model-deployment"})

COMPLIANT: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
        }
    ],
    "volumes": [{"name": "v", "emptyDir": {}}, {"name": "p", "persistentVolumeClaim": {}}],
}


def _broken(path: str, value: Any) -> dict[str, Any]:
    """COMPLIANT with ``value`` set at a dotted path (``containers.0.securityContext.x``)."""
    pod = copy.deepcopy(COMPLIANT)
    node: Any = pod
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return pod


# --- the checker ------------------------------------------------------------------------------


#: (where, what, the control broken, its level)
CONTROLS = [
    ("hostNetwork", True, "host namespaces", BASELINE),
    ("hostPID", True, "host namespaces", BASELINE),
    ("volumes.0", {"name": "h", "hostPath": {"path": "/"}}, "hostPath volumes", BASELINE),
    ("containers.0.securityContext.privileged", True, "privileged", BASELINE),
    ("containers.0.securityContext.capabilities.add", ["SYS_ADMIN"], "capabilities", BASELINE),
    ("containers.0.ports", [{"hostPort": 80}], "host ports", BASELINE),
    ("containers.0.securityContext.procMount", "Unmasked", "/proc mount", BASELINE),
    ("securityContext.seccompProfile", {"type": "Unconfined"}, "seccomp", BASELINE),
    ("securityContext.sysctls", [{"name": "kernel.msgmax"}], "sysctls", BASELINE),
    ("securityContext.seLinuxOptions", {"type": "spc_t"}, "SELinux", BASELINE),
    (
        "containers.0.securityContext.appArmorProfile",
        {"type": "Unconfined"},
        "AppArmor",
        BASELINE,
    ),
    ("volumes.0", {"name": "n", "nfs": {"server": "x"}}, "volume types", RESTRICTED),
    (
        "containers.0.securityContext.allowPrivilegeEscalation",
        True,
        "privilege escalation",
        RESTRICTED,
    ),
    ("securityContext.runAsNonRoot", False, "running as non-root", RESTRICTED),
    ("containers.0.securityContext.runAsUser", 0, "running as non-root user", RESTRICTED),
    ("securityContext.seccompProfile", {}, "seccomp", RESTRICTED),
    ("containers.0.securityContext.capabilities.drop", ["NET_RAW"], "capabilities", RESTRICTED),
    ("containers.0.securityContext.capabilities.add", ["CHOWN"], "capabilities", RESTRICTED),
]


@pytest.mark.parametrize(
    ("path", "value", "control", "level"),
    CONTROLS,
    ids=[f"{c[3]}-{c[0]}" for c in CONTROLS],
)
def test_the_checker_catches_each_control(path: str, value: Any, control: str, level: str) -> None:
    """A compliant pod passes both levels; breaking one control is reported under its name, at
    its level and not below."""
    assert violations(COMPLIANT, RESTRICTED) == []
    broken = _broken(path, value)
    found = violations(broken, RESTRICTED)
    assert any(v.startswith(f"{control}:") for v in found), found
    if level == RESTRICTED:
        assert violations(broken, BASELINE) == []


def test_an_empty_pod_is_baseline_but_not_restricted() -> None:
    """Defaults: nothing set passes baseline; restricted wants non-root, seccomp, no escalation
    and ALL capabilities dropped, for init containers too."""
    pod = {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]}
    assert violations(pod, BASELINE) == []
    found = violations(pod, RESTRICTED)
    for control in ("privilege escalation", "running as non-root", "seccomp", "capabilities"):
        for name in ("i", "c"):
            assert any(v.startswith(control) and f" {name} " in v for v in found), (control, name)


# --- what the engine renders ------------------------------------------------------------------


def _golden_pods() -> list[Any]:
    found = []
    for path in GOLDENS:
        for document in yaml.safe_load_all(path.read_text()):
            for name, pod in pod_specs(document or {}):
                found.append(pytest.param(path.stem, pod, id=f"{path.stem}:{name}"))
    return found


@pytest.mark.parametrize(("golden", "pod"), _golden_pods())
def test_every_golden_pod_passes_restricted(golden: str, pod: dict[str, Any]) -> None:
    """The plans of docs/examples, the upstream examples and the RAGEngine goldens."""
    if golden in USER_TEMPLATES:
        assert "securityContext" not in pod, "the user's template is applied as written"
        return
    assert violations(pod, RESTRICTED) == []
    assert pod["securityContext"]["runAsUser"] == RUN_AS


def _sts_pod(ctx: Any) -> dict[str, Any]:
    pod: dict[str, Any] = inference_statefulset(ctx)["spec"]["template"]["spec"]
    return pod


def _restricted_inference(**kw: Any) -> Any:
    return inference.context(pod_security=PROFILE_RESTRICTED, **kw)


def _job_pod(**fields: Any) -> dict[str, Any]:
    ctx = tuning.context(tuning.workspace(**fields), pod_security=PROFILE_RESTRICTED)
    pod: dict[str, Any] = tuning_job(ctx)["spec"]["template"]["spec"]
    return pod


def _adapters() -> dict[str, Any]:
    adapters = tuple(
        AdapterSpec(source=DataSource(name=n, image=f"r.io/{n}:1", image_pull_secrets=("s",)))
        for n in ("a1", "a2")
    )
    return _sts_pod(_restricted_inference(ws=inference.workspace(adapters=adapters)))


def _rag() -> dict[str, Any]:
    """A RAG service with a local embedding on every GPU of its node."""
    outcome = plan_ragengine(
        materialize(rag_manifest()),
        observed=Observed(),
        catalog=CATALOG,
        now=NOW,
        settings=RAGEngineSettings(),
    )
    (deployment,) = [o for o in outcome.desired if o["kind"] == "Deployment"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


SHAPES = {
    "single-node": lambda: _sts_pod(_restricted_inference()),
    "multi-node-ray": lambda: _sts_pod(
        _restricted_inference(
            ws=inference.workspace(preset="llama-3.3-70b-instruct"),
            model="llama-3.3-70b-instruct",
        )
    ),
    "transformers": lambda: _sts_pod(
        _restricted_inference(
            ws=inference.workspace(preset="phi-4"), model="phi-4", runtime="transformers"
        )
    ),
    "adapters-with-pull-secrets": _adapters,
    "decode-routing-sidecar": lambda: _sts_pod(
        _restricted_inference(
            ws=inference.workspace(
                labels={
                    "kaito.sh/inference-role": "decode",
                    "multiroleinference.kaito.sh/created-by": "m",
                }
            )
        )
    ),
    "tuning-url-input-image-output": lambda: _job_pod(),
    "tuning-image-input-with-secrets": lambda: _job_pod(
        input={"name": "d", "image": "r.io/data:1", "imagePullSecrets": ["s1"]}
    ),
    "tuning-volume-output": lambda: _job_pod(
        output={"volumeSource": {"persistentVolumeClaim": {"claimName": "out"}}}
    ),
    "rag-gpu-embedding": _rag,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_rendered_shape_passes_restricted(shape: str) -> None:
    """Init containers, sidecars and pushers included; credentials under the non-root HOME."""
    pod = SHAPES[shape]()
    assert violations(pod, RESTRICTED) == []
    for container in [*pod.get("initContainers", ()), *pod["containers"]]:
        env = {e["name"]: e.get("value") for e in container.get("env") or ()}
        assert env["HOME"] == HOME
        assert env["HF_HOME"].startswith(HOME)
        paths = [m["mountPath"] for m in container["volumeMounts"]]
        assert "/tmp" in paths
        assert HOME in paths
        assert not any(p.startswith("/root") for p in paths), paths


def test_credentials_go_under_the_non_root_home() -> None:
    """The adapter pullers' and the tuning puller's and pusher's registry credentials."""
    pullers = _adapters()["initContainers"]
    assert {m["mountPath"] for m in pullers[0]["volumeMounts"]} >= {
        f"{HOME}/.docker/config.d/a1-inference-adapter"
    }
    job = _job_pod(input={"name": "d", "image": "r.io/data:1", "imagePullSecrets": ["s1"]})
    puller = next(c for c in job["initContainers"] if c["name"] == "puller")
    assert f"{HOME}/.docker/config.d/d-tuning-input" in [
        m["mountPath"] for m in puller["volumeMounts"]
    ]
    assert '"${HOME:-/root}/.docker/config.d"' in puller["args"][0]
    pusher = next(c for c in _job_pod()["containers"] if c["name"] == "pusher")
    assert f"{HOME}/.docker" in [m["mountPath"] for m in pusher["volumeMounts"]]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        pytest.param(
            "cuda-toolkit",
            [
                "hostPath volumes: volume cuda-toolkit-hostpath is a hostPath",
                "volume types: volume cuda-toolkit-hostpath is hostPath",
                "running as non-root: cuda-toolkit-provisioner does not run with runAsNonRoot true",
                "running as non-root user: cuda-toolkit-provisioner sets runAsUser 0",
            ],
            id="cuda-toolkit",
        ),
        pytest.param(
            "local-weights",
            [
                "hostPath volumes: volume model-weights-hostpath is a hostPath",
                "volume types: volume model-weights-hostpath is hostPath",
            ],
            id="local-weights",
        ),
    ],
)
def test_the_documented_exceptions_break_only_what_they_must(
    shape: str, expected: list[str]
) -> None:
    """The CUDA toolkit presets (a root init container writing a host directory) and local
    weights (a read-only hostPath): nothing else fails, and the main container is non-root."""
    if shape == "cuda-toolkit":
        ctx = _restricted_inference(
            ws=inference.workspace(preset="deepseek-v4-flash-0731"),
            model="deepseek-v4-flash-0731",
            sku="Standard_ND96isr_H100_v5",
        )
    else:
        ctx = _restricted_inference(
            ws=inference.workspace(annotations={"kaito.sh/use-local-weights": "true"})
        )
    pod = _sts_pod(ctx)
    assert sorted(violations(pod, RESTRICTED)) == sorted(expected)
    main = pod["containers"][0]
    assert main["securityContext"].get("runAsUser") is None, "the pod's non-root user"


def test_baseline_renders_upstreams_pods() -> None:
    """--pod-security baseline: no security context, credentials under /root, and the pods
    pass baseline (not restricted)."""
    adapters = tuple(
        AdapterSpec(source=DataSource(name="a1", image="r.io/a1:1", image_pull_secrets=("s",)))
        for _ in range(1)
    )
    pod = _sts_pod(inference.context(inference.workspace(adapters=adapters)))  # baseline
    assert "securityContext" not in pod
    assert all("securityContext" not in c for c in [*pod["initContainers"], *pod["containers"]])
    assert "/root/.docker/config.d/a1-inference-adapter" in [
        m["mountPath"] for m in pod["initContainers"][0]["volumeMounts"]
    ]
    assert violations(pod, BASELINE) == []
    assert violations(pod, RESTRICTED) != []
    assert home_directory(PROFILE_BASELINE) == "/root"


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="restricted or baseline"):
        secure_pod({"containers": []}, profile="privileged")


_NAMES = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
_CONTAINERS = st.lists(
    st.fixed_dictionaries(
        {
            "name": _NAMES,
            "env": st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["HOME", "HF_HOME", "PATH", "X"]), "value": _NAMES}
                ),
                max_size=3,
            ),
            "volumeMounts": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": _NAMES,
                        "mountPath": st.sampled_from(["/tmp", HOME, "/data", "/dev/shm"]),
                    }
                ),
                max_size=3,
            ),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(init=_CONTAINERS, main=_CONTAINERS)
def test_secured_pods_pass_restricted_whatever_their_containers(
    init: list[dict[str, Any]], main: list[dict[str, Any]]
) -> None:
    """Any containers, env and mounts: the secured pod passes restricted, keeps every env
    variable and mount it had, adds HOME only where it was not set, and the input is unchanged."""
    pod = {"initContainers": init, "containers": main, "volumes": [{"name": "d", "emptyDir": {}}]}
    before = copy.deepcopy(pod)
    secured = secure_pod(pod, profile=PROFILE_RESTRICTED)
    assert pod == before
    assert violations(secured, RESTRICTED) == []
    secured_containers = [*secured["initContainers"], *secured["containers"]]
    for old, new in zip([*init, *main], secured_containers, strict=True):
        assert new["env"][: len(old["env"])] == old["env"]
        assert new["volumeMounts"][: len(old["volumeMounts"])] == old["volumeMounts"]
        names = [e["name"] for e in new["env"]]
        assert names.count("HOME") == max(1, [e["name"] for e in old["env"]].count("HOME"))
    volumes = [v["name"] for v in secured["volumes"]]
    assert volumes == ["d", HOME_VOLUME, TMP_VOLUME]
