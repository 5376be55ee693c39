"""``kaito presets``: the model catalog."""

from kaito_backends.cli.catalog import register_presets as register
from kaito_backends.cli.catalog import run_presets as run

__all__ = ["register", "run"]
