"""The building blocks: Kubernetes names, data-source URLs, image references, config parsing."""

from __future__ import annotations

import pytest

from kaito_core.validation import MIG_PROFILES, image_reference_problem, url_problem
from kaito_core.validation.configmaps import (
    TUNING_TEMPLATES,
    builtin_config_map,
    max_model_len_problem,
    parse_inference_config,
    tuning_config_problems,
)
from kaito_core.validation.inference import parse_strength
from kaito_core.validation.names import (
    dns1123_label,
    dns1123_subdomain,
    label_value,
    qualified_name,
    quote,
)
from kaito_core.validation.resource import mig_profile_problem, nearest_skus
from kaito_presets import default_catalog


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("ws", True, id="short"),
        pytest.param("a" * 63, True, id="63 characters"),
        pytest.param("a" * 64, False, id="64 characters"),
        pytest.param("123-abc", True, id="leading digit"),
        pytest.param("-ws", False, id="leading dash"),
        pytest.param("ws-", False, id="trailing dash"),
        pytest.param("Ws", False, id="uppercase"),
        pytest.param("w.s", False, id="dot"),
        pytest.param("", False, id="empty"),
        pytest.param("wß", False, id="non-ascii"),
    ],
)
def test_dns1123_label(value: str, valid: bool) -> None:
    """Workspace names follow Kubernetes' RFC 1123 label rule."""
    assert (dns1123_label(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("a.b-c", True, id="dotted"),
        pytest.param("a" * 253, True, id="253 characters"),
        pytest.param("a" * 254, False, id="254 characters"),
        pytest.param("a..b", False, id="empty component"),
        pytest.param("A", False, id="uppercase"),
    ],
)
def test_dns1123_subdomain(value: str, valid: bool) -> None:
    """Secret, ConfigMap and adapter names follow the RFC 1123 subdomain rule."""
    assert (dns1123_subdomain(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("app", True, id="plain"),
        pytest.param("kaito.sh/workspace", True, id="prefixed"),
        pytest.param("My_Key.1", True, id="mixed case name"),
        pytest.param("a/b/c", False, id="two slashes"),
        pytest.param("/b", False, id="empty prefix"),
        pytest.param("a/", False, id="empty name"),
        pytest.param("Example.com/b", False, id="uppercase prefix"),
        pytest.param("k" * 64, False, id="name over 63"),
    ],
)
def test_qualified_name(value: str, valid: bool) -> None:
    """Label and annotation keys are qualified names."""
    assert (qualified_name(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("v1.2_3-x", True, id="symbols inside"),
        pytest.param("-v", False, id="leading dash"),
        pytest.param("v" * 64, False, id="64 characters"),
        pytest.param("a b", False, id="space"),
    ],
)
def test_label_value(value: str, valid: bool) -> None:
    """Label values are empty or short qualified-name-like strings."""
    assert (label_value(value) == []) is valid


def test_quote_escapes_and_truncates() -> None:
    """Quoted values are escaped and shortened so a message stays one line."""
    assert quote('a"b\n') == '"a\\"b\\n"'
    assert len(quote("x" * 1000)) < 210


