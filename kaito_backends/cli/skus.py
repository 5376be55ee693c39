"""``kaito skus``: the GPU instance-type catalog."""

from kaito_backends.cli.catalog import register_skus as register
from kaito_backends.cli.catalog import run_skus as run

__all__ = ["register", "run"]
