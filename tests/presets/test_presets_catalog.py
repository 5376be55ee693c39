"""The shipped catalog: presets, name resolution, SKUs."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import kaito_presets
from kaito_presets import (
    BASE_IMAGE_TAG,
    DEFAULT_REGISTRY,
    Catalog,
    CatalogError,
    DeprecatedModelError,
    ModelPreset,
    OfflineMetadataSource,
    UnknownModelError,
    UnknownSkuError,
    UnsupportedArchitectureError,
    default_catalog,
)
from kaito_presets import catalog as catalog_module
from kaito_presets import metadata as metadata_module
from kaito_presets import models as models_module
from kaito_presets import skus as skus_module
from kaito_presets import testing as testing_module
from kaito_presets.testing import make_catalog, make_model, make_sku

LEGACY_ALIASES = {
    "phi-4": "microsoft/phi-4",
    "phi-4-mini-instruct": "microsoft/Phi-4-mini-instruct",
    "deepseek-r1-distill-llama-8b": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    "deepseek-r1-distill-qwen-14b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
    "phi-3-mini-4k-instruct": "microsoft/Phi-3-mini-4k-instruct",
    "phi-3-mini-128k-instruct": "microsoft/Phi-3-mini-128k-instruct",
    "phi-3-medium-4k-instruct": "microsoft/Phi-3-medium-4k-instruct",
    "phi-3-medium-128k-instruct": "microsoft/Phi-3-medium-128k-instruct",
    "phi-3.5-mini-instruct": "microsoft/Phi-3.5-mini-instruct",
    "qwen2.5-coder-7b-instruct": "Qwen/Qwen2.5-Coder-7B-Instruct",
    "qwen2.5-coder-32b-instruct": "Qwen/Qwen2.5-Coder-32B-Instruct",
    "gpt-oss-20b": "openai/gpt-oss-20b",
    "gpt-oss-120b": "openai/gpt-oss-120b",
    "llama-3.1-8b-instruct": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.3-70b-instruct": "meta-llama/Llama-3.3-70B-Instruct",
    "mistral-7b": "mistralai/Mistral-7B-v0.3",
    "mistral-7b-instruct": "mistralai/Mistral-7B-Instruct-v0.3",
    "ministral-3-3b-instruct": "mistralai/Ministral-3-3B-Instruct-2512",
    "ministral-3-8b-instruct": "mistralai/Ministral-3-8B-Instruct-2512",
    "ministral-3-14b-instruct": "mistralai/Ministral-3-14B-Instruct-2512",
    "gemma-3-4b-instruct": "google/gemma-3-4b-it",
    "gemma-3-27b-instruct": "google/gemma-3-27b-it",
    "deepseek-r1-0528": "deepseek-ai/DeepSeek-R1-0528",
    "deepseek-v3-0324": "deepseek-ai/DeepSeek-V3-0324",
    "mistral-large-3-675b-instruct": "mistralai/Mistral-Large-3-675B-Instruct-2512",
}

# (instance type, cloud, GPUs, total GiB, GPU model, vendor, NVMe, cc, legacy)
SKU_FACTS = [
    ("Standard_NV36ads_A10_v5", "azure", 1, 24, "NVIDIA A10", "nvidia", False, 8.6, False),
    ("Standard_NC24ads_A100_v4", "azure", 1, 80, "NVIDIA A100", "nvidia", True, 8.0, False),
    ("Standard_ND96asr_A100_v4", "azure", 8, 320, "NVIDIA A100", "nvidia", False, 8.0, False),
    ("Standard_ND96isr_H200_v5", "azure", 8, 1128, "NVIDIA H200", "nvidia", True, 9.0, False),
    ("Standard_NG32ads_V620_v1", "azure", 1, 32, "AMD Radeon PRO V620", "amd", False, None, False),
    ("p4d.24xlarge", "aws", 8, 320, "NVIDIA A100", "nvidia", True, 8.0, False),
    ("g6.xlarge", "aws", 1, 24, "NVIDIA L4", "nvidia", True, 8.9, False),
    ("inf2.48xlarge", "aws", 12, 384, "AWS Inferentia2 accelerators", "aws", False, None, False),
    ("trn1.32xlarge", "aws", 16, 512, "AWS Trainium accelerators", "aws", True, None, False),
    ("Standard_NC32_A16", "arc", 2, 32, "NVIDIA A16", "nvidia", False, 8.6, False),
    ("Standard_NC6s_v3", "azure", 1, 16, "NVIDIA V100", "nvidia", False, 7.0, True),
    ("Standard_NC64as_T4_v3", "azure", 4, 64, "NVIDIA T4", "nvidia", False, 7.5, True),
    ("Standard_NV6", "azure", 1, 8, "NVIDIA M60", "nvidia", False, 5.2, True),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped catalog."""
    return default_catalog()