URLS = [
    ("https://huggingface.co/datasets/x/resolve/main/train.parquet?download=true", None),
    ("http://example.com:8080/data.csv", None),
    ("http://8.8.8.8/data.csv", None),
    ("http://10.1.2.3/x", "loopback, private, or link-local"),
    ("http://172.16.0.1/x", "loopback, private, or link-local"),
    ("http://192.168.0.1/x", "loopback, private, or link-local"),
    ("http://127.0.0.1/x", "loopback, private, or link-local"),
    ("http://0.0.0.0/x", "loopback, private, or link-local"),
    ("http://169.254.169.254/x", "loopback, private, or link-local"),
    ("http://[fe80::1]/x", "loopback, private, or link-local"),
    ("http://[fd00::1]/x", "loopback, private, or link-local"),
    ("http://[::ffff:127.0.0.1]/x", "loopback, private, or link-local"),
    ("http://2130706433/x", "loopback, private, or link-local"),
    ("http://0x7f000001/x", "loopback, private, or link-local"),
    ("http://0177.0.0.1/x", "loopback, private, or link-local"),
    ("http://127.1/x", "loopback, private, or link-local"),
    ("http://user:pw@10.0.0.1/x", "loopback, private, or link-local"),
    ("http://localhost/x", "local or metadata endpoint"),
    ("http://LOCALHOST./x", "local or metadata endpoint"),
    ("http://api.localhost/x", "local or metadata endpoint"),
    ("http://metadata.google.internal/x", "local or metadata endpoint"),
    ("http://metadata.google/x", "local or metadata endpoint"),
    ("http://instance-data.ec2.internal/x", "local or metadata endpoint"),
    ("ftp://example.com/x", "must use HTTP or HTTPS"),
    ("gopher://example.com/x", "must use HTTP or HTTPS"),
    ("file:///etc/passwd", "invalid data source URL"),
    ("example.com/data.csv", "invalid data source URL"),
    ("http://exa mple.com/x", "invalid data source URL"),
    ("http://example.com:99999/x", "invalid data source URL"),
    ("", "invalid data source URL"),
]


@pytest.mark.parametrize(("url", "problem"), URLS, ids=[u or "(empty)" for u, _ in URLS])
def test_url_problem(url: str, problem: str | None) -> None:
    """Data-source URLs: http(s) only, never local, private or metadata endpoints."""
    found = url_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


IMAGES = [
    ("nginx", None),
    ("nginx:1.25", None),
    ("library/nginx:latest", None),
    ("myregistry.azurecr.io/phi-3-adapter:0.0.1", None),
    ("localhost:5000/a/b_c__d-e.f:tag", None),
    ("[::1]:5000/repo", None),
    ("repo@sha256:" + "a" * 64, None),
    ("repo:tag@sha256:" + "b" * 64, None),
    ("UPPER/repo", None),
    ("ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1", "repository name must be lowercase"),
    ("Nginx", "repository name must be lowercase"),
    ("ACR_REPO_HERE.azurecr.io/image:1", 'registry "ACR_REPO_HERE.azurecr.io" is not a valid'),
    ("repo:-tag", 'tag "-tag"'),
    ("repo:" + "t" * 129, "tag"),
    ("repo/-bad", "invalid reference format"),
    ("repo@sha256:abc", "invalid reference format"),
    ("repo@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("repo@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("repo@sha512:" + "a" * 64, "invalid checksum digest length"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("example.com/" + "a" * 250, "must not be more than 255 characters"),
    ("", "must have at least one component"),
    (" nginx", "invalid reference format"),
]


@pytest.mark.parametrize(("ref", "problem"), IMAGES, ids=[r[:40] or "(empty)" for r, _ in IMAGES])
def test_image_reference_problem(ref: str, problem: str | None) -> None:
    """Image references follow the Docker reference grammar (ParseDockerRef)."""
    found = image_reference_problem(ref)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("1.0", 1.0, id="one"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param(".5", 0.5, id="leading dot"),
        pytest.param("1e-1", 0.1, id="exponent"),
        pytest.param("+1", 1.0, id="plus sign"),
        pytest.param("inf", float("inf"), id="infinity"),
        pytest.param("1_0", None, id="underscore"),
        pytest.param(" 1", None, id="space"),
        pytest.param("1.0f", None, id="suffix"),
    ],
)
def test_parse_strength(text: str, value: float | None) -> None:
    """Strengths parse like Go's strconv.ParseFloat, not Python's float()."""
    parsed, problem = parse_strength(text)
    assert parsed == value
    assert (problem is None) is (value is not None)


@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        pytest.param("1g.10gb", None, id="a100"),
        pytest.param("7g.180gb", None, id="b200"),
        pytest.param("0g.10gb", "compute slices must be > 0", id="zero slices"),
        pytest.param("1g.10", "invalid MIG profile format", id="no unit"),
        pytest.param("1g.16.5gb", "unknown MIG profile", id="decimal unknown"),
    ],
)
def test_mig_profile_problem(profile: str, problem: str | None) -> None:
    """MIG profiles have the <n>g.<m>gb form and are known profiles."""
    found = mig_profile_problem(profile)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_mig_profiles_match_upstream() -> None:
    """Upstream v0.12 knows 35 MIG profiles, from 1g.5gb to 7g.180gb."""
    assert len(MIG_PROFILES) == 35
    assert {"1g.5gb", "7g.180gb", "3g.47gb"} <= set(MIG_PROFILES)


