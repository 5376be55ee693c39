"""The side-by-side comparison's normaliser and diff, on objects shaped like the ones the operator
makes on the real cluster: two runs differing only by construction (namespace, uids, generated
names, timestamps, allocated IPs, managedFields) normalise to the same snapshot; any other change
is one difference at its path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.objectdiff import ABSENT, Difference, diff, summary, table
from benchmarks.snapshot import capture, normalise, object_key


def _run(
    namespace: str,
    *,
    uid: str = "6d3825ad-50ea-4d02-a28e-1706889b3d19",
    claims: tuple[str, ...] = ("ws1dccab884-0",),
    nodes: tuple[str, ...] = ("kwok-ws1dccab884-0-slicersilk-1-ppunrtwmz6-916345720",),
    when: str = "2026-12-06T07:50:34Z",
    cluster_ip: str = "10.0.0.107",
    digest: str = "1b28b2488ca2232ae0ef0fc67ce6cb89eee33f9153f7f83737c22ec0aa01",
) -> list[dict[str, Any]]:
    """One run's capture: a Workspace, its StatefulSet and Service, its NodeClaims."""
    owner = {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "name": "phi", "uid": uid}
    meta = {
        "namespace": namespace,
        "uid": uid[::-1],
        "resourceVersion": "362",
        "creationTimestamp": when,
        "generation": 1,
        "managedFields": [{"manager": "kaito", "time": when}],
    }
    workspace = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {
            **meta,
            "name": "phi",
            "uid": uid,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": namespace},
        },
        "status": {
            "state": "Ready",
            "workerNodes": sorted(nodes),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": when}],
        },
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            **meta,
            "name": "phi",
            "ownerReferences": [owner],
            "annotations": {"kaito.sh/template-hash": digest},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "phi",
                            "env": [
                                {"name": "MASTER", "value": f"phi-0.phi-headless.{namespace}.svc"},
                                {"name": "PORT", "value": "5000"},
                            ],
                        }
                    ]
                }
            }
        },
        "status": {"readyReplicas": 1, "currentRevision": "phi-78f676f64c"},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**meta, "name": "phi", "ownerReferences": [owner]},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": [{"port": 80}]},
    }
    nodeclaims = [
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodeClaim",
            "metadata": {
                "name": claim,
                "uid": uid,
                "labels": {
                    "kaito.sh/workspace": "phi",
                    "kaito.sh/workspacenamespace": namespace,
                    "kubernetes.io/hostname": claim,
                },
            },
            "spec": {"nodeClassRef": {"kind": "KWOKNodeClass", "name": "default"}},
            "status": {"nodeName": node, "providerID": f"kwok://{node}"},
        }
        for claim, node in zip(claims, nodes, strict=True)
    ]
    return [workspace, statefulset, service, *nodeclaims]


A = normalise(_run("bench-a"), namespace="bench-a")


def test_two_runs_that_differ_only_by_construction_normalise_the_same() -> None:
    """Namespace, uids, NodeClaim and Node names, times, cluster IP, digest: no difference."""
    b = _run(
        "bench-b",
        uid="0e7f1c8a-3b7d-4a0e-9c55-2f3b6f0a9d11",
        claims=("ws77aa01bc9-0",),
        nodes=("kwok-ws77aa01bc9-0-other-words-2-abcdefgh-123",),
        when="2027-01-01T00:00:01Z",
        cluster_ip="10.0.3.4",
        digest="84c3248bded25cd36f8847b52edbbffe0392c98f2dd93cdfee40b04e",
    )
    assert diff(A, normalise(b, namespace="bench-b")) == []


