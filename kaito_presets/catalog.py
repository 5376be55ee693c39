"""The catalog: model presets and GPU SKUs, looked up by name.

Pure: no I/O, no clock, no logging. The shipped data files are package data read with
`importlib.resources`; nothing else is read.

Name resolution follows upstream ``GetModelByName`` (case-insensitive): a legacy short alias is
rewritten to its Hugging Face id; a registered preset is returned; an ``org/name`` id that is not in
the catalog goes to the `MetadataSource`, if one is configured, and is accepted only if one of its
architectures is in the vLLM allow-list. Unlike upstream, a preset's served name
(``gemma-3-4b-it``) is registered too, next to its Hugging Face id.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import cattrs

from kaito_presets.models import ModelPreset, Params, sorted_params
from kaito_presets.skus import GpuSku
from kaito_presets.suggestions import closest, did_you_mean

if TYPE_CHECKING:
    from kaito_presets.metadata import MetadataSource

__all__ = [
    "BASE_IMAGE_NAME",
    "BASE_IMAGE_TAG",
    "DEFAULT_REGISTRY",
    "Catalog",
    "CatalogError",
    "DeprecatedModelError",
    "UnknownModelError",
    "UnknownSkuError",
    "UnsupportedArchitectureError",
    "default_catalog",
    "is_hf_id",
    "shipped_vllm_architectures",
]

#: Tag of the ``kaito-base`` image every preset runs in (vLLM 0.25.1, transformers 5.14.1).
BASE_IMAGE_TAG = "0.5.0"
BASE_IMAGE_NAME = "kaito-base"
#: Upstream chart default for ``PRESET_REGISTRY_NAME``.
DEFAULT_REGISTRY = "mcr.microsoft.com/aks/kaito"


#: SKU names share long prefixes (``Standard_N``), so only a near-identical one is suggested.
_SKU_CUTOFF = 0.8


def _short_sku(name: str) -> str:
    return name[len("standard_") :] if name.lower().startswith("standard_") else name


class CatalogError(LookupError):
    """A name the catalog cannot resolve. `str()` is the message shown to users."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnknownModelError(CatalogError):
    """No preset, alias or resolvable Hugging Face id has this name."""

    def __init__(self, name: str, *, hint: str = "") -> None:
        super().__init__(f"Unsupported inference preset name {name}{hint}")
        self.name = name


class DeprecatedModelError(CatalogError):
    """The name was a preset once and is now marked deprecated (phi-2)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Model {name} is deprecated and no longer supported")
        self.name = name


class UnknownSkuError(CatalogError):
    """The instance type is not in the SKU table."""

    def __init__(self, instance_type: str, supported: Iterable[str]) -> None:
        self.supported = tuple(sorted(supported))
        listed = ", ".join(self.supported)
        super().__init__(f"Unsupported instance type {instance_type}. Supported SKUs: {listed}")
        self.instance_type = instance_type


class UnsupportedArchitectureError(CatalogError):
    """None of the model's architectures is one vLLM can run."""

    def __init__(self, hf_id: str, architectures: Iterable[str]) -> None:
        self.architectures = tuple(architectures)
        super().__init__(
            f"unsupported model architecture {', '.join(self.architectures)} of model {hf_id}: "
            "none is in the vLLM architecture allow-list"
        )
        self.hf_id = hf_id


