"""The preset value types: ModelPreset, TransformersSupport, TuningSupport, GpuSku."""

from __future__ import annotations

import attrs
import pytest

from kaito_presets import GIB, TransformersSupport
from kaito_presets.models import sorted_params
from kaito_presets.testing import make_model, make_sku, make_transformers, make_tuning


def test_weights_gib_and_repo() -> None:
    """weights_gib is bytes / 2**30 and repo is the lower-cased HF id."""
    model = make_model(hf_id="Org/Some-Model", weights_bytes=3 * GIB // 2)
    assert model.weights_gib == 1.5
    assert model.repo == "org/some-model"
    assert model.name == "some-model"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"b": "2", "a": ""}, (("a", ""), ("b", "2"))),
        ([("z", "1"), ("m", "2")], (("m", "2"), ("z", "1"))),
        ((), ()),
    ],
    ids=["mapping", "pairs", "empty"],
)
def test_sorted_params(given: object, expected: tuple[tuple[str, str], ...]) -> None:
    """Parameters are normalised to key-sorted pairs."""
    assert sorted_params(given) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ([("a", "1"), ("a", "2")], ValueError),
        ([("a", "1", "x")], ValueError),
        ([("a", 1)], TypeError),
    ],
    ids=["duplicate", "triple", "non-string"],
)
def test_sorted_params_rejects(given: object, error: type[Exception]) -> None:
    """Duplicate keys, non-pairs and non-strings are rejected."""
    with pytest.raises(error):
        sorted_params(given)  # type: ignore[arg-type]


def test_params_are_sorted_on_construction() -> None:
    """Field converters sort parameters whatever order they come in."""
    tfs = TransformersSupport(
        model_run_params={"torch_dtype": "auto", "pipeline": "text-generation"},
        accelerate_params=[("num_processes", "1"), ("gpu_ids", "all")],
        main_file="/workspace/tfs/inference_api.py",
    )
    assert tfs.model_run_params == (("pipeline", "text-generation"), ("torch_dtype", "auto"))
    assert tfs.accelerate_params[0] == ("gpu_ids", "all")
    model = make_model(vllm_params={"z": "", "a": "1"})
    assert model.vllm_params == (("a", "1"), ("z", ""))


def test_string_is_not_a_tuple_of_strings() -> None:
    """A bare string for a tuple-of-strings field is a type error, not a tuple of letters."""
    with pytest.raises(TypeError):
        make_model(runtimes="vllm")


def test_evolve_keeps_values_frozen() -> None:
    """attrs.evolve gives a new frozen value and leaves the original alone."""
    model = make_model(tuning=make_tuning())
    other = attrs.evolve(model, token_limit=8192)
    assert model.token_limit == 4096
    assert other.token_limit == 8192
    assert model.supports_runtime("vllm")
    assert model.supports_runtime("transformers")
    assert not make_model(runtimes=("vllm",), transformers=None).supports_runtime("transformers")
    assert make_transformers().main_file == "/workspace/tfs/inference_api.py"


def test_sku_per_gpu_memory() -> None:
    """gpu_memory_per_gpu_gib divides the node total by the GPU count."""
    assert make_sku(gpu_count=8, gpu_memory_gib=1128.0).gpu_memory_per_gpu_gib == 141.0
