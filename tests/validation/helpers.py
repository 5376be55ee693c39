"""Builders and the case runner shared by the validation tests."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pytest

from kaito_core.api import Workspace, from_manifest
from kaito_core.errors import FieldError
from kaito_core.validation import FeatureGates, ValidationContext, validate
from kaito_presets import GIB, Catalog
from kaito_presets.testing import make_catalog, make_model, make_tuning

V1BETA1 = "kaito.sh/v1beta1"
V1ALPHA1 = "kaito.sh/v1alpha1"
A100 = "Standard_NC24ads_A100_v4"
A10 = "Standard_NV36ads_A10_v5"
V100 = "Standard_NC6s_v3"
DATA_URL = (
    "https://huggingface.co/datasets/philschmid/dolly-15k-oai-style/resolve/main/data/train.parquet"
)
PVC = {"persistentVolumeClaim": {"claimName": "data"}}
DELETE = object()

BYO = ValidationContext(node_auto_provisioning=False)
BYO_MIG = ValidationContext(
    node_auto_provisioning=False, feature_gates=FeatureGates(enable_mig=True)
)
BYO_ACC = ValidationContext(
    node_auto_provisioning=False, feature_gates=FeatureGates(enable_accelerator=True)
)
NO_CMS = ValidationContext(config_maps={})


def inference(
    preset: str = "phi-3-mini-4k-instruct",
    *,
    instance: str | None = A100,
    name: str = "ws",
    api: str = V1BETA1,
) -> dict[str, Any]:
    """A valid preset-inference Workspace manifest."""
    resource: dict[str, Any] = {"labelSelector": {"matchLabels": {"apps": "test"}}}
    if instance is not None:
        resource["instanceType"] = instance
    return {
        "apiVersion": api,
        "kind": "Workspace",
        "metadata": {"name": name},
        "resource": resource,
        "inference": {"preset": {"name": preset}},
    }


def template(*, instance: str | None = A100) -> dict[str, Any]:
    """A valid template-inference Workspace manifest."""
    manifest = inference(instance=instance)
    manifest["inference"] = {
        "template": {"spec": {"containers": [{"name": "llm", "image": "example.com/llm:1"}]}}
    }
    return manifest


def tuning(
    preset: str = "phi-3-mini-4k-instruct",
    *,
    method: str = "qlora",
    instance: str | None = A100,
    api: str = V1BETA1,
) -> dict[str, Any]:
    """A valid tuning Workspace manifest: URL input, volume output."""
    manifest = inference(instance=instance, api=api)
    del manifest["inference"]
    manifest["tuning"] = {
        "preset": {"name": preset},
        "method": method,
        "input": {"urls": [DATA_URL]},
        "output": {"volumeSource": PVC},
    }
    return manifest


def edit(manifest: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `manifest` with dotted paths set (or removed with `DELETE`)."""
    result = copy.deepcopy(dict(manifest))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return result


def adapter(
    name: str = "adapter-a",
    *,
    image: str | None = "myregistry.azurecr.io/adapter:0.0.1",
    strength: str | None = None,
    **source: Any,
) -> dict[str, Any]:
    """One adapter entry."""
    src: dict[str, Any] = {"name": name, **source}
    if image is not None:
        src["image"] = image
    entry: dict[str, Any] = {"source": src}
    if strength is not None:
        entry["strength"] = strength
    return entry


def node(
    name: str,
    *,
    product: str = "NVIDIA-A100-SXM4-80GB",
    count: int = 1,
    memory_mib: int = 81920,
    labels: Mapping[str, str] | None = None,
    gpu_labels: bool = True,
    cc: tuple[int, int] | None = (8, 0),
) -> dict[str, Any]:
    """A Node manifest with NVIDIA GPU Feature Discovery labels."""
    all_labels = {"apps": "test", **(labels or {})}
    if gpu_labels:
        all_labels |= {
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.count": str(count),
            "nvidia.com/gpu.memory": str(memory_mib),
        }
        if cc is not None:
            all_labels |= {
                "nvidia.com/cuda.compute.major": str(cc[0]),
                "nvidia.com/cuda.compute.minor": str(cc[1]),
            }
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all_labels}}


def config_map(
    name: str, data: Mapping[str, Any] | None, namespace: str = "default"
) -> dict[str, Any]:
    """A ConfigMap manifest."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }
    if data is not None:
        manifest["data"] = dict(data)
    return manifest


def with_cms(*maps: dict[str, Any], **kwargs: Any) -> ValidationContext:
    """A context that knows exactly these ConfigMaps."""
    known = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in maps}
    return ValidationContext(config_maps=known, **kwargs)


def special_catalog() -> Catalog:
    """A small catalog of made-up presets with the properties the rules look at."""
    return make_catalog(
        models=[
            make_model(hf_id="example/Tiny-Model-8B"),
            make_model(hf_id="example/Big-80", weights_bytes=80 * GIB, model_file_size="80.00Gi"),
            make_model(hf_id="example/Big-81", weights_bytes=81 * GIB, model_file_size="81.00Gi"),
            make_model(hf_id="example/No-Lora", disallow_lora=True),
            make_model(hf_id="example/Gated", download_auth_required=True),
            make_model(hf_id="example/Baked-In", download_at_runtime=False),
            make_model(hf_id="example/Vllm-Only", runtimes=("vllm",), transformers=None),
            make_model(hf_id="example/Lora-Only", tuning=make_tuning(methods=("lora",))),
            make_model(
                hf_id="example/Single-Node",
                distributed=False,
                weights_bytes=100 * GIB,
                model_file_size="100.00Gi",
            ),
        ],
        aliases={"tiny": "example/Tiny-Model-8B"},
    )


TEST_CATALOG = special_catalog()


@attrs.frozen(kw_only=True)
class Case:
    """One row of a validation table: a manifest and the problems expected (none = valid)."""

    id: str
    doc: str
    manifest: Mapping[str, Any]
    #: ``(path, substring of the message)`` pairs that must all be reported; empty = valid.
    expect: tuple[tuple[str, str], ...] = ()
    context: ValidationContext | None = None
    catalog: Catalog | None = None
    old: Mapping[str, Any] | None = None


def case(
    id: str, doc: str, manifest: Mapping[str, Any], *expect: tuple[str, str], **kwargs: Any
) -> Any:
    """A `Case` wrapped as a pytest param with its id."""
    return pytest.param(Case(id=id, doc=doc, manifest=manifest, expect=expect, **kwargs), id=id)


def problems(c: Case) -> list[FieldError]:
    ws = from_manifest(c.manifest)
    old = from_manifest(c.old) if c.old is not None else None
    return validate(ws, old=old, catalog=c.catalog, context=c.context)


def check(c: Case) -> None:
    """Assert the case's expectations, showing every problem when one is missing."""
    found = problems(c)
    shown = "\n".join(f"  {e}" for e in found) or "  (none)"
    if not c.expect:
        assert found == [], f"{c.doc}\nexpected valid, got:\n{shown}"
        return
    for path, text in c.expect:
        assert any(e.path == path and text in e.message for e in found), (
            f"{c.doc}\nexpected {path}: ...{text}... among:\n{shown}"
        )


def unique_ids(params: Iterable[Any]) -> bool:
    ids = [p.id for p in params]
    return len(ids) == len(set(ids))


def parse(manifest: Mapping[str, Any]) -> Workspace:
    return from_manifest(manifest)
