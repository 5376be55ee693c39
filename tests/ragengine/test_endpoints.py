"""Which URLs a RAG service may be told to call (`endpoint_problem`)."""

from __future__ import annotations

import pytest

from kaito_core.validation import endpoint_problem
from kaito_core.validation.endpoints import MAX_URL_LENGTH, is_placeholder

ALLOWED = {
    "workspace-service-fqdn": "http://phi-3.team-a.svc.cluster.local/v1/chat/completions",
    "workspace-service-short": "http://phi-3/v1/completions",
    "service-with-port": "http://qdrant.rag.svc:6333",
    "cluster-ip": "http://10.0.0.15/v1/completions",
    "private-ipv6": "http://[fd00::15]/v1/completions",
    "public-https": "https://api.openai.com/v1/chat/completions",
    "upper-case-scheme": "HTTPS://api.example.com/embed",
    "query-string": "https://api.example.com/embed?api-version=2024-06-01",
    "dollar-alone": "https://api.example.com/price$/embed",
}


@pytest.mark.parametrize("url", ALLOWED.values(), ids=ALLOWED.keys())
def test_in_cluster_and_public_endpoints_are_allowed(url: str) -> None:
    """In-cluster Services are the normal case; public HTTPS endpoints too."""
    assert endpoint_problem(url, example="E") is None


REFUSED = {
    "empty": ("", "required: a URL such as E"),
    "angle-placeholder": ("<inference-url>/v1/chat/completions", "looks like a placeholder"),
    "template-placeholder": ("http://{{ .Values.host }}/v1", "looks like a placeholder"),
    "shell-placeholder": ("http://${HOST}/v1", "looks like a placeholder"),
    "env-expansion": ("http://a/$(LLM_ACCESS_SECRET)", 'must not contain "$("'),
    "no-scheme": ("phi-3/v1/completions", "is not an absolute URL"),
    "ftp": ("ftp://files.example.com/x", 'scheme "ftp" is not supported'),
    "file": ("file:///etc/passwd", 'scheme "file" is not supported'),
    "credentials": ("http://user:pw@phi-3/v1", "must not contain credentials"),
    "fragment": ("http://phi-3/v1#x", "must not contain a fragment"),
    "space": ("http://phi-3/v1 /x", "must not contain spaces"),
    "bad-port": ("http://phi-3:99999/v1", "is not a valid URL"),
    "localhost": ("http://localhost:5000/v1/chat/completions", "own pod"),
    "sub-localhost": ("http://api.localhost/v1", "own pod"),
    "loopback": ("http://127.0.0.1:5000/v1", "loopback"),
    "loopback-decimal": ("http://2130706433/v1", "loopback"),
    "loopback-fullwidth-dots": ("http://127\uff0e0\uff0e0\uff0e1/v1", "loopback"),
    "metadata-nat64": ("http://[64:ff9b::a9fe:a9fe]/v1", "link-local"),
    "metadata-fullwidth": ("http://metadata\uff0eazure\uff0ecom/v1", "metadata"),
    "loopback-hex": ("http://0x7f.1/v1", "loopback"),
    "loopback-ipv6": ("http://[::1]/v1", "loopback"),
    "mapped-loopback": ("http://[::ffff:127.0.0.1]/v1", "loopback"),
    "unspecified": ("http://0.0.0.0/v1", "unspecified"),
    "imds": ("http://169.254.169.254/metadata/identity/oauth2/token", "link-local"),
    "link-local-ipv6": ("http://[fe80::1]/v1", "link-local"),
    "gcp-metadata": ("http://metadata.google.internal/computeMetadata/v1", "metadata endpoint"),
    "azure-wireserver": ("http://168.63.129.16/machine", "Azure platform endpoint"),
    "multicast": ("http://224.0.0.1/v1", "multicast"),
    "too-long": ("https://a.example.com/" + "x" * MAX_URL_LENGTH, "at most 2048 characters"),
}


@pytest.mark.parametrize(("url", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_endpoints_say_why(url: str, message: str) -> None:
    """Each refusal names its reason."""
    problem = endpoint_problem(url, example="E")
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize(
    "url",
    ["http://user:s3cr3t@[bad/x", "http://user:s3cr3t@<host>/x", "http://u:s3cr3t@h /x"],
    ids=["unparsable", "placeholder", "space"],
)
def test_a_password_in_a_refused_url_is_never_repeated(url: str) -> None:
    """Messages quote the URL with its user information masked."""
    problem = endpoint_problem(url, example="E")
    assert problem is not None
    assert "s3cr3t" not in problem
    assert "***@" in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<x>", True), ("a>b", True), ("{{ x }}", True), ("${X}", True), ("$X", False), ("x", False)],
)
def test_placeholders_are_recognised(value: str, expected: bool) -> None:
    """Angle brackets, template and shell variables are placeholders; a plain $ is not."""
    assert is_placeholder(value) is expected