def test_catalog_has_sixty_presets(catalog: Catalog) -> None:
    """The shipped catalog holds the 60 upstream v0.12 presets."""
    assert len(catalog.models()) == 60
    assert len({m.hf_id.lower() for m in catalog.models()}) == 60


def test_models_sorted_by_name(catalog: Catalog) -> None:
    """models() is sorted by preset name."""
    names = [m.name for m in catalog.models()]
    assert names == sorted(names)


def test_preset_names_are_lowered_last_segment(catalog: Catalog) -> None:
    """Every preset name is the lower-cased last path segment of its HF id."""
    for model in catalog.models():
        assert model.name == model.hf_id.rsplit("/", 1)[-1].lower()
        assert model.repo == model.hf_id.lower()


def test_exactly_25_legacy_aliases(catalog: Catalog) -> None:
    """There are 25 legacy aliases, the ones upstream's LegacyBuiltinToCatalog lists."""
    assert len(catalog.aliases) == 25
    assert dict(catalog.aliases) == {k: v.lower() for k, v in LEGACY_ALIASES.items()}


@pytest.mark.parametrize(
    ("alias", "hf_id"), sorted(LEGACY_ALIASES.items()), ids=sorted(LEGACY_ALIASES)
)
def test_alias_resolves_to_hf_id(catalog: Catalog, alias: str, hf_id: str) -> None:
    """Each legacy alias resolves to its HF id, and the preset records the alias."""
    model = catalog.model(alias)
    assert model.hf_id == hf_id
    assert model.legacy_alias == alias
    assert catalog.model(alias.upper()) is model


@pytest.mark.parametrize(
    "name",
    [
        "phi-4-mini-instruct",
        "PHI-4-MINI-INSTRUCT",
        "microsoft/Phi-4-mini-instruct",
        "MICROSOFT/PHI-4-MINI-INSTRUCT",
        "microsoft/phi-4-mini-instruct",
    ],
    ids=["alias", "alias-upper", "hf-id", "hf-id-upper", "hf-id-lower"],
)
def test_lookup_is_case_insensitive(catalog: Catalog, name: str) -> None:
    """Aliases, preset names and HF ids resolve in any case."""
    assert catalog.model(name).hf_id == "microsoft/Phi-4-mini-instruct"


@pytest.mark.parametrize(
    ("name", "hf_id"),
    [
        ("gemma-3-4b-it", "google/gemma-3-4b-it"),
        ("mistral-7b-instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3"),
        ("Qwen3-8B-AWQ", "Qwen/Qwen3-8B-AWQ"),
    ],
    ids=["gemma-served-name", "mistral-served-name", "no-alias-model"],
)
def test_served_names_resolve(catalog: Catalog, name: str, hf_id: str) -> None:
    """A preset's served name resolves too (an extension over upstream)."""
    assert catalog.model(name).hf_id == hf_id
    assert catalog.is_valid_preset_name(name)


@pytest.mark.parametrize("name", ["phi-2", "PHI-2", "Phi-2"], ids=["lower", "upper", "mixed"])
def test_phi2_is_deprecated(catalog: Catalog, name: str) -> None:
    """phi-2 is rejected as deprecated with upstream's wording."""
    with pytest.raises(DeprecatedModelError) as info:
        catalog.model(name)
    assert str(info.value) == f"Model {name} is deprecated and no longer supported"
    assert catalog.is_deprecated(name)
    assert catalog.find_model(name) is None
    assert not catalog.is_valid_preset_name(name)


@pytest.mark.parametrize(
    "name", ["falcon-7b", "falcon-7b-instruct", "falcon-40b", "FALCON-40B-INSTRUCT"]
)
def test_falcon_presets_are_unknown(catalog: Catalog, name: str) -> None:
    """The removed falcon presets are unknown names, with upstream's wording."""
    with pytest.raises(UnknownModelError) as info:
        catalog.model(name)
    assert str(info.value).startswith(f"Unsupported inference preset name {name}; ")
    assert "`kaito presets`" in str(info.value)
    assert catalog.is_removed(name)
    assert not catalog.is_valid_preset_name(name)