def test_what_is_replaced_and_what_is_dropped() -> None:
    """Placeholders where generated values were; children keep no status; managedFields go."""
    statefulset = A["apps/v1 StatefulSet <namespace>/phi"]
    assert "status" not in statefulset
    assert set(statefulset["metadata"]) == {"name", "namespace", "ownerReferences", "annotations"}
    assert statefulset["metadata"]["ownerReferences"][0]["uid"] == "<uid>"
    assert statefulset["metadata"]["annotations"] == {"kaito.sh/template-hash": "<digest>"}
    env = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["value"] == "phi-0.phi-headless.<namespace>.svc"
    workspace = A["kaito.sh/v1beta1 Workspace <namespace>/phi"]
    assert workspace["status"]["workerNodes"] == ["<node:phi:0>"]
    assert workspace["status"]["conditions"][0]["lastTransitionTime"] == "<time>"
    assert "annotations" not in workspace["metadata"]  # kubectl's last-applied is the client's
    claim = A["karpenter.sh/v1 NodeClaim <nodeclaim:phi:0>"]
    assert claim["metadata"]["labels"]["kubernetes.io/hostname"] == "<nodeclaim:phi:0>"
    assert "status" not in claim
    service = A["v1 Service <namespace>/phi"]
    assert service["spec"]["clusterIP"] == "<cluster-ip>"
    assert service["spec"]["clusterIPs"] == ["<cluster-ip>"]


def test_sibling_node_claims_are_numbered_by_name_so_sorted_lists_stay_aligned() -> None:
    """Three NodeClaims of one Workspace named in a different order in two runs."""
    a = _run(
        "x", claims=("wsa-0", "wsb-0", "wsc-0"), nodes=("kwok-wsa-n", "kwok-wsb-n", "kwok-wsc-n")
    )
    b = _run(
        "x", claims=("wsz-0", "wsy-0", "wsx-0"), nodes=("kwok-wsz-n", "kwok-wsy-n", "kwok-wsx-n")
    )
    left, right = normalise(a, namespace="x"), normalise(b, namespace="x")
    assert diff(left, right) == []
    workers = left["kaito.sh/v1beta1 Workspace <namespace>/phi"]["status"]["workerNodes"]
    assert workers == ["<node:phi:0>", "<node:phi:1>", "<node:phi:2>"]


def _changed(path: tuple[Any, ...], value: Any, key: int = 1) -> list[dict[str, Any]]:
    objects = _run("bench-b")
    target: Any = objects[key]
    for step in path[:-1]:
        target = target[step]
    if value is ABSENT:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return objects


CHANGES = [
    pytest.param(
        ("spec", "template", "spec", "containers", 0, "env", 1, "value"),
        "5001",
        "spec.template.spec.containers[name=phi].env[name=PORT].value",
        '"5000"',
        '"5001"',
        id="an-env-value",
    ),
    pytest.param(
        ("metadata", "labels"),
        {"team": "a"},
        "metadata.labels",
        ABSENT,
        '{"team":"a"}',
        id="a-label-added",
    ),
    pytest.param(
        ("spec", "template", "spec", "containers", 0, "env"),
        ABSENT,
        "spec.template.spec.containers[name=phi].env",
        '[{"name":"MASTER","value":"phi-0.phi-headless.<namespace>.svc"},{"name":"PORT","value":"5000"}]',
        ABSENT,
        id="a-field-removed",
    ),
]


@pytest.mark.parametrize(("path", "value", "where", "left", "right"), CHANGES)
def test_a_deliberate_change_is_one_difference_at_its_path(
    path: tuple[Any, ...], value: Any, where: str, left: str, right: str
) -> None:
    """Change one thing in the second run's StatefulSet: the diff names it, and only it."""
    changed = normalise(_changed(path, value), namespace="bench-b")
    assert diff(A, changed) == [
        Difference("apps/v1 StatefulSet <namespace>/phi", where, left, right)
    ]


def test_list_items_are_matched_by_name() -> None:
    """An env var replaced by another: one gone, one new, nothing shifted."""
    env = ("spec", "template", "spec", "containers", 0, "env", 1)
    changed = normalise(_changed(env, {"name": "EXTRA", "value": "1"}), namespace="bench-b")
    where = "spec.template.spec.containers[name=phi].env"
    assert [(d.path, d.left, d.right) for d in diff(A, changed)] == [
        (f"{where}[name=EXTRA]", ABSENT, '{"name":"EXTRA","value":"1"}'),
        (f"{where}[name=PORT]", '{"name":"PORT","value":"5000"}', ABSENT),
    ]


