"""Helpers of the plan tests (no tests here): an API-server-like store and Workspace builders.

`ApiServer` applies an `Outcome` the way the API server would with server-side apply and one
field manager: each applied object is stored with the server's additions (uid,
resourceVersion, generation, creationTimestamp, managedFields, status, and the defaults of the
kinds we render: a StatefulSet's ``updateStrategy``, a container's ``terminationMessagePath``, a
probe's ``successThreshold``, a Service's ``clusterIP``, a Job's selector and labels, ...) and
fields the server drops (``omitempty``) are dropped. Updates to immutable fields are refused with
`Invalid`, as the server refuses them, so a plan that tries one fails the test.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kaito_core.api import Workspace, load_documents
from kaito_core.observed import Manifest, Observed
from kaito_core.outcome import ObjectKey, Outcome
from kaito_core.plan import PlanSettings, plan
from kaito_presets import default_catalog

__all__ = [
    "NOW",
    "ApiServer",
    "Invalid",
    "converge",
    "load_workspaces",
    "materialize",
    "ready_node",
    "with_uid",
]

NOW = "2026-01-01T00:00:00Z"
CATALOG = default_catalog()


class Invalid(Exception):
    """The API server refused a write (an immutable field changed)."""


# --- server defaults --------------------------------------------------------------------------


def _drop_empty(value: Any) -> Any:
    """What the server returns for a value: ``null``, ``""``, ``[]`` and ``false``/``0`` on
    omitempty fields are left out (maps like ``emptyDir: {}`` stay)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _drop_empty(item)
            if item is None or item == "" or item == []:
                continue
            if key in ("readOnly", "initialDelaySeconds", "publishNotReadyAddresses") and not item:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _canonical_quantity(value: Any) -> str:
    """How the server stores a quantity: ``1`` -> ``"1"``, ``"0.5"`` -> ``"500m"``."""
    text = str(value)
    if text.startswith("0.") and text[2:].isdigit():
        return f"{int(float(text) * 1000)}m"
    return text


def _probe_defaults(probe: dict[str, Any]) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def _container_defaults(container: dict[str, Any]) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image", "")))
    container.setdefault("resources", {})
    resources = container["resources"]
    if "limits" in resources and "requests" not in resources:
        resources["requests"] = dict(resources["limits"])
    for section in ("limits", "requests"):
        for name, quantity in (resources.get(section) or {}).items():
            resources[section][name] = _canonical_quantity(quantity)
    for port in container.get("ports") or ():
        port.setdefault("protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if name in container:
            _probe_defaults(container[name])
    for env in container.get("env") or ():
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            field_ref.setdefault("apiVersion", "v1")


def _pod_defaults(template: dict[str, Any]) -> None:
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("creationTimestamp", None)  # what the server stores in a template
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        _container_defaults(container)
    for volume in spec.get("volumes") or ():
        for source in ("configMap", "secret", "projected"):
            if source in volume:
                volume[source].setdefault("defaultMode", 420)
        if "hostPath" in volume:
            volume["hostPath"].setdefault("type", "")


def _statefulset_defaults(obj: dict[str, Any]) -> None:
    spec = obj["spec"]
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
    )
    _pod_defaults(spec["template"])
    for claim in spec.get("volumeClaimTemplates") or ():
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        claim["spec"].setdefault("volumeMode", "Filesystem")
        claim.setdefault("status", {"phase": "Pending"})


def _job_defaults(obj: dict[str, Any], uid: str) -> None:
    spec = obj["spec"]
    name = obj["metadata"]["name"]
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
    _pod_defaults(spec["template"])


def _service_defaults(obj: dict[str, Any], old: Mapping[str, Any] | None, ip: str) -> None:
    spec = obj["spec"]
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("clusterIP", old_spec.get("clusterIP") or ip)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    old_ports = {p.get("name"): p for p in old_spec.get("ports") or ()}
    for index, port in enumerate(spec.get("ports") or ()):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
        if spec["type"] in ("LoadBalancer", "NodePort"):
            node_port = (old_ports.get(port.get("name")) or {}).get("nodePort")
            port.setdefault("nodePort", node_port or 30000 + index)
    if spec["type"] == "LoadBalancer":
        spec.setdefault("externalTrafficPolicy", "Cluster")
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj["status"] = {"loadBalancer": {}}


