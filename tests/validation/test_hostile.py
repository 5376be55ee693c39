"""Hostile Workspaces and ConfigMaps (issue #11): refused by validation with a field path, and
refused again at plan time when the cluster's objects changed after admission."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaito_core.api import from_manifest
from kaito_core.observed import Observed
from kaito_core.plan import plan
from kaito_core.validation import validate
from kaito_core.validation.configmaps import parse_inference_config, vllm_key_problem
from kaito_core.validation.names import quote
from kaito_core.validation.resource import MAX_NODE_COUNT, MAX_PARTITION_GPUS
from kaito_core.validation.urls import (
    MSG_BAD_URL,
    MSG_CLUSTER,
    MSG_LOCAL,
    MSG_PRIVATE,
    canonical_host,
    url_problem,
)
from kaito_presets import default_catalog
from tests.bounds import bounded
from tests.validation.helpers import (
    BYO_ACC,
    config_map,
    edit,
    inference,
    template,
    tuning,
    with_cms,
)

CONFIG = "spec.inference.config"


def _laughs_text(levels: int = 7) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# --- vLLM keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        pytest.param("x; echo PWNED >/tmp/p; #", "", id="semicolon"),
        pytest.param("$(touch /tmp/p)", "", id="command-substitution"),
        pytest.param("`id`", "", id="backticks"),
        pytest.param("a\nb", "", id="newline"),
        pytest.param("a b", "", id="space"),
        pytest.param("--max-model-len", "without its leading dashes", id="leading-dashes"),
        pytest.param("max-model-len=4096", "not in it", id="equals"),
        pytest.param("1abc", "", id="leading-digit"),
        pytest.param("", "", id="empty"),
        pytest.param("a" * 129, "", id="too-long"),
        pytest.param("tensor\x00parallel", "", id="nul"),
    ],
)
def test_bad_vllm_keys_are_refused(key: str, hint: str) -> None:
    """A key that is not a vLLM option name is named in the problem (with a hint if any)."""
    problem = vllm_key_problem(key)
    assert problem is not None
    assert "is not a vLLM option name" in problem
    assert hint in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "key",
    ["max-model-len", "max_model_len", "compilation-config.level", "O", "kv-transfer-config"],
)
def test_vllm_option_names_pass(key: str) -> None:
    """Real vLLM option spellings (dashes, underscores, nested with dots) are accepted."""
    assert vllm_key_problem(key) is None


def test_injected_key_fails_validation_with_the_config_path() -> None:
    """The issue's ConfigMap passes validate no more: spec.inference.config names the key."""
    cm = config_map("cfg", {"inference_config.yaml": 'vllm:\n  "x; echo PWNED >/tmp/p; #": ""\n'})
    ws = from_manifest(edit(inference(), {"inference.config": "cfg"}))
    problems = validate(ws, context=with_cms(cm))
    assert [p.path for p in problems] == [CONFIG]
    assert 'vllm key "x; echo PWNED >/tmp/p; #" is not a vLLM option name' in problems[0].message


def test_control_characters_in_values_are_refused() -> None:
    """A value with a NUL or escape character cannot become a command-line argument."""
    _, problem = parse_inference_config('vllm:\n  served-model-name: "a\\0b"\n')
    assert problem is not None
    assert "must not contain control characters" in problem


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param('vllm:\n  "a; touch /tmp/p": 1\n', "is not a vLLM option name", id="key"),
        pytest.param('vllm:\n  seed: "1\\e"\n', "control characters", id="value"),
        pytest.param(_laughs_text(), "expands to", id="alias-bomb"),
        pytest.param("vllm: &v\n  x: *v\n", "recursive alias", id="recursive"),
        pytest.param("vllm:\n  seed: 1\n  seed: 2\n", "duplicate key", id="duplicate"),
    ],
)
def test_plan_refuses_a_config_map_changed_after_admission(text: str, fragment: str) -> None:
    """plan() re-reads the ConfigMap: a hostile one is an InvalidConfig error, nothing rendered."""
    ws = from_manifest(edit(inference("phi-4-mini-instruct"), {"inference.config": "cfg"}))
    observed = Observed(config_maps={"cfg": {"data": {"inference_config.yaml": text}}})
    with bounded(seconds=10, memory_mib=256):
        outcome = plan(ws, observed=observed, catalog=default_catalog(), now="2026-01-01T00:00:00Z")
    assert outcome.error is not None
    assert (outcome.error.reason, outcome.error.path) == ("InvalidConfig", CONFIG)
    assert fragment in outcome.error.message
    assert not [o for o in outcome.desired if o["kind"] == "StatefulSet"]


