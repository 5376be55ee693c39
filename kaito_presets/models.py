"""Model presets: the value types describing one servable model of the catalog.

Pure: no I/O, no clock, no logging.

A `ModelPreset` holds what KAITO v0.12 derives for a model (from its curated catalog entry or from
Hugging Face metadata): names, weight size, KV-cache bytes per token, token limit, parsers, the
static vLLM parameters, runtime flags and the optional Transformers / tuning support. Key/value
parameter lists are tuples of ``(key, value)`` pairs sorted by key; ``""`` as a value means a bare
flag (``--trust-remote-code``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = [
    "GIB",
    "ModelPreset",
    "Params",
    "TransformersSupport",
    "TuningSupport",
    "sorted_params",
]

#: Bytes in one GiB.
GIB = 1 << 30

#: Sorted ``(key, value)`` pairs; ``""`` is a bare flag.
Params = tuple[tuple[str, str], ...]


def sorted_params(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> Params:
    """Normalise a mapping or pair iterable to `Params`: pairs sorted by key, keys unique."""
    pairs = list(value.items()) if isinstance(value, Mapping) else [tuple(p) for p in value]
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a parameter must be a (key, value) pair, got {pair!r}")
        key, val = pair
        if not isinstance(key, str) or not isinstance(val, str):
            raise TypeError(f"parameter keys and values must be strings, got {pair!r}")
        if key in seen:
            raise ValueError(f"duplicate parameter {key!r}")
        seen.add(key)
        result.append((key, val))
    return tuple(sorted(result))


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"expected a sequence of strings, got the string {value!r}")
    return tuple(value)


@attrs.frozen(kw_only=True)
class TransformersSupport:
    """How the Hugging Face Transformers runtime serves the model (``accelerate launch ...``)."""

    #: ``--torch_dtype=...``, ``--pipeline=...``, ``--trust_remote_code`` and so on.
    model_run_params: Params = attrs.field(converter=sorted_params)
    #: ``num_processes=1``, ``num_machines=1``, ``machine_rank=0``, ``gpu_ids=all``.
    accelerate_params: Params = attrs.field(converter=sorted_params)
    #: The server script, ``/workspace/tfs/inference_api.py``.
    main_file: str


@attrs.frozen(kw_only=True)
class TuningSupport:
    """Fine-tuning support of a preset (LoRA / QLoRA through the Transformers image)."""

    methods: tuple[str, ...] = attrs.field(converter=_str_tuple)
    #: Disk the tuning Job's node needs, GiB.
    disk_gib: int
    #: Size of the tuning weights image (upstream ``TotalSafeTensorFileSize`` of the tuning preset).
    weights_gib: float
    #: ORAS tag of the weights image ``kaito-<weights_image_name>:<tag>``.
    weights_image_tag: str
    #: Name part of that image; ``None`` means the preset name. Differs for mistral-7b-v0.3,
    #: whose image is ``kaito-mistral-7b`` (upstream looks up the wrong name and panics).
    weights_image_name: str | None = None


@attrs.frozen(kw_only=True)
class ModelPreset:
    """One model KAITO can serve: catalog facts plus everything derived from them."""

    #: Preset and served name: the lower-cased last path segment of `hf_id`.
    name: str
    #: Hugging Face repository id in its original case (``microsoft/Phi-4-mini-instruct``).
    hf_id: str
    #: Short pre-v0.11 name that still resolves to this model, if any.
    legacy_alias: str | None
    family: str
    architectures: tuple[str, ...] = attrs.field(converter=_str_tuple)
    #: ``("vllm",)`` or ``("vllm", "transformers")``.
    runtimes: tuple[str, ...] = attrs.field(converter=_str_tuple)
    #: Weight size as upstream prints it, ``"7.15Gi"``.
    model_file_size: str
    #: Total safetensor size in bytes (`model_file_size` rounded up to whole bytes).
    weights_bytes: int
    #: OS-disk / weights-volume size, GiB (``int(size + 80)``).
    disk_gib: int
    #: Largest context the model supports.
    token_limit: int
    #: KV-cache bytes per token, always computed for fp16.
    bytes_per_token: int
    #: ``MHA``, ``GQA``, ``MQA``, ``MLA`` or ``Unknown``.
    attn_type: str
    #: ``bfloat16``, or ``auto`` for quantized weights.
    dtype: str
    quant_method: str | None
    tool_call_parser: str | None
    reasoning_parser: str | None
    #: File name under ``/workspace/chat_templates/``.
    chat_template: str | None
    #: Static vLLM parameters of the preset (formats, trust-remote-code, dtype, parsers, ...).
    vllm_params: Params = attrs.field(converter=sorted_params)
    #: Hybrid KV-cache manager required (LMCache CPU offload forced off).
    hybrid_kv_cache: bool
    #: LMCache CPU offload disabled (gpt-oss, and every hybrid-KV model).
    lmcache_disabled: bool
    requires_deepgemm: bool
    requires_cuda_toolkit: bool
    readiness_timeout_seconds: int
    #: False: the weights ship as the OCI artifact ``<registry>/kaito-<name>:<weights_image_tag>``,
    #: pulled by an init container into ``/workspace/weights`` (upstream ``DownloadAtRuntime``).
    download_at_runtime: bool = True
    download_auth_required: bool = False
    #: Tag of that weights image (upstream ``tag`` in ``supported_models.yaml``).
    weights_image_tag: str | None = None
    #: May be spread over several nodes (pipeline parallel); true for every v0.12 preset.
    distributed: bool = True
    disallow_lora: bool = False
    transformers: TransformersSupport | None = None
    tuning: TuningSupport | None = None

    @property
    def weights_gib(self) -> float:
        """Weight size in GiB."""
        return self.weights_bytes / GIB

    @property
    def repo(self) -> str:
        """The lower-cased Hugging Face id: what vLLM gets as ``--model``."""
        return self.hf_id.lower()

    def supports_runtime(self, runtime: str) -> bool:
        """True if `runtime` (``vllm`` / ``transformers``) can serve this model."""
        return runtime in self.runtimes

    @property
    def weights_image_name(self) -> str | None:
        """Name part of the tuning weights image ``kaito-<name>``; None without tuning support."""
        if self.tuning is None:
            return None
        return self.tuning.weights_image_name or self.name
