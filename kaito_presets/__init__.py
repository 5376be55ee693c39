"""KAITO model presets and GPU SKU catalogs: the bottom layer of kaito-py.

Pure: no I/O, no clock, no logging. Data files are package data read with `importlib.resources`.
"""

from kaito_presets.catalog import (
    BASE_IMAGE_NAME,
    BASE_IMAGE_TAG,
    DEFAULT_REGISTRY,
    Catalog,
    CatalogError,
    DeprecatedModelError,
    UnknownModelError,
    UnknownSkuError,
    UnsupportedArchitectureError,
    default_catalog,
    is_hf_id,
)
from kaito_presets.metadata import MetadataError, MetadataSource, OfflineMetadataSource
from kaito_presets.models import GIB, ModelPreset, Params, TransformersSupport, TuningSupport
from kaito_presets.skus import GpuSku

__all__ = [
    "BASE_IMAGE_NAME",
    "BASE_IMAGE_TAG",
    "DEFAULT_REGISTRY",
    "GIB",
    "Catalog",
    "CatalogError",
    "DeprecatedModelError",
    "GpuSku",
    "MetadataError",
    "MetadataSource",
    "ModelPreset",
    "OfflineMetadataSource",
    "Params",
    "TransformersSupport",
    "TuningSupport",
    "UnknownModelError",
    "UnknownSkuError",
    "UnsupportedArchitectureError",
    "default_catalog",
    "is_hf_id",
]