def is_hf_id(name: str) -> bool:
    """True for ``org/name`` with both parts non-empty (upstream's test for a Hugging Face id)."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts)


class Catalog:
    """An immutable set of model presets and GPU SKUs with case-insensitive lookups."""

    __slots__ = (
        "_aliases",
        "_by_key",
        "_deprecated",
        "_metadata_source",
        "_models",
        "_removed",
        "_skus",
        "_skus_by_key",
        "_vllm_architectures",
    )

    def __init__(
        self,
        *,
        models: Iterable[ModelPreset],
        skus: Iterable[GpuSku],
        aliases: Mapping[str, str],
        deprecated: Iterable[str],
        removed: Iterable[str],
        metadata_source: MetadataSource | None = None,
        vllm_architectures: frozenset[str] | None = None,
    ) -> None:
        """Build and check the indexes; `vllm_architectures` defaults to the shipped allow-list."""
        self._models = tuple(sorted(models, key=lambda m: m.name))
        by_key: dict[str, ModelPreset] = {}
        for model in self._models:
            for key in (model.name, model.repo):
                other = by_key.get(key)
                if other is not None and other is not model:
                    raise ValueError(f"two presets are both named {key!r}")
                by_key[key] = model
        alias_map: dict[str, str] = {}
        for alias, target in aliases.items():
            target_key = target.lower()
            resolved = by_key.get(target_key)
            if resolved is None:
                raise ValueError(
                    f"alias {alias!r} points at {target!r}, which is not in the catalog"
                )
            clash = by_key.get(alias.lower())
            if clash is not None and clash is not resolved:
                raise ValueError(f"alias {alias!r} shadows preset {clash.name!r}")
            alias_map[alias.lower()] = resolved.repo
        self._by_key = MappingProxyType(by_key)
        self._aliases = MappingProxyType(dict(sorted(alias_map.items())))
        self._skus = tuple(sorted(skus, key=lambda s: (s.cloud, s.instance_type)))
        skus_by_key: dict[str, GpuSku] = {}
        for sku in self._skus:
            key = sku.instance_type.lower()
            if key in skus_by_key:
                raise ValueError(f"instance type {sku.instance_type!r} is listed twice")
            skus_by_key[key] = sku
        self._skus_by_key = MappingProxyType(skus_by_key)
        self._deprecated = frozenset(n.lower() for n in deprecated)
        self._removed = frozenset(n.lower() for n in removed)
        self._metadata_source = metadata_source
        self._vllm_architectures = (
            shipped_vllm_architectures() if vllm_architectures is None else vllm_architectures
        )

    def __repr__(self) -> str:
        return f"<Catalog {len(self._models)} models, {len(self._skus)} SKUs>"

    # -- models ------------------------------------------------------------------------------

    def model(self, name: str) -> ModelPreset:
        """The preset called `name` (HF id, preset name or legacy alias, any case).

        Raises `DeprecatedModelError` for deprecated names, `UnsupportedArchitectureError` for a
        Hugging Face model vLLM cannot run, and `UnknownModelError` otherwise.
        """
        key = name.lower()
        if key in self._deprecated:
            raise DeprecatedModelError(name)
        if key not in self._removed:
            found = self._by_key.get(self._aliases.get(key, key))
            if found is not None:
                return found
            if is_hf_id(name) and self._metadata_source is not None:
                preset = self._metadata_source.lookup(name)
                if preset is not None:
                    self.check_architectures(preset)
                    return preset
        raise UnknownModelError(name, hint=self.preset_name_hint(name))

    def similar_model_names(self, name: str, *, limit: int = 3) -> tuple[str, ...]:
        """Preset names and aliases most like `name` (`kaito_presets.suggestions.closest`)."""
        return closest(name, self._suggestable_names(), limit=limit)

    def preset_name_hint(self, name: str) -> str:
        """What to append to "unsupported preset name": ``; did you mean phi-4-mini-instruct?
        (see `kaito presets`)``, or only the pointer to ``kaito presets``."""
        suggestion = did_you_mean(self.similar_model_names(name))
        if suggestion:
            return f"; {suggestion} (see `kaito presets`)"
        return "; see `kaito presets` for the supported names"

    def _suggestable_names(self) -> tuple[str, ...]:
        return (*(m.name for m in self._models), *self._aliases)

    def find_model(self, name: str) -> ModelPreset | None:
        """Like `model`, but None instead of any `CatalogError`."""
        try:
            return self.model(name)
        except CatalogError:
            return None

    def is_valid_preset_name(self, name: str) -> bool:
        """Upstream ``IsValidPreset``: a registered name, a legacy alias, or any ``org/name``."""
        key = name.lower()
        return key in self._by_key or key in self._aliases or is_hf_id(name)

    def is_deprecated(self, name: str) -> bool:
        """True for names marked deprecated (phi-2)."""
        return name.lower() in self._deprecated

    def is_removed(self, name: str) -> bool:
        """True for short names of presets removed in v0.12 (falcon-*)."""
        return name.lower() in self._removed

    def models(self) -> tuple[ModelPreset, ...]:
        """Every catalog preset, sorted by name (metadata-source models are not listed)."""
        return self._models

    def supports_architectures(self, architectures: Iterable[str]) -> bool:
        """True if no architecture is declared or at least one is in the vLLM allow-list."""
        archs = tuple(architectures)
        return not archs or any(a in self._vllm_architectures for a in archs)

    def check_architectures(self, preset: ModelPreset) -> None:
        """Raise `UnsupportedArchitectureError` if vLLM cannot run `preset`."""
        if not self.supports_architectures(preset.architectures):
            raise UnsupportedArchitectureError(preset.hf_id, preset.architectures)

    @property
    def aliases(self) -> Mapping[str, str]:
        """Legacy alias -> lower-cased Hugging Face id."""
        return self._aliases

    @property
    def deprecated(self) -> frozenset[str]:
        return self._deprecated

    @property
    def removed(self) -> frozenset[str]:
        return self._removed

    @property
    def metadata_source(self) -> MetadataSource | None:
        return self._metadata_source

    @property
    def vllm_architectures(self) -> frozenset[str]:
        return self._vllm_architectures

    def with_metadata_source(self, source: MetadataSource) -> Catalog:
        """A copy of this catalog that resolves unknown ``org/name`` ids through `source`."""
        return Catalog(
            models=self._models,
            skus=self._skus,
            aliases=self._aliases,
            deprecated=self._deprecated,
            removed=self._removed,
            metadata_source=source,
            vllm_architectures=self._vllm_architectures,
        )

    # -- SKUs --------------------------------------------------------------------------------

    def sku(self, instance_type: str, *, cloud: str | None = None) -> GpuSku:
        """The SKU called `instance_type` (any case), optionally only from `cloud`.

        Raises `UnknownSkuError`, listing the current (non-legacy) SKUs as upstream does.
        """
        found = self.find_sku(instance_type, cloud=cloud)
        if found is None:
            supported = (s.instance_type for s in self.skus(cloud=cloud) if not s.legacy)
            raise UnknownSkuError(instance_type, supported)
        return found

    def find_sku(self, instance_type: str, *, cloud: str | None = None) -> GpuSku | None:
        """Like `sku`, but None when unknown."""
        found = self._skus_by_key.get(instance_type.lower())
        if found is None or (cloud is not None and found.cloud != cloud):
            return None
        return found

    def canonical_instance_type(self, instance_type: str) -> str:
        """The catalog's spelling of `instance_type` (``standard_nc24ads_a100_v4`` ->
        ``Standard_NC24ads_A100_v4``), or `instance_type` itself when the catalog does not know
        it. Lookups ignore case; nodes are labelled with this spelling, so it is the one name a
        workspace is rendered, provisioned and matched with."""
        found = self._skus_by_key.get(instance_type.lower())
        return found.instance_type if found is not None else instance_type

    def similar_instance_types(
        self, instance_type: str, *, cloud: str | None = None, limit: int = 1
    ) -> tuple[str, ...]:
        """Instance types of `cloud` (legacy ones too) most like `instance_type`, compared
        without Azure's ``Standard_`` prefix (which every Azure name shares)."""
        by_short = {_short_sku(s.instance_type): s.instance_type for s in self.skus(cloud=cloud)}
        exact = {short.lower(): name for short, name in by_short.items()}
        if _short_sku(instance_type).lower() in exact:  # the prefix left off (NC24ads_A100_v4)
            return (exact[_short_sku(instance_type).lower()],)
        found = closest(_short_sku(instance_type), by_short, limit=limit, cutoff=_SKU_CUTOFF)
        return tuple(by_short[name] for name in found)

    def skus(self, *, cloud: str | None = None) -> tuple[GpuSku, ...]:
        """Every SKU (legacy ones included), sorted by (cloud, instance type)."""
        if cloud is None:
            return self._skus
        return tuple(s for s in self._skus if s.cloud == cloud)


# -- the shipped data ----------------------------------------------------------------------------

_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook_func(
    lambda t: t == Params, lambda value, _: sorted_params(value)
)


def _read_data(name: str) -> Any:
    text = (resources.files("kaito_presets") / "data" / name).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def shipped_vllm_architectures() -> frozenset[str]:
    """The vLLM architecture allow-list shipped with the package."""
    data = _read_data("vllm_architectures.json")
    return frozenset(_converter.structure(data["architectures"], list[str]))


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog (60 presets, current and legacy SKUs), built once."""
    models = _read_data("models.json")
    skus = _read_data("skus.json")
    return Catalog(
        models=_converter.structure(models["models"], list[ModelPreset]),
        skus=_converter.structure(skus["skus"], list[GpuSku]),
        aliases=_converter.structure(models["aliases"], dict[str, str]),
        deprecated=_converter.structure(models["deprecated"], list[str]),
        removed=_converter.structure(models["removed"], list[str]),
        vllm_architectures=shipped_vllm_architectures(),
    )
