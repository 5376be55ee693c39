"""Every Workspace in upstream's examples validates, except a named list of known-bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito_core.api import load_documents
from kaito_core.validation import FeatureGates, ValidationContext, validate
from tests.conftest import REFERENCE

EXAMPLES = REFERENCE / "examples"

#: Examples we reject, with the reason (path of the problem that must be reported).
REJECTED = {
    "fine-tuning/kaito_workspace_tuning_falcon_7b_mental.yaml": (
        "spec.tuning.preset.name",
        "falcon-7b was removed in v0.12 (and the output image is a placeholder)",
    ),
    "fine-tuning/kaito_workspace_tuning_falcon_7b_oai.yaml": (
        "spec.tuning.preset.name",
        "falcon-7b was removed in v0.12 (and the output image is a placeholder)",
    ),
    "fine-tuning/kaito_workspace_tuning_phi_3.yaml": (
        "spec.tuning.output.image",
        "placeholder output image ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1 (upper case)",
    ),
    "inference/kaito_workspace_phi_3_with_adapters.yaml": (
        "spec.inference.adapters[0].source.image",
        "placeholder adapter image ACR_REPO_HERE.azurecr.io/ADAPTER_HERE:0.0.1 (upper case)",
    ),
}
#: Arc examples carry the placeholder instance type <your-vm-sku>.
ARC_REASON = ("spec.resource.instanceType", "placeholder instance type <your-vm-sku>")
#: Examples that need a different cluster than the default (karpenter, NAP, azure).
CONTEXTS = {
    "inference/kaito_workspace_accelerator.yaml": ValidationContext(
        node_auto_provisioning=False, feature_gates=FeatureGates(enable_accelerator=True)
    ),
}


def _files() -> list[Path]:
    if not EXAMPLES.is_dir():
        return []
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if "kind: Workspace" in p.read_text())


def _key(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix()


def _expected(key: str) -> tuple[str, str] | None:
    if key.startswith("inference/arc-examples/"):
        return ARC_REASON
    return REJECTED.get(key)


@pytest.mark.upstream
@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"upstream examples not found at {EXAMPLES}")
@pytest.mark.parametrize("path", _files(), ids=_key)
def test_upstream_example(path: Path) -> None:
    """Valid examples give no problem; each rejected one reports the problem named above."""
    key = _key(path)
    result = load_documents(path.read_text())
    base = CONTEXTS.get(key, ValidationContext())
    context = ValidationContext(
        node_auto_provisioning=base.node_auto_provisioning,
        feature_gates=base.feature_gates,
        config_maps=result.config_maps or None,
    )
    for document in result.workspaces:
        assert document.errors == ()
        assert document.workspace is not None
        problems = validate(document.workspace, context=context)
        expected = _expected(key)
        if expected is None:
            assert problems == [], "\n".join(str(p) for p in problems)
        else:
            assert any(p.path == expected[0] for p in problems), (
                f"expected a problem at {expected[0]} ({expected[1]}), got {problems}"
            )


@pytest.mark.upstream
@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"upstream examples not found at {EXAMPLES}")
def test_rejected_list_is_current() -> None:
    """Every example named as rejected still exists, so the list cannot go stale."""
    keys = {_key(p) for p in _files()}
    assert set(REJECTED) <= keys