def test_alias_bomb_in_a_config_map_fails_validation_quickly() -> None:
    """validate reads ConfigMap values with the bounded loader too."""
    cm = config_map("cfg", {"inference_config.yaml": _laughs_text(9)})
    ws = from_manifest(edit(inference(), {"inference.config": "cfg"}))
    with bounded(seconds=10, memory_mib=256):
        problems = validate(ws, context=with_cms(cm))
    assert [p.path for p in problems] == [CONFIG]
    assert "expands to" in problems[0].message


# --- messages -----------------------------------------------------------------------------------


def test_quoting_cuts_before_escaping() -> None:
    """A 100 KB value quoted 2,000 times (the issue's 25 s attack) costs what a short one does."""
    value = '"\n' * 50_000
    with bounded(seconds=5, memory_mib=64):
        shown = [quote(value) for _ in range(2000)]
    assert shown[0] == '"' + '\\"\\n' * 100 + '..."'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("plain", '"plain"', id="plain"),
        pytest.param('a"b\\c\td\x01', '"a\\"b\\\\c\\td\\x01"', id="escapes"),
        pytest.param("x" * 200, '"' + "x" * 200 + '"', id="at-limit"),
        pytest.param("x" * 201, '"' + "x" * 200 + '..."', id="over-limit"),
    ],
)
def test_quote(value: str, shown: str) -> None:
    """Go-style quoting, cut at 200 characters of the value."""
    assert quote(value) == shown


# --- tuning input URLs (SSRF) -------------------------------------------------------------------

PRIVATE, LOCAL, CLUSTER, BAD = MSG_PRIVATE, MSG_LOCAL, MSG_CLUSTER, MSG_BAD_URL