@pytest.mark.parametrize(
    "name",
    ["not-a-model", "tiiuae/falcon-7b", "org/", "/name", "a/b/c", ""],
    ids=["short", "hf-id-no-source", "empty-name", "empty-org", "three-parts", "empty"],
)
def test_unknown_names(catalog: Catalog, name: str) -> None:
    """Names neither in the catalog nor resolvable raise UnknownModelError."""
    with pytest.raises(UnknownModelError):
        catalog.model(name)
    assert catalog.find_model(name) is None


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("phi-4", True),
        ("microsoft/phi-4", True),
        ("any-org/any-model", True),
        ("gemma-3-4b-instruct", True),
        ("phi-2", False),
        ("falcon-7b", False),
        ("unknown", False),
        ("a/", False),
        ("a/b/c", False),
    ],
    ids=lambda v: str(v),
)
def test_is_valid_preset_name(catalog: Catalog, name: str, valid: bool) -> None:
    """is_valid_preset_name follows upstream IsValidPreset."""
    assert catalog.is_valid_preset_name(name) is valid


def test_errors_are_lookup_errors() -> None:
    """Every catalog error is a CatalogError and a LookupError."""
    for cls in (
        UnknownModelError,
        DeprecatedModelError,
        UnknownSkuError,
        UnsupportedArchitectureError,
    ):
        assert issubclass(cls, CatalogError)
        assert issubclass(cls, LookupError)


def test_metadata_source_resolves_hf_ids(catalog: Catalog) -> None:
    """An org/name id not in the catalog resolves through the metadata source."""
    source = OfflineMetadataSource.from_mapping(
        {
            "hf_id": "tiiuae/falcon-7b",
            "model_file_size": "13.44Gi",
            "architectures": ["FalconForCausalLM"],
            "hidden_size": 4544,
            "num_hidden_layers": 32,
            "num_attention_heads": 71,
            "multi_query": True,
        }
    )
    extended = catalog.with_metadata_source(source)
    model = extended.model("TIIUAE/Falcon-7B")
    assert model.name == "falcon-7b"
    assert model.disk_gib == 93
    assert model.token_limit == 2048
    assert model.attn_type == "MQA"
    assert extended.find_model("tiiuae/falcon-40b") is None
    assert catalog.metadata_source is None
    assert catalog.find_model("tiiuae/falcon-7b") is None
    assert extended.model("phi-4") is catalog.model("phi-4")


def test_metadata_source_unsupported_architecture(catalog: Catalog) -> None:
    """A metadata-source model with no vLLM architecture is rejected."""
    source = OfflineMetadataSource.from_mapping(
        {"hf_id": "acme/Weird-1B", "model_file_size": "2.00Gi", "architectures": ["WeirdNet"]}
    )
    with pytest.raises(UnsupportedArchitectureError) as info:
        catalog.with_metadata_source(source).model("acme/weird-1b")
    assert str(info.value).startswith("unsupported model architecture WeirdNet")


def test_catalog_rechecks_architectures_of_any_source(catalog: Catalog) -> None:
    """The catalog applies its own allow-list to whatever a source returns."""

    class LaxSource:
        def lookup(self, hf_id: str) -> ModelPreset | None:
            return make_model(hf_id="acme/Odd-1B", architectures=("OddForCausalLM",))

    with pytest.raises(UnsupportedArchitectureError):
        catalog.with_metadata_source(LaxSource()).model("acme/odd-1b")


def test_catalog_hits_never_consult_the_source(catalog: Catalog) -> None:
    """Catalog presets are returned without asking the metadata source."""

    class Exploding:
        def lookup(self, hf_id: str) -> ModelPreset | None:
            raise AssertionError("must not be called")

    assert catalog.with_metadata_source(Exploding()).model("Qwen/Qwen3.5-2B").name == "qwen3.5-2b"


def test_every_catalog_architecture_is_allowed(catalog: Catalog) -> None:
    """Every catalog architecture and the well-known vLLM ones are in the allow-list."""
    for model in catalog.models():
        assert catalog.supports_architectures(model.architectures)
    for arch in (
        "LlamaForCausalLM",
        "MistralForCausalLM",
        "Qwen2ForCausalLM",
        "Phi3ForCausalLM",
        "FalconForCausalLM",
        "GPT2LMHeadModel",
        "GPTNeoXForCausalLM",
        "GemmaForCausalLM",
        "Gemma2ForCausalLM",
        "MixtralForCausalLM",
    ):
        assert arch in catalog.vllm_architectures


