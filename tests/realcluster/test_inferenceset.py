"""InferenceSets on the real control plane: replicas as child Workspaces on Karpenter-kwok
NodeClaims and kwok Pods, the real API server's scale subresource on our CRD (what ``kaito
manifests`` renders), upstream's printer columns, cascading deletion, and our webhook."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.kubectl import Kubectl
from tests.realcluster.cluster import eventually
from tests.realcluster.workspaces import claims_of, documents, leftovers, pods_of

EXAMPLE = EXAMPLES / "inferenceset-phi-4-mini.yaml"
#: Upstream's printer columns of inferencesets.kaito.sh (v1alpha1 and v1beta1), as kubectl
#: prints them.
COLUMNS = ["NAME", "REPLICAS", "READYREPLICAS", "AGE"]
DENIED = 'admission webhook "validation.inferenceset.kaito.sh" denied the request'


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return dict(cond)
    return {}


async def _json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(await kubectl("get", *args, "-o", "json"))
    return found


async def _children(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    listed = await _json(kubectl, "workspaces", "-n", namespace)
    return sorted(listed["items"], key=lambda w: w["metadata"]["name"])


async def _wait_ready(
    kubectl: Kubectl, namespace: str, name: str, replicas: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Wait until the set is Ready with exactly ``replicas`` replicas, all Ready, none left over
    (the surplus of a scale-down gone, NodeClaims included); the set and its replicas."""

    async def settled() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        iset = await _json(kubectl, "inferenceset", name, "-n", namespace)
        status = iset.get("status") or {}
        generation = iset["metadata"]["generation"]
        ready = _condition(iset, "InferenceSetReady")
        if not (
            ready.get("status") == "True"
            and ready.get("observedGeneration") == generation
            and status.get("replicas") == replicas
            and status.get("readyReplicas") == replicas
        ):
            return None
        children = await _children(kubectl, namespace)
        if len(children) != replicas or any(
            (c.get("status") or {}).get("state") != "Ready" for c in children
        ):
            return None
        claims = await _json(
            kubectl, "nodeclaims", "-l", f"kaito.sh/workspacenamespace={namespace}"
        )
        if len(claims["items"]) != replicas:
            return None
        return iset, children

    return await eventually(
        settled,
        timeout=300,
        interval=1.0,
        what=f"inferenceset {namespace}/{name} {replicas}/{replicas}",
    )


async def _check_replicas(
    kubectl: Kubectl, namespace: str, iset: dict[str, Any], children: list[dict[str, Any]]
) -> None:
    """Replica i is Workspace <set>-i, controlled by the set, on NodeClaims and a kwok GPU Node
    of its own, its pod Running there and selected by the set's status.selector."""
    name = iset["metadata"]["name"]
    assert [c["metadata"]["name"] for c in children] == [
        f"{name}-{i}" for i in range(len(children))
    ]
    nodes: set[str] = set()
    for child in children:
        child_name = child["metadata"]["name"]
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "InferenceSet",
            name,
            iset["metadata"]["uid"],
        )
        assert owner["controller"] is True
        assert child["metadata"]["labels"]["inferenceset.kaito.sh/created-by"] == name
        (claim,) = await claims_of(kubectl, namespace, child_name)
        assert _condition(claim, "Ready").get("status") == "True", claim["metadata"]["name"]
        assert claim["spec"]["nodeClassRef"]["kind"] == "KWOKNodeClass"
        node_name = claim["status"]["nodeName"]
        node = await _json(kubectl, "node", node_name)
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert int(node["status"]["capacity"]["nvidia.com/gpu"]) >= 1
        (pod,) = await pods_of(kubectl, namespace, child_name)
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] == node_name
        assert f"--served-model-name={name}" in json.dumps(pod["spec"]["containers"])
        nodes.add(node_name)
    assert len(nodes) == len(children), "replicas share a node"
    selector = iset["status"]["selector"]
    assert selector == f"inferenceset.kaito.sh/created-by={name}"
    want = [f"{c['metadata']['name']}-0" for c in children]

    async def selects_the_replicas_pods() -> list[str] | None:
        # after a scale-down the surplus replicas' pods go a little after their Workspaces
        selected = await _json(kubectl, "pods", "-n", namespace, "-l", selector)
        names = sorted(p["metadata"]["name"] for p in selected["items"])
        return names if names == want else None

    await eventually(selects_the_replicas_pods, timeout=120, what=f"{selector} selecting {want}")


