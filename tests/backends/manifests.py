"""Manifests the fake-cluster tests build: KAITO-shaped NodeClaims, StatefulSets, Jobs, pods."""

from __future__ import annotations

from typing import Any

from kaito_backends.fake import FakeCluster
from kaito_backends.objects import Manifest, ObjectRef
from kaito_presets.testing import make_catalog

NS = "default"
A100 = "Standard_NC24ads_A100_v4"  # 1 GPU, 80 GiB
A10 = "Standard_NV36ads_A10_v5"  # 1 GPU, 24 GiB
MODEL = "example/Tiny-Model-8B"  # 8 GiB of weights in the test catalog
GPU_TOLERATIONS = [
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
]


def cluster(**kwargs: Any) -> FakeCluster:
    """A fake cluster over the small test catalog (unless another catalog is given)."""
    kwargs.setdefault("catalog", make_catalog())
    return FakeCluster(**kwargs)


def node_claim(name: str, workspace: str = "ws", instance_type: str = A100) -> Manifest:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {
            "name": name,
            "labels": {
                "karpenter.sh/nodepool": "kaito",
                "kaito.sh/workspace": workspace,
                "kaito.sh/workspacenamespace": NS,
                "apps": workspace,
            },
        },
        "spec": {
            "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
            "requirements": [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": [instance_type],
                },
            ],
            "nodeClassRef": {"name": "default"},
        },
    }


def affinity(workspace: str) -> Manifest:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kaito.sh/workspace", "operator": "In", "values": [workspace]},
                            {
                                "key": "kaito.sh/workspacenamespace",
                                "operator": "In",
                                "values": [NS],
                            },
                        ]
                    }
                ]
            }
        }
    }


def pod_spec(
    workspace: str = "ws",
    *,
    gpus: int = 1,
    model: str = MODEL,
    image: str = "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0",
    tolerations: list[Manifest] | None = None,
    pinned: bool = True,
) -> Manifest:
    spec: Manifest = {
        "containers": [
            {
                "name": workspace,
                "image": image,
                "command": [
                    "/bin/sh",
                    "-c",
                    f"python3 /workspace/vllm/inference_api.py --model={model} --port=5000",
                ],
                "resources": {
                    "requests": {"nvidia.com/gpu": str(gpus)},
                    "limits": {"nvidia.com/gpu": str(gpus)},
                },
            }
        ],
        "tolerations": GPU_TOLERATIONS if tolerations is None else tolerations,
    }
    if pinned:
        spec["affinity"] = affinity(workspace)
    return spec


def statefulset(
    workspace: str = "ws", *, replicas: int = 1, policy: str = "Parallel", **spec_kw: Any
) -> Manifest:
    labels = {"kaito.sh/workspace": workspace}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": workspace, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "podManagementPolicy": policy,
            "serviceName": f"{workspace}-headless",
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(workspace, **spec_kw)},
        },
    }


def job(workspace: str = "ws", **spec_kw: Any) -> Manifest:
    spec = pod_spec(workspace, **spec_kw)
    spec["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": workspace,
            "namespace": NS,
            "labels": {"kaito.sh/workspace": workspace},
        },
        "spec": {
            "template": {"metadata": {"labels": {"kaito.sh/workspace": workspace}}, "spec": spec}
        },
    }


def pod_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Pod", name, NS)


def condition(obj: Manifest, kind: str) -> Manifest:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond["type"] == kind:
            return dict(cond)
    raise AssertionError(f"no {kind} condition in {obj.get('status')}")


def main_state(pod: Manifest) -> Manifest:
    """``state`` of the pod's first container."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[0].get("state") or {})
