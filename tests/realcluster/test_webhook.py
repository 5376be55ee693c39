"""The real API server calls our webhook (by url, with the cluster CA) and refuses what it
denies: ``kubectl apply`` exits 1 with the webhook's message and the field path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.kubectl import Kubectl
from tests.realcluster.workspaces import manifest

DENIED = 'admission webhook "validation.workspace.kaito.sh" denied the request'


INVALID = [
    pytest.param(
        manifest("unknown-preset", inference={"preset": {"name": "no-such-model"}}),
        "spec.inference.preset.name: Unsupported inference preset name no-such-model",
        id="unknown-preset",
    ),
    pytest.param(
        manifest(
            "unknown-sku",
            resource={
                "instanceType": "Standard_Nope",
                "labelSelector": {"matchLabels": {"a": "b"}},
            },
        ),
        "spec.resource.instanceType: Unsupported instance type Standard_Nope",
        id="unknown-instance-type",
    ),
    pytest.param(
        manifest(
            "both",
            tuning={
                "preset": {"name": "phi-3-mini-128k-instruct"},
                "method": "qlora",
                "input": {"urls": ["https://example.com/data.parquet"]},
                "output": {"image": "registry.example.com/a:1", "imagePushSecret": "s"},
            },
        ),
        "spec",
        id="inference-and-tuning",
    ),
]


@pytest.mark.parametrize(("manifest", "message"), INVALID)
async def test_kubectl_apply_of_an_invalid_workspace_is_refused_with_the_field_path(
    kubectl: Kubectl, namespace: str, manifest: dict[str, Any], message: str
) -> None:
    """Exit 1; stderr names our webhook and the problem with its field path; nothing stored."""
    code, _, err = await kubectl.run(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest)
    )
    assert code == 1
    assert DENIED in err
    assert message in err
    listed = await kubectl("get", "workspaces", "-n", namespace, "-o", "name")
    assert listed.strip() == ""


async def test_an_immutable_field_cannot_change(kubectl: Kubectl, namespace: str) -> None:
    """UPDATE goes through the webhook too: the preset of a Workspace is fixed."""
    fixed = manifest("fixed")
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(fixed))
    changed = manifest("fixed", inference={"preset": {"name": "phi-3-mini-4k-instruct"}})
    code, _, err = await kubectl.run("apply", "-n", namespace, "-f", "-", stdin=json.dumps(changed))
    assert code == 1
    assert DENIED in err
    assert "spec.inference.preset: field is immutable" in err
    await kubectl("delete", "workspace", "fixed", "-n", namespace, "--wait=true")