def test_an_object_only_one_side_made_is_a_difference_and_counted() -> None:
    """A Service the right run lacks; a ConfigMap only the right run has."""
    right = copy.deepcopy(A)
    del right["v1 Service <namespace>/phi"]
    extra = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "<namespace>"},
    }
    right[object_key(extra)] = extra
    differences = diff(A, right)
    assert differences == [
        Difference("v1 ConfigMap <namespace>/cfg", "", ABSENT, "present"),
        Difference("v1 Service <namespace>/phi", "", "present", ABSENT),
    ]
    counts = summary(A, right, differences)
    assert counts["only_left"] == 1
    assert counts["only_right"] == 1
    assert counts["objects_differing"] == 0
    assert "v1 Service <namespace>/phi" in table(differences)
    assert table([]) == "no differences"


def test_a_reordered_keyed_list_is_reported_as_an_order_difference() -> None:
    """env given in another order: no value differs, the order does."""
    objects = _run("bench-b")
    env = objects[1]["spec"]["template"]["spec"]["containers"][0]["env"]
    env.reverse()
    differences = diff(A, normalise(objects, namespace="bench-b"))
    assert [d.path for d in differences] == ["spec.template.spec.containers[name=phi].env(order)"]


def test_secret_values_never_reach_a_snapshot() -> None:
    """A Secret's keys are kept, its values are not."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "data": {"token": "c2VjcmV0"},
        "stringData": {"password": "hunter2"},
    }
    (found,) = normalise([secret], namespace="n").values()
    assert found["data"] == {"token": "<redacted>"}
    assert found["stringData"] == {"password": "<redacted>"}
    assert "hunter2" not in str(found)


class _Rest:
    """A `Rest` stand-in answering lists from a table of paths."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers

    def get(self, path: str) -> dict[str, Any]:
        return self.answers.get(path, {"kind": "List", "items": []})


def test_capture_keeps_what_a_workspace_owns_or_nobody_owns_and_leaves_out_the_rest() -> None:
    """Another controller's objects, the namespace's defaults and what the caller applied are
    not the controller's making."""

    def cm(name: str, owner: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": "n"}
        if owner:
            meta["ownerReferences"] = [{"kind": owner, "name": "x", "uid": "u"}]
        return {"metadata": meta}

    rest = _Rest(
        {
            "/api/v1/namespaces/n/configmaps": {
                "kind": "ConfigMapList",
                "apiVersion": "v1",
                "items": [
                    cm("kube-root-ca.crt"),
                    cm("users-config"),
                    cm("owned", "Workspace"),
                    cm("unowned"),
                    cm("by-statefulset", "StatefulSet"),
                ],
            },
        }
    )
    found = capture(rest, "n", exclude=[("ConfigMap", "users-config")])  # type: ignore[arg-type]
    assert [(o["kind"], o["metadata"]["name"]) for o in found] == [
        ("ConfigMap", "owned"),
        ("ConfigMap", "unowned"),
    ]


NAMES = st.from_regex(r"ws[0-9a-f]{9}-0", fullmatch=True)
NAMESPACES = st.from_regex(r"bench-[a-z0-9]{6}", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(
    namespace=NAMESPACES,
    claim=NAMES,
    suffix=st.from_regex(r"[a-z]{3,8}-[0-9]{1,6}", fullmatch=True),
    uid=st.uuids(),
)
def test_any_generated_names_normalise_to_the_first_runs_snapshot(
    namespace: str, claim: str, suffix: str, uid: Any
) -> None:
    """Whatever names, uids and namespace a run got, its snapshot equals run A's."""
    run = _run(namespace, uid=str(uid), claims=(claim,), nodes=(f"kwok-{claim}-{suffix}",))
    assert diff(A, normalise(run, namespace=namespace)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("team", "<namespace>", id="whole"),
        pytest.param("w-0.w-headless.team.svc", "w-0.w-headless.<namespace>.svc", id="dns-label"),
        pytest.param("team-a", "team-a", id="prefix-of-a-name"),
        pytest.param("my-team", "my-team", id="suffix-of-a-name"),
        pytest.param("teams", "teams", id="inside-a-word"),
        pytest.param("kwok://team", "kwok://<namespace>", id="after-a-scheme"),
    ],
)
def test_names_are_replaced_only_where_they_stand_whole(text: str, expected: str) -> None:
    """The namespace ``team`` is replaced where it is a whole name, never inside another."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": text}}
    (found,) = normalise([obj], namespace="team").values()
    assert found["data"]["k"] == expected
