"""Where tuning data and adapters come from, and where tuning results go.

Pure: no I/O, no clock, no logging.

Three checks, used by the tuning and adapter rules:

* URLs must be plain ``http(s)`` URLs that do not point at the node itself, the cluster's private
  network, an in-cluster name or a cloud metadata endpoint (the data downloader would fetch them
  from inside the cluster): `kaito_core.validation.urls`.
* Image references must parse with the Docker reference grammar (`distribution/reference`
  ``ParseDockerRef``).
* Exactly one kind of source (URLs, volume or image) and of destination (volume or image).
"""

from __future__ import annotations

import re

from kaito_core.api.types import DataDestination, DataSource
from kaito_core.errors import FieldError
from kaito_core.validation.endpoints import placeholder_problem
from kaito_core.validation.names import dns1123_subdomain, quote
from kaito_core.validation.urls import url_problem

__all__ = [
    "IMAGE_REPLACEMENT",
    "image_reference_problem",
    "url_problem",
    "validate_data_destination",
    "validate_data_source",
    "validate_image",
    "validate_secret_name",
]

# --- image references -------------------------------------------------------------------------

_ALNUM = "[a-z0-9]+"
_SEPARATOR = "(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = f"{_HOST}(?::[0-9]+)?"
_TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(f"((?:{_DOMAIN}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(_TAG)
_IDENTIFIER = re.compile("[a-f0-9]{64}")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

ERR_INVALID_FORMAT = "invalid reference format"


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: a first component with ``.``/``:``, ``localhost`` or an
    upper-case letter is a registry; otherwise the image lives on Docker Hub."""
    head, sep, rest = name.partition("/")
    if not sep or (
        "." not in head and ":" not in head and head != "localhost" and head.lower() == head
    ):
        domain, remainder = "docker.io", name
    else:
        domain, remainder = head, rest
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def _diagnose(domain: str, remainder: str) -> str:
    """Name the part of an unparsable reference that is wrong, as far as we can tell."""
    if not _DOMAIN_RE.fullmatch(domain):
        return f"{ERR_INVALID_FORMAT}: registry {quote(domain)} is not a valid host[:port]"
    name_and_tag = remainder.split("@", 1)[0]
    repository, colon, tag = name_and_tag.partition(":")
    if colon and not _TAG_RE.fullmatch(tag):
        return (
            f"{ERR_INVALID_FORMAT}: tag {quote(tag)} must be at most 128 letters, digits, "
            "'_', '.' or '-', not starting with '.' or '-'"
        )
    if not re.fullmatch(_REMOTE_NAME, repository):
        return (
            f"{ERR_INVALID_FORMAT}: repository {quote(repository)} must be lowercase letters "
            "and digits separated by '/', '.', '_', '__' or '-'"
        )
    return ERR_INVALID_FORMAT


def image_reference_problem(reference: str) -> str | None:
    """Why `reference` is not a Docker image reference (`ParseDockerRef`), or None if it is."""
    if not reference:
        return "repository name must have at least one component"
    if _IDENTIFIER.fullmatch(reference):
        return f"invalid repository name ({reference}), cannot specify 64-byte hexadecimal strings"
    domain, remainder = _split_domain(reference)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        return "repository name must be lowercase"
    full = f"{domain}/{remainder}"
    match = _REFERENCE.fullmatch(full)
    if match is None:
        return _diagnose(domain, remainder)
    if len(match.group(1)) > 255:
        return "repository name must not be more than 255 characters"
    digest = match.group(3)
    if digest:
        algorithm, _, hex_part = digest.partition(":")
        expected = _DIGEST_HEX_LENGTHS.get(algorithm)
        if expected is None:
            return "unsupported digest algorithm"
        if len(hex_part) != expected:
            return "invalid checksum digest length"
        if not re.fullmatch("[a-f0-9]+", hex_part):
            return "invalid checksum digest format"
    return None


#: What an image placeholder should become.
IMAGE_REPLACEMENT = (
    "your registry and image name, such as myregistry.azurecr.io/phi-3-adapter:0.0.1"
)


def validate_image(reference: str, path: str, role: str) -> list[FieldError]:
    """``Unable to parse <role> image reference "<ref>": <why>`` if `reference` does not parse;
    a placeholder from an example (``ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1``, in any
    case) is called one, whether it parses or not."""
    placeholder = placeholder_problem(reference, replacement=IMAGE_REPLACEMENT)
    if placeholder is not None:
        return [FieldError(path=path, message=f"{role} image {placeholder}")]
    problem = image_reference_problem(reference)
    if problem is None:
        return []
    return [
        FieldError(
            path=path,
            message=f"Unable to parse {role} image reference {quote(reference)}: {problem}",
        )
    ]


def validate_secret_name(name: str, path: str, *, what: str = "Secret") -> list[FieldError]:
    """A Secret (or ConfigMap) name must be a DNS subdomain, and not a placeholder from an
    example (``ACR_REGISTRY_SECRET_HERE``, in any case); `what` names it in that message."""
    placeholder = placeholder_problem(name, replacement=f"the name of your {what}")
    if placeholder is not None:
        return [FieldError(path=path, message=placeholder)]
    if problems := dns1123_subdomain(name):
        return [
            FieldError(path=path, message=f"invalid name {quote(name)}: " + "; ".join(problems))
        ]
    return []


# --- sources and destinations -----------------------------------------------------------------


def source_kinds(source: DataSource) -> list[str]:
    """Which of urls / volumeSource / image a source sets (an empty list or string is unset)."""
    kinds = []
    if source.urls:
        kinds.append("urls")
    if source.volume_source is not None:
        kinds.append("volumeSource")
    if source.image:
        kinds.append("image")
    return kinds


def validate_data_source(
    source: DataSource, path: str, *, role: str = "input", check_urls: bool = True
) -> list[FieldError]:
    """Tuning input (and the shared part of adapter sources): URLs, image, exactly one kind."""
    errors: list[FieldError] = []
    if check_urls:
        for index, url in enumerate(source.urls or ()):
            placeholder = placeholder_problem(url, replacement="the URL of your data")
            if placeholder is not None:
                errors.append(FieldError(path=f"{path}.urls[{index}]", message=placeholder))
            elif problem := url_problem(url):
                errors.append(
                    FieldError(path=f"{path}.urls[{index}]", message=f"{problem}: {quote(url)}")
                )
    if source.image:
        errors += validate_image(source.image, f"{path}.image", role)
    for index, secret in enumerate(source.image_pull_secrets or ()):
        errors += validate_secret_name(
            secret, f"{path}.imagePullSecrets[{index}]", what="image pull Secret"
        )
    if len(source_kinds(source)) != 1:
        errors.append(
            FieldError(path=path, message="Exactly one of URLs, Volume, or Image must be specified")
        )
    return errors


def validate_data_destination(destination: DataDestination, path: str) -> list[FieldError]:
    """Tuning output: a parsable image with a push secret, or a volume; exactly one."""
    errors: list[FieldError] = []
    if destination.image:
        errors += validate_image(destination.image, f"{path}.image", "output")
        if not destination.image_push_secret:
            errors.append(
                FieldError(
                    path=f"{path}.imagePushSecret",
                    message="Must specify imagePushSecret with destination image",
                )
            )
    if destination.image_push_secret:
        errors += validate_secret_name(
            destination.image_push_secret, f"{path}.imagePushSecret", what="image push Secret"
        )
    if bool(destination.image) == (destination.volume_source is not None):
        errors.append(
            FieldError(path=path, message="Exactly one of Volume or Image must be specified")
        )
    return errors