async def test_an_inferenceset_comes_up_scales_and_goes_away(
    kubectl: Kubectl, namespace: str
) -> None:
    """The example (2 replicas) Ready; kubectl get is shows upstream's columns; kubectl scale to
    3, then to 1 (with a precondition: GET and PUT of the Scale); delete: nothing is left."""
    (manifest,) = documents(EXAMPLE)
    name = manifest["metadata"]["name"]
    await kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    iset, children = await _wait_ready(kubectl, namespace, name, 2)
    await _check_replicas(kubectl, namespace, iset, children)

    for resource in ("inferencesets", "is", "isets"):
        table = (await kubectl("get", resource, "-n", namespace)).splitlines()
        assert table[0].split() == COLUMNS, table
        assert table[1].split()[:3] == [name, "2", "2"], table

    scaled = await kubectl("scale", f"is/{name}", "-n", namespace, "--replicas=3")
    assert scaled.strip() == f"inferenceset.kaito.sh/{name} scaled"
    iset, children = await _wait_ready(kubectl, namespace, name, 3)
    assert iset["spec"]["replicas"] == 3
    await _check_replicas(kubectl, namespace, iset, children)
    scale = await _json(kubectl, "is", name, "-n", namespace, "--subresource=scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": iset["status"]["selector"]}
    removed = [await claims_of(kubectl, namespace, f"{name}-{i}") for i in (1, 2)]

    await kubectl("scale", f"is/{name}", "-n", namespace, "--current-replicas=3", "--replicas=1")
    iset, children = await _wait_ready(kubectl, namespace, name, 1)
    await _check_replicas(kubectl, namespace, iset, children)  # the highest slots went
    gone = {c["status"]["nodeName"] for claims in removed for c in claims}

    async def surplus_nodes_gone() -> bool:
        nodes = await _json(kubectl, "nodes")
        return not gone & {n["metadata"]["name"] for n in nodes["items"]}

    await eventually(surplus_nodes_gone, timeout=180, what="the surplus replicas' nodes deleted")
    table = (await kubectl("get", "is", "-n", namespace)).splitlines()
    assert table[1].split()[:3] == [name, "1", "1"], table

    await kubectl("delete", "is", name, "-n", namespace, "--wait=true", "--timeout=120s")

    async def nothing_left() -> bool:
        if (await _json(kubectl, "workspaces", "-n", namespace))["items"]:
            return False
        return not await leftovers(kubectl, namespace)

    await eventually(nothing_left, timeout=180, what=f"every replica of {name} deleted")


async def test_a_scale_beyond_the_bound_is_stored_and_refused_by_the_planner(
    kubectl: Kubectl, namespace: str
) -> None:
    """A write to the scale subresource reaches no webhook registered for ``inferencesets``, so
    the real API server stores 1001 replicas; the planner refuses it and creates nothing."""
    manifest = _inferenceset("bounded", replicas=0)
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    await kubectl("scale", "is/bounded", "-n", namespace, "--replicas=1001")

    async def refused() -> dict[str, Any] | None:
        iset = await _json(kubectl, "is", "bounded", "-n", namespace)
        ready = _condition(iset, "InferenceSetReady")
        current = ready.get("observedGeneration") == iset["metadata"]["generation"]
        return ready if current and ready.get("reason") == "inferencesetFailed" else None

    ready = await eventually(refused, timeout=120, what="the planner refusing 1001 replicas")
    assert ready["status"] == "False"
    assert ready["message"].startswith("spec.replicas: invalid value 1001: must be less than")
    assert await _children(kubectl, namespace) == []
    await kubectl("scale", "is/bounded", "-n", namespace, "--replicas=0")
    await kubectl("delete", "is", "bounded", "-n", namespace, "--wait=true", "--timeout=60s")