@pytest.mark.parametrize("row", SKU_FACTS, ids=[r[0] for r in SKU_FACTS])
def test_sku_facts(catalog: Catalog, row: tuple[Any, ...]) -> None:
    """Selected SKUs carry their GPU facts (no reference corpus needed)."""
    it, cloud, count, mem, model, vendor, nvme, cc, legacy = row
    sku = catalog.sku(it)
    assert (sku.cloud, sku.gpu_count, sku.gpu_memory_gib, sku.gpu_model) == (
        cloud,
        count,
        mem,
        model,
    )
    assert (sku.vendor, sku.nvme, sku.compute_capability, sku.legacy) == (vendor, nvme, cc, legacy)
    assert sku.gpu_memory_per_gpu_gib == mem / count


def test_sku_counts(catalog: Catalog) -> None:
    """57 current SKUs (14 Azure, 35 AWS, 8 Arc) plus 19 legacy Azure ones (15 of v0.6.2, 4 K80)."""
    current = [s for s in catalog.skus() if not s.legacy]
    assert len(current) == 57
    assert [len([s for s in current if s.cloud == c]) for c in ("azure", "aws", "arc")] == [
        14,
        35,
        8,
    ]
    assert len([s for s in catalog.skus() if s.legacy]) == 19


def test_compute_capability_by_vendor(catalog: Catalog) -> None:
    """NVIDIA SKUs have a compute capability; AMD and AWS accelerators have none."""
    for sku in catalog.skus():
        assert (sku.compute_capability is not None) == (sku.vendor == "nvidia"), sku.instance_type


def test_skus_sorted_by_cloud_then_name(catalog: Catalog) -> None:
    """skus() is sorted by (cloud, instance type); cloud filters work."""
    keys = [(s.cloud, s.instance_type) for s in catalog.skus()]
    assert keys == sorted(keys)
    assert {s.cloud for s in catalog.skus(cloud="arc")} == {"arc"}


@pytest.mark.parametrize(
    "name", ["standard_nc24ads_a100_v4", "STANDARD_NC24ADS_A100_V4", "Standard_NC24ads_A100_v4"]
)
def test_sku_lookup_case_insensitive(catalog: Catalog, name: str) -> None:
    """SKU lookup ignores case, as upstream's EqualFold."""
    assert catalog.sku(name).instance_type == "Standard_NC24ads_A100_v4"


def test_unknown_sku_wording(catalog: Catalog) -> None:
    """An unknown SKU lists the current SKUs, sorted, in upstream's wording."""
    with pytest.raises(UnknownSkuError) as info:
        catalog.sku("Standard_Nope", cloud="azure")
    message = str(info.value)
    prefix = "Unsupported instance type Standard_Nope. Supported SKUs: "
    assert message.startswith(prefix)
    listed = message[len(prefix) :].split(", ")
    assert listed == sorted(listed)
    assert len(listed) == 14
    assert "Standard_NC6s_v3" not in listed
    assert catalog.find_sku("Standard_Nope") is None


def test_sku_cloud_filter(catalog: Catalog) -> None:
    """A SKU of another cloud is unknown when a cloud is given."""
    assert catalog.find_sku("p4d.24xlarge", cloud="azure") is None
    assert catalog.sku("p4d.24xlarge", cloud="aws").cloud == "aws"


def test_values_are_frozen(catalog: Catalog) -> None:
    """Presets and SKUs cannot be mutated."""
    model = catalog.model("phi-4")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.name = "other"  # type: ignore[misc]
    sku = catalog.sku("g6.xlarge")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sku.gpu_count = 2  # type: ignore[misc]
    assert model.transformers is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.transformers.main_file = "x"  # type: ignore[misc]


def test_default_catalog_is_cached() -> None:
    """default_catalog() builds once and returns the same object."""
    assert default_catalog() is default_catalog()


def test_constants() -> None:
    """The base image tag and registry are upstream's defaults."""
    assert BASE_IMAGE_TAG == "0.5.0"
    assert DEFAULT_REGISTRY == "mcr.microsoft.com/aks/kaito"
    data = catalog_module._read_data("models.json")
    assert data["base_image_tag"] == BASE_IMAGE_TAG


