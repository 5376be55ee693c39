"""Data-source URLs: where a tuning Job's downloader may be sent.

Pure: no I/O, no clock, no logging.

The downloader (``curl`` in an init container, inside the cluster) fetches each URL with the
pod's network access, so a URL is a server-side request the user makes with the cluster's
reach. `url_problem` refuses what it can see from the text alone, reading the host the way curl
(libidn2, UTS #46) and browsers (WHATWG URL) read it, so a spelling cannot slip past:

1. **Host normalisation.** Percent-escapes are decoded; ideographic and fullwidth full stops
   (U+3002, U+FF0E, U+FF61) become ``.``; the host is NFKC-normalised and case-folded
   (fullwidth digits and full stops, circled digits such as U+2460 and fullwidth letters
   read as the ASCII they spell: the address 169.254.169.254, the name ``localhost``). A host
   with characters UTS #46 ignores or forbids (format and control characters, spaces,
   variation selectors) or with URL delimiters left after decoding is an invalid URL, not a
   host to guess at. UTS #46's remaining mappings only concern non-ASCII
   names, which can spell neither an address nor one of the names below.
2. **Addresses.** A host that reads as an IP address (including ``inet_aton`` spellings:
   ``2130706433``, ``0x7f.1``, ``127.1``) must be globally routable: loopback, private,
   link-local, unspecified, reserved, multicast, documentation, benchmarking and
   **100.64.0.0/10** (carrier-grade NAT; some clusters give pods these addresses) are refused.
   IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped
   (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), **NAT64** (``64:ff9b::/96``; the local
   NAT64 prefix ``64:ff9b:1::/48`` is refused outright) and 6to4 (``2002::/16``); Teredo
   (``2001::/32``) is not globally routable and so refused.
3. **Names.** ``localhost`` and ``*.localhost``; cloud metadata names (``metadata``,
   ``instance-data``, ``metadata.google.internal``, ``metadata.azure.com``, ...); in-cluster
   names: any single-label name (pods resolve it through the namespace's search domains),
   ``kubernetes.default``, and names under ``svc``, ``cluster.local``, ``local``, ``internal``,
   ``localdomain`` and ``home.arpa``.

What text cannot show (a public name that resolves to a private address, an HTTP redirect to
one, a ``service.namespace`` name caught by the pod's DNS search path) is for the cluster's
egress policy; ``docs/security.md`` says so.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = [
    "MSG_BAD_URL",
    "MSG_CLUSTER",
    "MSG_LOCAL",
    "MSG_PRIVATE",
    "MSG_SCHEME",
    "canonical_host",
    "host_address",
    "url_problem",
]

MSG_BAD_URL = "invalid data source URL"
MSG_SCHEME = "data source URL must use HTTP or HTTPS"
MSG_LOCAL = "data source URL must not target a local or metadata endpoint"
MSG_PRIVATE = "data source URL must not target a loopback, private, or link-local address"
MSG_CLUSTER = "data source URL must not target an in-cluster or private-network name"

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
#: Characters UTS #46 maps to nothing (or that no host holds): refused rather than dropped.
_IGNORED = re.compile("[\u034f\u180b-\u180f\u200b-\u200f\u2060-\u206f\ufe00-\ufe0f\ufeff]")
_DELIMITERS = frozenset("/\\@?#%:[] ")

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google",
        "metadata.google.internal",
        "metadata.azure.com",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.packet.net",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_CLUSTER_NAMES = frozenset({"kubernetes.default", "kubernetes.default.svc"})
_CLUSTER_SUFFIXES = ("svc", "cluster.local", "local", "internal", "localdomain", "home.arpa")

_NUMERIC_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``inet_aton`` reading of a host: 1-4 dot-separated decimal, octal or hex numbers."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.fullmatch(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            if len(part) == 2:
                return None
            values.append(int(part, 16))
        else:
            values.append(int(part, 8 if part.startswith("0") else 10))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (5 - len(values)) + last
    return ipaddress.IPv4Address(number)


def canonical_host(host: str) -> str | None:
    """`host` as curl and browsers resolve it (see the module docstring), without a trailing
    dot; None when it is not a host name at all.

    Pure: no I/O, no clock, no logging.
    """
    text = unquote(host, errors="strict") if "%" in host else host
    text = unicodedata.normalize("NFKC", text.translate(_DOTS)).casefold().translate(_DOTS)
    if _IGNORED.search(text) or any(
        c in _DELIMITERS or unicodedata.category(c)[0] in "CZ" for c in text
    ):
        return None
    text = text.rstrip(".")
    if not text or ".." in text:
        return None
    return text


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host, if it is such a form."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _is_public(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _is_public(embedded)
    elif ip in _CGNAT:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def _address(host: str, bracketed: bool) -> Address | None:
    if bracketed:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _numeric_ipv4(host)


def host_address(host: str) -> Address | None:
    """The IP address `host` spells as curl reads it (``[v6]``, dotted, ``2130706433``,
    ``0x7f.1``), the IPv4 address an IPv6 form carries to an IPv4 host (mapped, NAT64, 6to4),
    or None for a name.

    Pure: no I/O, no clock, no logging.
    """
    bracketed = host.startswith("[") and host.endswith("]")
    ip = _address(host[1:-1] if bracketed else host, bracketed)
    if isinstance(ip, ipaddress.IPv6Address):
        return _embedded_ipv4(ip) or ip
    return ip


def _split(url: str) -> tuple[SplitResult, str] | None:
    if not url or "\\" in url or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or not host or parts.netloc.count("@") > 1:
        return None
    return parts, host


def _name_problem(host: str) -> str | None:
    if host in _LOCAL_NAMES or host.endswith(".localhost") or host in _METADATA_NAMES:
        return MSG_LOCAL
    if "." not in host or host in _CLUSTER_NAMES:
        return MSG_CLUSTER
    if any(host == s or host.endswith("." + s) for s in _CLUSTER_SUFFIXES):
        return MSG_CLUSTER
    return None


def url_problem(url: str) -> str | None:
    """Why `url` may not be used as a data source (upstream wording), or None if it may.

    Pure: no I/O, no clock, no logging.
    """
    split = _split(url)
    if split is None:
        return MSG_BAD_URL
    parts, raw_host = split
    if parts.scheme.lower() not in ("http", "https"):
        return MSG_SCHEME
    bracketed = "[" in parts.netloc
    try:
        host = raw_host if bracketed else canonical_host(raw_host)
    except UnicodeDecodeError:
        return MSG_BAD_URL
    if host is None:
        return MSG_BAD_URL
    if host in _LOCAL_NAMES:
        return MSG_LOCAL
    ip = _address(host, bracketed)
    if ip is not None:
        return None if _is_public(ip) else MSG_PRIVATE
    if bracketed:
        return MSG_BAD_URL
    return _name_problem(host)