def test_nearest_skus_by_prefix() -> None:
    """An unknown SKU is answered with the ten supported names sharing the longest prefix."""
    shown, more = nearest_skus(default_catalog(), "Standard_NC24ads_A100_v9", "azure")
    assert "Standard_NC24ads_A100_v4" in shown
    assert len(shown) == 10
    assert more == len([s for s in default_catalog().skus(cloud="azure") if not s.legacy]) - 10


@pytest.mark.parametrize(
    ("text", "params", "problem"),
    [
        pytest.param("", {}, None, id="empty"),
        pytest.param("vllm:\n  max-model-len: 4096\n", {"max-model-len": "4096"}, None, id="int"),
        pytest.param(
            "vllm:\n  flag: true\n  f: 0.5\n  n:\n",
            {"flag": "true", "f": "0.5", "n": ""},
            None,
            id="scalars",
        ),
        pytest.param("- a\n", {}, "the document must be a map", id="list document"),
        pytest.param("vllm: 3\n", {}, "'vllm' must be a map", id="scalar vllm"),
        pytest.param("a: [\n", {}, "Failed to parse inference_config.yaml", id="malformed"),
    ],
)
def test_parse_inference_config(text: str, params: dict[str, str], problem: str | None) -> None:
    """The vllm section reads as strings; other shapes are parse failures."""
    found_params, found_problem = parse_inference_config(text)
    assert found_params == params
    assert (found_problem is None) if problem is None else (problem in (found_problem or ""))


@pytest.mark.parametrize(
    ("value", "limit", "problem"),
    [
        pytest.param("4096", 4096, None, id="at limit"),
        pytest.param(" 2048 ", 4096, None, id="spaces"),
        pytest.param(
            "4097", 4096, "exceeds model's maximum supported context window 4096", id="over"
        ),
        pytest.param("99999", 0, None, id="no limit"),
        pytest.param("4k", 4096, "must be an integer", id="suffix"),
        pytest.param("-1", 4096, "must be a positive integer", id="negative"),
    ],
)
def test_max_model_len(value: str, limit: int, problem: str | None) -> None:
    """max-model-len is an integer within the model's context window."""
    found = max_model_len_problem({"max-model-len": value}, limit)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize("method", sorted(TUNING_TEMPLATES))
def test_builtin_tuning_templates_are_valid(method: str) -> None:
    """The chart's lora/qlora templates pass the rules for their own method."""
    manifest = builtin_config_map(TUNING_TEMPLATES[method], "kaito-system")
    assert manifest is not None
    text = manifest["data"]["training_config.yaml"]
    assert tuning_config_problems(text, method, TUNING_TEMPLATES[method]) == []


def test_builtin_templates_refuse_the_other_method() -> None:
    """The qlora template quantizes, so it is wrong for lora."""
    manifest = builtin_config_map("qlora-params-template", "kaito-system")
    assert manifest is not None
    problems = tuning_config_problems(manifest["data"]["training_config.yaml"], "lora", "x")
    assert any("For method 'lora'" in p for p in problems)


def test_unknown_builtin() -> None:
    """Only the chart's three templates are built in."""
    assert builtin_config_map("my-config", "kaito-system") is None
