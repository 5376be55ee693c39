"""Names and labels of a Workspace's AKS agent pool.

AKS agent-pool names match ``^[a-z][a-z0-9]{0,11}$`` (Linux pools). A Workspace's pool is
``ws`` + the first 10 characters of the lower-cased base32 of sha256(``<namespace>/<name>``):
12 characters, starting with a letter, the same for the Workspace forever, so an engine that
restarts finds the pool it started (50 bits of hash: collisions need about 2^25 Workspaces).

The pool is tagged with the Workspace it serves (`TAG_WORKSPACE`, `TAG_WORKSPACE_NAMESPACE`); a
pool of the right name with other tags is not ours and is never changed or deleted. Tag names
cannot hold ``/``, hence the dashes.
"""

from __future__ import annotations

import base64
import hashlib
import re

from kaito_backends.objects import Key

__all__ = [
    "LABEL_AGENTPOOL",
    "POOL_NAME_PATTERN",
    "TAG_CLAIMS",
    "TAG_CLAIM_STEM",
    "TAG_MANAGED_BY",
    "TAG_WORKSPACE",
    "TAG_WORKSPACE_NAMESPACE",
    "pool_name",
]

#: What AKS accepts as a (Linux) agent-pool name.
POOL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,11}$")
#: The label AKS puts on every node of a pool.
LABEL_AGENTPOOL = "kubernetes.azure.com/agentpool"

TAG_MANAGED_BY = "kaito-managed-by"
TAG_WORKSPACE = "kaito-workspace"
TAG_WORKSPACE_NAMESPACE = "kaito-workspace-namespace"
#: NodeClaim names ``<stem>-0`` ... ``<stem>-<count-1>`` (what the planner renders).
TAG_CLAIM_STEM = "kaito-nodeclaim-stem"
#: Any other NodeClaim names, comma-separated (ARM tag values hold 256 characters).
TAG_CLAIMS = "kaito-nodeclaims"

_HASH_CHARS = 10


def pool_name(key: Key) -> str:
    """The agent-pool name of a Workspace: ``ws`` + 10 base32 characters, e.g. ``wsq3k7b2mfxa``."""
    digest = hashlib.sha256(f"{key.namespace}/{key.name}".encode()).digest()
    return "ws" + base64.b32encode(digest).decode("ascii").lower()[:_HASH_CHARS]
