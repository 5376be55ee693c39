"""A preset whose weights ship in an image (``download_at_runtime`` false), as upstream renders it:
the ``model-weights-downloader`` init container pulls them into /workspace/weights and the
server loads from there (issue #12, item 13)."""

from __future__ import annotations

import shlex

import attrs
import pytest

from kaito_core.errors import SpecError
from kaito_core.render.commands import WEIGHTS_PATH, transformers_flags, vllm_flags
from kaito_core.render.context import RUNTIME_TRANSFORMERS
from kaito_core.render.inference import inference_statefulset, weights_image
from kaito_core.render.tuning import ORAS_IMAGE
from kaito_presets.testing import make_model
from tests.core.render.test_commands import context, workspace

BAKED = make_model(hf_id="example/Baked-In", download_at_runtime=False, weights_image_tag="0.2.0")


def test_weights_are_pulled_by_the_upstream_init_container() -> None:
    """oras pull <registry>/kaito-<name>:<tag> -o /workspace/weights, into the weights volume."""
    ctx = context(workspace(preset=BAKED.name), model=BAKED, node_count=1)
    (init,) = inference_statefulset(ctx)["spec"]["template"]["spec"]["initContainers"]
    assert init == {
        "name": "model-weights-downloader",
        "image": ORAS_IMAGE,
        "command": ["oras", "pull", f"{ctx.registry}/kaito-baked-in:0.2.0", "-o", WEIGHTS_PATH],
        "volumeMounts": [{"name": "model-weights-volume", "mountPath": WEIGHTS_PATH}],
    }
    assert weights_image(ctx) == f"{ctx.registry}/kaito-baked-in:0.2.0"


def test_vllm_loads_from_the_pulled_directory() -> None:
    """--model=/workspace/weights, and no --download-dir (nothing is downloaded at runtime)."""
    ctx = context(workspace(preset=BAKED.name), model=BAKED, node_count=1)
    flags = vllm_flags(ctx)
    assert flags["model"] == WEIGHTS_PATH
    assert "download-dir" not in flags
    pod = inference_statefulset(ctx)["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert "--model=/workspace/weights" in shlex.split(main["command"][2])
    assert {"name": "model-weights-volume", "mountPath": WEIGHTS_PATH} in main["volumeMounts"]
    assert {"name": "model-weights-volume", "emptyDir": {}} in pod["volumes"]


def test_transformers_loads_from_the_pulled_directory() -> None:
    """The Transformers server gets the same directory, and no remote-file permission."""
    ctx = context(
        workspace(preset=BAKED.name), model=BAKED, node_count=1, runtime=RUNTIME_TRANSFORMERS
    )
    _, run = transformers_flags(ctx)
    assert run["pretrained_model_name_or_path"] == WEIGHTS_PATH
    assert "allow_remote_files" not in run


def test_downloaded_models_have_no_weights_puller() -> None:
    """A DownloadAtRuntime preset keeps --model=<repo> --download-dir and no init container."""
    ctx = context(node_count=1)
    spec = inference_statefulset(ctx)["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    assert vllm_flags(ctx)["download-dir"] == WEIGHTS_PATH


def test_a_weights_image_needs_a_tag() -> None:
    """A baked-in preset without a tag is a SpecError on the preset name, not a bad image."""
    model = attrs.evolve(BAKED, weights_image_tag=None)
    ctx = context(workspace(preset=model.name), model=model, node_count=1)
    with pytest.raises(SpecError, match="names no image tag") as info:
        inference_statefulset(ctx)
    assert info.value.path == "spec.inference.preset.name"