def _inferenceset(name: str, *, replicas: int = 1, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": replicas,
        "labelSelector": {"matchLabels": {"apps": name}},
        "template": {
            "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        },
    }
    base.update(spec)
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "InferenceSet",
        "metadata": {"name": name},
        "spec": base,
    }


def _template(**changes: Any) -> dict[str, Any]:
    template: dict[str, Any] = {
        "resource": {"instanceType": "Standard_NC24ads_A100_v4"},
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }
    template.update(changes)
    return template


INVALID = [
    pytest.param(
        _inferenceset(
            "unknown-preset", template=_template(inference={"preset": {"name": "no-such-model"}})
        ),
        "spec.template.inference.preset.name: Unsupported inference preset name no-such-model",
        id="unknown-preset",
    ),
    pytest.param(
        _inferenceset(
            "unknown-sku", template=_template(resource={"instanceType": "Standard_Nope"})
        ),
        "spec.template.resource.instanceType: Unsupported instance type Standard_Nope",
        id="unknown-instance-type",
    ),
    pytest.param(
        _inferenceset(
            "bad-adapter",
            template=_template(
                inference={
                    "preset": {"name": "phi-4-mini-instruct"},
                    "adapters": [{"source": {"name": "a", "image": "Not An Image"}}],
                }
            ),
        ),
        "spec.template.inference.adapters[0].source.image: Unable to parse adapter image "
        'reference "Not An Image"',
        id="adapter-image",
    ),
    pytest.param(
        _inferenceset("named-template", template=_template(metadata={"name": "x"})),
        "spec.template.metadata.name: only labels and annotations of the template are copied",
        id="template-metadata",
    ),
    pytest.param(
        _inferenceset(
            "no-unavailable",
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        ),
        "spec.updateStrategy.rollingUpdate.maxUnavailable: invalid value 0: cannot be 0",
        id="max-unavailable-0",
    ),
]


@pytest.mark.parametrize(("manifest", "message"), INVALID)
async def test_kubectl_apply_of_an_invalid_inferenceset_is_refused_with_the_field_path(
    kubectl: Kubectl, namespace: str, manifest: dict[str, Any], message: str
) -> None:
    """Exit 1; stderr names our InferenceSet webhook and the problem with its path under the
    InferenceSet (a replica's problems under spec.template...); nothing stored."""
    code, _, err = await kubectl.run(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest)
    )
    assert code == 1
    assert DENIED in err
    assert message in err
    listed = await kubectl("get", "inferencesets,workspaces", "-n", namespace, "-o", "name")
    assert listed.strip() == ""


async def test_an_update_goes_through_the_inferenceset_webhook(
    kubectl: Kubectl, namespace: str
) -> None:
    """UPDATE is judged too: a stored set cannot be given an unknown preset."""
    manifest = _inferenceset("updated", replicas=0)
    await kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    changed = _inferenceset(
        "updated", replicas=0, template=_template(inference={"preset": {"name": "no-such-model"}})
    )
    code, _, err = await kubectl.run("apply", "-n", namespace, "-f", "-", stdin=json.dumps(changed))
    assert code == 1
    assert DENIED in err
    assert "spec.template.inference.preset.name: Unsupported inference preset name" in err
    stored = await _json(kubectl, "is", "updated", "-n", namespace)
    assert stored["spec"]["template"]["inference"]["preset"]["name"] == "phi-4-mini-instruct"
    await kubectl("delete", "is", "updated", "-n", namespace, "--wait=true", "--timeout=60s")