URL_ATTACKS = [
    # spellings curl (libidn2, UTS #46) and browsers resolve to an internal address
    ("http://169\uff0e254\uff0e169\uff0e254/latest", PRIVATE, "fullwidth-dots"),
    ("http://169\u3002254\u3002169\u3002254/", PRIVATE, "ideographic-dots"),
    ("http://169\uff61254\uff61169\uff61254/", PRIVATE, "halfwidth-ideographic-dots"),
    ("http://\u2460\u2465\u2468.254.169.254/", PRIVATE, "circled-digits"),
    ("http://\uff11\uff12\uff17.0.0.1/", PRIVATE, "fullwidth-digits"),
    ("http://\u2460\u2461\u2466\uff0e\u24ea\uff0e\u24ea\uff0e\u2460/", PRIVATE, "loopback-twin"),
    ("http://%31%36%39.254.169.254/", PRIVATE, "percent-encoded"),
    (
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",
        LOCAL,
        "fullwidth-localhost",
    ),
    ("http://LocalHost./", LOCAL, "case-and-dot"),
    ("http://169.254.169.254\u200b/", BAD, "zero-width-space"),
    ("http://169.254.169.2\u00ad54/", BAD, "soft-hyphen"),
    ("http://169.254.169.254\\@example.com/", BAD, "backslash-userinfo"),
    ("http://a@b@169.254.169.254/", BAD, "two-at-signs"),
    ("http://%2f%2f/", BAD, "decoded-delimiter"),
    ("http://%ff/", BAD, "bad-percent-utf8"),
    # addresses outside the public internet
    ("http://100.64.0.1/", PRIVATE, "cgnat"),
    ("http://100.127.255.254/", PRIVATE, "cgnat-top"),
    ("http://198.18.0.1/", PRIVATE, "benchmarking"),
    ("http://224.0.0.1/", PRIVATE, "multicast"),
    ("http://240.0.0.1/", PRIVATE, "reserved"),
    ("http://0/", PRIVATE, "zero"),
    ("http://[::ffff:169.254.169.254]/", PRIVATE, "ipv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/", PRIVATE, "ipv4-mapped-hex"),
    ("http://[::a9fe:a9fe]/", PRIVATE, "ipv4-compatible"),
    ("http://[64:ff9b::a9fe:a9fe]/", PRIVATE, "nat64-metadata"),
    ("http://[64:ff9b::7f00:1]/", PRIVATE, "nat64-loopback"),
    ("http://[64:ff9b:1::808:808]/", PRIVATE, "nat64-local-prefix"),
    ("http://[2002:a9fe:a9fe::1]/", PRIVATE, "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", PRIVATE, "teredo"),
    ("http://[::1]/", PRIVATE, "ipv6-loopback"),
    ("http://[fe80::1%25eth0]/", PRIVATE, "ipv6-zone"),
    # names
    ("http://metadata/computeMetadata/v1/", LOCAL, "bare-metadata"),
    ("http://instance-data/latest/", LOCAL, "bare-instance-data"),
    ("http://metadata.azure.com/metadata/instance", LOCAL, "azure-metadata-name"),
    ("http://metadata.google.internal/", LOCAL, "gcp-metadata"),
    ("https://kubernetes.default.svc/api", CLUSTER, "kubernetes-default-svc"),
    ("https://kubernetes.default/api", CLUSTER, "kubernetes-default"),
    ("https://kubernetes/api", CLUSTER, "single-label"),
    ("http://minio.storage.svc/x", CLUSTER, "svc"),
    ("http://minio.storage.svc.cluster.local/x", CLUSTER, "svc-cluster-local"),
    ("http://10-0-0-1.default.pod.cluster.local/x", CLUSTER, "pod-dns"),
    ("http://printer.local/x", CLUSTER, "mdns"),
    ("http://db.corp.internal/x", CLUSTER, "internal"),
    ("http://router.home.arpa/x", CLUSTER, "home-arpa"),
]
URL_ALLOWED = [
    ("https://huggingface.co/datasets/x/resolve/main/train.parquet", "huggingface"),
    ("http://8.8.8.8/x.csv", "public-ipv4"),
    ("http://[2606:4700::1111]/x", "public-ipv6"),
    ("http://[64:ff9b::808:808]/x", "nat64-public"),
    ("http://[::ffff:8.8.8.8]/x", "mapped-public"),
    ("https://b\u00fccher.example/x.json", "idn"),
    ("https://example.com./x.json", "trailing-dot"),
    ("https://user:pw@example.com/x.json", "userinfo"),
]


@pytest.mark.parametrize(
    ("url", "problem"), [(u, p) for u, p, _ in URL_ATTACKS], ids=[i for *_, i in URL_ATTACKS]
)
def test_url_attacks_are_refused(url: str, problem: str) -> None:
    """Each spelling of an internal host is refused with the message for what it is."""
    assert url_problem(url) == problem


@pytest.mark.parametrize("url", [u for u, _ in URL_ALLOWED], ids=[i for _, i in URL_ALLOWED])
def test_public_urls_are_allowed(url: str) -> None:
    """Public hosts, NAT64/mapped forms of public addresses and IDNs pass."""
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        pytest.param("169\uff0e254\uff0e169\uff0e254", "169.254.169.254", id="fullwidth"),
        pytest.param("\u2460\u2465\u2468.254.169.254", "169.254.169.254", id="circled"),
        pytest.param("EXAMPLE.com.", "example.com", id="case-and-dot"),
        pytest.param("%4c%4f%43%41%4c%48%4f%53%54", "localhost", id="percent"),
        pytest.param("a..b", None, id="empty-label"),
        pytest.param("a\u200bb", None, id="zero-width"),
        pytest.param("a%2fb", None, id="slash"),
    ],
)
def test_canonical_host(host: str, canonical: str | None) -> None:
    """Hosts are read as curl reads them, or refused."""
    assert canonical_host(host) == canonical