@pytest.mark.parametrize(
    ("name", "runtimes", "tuning"),
    [
        ("phi-4", ("vllm", "transformers"), True),
        ("phi-4-mini-instruct", ("vllm",), True),
        ("mistral-7b", ("vllm", "transformers"), True),
        ("mistral-large-3-675b-instruct", ("vllm",), False),
        ("llama-3.3-70b-instruct", ("vllm", "transformers"), False),
        ("qwen3.5-2b", ("vllm",), False),
    ],
    ids=["phi-4", "phi-4-mini", "mistral-7b", "mistral-large", "llama-70b", "qwen3.5"],
)
def test_runtime_and_tuning_support(
    catalog: Catalog, name: str, runtimes: tuple[str, ...], tuning: bool
) -> None:
    """Runtimes and tuning support follow upstream's tables."""
    model = catalog.model(name)
    assert model.runtimes == runtimes
    assert (model.tuning is not None) is tuning
    assert (model.transformers is not None) is ("transformers" in runtimes)


def test_mistral_tuning_image_uses_legacy_name(catalog: Catalog) -> None:
    """mistral-7b tuning pulls kaito-mistral-7b (upstream looks up the wrong name and panics)."""
    model = catalog.model("mistral-7b")
    assert model.tuning is not None
    assert model.weights_image_name == "mistral-7b"
    assert model.tuning.weights_image_tag == "0.2.0"
    assert catalog.model("phi-4").weights_image_name == "phi-4"
    assert catalog.model("qwen3.5-2b").weights_image_name is None


def test_only_the_gated_llama_presets_require_a_token(catalog: Catalog) -> None:
    """meta-llama's repositories are gated on Hugging Face: those two presets need a
    modelAccessSecret (upstream v0.12 drops the flag, so they fail only at download)."""
    gated = {m.name for m in catalog.models() if m.download_auth_required}
    assert gated == {"llama-3.1-8b-instruct", "llama-3.3-70b-instruct"}


def test_every_preset_matches_reference(
    catalog: Catalog, reference_models: list[dict[str, Any]]
) -> None:
    """Every reference preset is in the catalog with the same facts."""
    assert len(reference_models) == 60
    for rec in reference_models:
        m = catalog.model(rec["hf_model_id"])
        assert m.name == rec["preset_name"]
        assert m.legacy_alias == rec["legacy_preset_alias"]
        assert m.family == rec["family"]
        assert m.architectures == tuple(rec["architectures"])
        assert m.runtimes == tuple(rec["runtimes"])
        assert m.model_file_size == rec["model_file_size"]
        assert m.weights_bytes == rec["total_safetensor_file_size_bytes"]
        assert f"{m.disk_gib}Gi" == rec["disk_storage_requirement"]
        assert m.token_limit == rec["model_token_limit"]
        assert m.bytes_per_token == rec["bytes_per_token"]
        assert m.attn_type == rec["attn_type"]
        assert m.dtype == rec["dtype"]
        assert m.quant_method == rec["quant_method"]
        assert m.tool_call_parser == rec["tool_call_parser"]
        assert m.reasoning_parser == rec["reasoning_parser"]
        assert m.chat_template == rec["chat_template"]
        assert dict(m.vllm_params) == rec["vllm_model_run_params"]
        assert m.hybrid_kv_cache == rec["hybrid_kv_cache_manager_required"]
        assert m.lmcache_disabled == rec["lmcache_cpu_offload_disabled"]
        assert m.requires_deepgemm == rec["requires_deepgemm"]
        assert m.requires_cuda_toolkit == rec["requires_cuda_toolkit"]
        assert abs(m.readiness_timeout_seconds / 60 - rec["readiness_timeout_minutes"]) < 0.02
        assert m.distributed == rec["support_distributed_inference"]
        assert m.download_at_runtime == rec["download_at_runtime"]
        assert m.download_auth_required == bool(
            rec["download_auth_required_v012"] or rec["legacy_download_auth_required"]
        )
        tfs = rec["transformers"]
        if tfs is None:
            assert m.transformers is None
        else:
            assert m.transformers is not None
            assert dict(m.transformers.model_run_params) == tfs["model_run_params"]
            assert dict(m.transformers.accelerate_params) == tfs["accelerate_params"]
            assert m.transformers.main_file == tfs["inference_main_file"]
        assert (m.tuning is not None) == rec["supports_tuning"]


def test_removed_presets_match_reference(
    catalog: Catalog, reference_removed: list[dict[str, Any]]
) -> None:
    """Removed reference presets are rejected: deprecated ones as such, others as unknown."""
    assert len(reference_removed) == 5
    for rec in reference_removed:
        if rec["supported_models_yaml"]["deprecated"]:
            with pytest.raises(DeprecatedModelError):
                catalog.model(rec["preset_name"])
        else:
            with pytest.raises(UnknownModelError):
                catalog.model(rec["preset_name"])


