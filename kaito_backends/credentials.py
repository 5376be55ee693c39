"""Masking credentials in text that is shown to someone (denial messages, conditions, logs).

`mask_credentials` replaces, anywhere in a text:

- the userinfo of a URL: ``https://user:token@host/x`` -> ``https://***@host/x``;
- the value of a query or fragment parameter whose name looks secret (it contains ``token``,
  ``key``, ``secret``, ``pass``, ``pwd``, ``sig``, ``auth``, ``cred``, ``session`` or ``code``,
  in any case): ``?token=hf_abc&rev=main`` -> ``?token=***&rev=main``. Pre-signed URLs
  (S3's ``X-Amz-Signature``/``X-Amz-Credential``/``X-Amz-Security-Token``, Azure SAS ``sig``,
  Google's ``X-Goog-Signature``) are covered by the same rule. The parameter is recognised
  after ``?``, ``&`` or ``#`` whether or not the text around it is a well-formed URL, since a
  URL refused for its scheme is quoted too;
- tokens with a well-known prefix wherever they appear (Hugging Face ``hf_``, GitHub ``ghp_``,
  ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``, GitLab ``glpat-``):
  ``hf_AbCd...`` -> ``hf_***``.

Over-masking is accepted (``?monkey=1`` loses its value); a leak is not.
"""

from __future__ import annotations

import re

__all__ = ["SECRET_PARAMETER_MARKERS", "mask_credentials"]

#: A query parameter whose lower-cased name contains one of these has its value masked.
SECRET_PARAMETER_MARKERS = (
    "token",
    "key",
    "secret",
    "pass",
    "pwd",
    "sig",
    "auth",
    "cred",
    "session",
    "code",
)

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s\"'@?#]+@")
_PARAMETER = re.compile(r"([?&#;])([^=&#?\s\"'<>;]+)=([^&#\s\"'<>;]*)")
_PREFIXED = re.compile(r"\b(hf_|gh[pousr]_|github_pat_|glpat-)[A-Za-z0-9_\-]{6,}")


def _parameter(match: re.Match[str]) -> str:
    sep, name, value = match.group(1), match.group(2), match.group(3)
    lowered = name.lower()
    if value and any(marker in lowered for marker in SECRET_PARAMETER_MARKERS):
        return f"{sep}{name}=***"
    return match.group(0)


def mask_credentials(text: str) -> str:
    """``text`` with URL userinfo, secret-looking query values and known tokens masked."""
    text = _USERINFO.sub(r"\1***@", text)
    text = _PARAMETER.sub(_parameter, text)
    return _PREFIXED.sub(r"\1***", text)