def test_fullwidth_metadata_url_fails_validation() -> None:
    """The issue's URL in a tuning Workspace is a field error on its urls[] entry."""
    manifest = edit(
        tuning(), {"tuning.input": {"urls": ["http://169\uff0e254\uff0e169\uff0e254/"]}}
    )
    problems = validate(from_manifest(manifest))
    assert [p.path for p in problems] == ["spec.tuning.input.urls[0]"]
    assert problems[0].message.startswith(MSG_PRIVATE)


@settings(max_examples=300, deadline=None)
@given(
    ip=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
)
def test_any_non_global_address_is_refused(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """Whatever the address, a URL to it passes only if the address is publicly routable."""
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    problem = url_problem(f"http://{host}/x")
    embedded = getattr(ip, "ipv4_mapped", None)
    target = embedded if embedded is not None else ip
    if not target.is_global or target.is_multicast:
        assert problem == MSG_PRIVATE


# --- numbers ------------------------------------------------------------------------------------

COUNT = "spec.resource.count"
PARTITION = "spec.resource.partition.count"


@pytest.mark.parametrize(
    ("count", "fragment"),
    [
        pytest.param(2**63, "invalid value 2^63 or more in size", id="2**63"),
        pytest.param(10**29, "beyond 64 bits): must be less than or equal to 1000", id="10**29"),
        pytest.param(10**5000, "invalid value 2^16609 or more", id="5000-digits"),
        pytest.param(MAX_NODE_COUNT + 1, "invalid value 1001: must be less than or", id="1001"),
        pytest.param(0, "must be greater than or equal to 1", id="zero"),
        pytest.param(-(2**70), "invalid value -2^70 or more in size", id="negative-huge"),
    ],
)
def test_node_count_is_bounded(count: int, fragment: str) -> None:
    """resource.count is 1..1000 whatever the input carried (JSON has no integer limit)."""
    ws = from_manifest(edit(template(), {"resource.count": count}))
    problems = [p for p in validate(ws) if p.path == COUNT]
    assert len(problems) == 1
    assert fragment in problems[0].message


def test_the_largest_count_is_valid() -> None:
    """MAX_NODE_COUNT itself is accepted."""
    ws = from_manifest(edit(template(), {"resource.count": MAX_NODE_COUNT}))
    assert [p for p in validate(ws) if p.path == COUNT] == []


@pytest.mark.parametrize("count", [MAX_PARTITION_GPUS + 1, 2**63, 10**29])
def test_partition_count_is_bounded(count: int) -> None:
    """partition.count (accelerator GPUs) is 1..64."""
    manifest = edit(
        inference(instance=None),
        {"resource.partition": {"mode": "accelerator", "count": count}},
    )
    problems = validate(from_manifest(manifest), context=BYO_ACC)
    assert any(p.path == PARTITION and "less than or equal to 64" in p.message for p in problems)


@pytest.mark.parametrize("count", [2**63, 10**29, MAX_NODE_COUNT + 1])
def test_plan_refuses_a_count_validation_would_refuse(count: int) -> None:
    """plan() never sizes a template Workspace to 10^29 nodes: an InvalidSpec error, at once."""
    ws = from_manifest(edit(template(), {"resource.count": count}))
    with bounded(seconds=10, memory_mib=128):
        outcome = plan(
            ws, observed=Observed(), catalog=default_catalog(), now="2026-01-01T00:00:00Z"
        )
    assert outcome.error is not None
    assert (outcome.error.path, outcome.error.reason) == (COUNT, "InvalidSpec")
    assert outcome.node_claims == ()


def test_a_stored_count_over_the_bound_does_not_block_updates() -> None:
    """An unchanged count stored before the bound existed is not re-judged on update."""
    ws = from_manifest(edit(template(), {"resource.count": MAX_NODE_COUNT + 5}))
    assert [p for p in validate(ws, old=ws) if p.path == COUNT] == []