def _check_sku(catalog: Catalog, rec: dict[str, Any], *, legacy: bool) -> None:
    sku = catalog.sku(rec["instance_type"])
    assert sku.instance_type == rec["instance_type"]
    assert sku.cloud == rec["cloud"]
    assert sku.gpu_count == rec["gpu_count"]
    assert sku.gpu_memory_gib == rec["gpu_memory_total_gib"]
    assert sku.gpu_memory_per_gpu_gib == rec["gpu_memory_per_gpu_gib"]
    assert sku.gpu_model == rec["gpu_model"]
    assert sku.vendor == rec["accelerator_vendor"]
    assert sku.nvme == rec["nvme_disk_enabled"]
    assert sku.compute_capability == rec["cuda_compute_capability"]
    assert sku.legacy is legacy


def test_every_reference_sku_present(
    catalog: Catalog, reference_skus: list[dict[str, Any]]
) -> None:
    """Every SKU of skus.json is in the catalog with its facts."""
    assert len(reference_skus) == 57
    for rec in reference_skus:
        _check_sku(catalog, rec, legacy=False)


def test_every_legacy_sku_present(
    catalog: Catalog, reference_legacy_skus: list[dict[str, Any]]
) -> None:
    """Every SKU of skus-legacy.json is in the catalog, flagged legacy; the K80s are the rest."""
    for rec in reference_legacy_skus:
        _check_sku(catalog, rec, legacy=True)
    older = {s.instance_type for s in catalog.skus() if s.legacy} - {
        rec["instance_type"] for rec in reference_legacy_skus
    }
    assert older == set(K80_SKUS)


#: Azure's K80 NC-series (one GPU = half a K80 board, 12 GiB), in Azure/kaito's first SKU table
#: and gone before v0.6.2: kept so a Workspace naming one is told why not and what instead.
K80_SKUS = {
    "Standard_NC6": (1, 12),
    "Standard_NC12": (2, 24),
    "Standard_NC24": (4, 48),
    "Standard_NC24r": (4, 48),
}


@pytest.mark.parametrize("instance_type", sorted(K80_SKUS))
def test_k80_skus_are_legacy_with_compute_capability_3_7(
    catalog: Catalog, instance_type: str
) -> None:
    """Standard_NC6/12/24/24r resolve as legacy NVIDIA K80 SKUs with compute capability 3.7."""
    sku = catalog.sku(instance_type)
    assert (sku.gpu_count, sku.gpu_memory_gib) == K80_SKUS[instance_type]
    assert (sku.gpu_model, sku.vendor, sku.compute_capability, sku.legacy, sku.nvme) == (
        "NVIDIA K80",
        "nvidia",
        3.7,
        True,
        False,
    )


def test_catalog_rejects_dangling_alias() -> None:
    """An alias to a model not in the catalog is a construction error."""
    with pytest.raises(ValueError, match="not in the catalog"):
        make_catalog(aliases={"x": "nobody/nothing"})


def test_catalog_rejects_duplicate_names() -> None:
    """Two presets with the same name are a construction error."""
    with pytest.raises(ValueError, match="both named"):
        make_catalog(models=[make_model(), make_model()])


def test_catalog_rejects_duplicate_skus() -> None:
    """The same instance type twice (any case) is a construction error."""
    with pytest.raises(ValueError, match="listed twice"):
        make_catalog(skus=[make_sku(), make_sku(instance_type="STANDARD_NC24ADS_A100_V4")])


def test_small_catalog_factory() -> None:
    """make_catalog() gives a working catalog with an alias and a legacy SKU."""
    small = make_catalog()
    assert small.model("tiny").name == "tiny-model-8b"
    assert small.model("example/tiny-model-8b") is small.model("TINY")
    assert small.sku("standard_nc6s_v3").legacy
    with pytest.raises(DeprecatedModelError):
        small.model("phi-2")


@pytest.mark.parametrize(
    "module",
    [kaito_presets, catalog_module, metadata_module, models_module, skus_module, testing_module],
    ids=lambda m: m.__name__,
)
def test_all_is_sorted_and_complete(module: Any) -> None:
    """Each module's __all__ is sorted (isort-style) and names real attributes."""
    names = list(module.__all__)
    for name in names:
        assert hasattr(module, name), name
    key = [(0 if n.isupper() else 1 if n[:1].isupper() else 2, n) for n in names]
    assert key == sorted(key)
