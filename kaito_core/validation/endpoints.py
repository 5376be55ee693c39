"""URLs a RAG service calls: the inference endpoint, a remote embedding service, a vector database.

Pure: no I/O, no clock, no logging.

The RAG service sends user queries (and, with an ``accessSecret``, a bearer token) to these URLs
from inside the cluster, so a URL is a request the cluster makes on the author's behalf. What is
allowed, and why:

- ``http`` and ``https`` only, with a host; at most 2048 characters; no spaces or control
  characters.
- **In-cluster addresses are allowed**: a Service name (``http://phi-3``,
  ``http://phi-3.team-a.svc.cluster.local/v1/chat/completions``), a ClusterIP, a private address.
  Pointing at a KAITO Workspace's Service is the normal case, unlike tuning data URLs, which
  must be public.
- **Refused**: the pod itself (``localhost``, ``*.localhost``, loopback addresses: the RAG
  service would call itself), the unspecified address, link-local addresses (``169.254.0.0/16``,
  ``fe80::/10``: cloud instance metadata lives there and hands out node credentials), cloud
  metadata host names and Azure's platform endpoint ``168.63.129.16``. Numeric spellings a
  resolver accepts (``2130706433``, ``0x7f.1``) are read as the addresses they are.
- **No credentials in the URL** (``user:password@host``): the URL is stored in the Deployment's
  environment in plain text; a token belongs in a Secret named by ``accessSecret``.
- **No fragment** (never sent to a server) and no ``$(...)``: Kubernetes expands ``$(NAME)`` in
  an environment value with another variable of the pod, e.g. a Secret's value.
- **Placeholders** copied from an example (``<inference-url>``, ``{{ url }}``, ``${URL}``,
  ``INFERENCE_URL_HERE``, ``your-service``) are reported as placeholders, saying what to put
  there. `is_placeholder` and `placeholder_problem` are the one check every field uses (image
  references, Secret names, tuning URLs and instance types of Workspaces too).

Host names are not resolved (the core does no I/O): a public name that resolves to a private
address is not caught here.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from kaito_core.validation.names import quote
from kaito_core.validation.urls import canonical_host, host_address

__all__ = [
    "EXAMPLE_EMBEDDING_URL",
    "EXAMPLE_INFERENCE_URL",
    "EXAMPLE_VECTOR_DB_URL",
    "MAX_URL_LENGTH",
    "endpoint_problem",
    "is_placeholder",
    "placeholder_problem",
]

MAX_URL_LENGTH = 2048
EXAMPLE_INFERENCE_URL = "http://<workspace>.<namespace>.svc.cluster.local/v1/chat/completions"
EXAMPLE_EMBEDDING_URL = "http://<embedding-service>.<namespace>.svc.cluster.local/embed"
EXAMPLE_VECTOR_DB_URL = "http://qdrant.<namespace>.svc.cluster.local:6333"

_PLACEHOLDER = re.compile(r"<[^<>]*>|\{\{.*?\}\}|\$\{[^}]*\}")
_PLACEHOLDER_WORD = re.compile(
    r"[_-]here(?![a-z0-9])|(?<![a-z0-9])your[_-]|(?<![a-z0-9])(?:replace|change)[_-]?me(?![a-z0-9])",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)?(//)?[^/?#@]*@")
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.google",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
    }
)
#: Azure's platform endpoint (DHCP, DNS, health probes, the guest agent's wire server).
_AZURE_WIRESERVER = ipaddress.IPv4Address("168.63.129.16")


def is_placeholder(value: str) -> bool:
    """True when `value` holds an example placeholder, in any case: ``<...>`` (any ``<`` or
    ``>``), ``{{...}}``, ``${...}``, a word ending in ``_HERE`` or ``-HERE``
    (``ACR_REPO_HERE``, ``acr_repo_here``), a word starting with ``YOUR_`` or ``YOUR-``
    (``your-registry``), or ``REPLACE_ME`` / ``CHANGE_ME``.

    Names under the reserved example domains (``example.com``) are not called placeholders:
    they are well-formed, and documentation and tests use them as stand-ins.

    Pure: no I/O, no clock, no logging.
    """
    return (
        "<" in value
        or ">" in value
        or bool(_PLACEHOLDER.search(value))
        or bool(_PLACEHOLDER_WORD.search(value))
    )


def placeholder_problem(value: str, *, replacement: str) -> str | None:
    """``"X" looks like a placeholder from an example; replace it with <replacement>`` when
    `value` is a placeholder (`is_placeholder`), else None. The value is in the message.

    Pure: no I/O, no clock, no logging.
    """
    if not is_placeholder(value):
        return None
    return (
        f"{_shown(value)} looks like a placeholder from an example; replace it with {replacement}"
    )


def _shown(url: str) -> str:
    """`url` quoted for a message, with any ``user:password@`` replaced by ``***@``."""
    return quote(_USERINFO.sub(lambda m: f"{m.group(1) or ''}{m.group(2) or ''}***@", url, count=1))


def _host_problem(raw: str) -> str | None:
    # urlsplit gives an IPv6 literal without its brackets; anything else is read as curl does.
    host = raw.lower() if ":" in raw else canonical_host(raw)
    if host is None:
        return f"{quote(raw)} is not a valid host name"
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return (
            f"must not point at {host}: it is the RAG service's own pod; use the address of "
            "the service it should call"
        )
    if host in _METADATA_HOSTS:
        return f"must not point at the cloud metadata endpoint {host}"
    ip = host_address(host.split("%", 1)[0])
    if ip is None:
        return None
    if ip.is_loopback:
        return (
            f"must not point at the loopback address {ip}: it is the RAG service's own pod; "
            "use the address of the service it should call"
        )
    if ip.is_unspecified:
        return f"must not point at the unspecified address {ip}"
    if ip.is_link_local:
        return (
            f"must not point at the link-local address {ip}: cloud instance metadata lives "
            "there, and a pod has no business calling it"
        )
    if ip == _AZURE_WIRESERVER:
        return f"must not point at the Azure platform endpoint {ip}"
    if ip.is_multicast or ip.is_reserved:
        return f"must not point at the reserved or multicast address {ip}"
    return None


def endpoint_problem(url: str, *, example: str) -> str | None:
    """Why the RAG service may not call `url`, or None; `example` is a URL of the right shape,
    shown when `url` is a placeholder or not a URL at all.

    Pure: no I/O, no clock, no logging.
    """
    if not url:
        return f"required: a URL such as {example}"
    if is_placeholder(url):
        return (
            f"{_shown(url)} looks like a placeholder from an example; replace it with a real URL, "
            f"such as {example}"
        )
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters, got {len(url)}"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return f"{_shown(url)} must not contain spaces or control characters"
    if "$(" in url:
        return (
            f'{_shown(url)} must not contain "$(": Kubernetes expands $(NAME) in an environment '
            "value with another variable of the pod"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        return f"{_shown(url)} is not a valid URL: {exc}"
    scheme = parts.scheme.lower()
    if scheme and scheme not in ("http", "https") and url[len(scheme) :].startswith("://"):
        return f'scheme "{parts.scheme}" is not supported; use http or https'
    if not scheme or not parts.netloc:
        return f"{_shown(url)} is not an absolute URL; it needs a scheme and a host, like {example}"
    if "@" in parts.netloc:
        return (
            "must not contain credentials (user:password@): the URL is stored in plain text in "
            "the Deployment; put the token in a Secret and name it in accessSecret"
        )
    if not host:
        return f"{_shown(url)} has no host"
    if parts.fragment or url.endswith("#"):
        return f"{_shown(url)} must not contain a fragment (#...); it is never sent to the server"
    return _host_problem(host)
