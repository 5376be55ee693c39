"""Names and labels of the AKS agent pool of a Workspace (or another kind that makes machines).

AKS agent-pool names match ``^[a-z][a-z0-9]{0,11}$`` (Linux pools). A Workspace's pool is
``ws`` + the first 10 characters of the lower-cased base32 of sha256(``<namespace>/<name>``):
12 characters, starting with a letter, the same for the Workspace forever, so an engine that
restarts finds the pool it started (50 bits of hash: collisions need about 2^25 Workspaces).
Another kind's pool (a RAGEngine's) is keyed by its kind too: the kind's first two letters
(``ra``) + 10 characters of the base32 of sha256(``<Kind>/<namespace>/<name>``), so a RAGEngine
and a Workspace of one name never share a pool (Workspace names are unchanged, for existing
installs).

The pool is tagged with the object it serves: a Workspace's with `TAG_WORKSPACE` and
`TAG_WORKSPACE_NAMESPACE` (as before), another kind's with `TAG_KIND`, `TAG_NAME` and
`TAG_NAMESPACE`; a pool of the right name with other tags is not ours and is never changed or
deleted. Tag names cannot hold ``/``, hence the dashes.
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
    "TAG_KIND",
    "TAG_MANAGED_BY",
    "TAG_NAME",
    "TAG_NAMESPACE",
    "TAG_WORKSPACE",
    "TAG_WORKSPACE_NAMESPACE",
    "owner_tags",
    "pool_name",
]

#: What AKS accepts as a (Linux) agent-pool name.
POOL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,11}$")
#: The label AKS puts on every node of a pool.
LABEL_AGENTPOOL = "kubernetes.azure.com/agentpool"

TAG_MANAGED_BY = "kaito-managed-by"
TAG_WORKSPACE = "kaito-workspace"
TAG_WORKSPACE_NAMESPACE = "kaito-workspace-namespace"
#: The owner of a pool that is not a Workspace's: its kind, name and namespace.
TAG_KIND = "kaito-kind"
TAG_NAME = "kaito-name"
TAG_NAMESPACE = "kaito-namespace"
_WORKSPACE = "Workspace"
#: NodeClaim names ``<stem>-0`` ... ``<stem>-<count-1>`` (what the planner renders).
TAG_CLAIM_STEM = "kaito-nodeclaim-stem"
#: Any other NodeClaim names, comma-separated (ARM tag values hold 256 characters).
TAG_CLAIMS = "kaito-nodeclaims"

_HASH_CHARS = 10


def pool_name(key: Key) -> str:
    """The agent-pool name of a key: a Workspace's ``ws`` + 10 base32 characters (e.g.
    ``wsq3k7b2mfxa``), another kind's its first two letters + 10 (a RAGEngine's ``ra...``)."""
    if key.kind == _WORKSPACE:
        prefix, seed = "ws", f"{key.namespace}/{key.name}"
    else:
        letters = "".join(c for c in key.kind.lower() if "a" <= c <= "z")
        prefix, seed = (letters + "kp")[:2], f"{key.kind}/{key.namespace}/{key.name}"
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + base64.b32encode(digest).decode("ascii").lower()[:_HASH_CHARS]


def owner_tags(key: Key) -> dict[str, str]:
    """The tags naming the owner of a pool (see the module docstring)."""
    if key.kind == _WORKSPACE:
        return {TAG_WORKSPACE: key.name, TAG_WORKSPACE_NAMESPACE: key.namespace}
    return {TAG_KIND: key.kind, TAG_NAME: key.name, TAG_NAMESPACE: key.namespace}
