"""Kubernetes name and label rules (`k8s.io/apimachinery/pkg/util/validation`), same messages.

Pure: no I/O, no clock, no logging.

Each check returns a list of problem strings (empty when valid), worded as the API server words
them, so ``"; ".join(...)`` reads like a `kubectl apply` rejection. Lengths count UTF-8 bytes, as
Go does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kaito_core.errors import FieldError

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "dns1123_label",
    "dns1123_subdomain",
    "label_value",
    "map_key_path",
    "number",
    "qualified_name",
    "quote",
    "validate_annotations",
    "validate_labels",
]

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)

_LABEL_RE = re.compile(_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)

#: Characters of a value shown in a message before it is cut.
_QUOTE_LIMIT = 200

#: The API server's limit on all annotations of one object together, bytes.
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def dns1123_label(value: str) -> list[str]:
    """Problems with `value` as an RFC 1123 label (names of Workspaces, namespaces, ...)."""
    problems: list[str] = []
    if _size(value) > 63:
        problems.append(_max_len(63))
    if not _LABEL_RE.fullmatch(value):
        if _SUBDOMAIN_RE.fullmatch(value):
            problems.append("must not contain dots")
        else:
            problems.append(_regex_error(_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc"))
    return problems


def dns1123_subdomain(value: str) -> list[str]:
    """Problems with `value` as an RFC 1123 subdomain (names of ConfigMaps, Secrets, ...)."""
    problems: list[str] = []
    if _size(value) > 253:
        problems.append(_max_len(253))
    if not _SUBDOMAIN_RE.fullmatch(value):
        problems.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    return problems


def qualified_name(value: str) -> list[str]:
    """Problems with `value` as a label or annotation key: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    problems: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems += [f"prefix part {p}" for p in dns1123_subdomain(prefix)]
    if not name:
        problems.append("name part must be non-empty")
    elif _size(name) > 63:
        problems.append("name part " + _max_len(63))
    if not _QNAME_RE.fullmatch(name):
        problems.append(
            "name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return problems


def label_value(value: str) -> list[str]:
    """Problems with `value` as a label value (empty is allowed)."""
    problems: list[str] = []
    if _size(value) > 63:
        problems.append(_max_len(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        problems.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return problems


def map_key_path(base: str, key: str) -> str:
    """``metadata.labels["app"]``: a path into a map, with the key quoted as JSON would."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{base}["{escaped}"]'


def _joined(value: str, problems: list[str]) -> str:
    return f"invalid value {quote(value)}: " + "; ".join(problems)


def quote(value: str) -> str:
    """A value in double quotes, escaped the way Go's ``%q`` would (close enough for messages).

    Values longer than 200 characters are cut **before** escaping and end with ``...``, so
    quoting costs the same for a 100 KB value as for a short one.
    """
    cut = len(value) > _QUOTE_LIMIT
    out = []
    for char in value[:_QUOTE_LIMIT]:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    text = "".join(out)
    return f'"{text}..."' if cut else f'"{text}"'


def number(value: int) -> str:
    """An integer for a message; one beyond the 64-bit range is described, not printed (its
    digits could be thousands, and Python refuses to print more than 4,300)."""
    if value.bit_length() > 63:
        sign = "-" if value < 0 else ""
        return f"{sign}2^{value.bit_length() - 1} or more in size (beyond 64 bits)"
    return str(value)


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    """Label keys must be qualified names and values valid label values."""
    errors: list[FieldError] = []
    for key in sorted(labels):
        if problems := qualified_name(key):
            errors.append(FieldError(path=map_key_path(path, key), message=_joined(key, problems)))
        if problems := label_value(labels[key]):
            errors.append(
                FieldError(path=map_key_path(path, key), message=_joined(labels[key], problems))
            )
    return errors


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    """Annotation keys must be qualified names; all of them together at most 256 KiB."""
    errors: list[FieldError] = []
    total = 0
    for key in sorted(annotations):
        total += _size(key) + _size(annotations[key])
        if problems := qualified_name(key.lower()):
            errors.append(FieldError(path=map_key_path(path, key), message=_joined(key, problems)))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(
            FieldError(
                path=path,
                message=f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes",
            )
        )
    return errors