# --- the store --------------------------------------------------------------------------------


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def _immutable_problem(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    paths = {
        "StatefulSet": ("selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy"),
        "Job": ("selector", "template", "completionMode"),
        "Service": ("clusterIP",),
    }.get(kind, ())
    for field in paths:
        if (old.get("spec") or {}).get(field) != (new.get("spec") or {}).get(field):
            return f"{kind} spec.{field} is immutable"
    if kind == "ControllerRevision" and old.get("data") != new.get("data"):
        return "ControllerRevision data is immutable"
    return None


@attrs.define
class ApiServer:
    """An in-memory API server for one namespace: apply, delete, and snapshot as `Observed`."""

    objects: dict[tuple[str, str, str], Manifest] = attrs.field(factory=dict)
    resource_version: int = 0
    #: Every write, as ``("apply"|"delete", "Kind/name")``.
    writes: list[tuple[str, str]] = attrs.field(factory=list)
    #: StatefulSets and Jobs report ready/active pods (status fields only).
    workloads_ready: bool = True
    #: NodeClaims and Nodes by name (`provision`).
    node_claims: dict[str, Manifest] = attrs.field(factory=dict)
    nodes: dict[str, Manifest] = attrs.field(factory=dict)

    def _next_rv(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def apply(self, desired: Manifest) -> Manifest:
        key = _key(desired)
        old = self.objects.get(key)
        obj = _drop_empty(copy.deepcopy(desired))
        kind = obj["kind"]
        meta = obj["metadata"]
        uid = (old or {}).get("metadata", {}).get("uid") or (
            "uid-" + hashlib.sha256("/".join(key).encode()).hexdigest()[:12]
        )
        meta["uid"] = uid
        meta["resourceVersion"] = self._next_rv()
        meta["creationTimestamp"] = (old or {}).get("metadata", {}).get("creationTimestamp", NOW)
        meta["managedFields"] = [{"manager": "kaito", "operation": "Apply"}]
        if kind == "StatefulSet":
            _statefulset_defaults(obj)
        elif kind == "Job":
            _job_defaults(obj, uid)
        elif kind == "Service":
            _service_defaults(obj, old, f"10.0.0.{len(self.objects) + 10}")
        if old is not None:
            problem = _immutable_problem(kind, old, obj)
            if problem is not None:
                raise Invalid(problem)
        if kind in ("StatefulSet", "Job"):
            old_generation = (old or {}).get("metadata", {}).get("generation", 0)
            changed = old is None or old.get("spec") != obj.get("spec")
            meta["generation"] = old_generation + 1 if changed else old_generation
            obj["status"] = self._status(obj)
        self.objects[key] = obj
        self.writes.append(("apply", f"{kind}/{meta['name']}"))
        return obj

    def _status(self, obj: Manifest) -> dict[str, Any]:
        generation = obj["metadata"]["generation"]
        if obj["kind"] == "Job":
            return {"active": 1, "ready": 1 if self.workloads_ready else 0, "startTime": NOW}
        replicas = obj["spec"]["replicas"]
        ready = replicas if self.workloads_ready else 0
        revision = f"{obj['metadata']['name']}-{generation}"
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }

    def delete(self, ref: ObjectKey) -> None:
        key = (ref.kind, ref.namespace or "", ref.name)
        if key not in self.objects:
            raise KeyError(f"{ref} not found")
        del self.objects[key]
        self.writes.append(("delete", f"{ref.kind}/{ref.name}"))

    def apply_outcome(self, outcome: Outcome) -> None:
        for ref in outcome.delete:
            self.delete(ref)
        for obj in outcome.apply:
            self.apply(obj)

    def seed(self, obj: Manifest) -> Manifest:
        """Store `obj` as it is (an object someone else created)."""
        stored = copy.deepcopy(obj)
        self.objects[_key(stored)] = stored
        return stored

    def provision(self, claims: Iterable[Manifest]) -> None:
        """What a node provisioner does: every desired NodeClaim becomes a Ready claim bound to
        a Ready GPU node carrying the claim's labels and instance type; others go away."""
        self.node_claims.clear()
        for claim in claims:
            name = claim["metadata"]["name"]
            instance_type = next(
                r["values"][0]
                for r in claim["spec"]["requirements"]
                if r["key"] == "node.kubernetes.io/instance-type"
            )
            node = f"aks-{name}"
            self.node_claims[name] = {
                **copy.deepcopy(claim),
                "status": {
                    "nodeName": node,
                    "conditions": [
                        {"type": t, "status": "True"}
                        for t in ("Launched", "Registered", "Initialized", "Ready")
                    ],
                },
            }
            labels = {
                **claim["metadata"]["labels"],
                "node.kubernetes.io/instance-type": instance_type,
            }
            self.nodes[node] = ready_node(node, labels=labels)

    def observed(self, **extra: Any) -> Observed:
        objects = tuple(self.objects[k] for k in sorted(self.objects))
        claims = tuple(self.node_claims[k] for k in sorted(self.node_claims))
        nodes = tuple(self.nodes[k] for k in sorted(self.nodes)) + tuple(extra.pop("nodes", ()))
        return Observed(objects=objects, node_claims=claims, nodes=nodes, **extra)


# --- workspaces and nodes ---------------------------------------------------------------------


def load_workspaces(path: Path) -> list[tuple[Workspace, dict[str, Manifest]]]:
    """Every Workspace of a file, with the ConfigMaps of the same file by name."""
    result = load_documents(path.read_bytes())
    config_maps = {
        d.name: dict(d.manifest) for d in result.documents if d.kind == "ConfigMap" and d.name
    }
    return [
        (d.workspace, config_maps)
        for d in result.documents
        if d.kind == "Workspace" and d.workspace is not None
    ]


def with_uid(workspace: Workspace, *, uid: str = "ws-uid-1", generation: int = 1) -> Workspace:
    """The workspace as the API server stores it: a uid, a generation and a namespace."""
    meta = attrs.evolve(
        workspace.metadata,
        uid=uid,
        generation=generation,
        namespace=workspace.metadata.namespace or "default",
    )
    return attrs.evolve(workspace, metadata=meta)


def materialize(manifest: Mapping[str, Any]) -> Workspace:
    return with_uid(Workspace.from_manifest(manifest))


def ready_node(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    gpu_product: str = "NVIDIA-A100-SXM4-80GB",
    gpu_count: int = 1,
    gpu_memory_mib: int = 81920,
    compute_major: int = 8,
) -> Manifest:
    """A Ready GPU node with NVIDIA GPU Feature Discovery labels (a bring-your-own node)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "nvidia.com/gpu.product": gpu_product,
                "nvidia.com/gpu.count": str(gpu_count),
                "nvidia.com/gpu.memory": str(gpu_memory_mib),
                "nvidia.com/cuda.compute.major": str(compute_major),
                "nvidia.com/cuda.compute.minor": "0",
                **(labels or {}),
            },
        },
        "status": {
            "capacity": {"nvidia.com/gpu": str(gpu_count)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def converge(
    workspace: Workspace,
    server: ApiServer,
    *,
    settings: PlanSettings | None = None,
    config_maps: Mapping[str, Manifest] | None = None,
    nodes: Iterable[Manifest] = (),
    rounds: int = 6,
) -> Outcome:
    """Plan and apply until a plan asks for nothing more; return that last outcome.

    The status of each step is written back to the workspace, as the engine does.
    """
    outcome: Outcome | None = None
    for _ in range(rounds):
        observed = server.observed(config_maps=dict(config_maps or {}), nodes=tuple(nodes))
        outcome = plan(workspace, observed=observed, catalog=CATALOG, now=NOW, settings=settings)
        workspace = attrs.evolve(workspace, status=outcome.status)
        server.provision(outcome.node_claims)
        if outcome.converged:
            return outcome
        server.apply_outcome(outcome)
    raise AssertionError(f"no convergence after {rounds} rounds: {outcome}")


# --- hypothesis strategies --------------------------------------------------------------------

INFERENCE_PRESETS = (
    "phi-4-mini-instruct",
    "phi-3-mini-4k-instruct",
    "phi-4",
    "llama-3.3-70b-instruct",
    "qwen2.5-coder-7b-instruct",
    "mistral-7b-instruct-v0.3",
    "gpt-oss-20b",
    "gemma-3-4b-it",
    "deepseek-r1-distill-llama-8b",
)
TUNING_PRESETS = ("phi-3-mini-128k-instruct", "qwen2.5-coder-7b-instruct", "phi-4-mini-instruct")
INSTANCE_TYPES = (
    "Standard_NC24ads_A100_v4",
    "Standard_NC48ads_A100_v4",
    "Standard_NC96ads_A100_v4",
    "Standard_NV36ads_A10_v5",
    "Standard_NC6s_v3",
    "Standard_NC4as_T4_v3",
    "Standard_ND96asr_A100_v4",
)


def _template(image_tag: str) -> dict[str, Any]:
    return {
        "spec": {
            "containers": [
                {
                    "name": "server",
                    "image": f"example.com/server:{image_tag}",
                    "ports": [{"containerPort": 5000}],
                    "resources": {"limits": {"nvidia.com/gpu": 1, "cpu": "0.5"}},
                    "readinessProbe": {"httpGet": {"path": "/health", "port": 5000}},
                }
            ],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
        }
    }


def workspace_manifests(name: str = "ws") -> Any:
    """Hypothesis strategy: (Workspace manifest, ConfigMaps by name) of one named Workspace."""
    from hypothesis import strategies as st

    labels = st.dictionaries(
        st.sampled_from(["team", "app.kubernetes.io/part-of", "tier"]),
        st.sampled_from(["a", "b", "prod"]),
        max_size=2,
    )
    annotations = st.fixed_dictionaries(
        {},
        optional={
            "kaito.sh/enablelb": st.sampled_from(["True", "true", "False"]),
            "kaito.sh/runtime": st.just("transformers"),
            "kaito.sh/disable-benchmark": st.just("true"),
            "kaito.sh/node-image-family": st.sampled_from(["AzureLinux", "ubuntu", "other"]),
            "kaito.sh/performance-mode": st.sampled_from(["throughput", "interactivity"]),
        },
    )
    adapters = st.lists(
        st.builds(
            lambda i, secret, strength: {
                "source": {
                    "name": f"adapter-{i}",
                    "image": f"example.azurecr.io/adapters/a{i}:1",
                    **({"imagePullSecrets": ["pull"]} if secret else {}),
                },
                **({"strength": strength} if strength else {}),
            },
            st.integers(0, 3),
            st.booleans(),
            st.sampled_from([None, "0.5", "1.0"]),
        ),
        max_size=2,
        unique_by=lambda a: a["source"]["name"],
    )
    max_model_len = st.sampled_from([None, 2048, 8192, 32768])

    @st.composite
    def build(draw: Any) -> tuple[dict[str, Any], dict[str, Manifest]]:
        mode = draw(st.sampled_from(["preset"] * 6 + ["template", "tuning"]))
        resource: dict[str, Any] = {
            "instanceType": draw(st.sampled_from(INSTANCE_TYPES)),
            "labelSelector": {"matchLabels": {"apps": name, **draw(labels)}},
        }
        count = draw(st.sampled_from([None, 1, 2]))
        if count is not None:
            resource["count"] = count
        config_maps: dict[str, Manifest] = {}
        doc: dict[str, Any] = {
            "apiVersion": "kaito.sh/v1beta1",
            "kind": "Workspace",
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": draw(labels),
                "annotations": draw(annotations),
            },
            "resource": resource,
        }
        if mode == "preset":
            inference: dict[str, Any] = {
                "preset": {"name": draw(st.sampled_from(INFERENCE_PRESETS))}
            }
            chosen = draw(adapters)
            if chosen:
                inference["adapters"] = chosen
            length = draw(max_model_len)
            if length is not None:
                inference["config"] = "inference-cfg"
                text = f"vllm:\n  max-model-len: {length}\n  enable-prefix-caching: true\n"
                config_maps["inference-cfg"] = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "inference-cfg", "namespace": "default"},
                    "data": {"inference_config.yaml": text},
                }
            doc["inference"] = inference
        elif mode == "template":
            doc["inference"] = {"template": _template(draw(st.sampled_from(["1.0", "2.0"])))}
        else:
            output = draw(
                st.sampled_from(
                    [
                        {"image": "example.azurecr.io/out/adapter:1", "imagePushSecret": "push"},
                        {"volumeSource": {"persistentVolumeClaim": {"claimName": "results"}}},
                    ]
                )
            )
            doc["tuning"] = {
                "preset": {"name": draw(st.sampled_from(TUNING_PRESETS))},
                "method": draw(st.sampled_from(["lora", "qlora"])),
                "input": {"urls": ["https://example.com/data/train.parquet"]},
                "output": output,
            }
        return doc, config_maps

    return build()


def settings_strategy() -> Any:
    from hypothesis import strategies as st

    return st.builds(
        PlanSettings,
        cloud=st.sampled_from(["azure", "aws"]),
        nvme_storage_class=st.booleans(),
        default_node_image_family=st.sampled_from([None, "azurelinux"]),
    )
