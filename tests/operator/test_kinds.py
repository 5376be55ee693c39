"""The operator serves every registered kind: CRDs, RBAC, webhooks and reconciles of a Widget.

The Widget (``tests/widget.py``) is registered here only; nothing in the operator names it.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import kubernetes_validate
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kaito_backends.errors import NotFound
from kaito_backends.fake import FakeCluster
from kaito_backends.operator.backends import Connection
from kaito_backends.operator.manifests import InstallOptions, install_manifests
from kaito_backends.operator.rbac import cluster_rules
from kaito_backends.operator.runner import run_operator
from kaito_backends.operator.settings import webhook_path
from kaito_backends.operator.webhook import WEBHOOK_PATH, AdmissionValidator
from tests.operator.test_runner import settings
from tests.widget import API_VERSION, CRATE, WIDGET, widget, widget_registry

WIDGETS = widget_registry()
WIDGET_PATH = "/validate/widget.test.kaito.sh"


def _review(obj: Any, *, operation: str = "CREATE", old: Any = None, kind: str = "Widget") -> Any:
    group = "test.kaito.sh" if kind == "Widget" else "kaito.sh"
    request: dict[str, Any] = {
        "uid": "u-1",
        "kind": {"group": group, "version": "v1", "kind": kind},
        "operation": operation,
        "namespace": "default",
        "name": "w",
        "object": obj,
    }
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def test_install_manifests_have_a_crd_and_a_webhook_per_kind() -> None:
    """The default kinds' objects are unchanged; the Widget adds its CRD and webhook
    configuration."""
    before = install_manifests(InstallOptions())
    after = install_manifests(InstallOptions(), registry=WIDGETS)
    crds = [o["metadata"]["name"] for o in after if o["kind"] == "CustomResourceDefinition"]
    assert crds == [
        "workspaces.kaito.sh",
        "inferencesets.kaito.sh",
        "ragengines.kaito.sh",
        "widgets.test.kaito.sh",
    ]
    configs = [o for o in after if o["kind"] == "ValidatingWebhookConfiguration"]
    assert [c["metadata"]["name"] for c in configs] == [
        "validation.workspace.kaito.sh",
        "validation.inferenceset.kaito.sh",
        "validation.ragengine.kaito.sh",
        "validation.widget.test.kaito.sh",
    ]
    (hook,) = configs[-1]["webhooks"]
    assert hook["clientConfig"]["service"]["path"] == WIDGET_PATH == webhook_path(WIDGET)
    assert hook["rules"][0]["resources"] == ["widgets"]
    assert hook["rules"][0]["apiGroups"] == ["test.kaito.sh"]
    added = [f"{o['kind']}/{o['metadata']['name']}" for o in after if o not in before]
    assert added == [
        "CustomResourceDefinition/widgets.test.kaito.sh",
        "ClusterRole/kaito-workspace",
        "ValidatingWebhookConfiguration/validation.widget.test.kaito.sh",
    ]
    assert [o["kind"] for o in before if o not in after] == ["ClusterRole"]


def test_the_widget_crd_comes_from_its_spec() -> None:
    """Names, the storage version, printer columns and the status subresource of the Widget."""
    crd = next(
        o
        for o in install_manifests(registry=WIDGETS)
        if o["metadata"]["name"] == "widgets.test.kaito.sh"
    )
    assert crd["spec"]["names"] == {
        "categories": ["kaito-test"],
        "kind": "Widget",
        "listKind": "WidgetList",
        "plural": "widgets",
        "shortNames": ["wdg"],
        "singular": "widget",
    }
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["storage"], version["subresources"]) == (
        "v1",
        True,
        {"status": {}},
    )
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Message", "Ready", "Age"]


@pytest.mark.parametrize("backend", ["karpenter", "aks", "byo"])
def test_every_object_with_a_widget_is_valid_for_kubernetes_1_33(backend: Any) -> None:
    """The objects of an installation with more kinds stay valid (cert-manager's are CRs)."""
    for obj in install_manifests(InstallOptions(backend=backend), registry=WIDGETS):
        if obj["apiVersion"].startswith("cert-manager.io/"):
            continue
        kubernetes_validate.validate(obj, "1.33", strict=True)


def test_rbac_follows_the_registry() -> None:
    """A registered kind gets its own rules; a registered kind another owns is also created
    and deleted (a Crate makes Widgets)."""
    rules = cluster_rules("byo", WIDGETS)
    assert {
        "apiGroups": ["test.kaito.sh"],
        "resources": ["widgets/status"],
        "verbs": ["patch"],
    } in (rules)
    widget_verbs = next(r["verbs"] for r in rules if r["resources"] == ["widgets"])
    assert widget_verbs == ["get", "list", "watch", "update", "patch"]
    crate_rules = cluster_rules("byo", WIDGETS.with_kind(CRATE))
    made = next(r["verbs"] for r in crate_rules if r["resources"] == ["widgets"])
    assert made == ["get", "list", "watch", "create", "update", "patch", "delete"]
    workspace_only = cluster_rules("byo")
    with_widgets = cluster_rules("byo", WIDGETS)
    assert [r for r in with_widgets if r not in workspace_only] == [
        {"apiGroups": ["test.kaito.sh"], "resources": ["widgets"], "verbs": widget_verbs},
        {"apiGroups": ["test.kaito.sh"], "resources": ["widgets/status"], "verbs": ["patch"]},
        {"apiGroups": ["test.kaito.sh"], "resources": ["widgets/finalizers"], "verbs": ["update"]},
    ]
    assert all(r in with_widgets for r in workspace_only)


@pytest.fixture
async def widget_client() -> Any:
    validator = AdmissionValidator(registry=WIDGETS)
    async with TestClient(TestServer(validator.app())) as client:
        yield client


async def _post(client: Any, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, data=json.dumps(body))
    assert response.status == 200
    answer: dict[str, Any] = (await response.json())["response"]
    return answer


@pytest.mark.parametrize(
    ("obj", "operation", "old", "code", "message"),
    [
        (widget("w", "hi"), "CREATE", None, None, ""),
        (widget("w", " "), "CREATE", None, 422, "spec.message: must not be empty"),
        ({**widget("w"), "spec": {"message": 1}}, "CREATE", None, 422, "spec.message: expected"),
        (widget("w", "new"), "UPDATE", widget("w", "old"), 422, "spec.message: is immutable"),
    ],
    ids=["valid", "invalid", "unparseable", "immutable"],
)
async def test_the_webhook_judges_widgets_at_their_path(
    widget_client: Any, obj: Any, operation: str, old: Any, code: int | None, message: str
) -> None:
    """The Widget's rules, at ``/validate/widget.test.kaito.sh``."""
    answer = await _post(widget_client, WIDGET_PATH, _review(obj, operation=operation, old=old))
    if code is None:
        assert answer == {"uid": "u-1", "allowed": True}
    else:
        assert answer["status"]["code"] == code
        assert answer["status"]["message"].startswith(message)


async def test_each_path_judges_its_own_kind(widget_client: Any) -> None:
    """A Workspace sent to the Widget path (and the reverse) is a bad request."""
    workspace = {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "metadata": {"name": "w"}}
    answer = await _post(widget_client, WIDGET_PATH, _review(workspace, kind="Workspace"))
    assert answer["status"]["code"] == 400
    assert answer["status"]["message"] == (
        "this webhook validates test.kaito.sh Widgets, not kaito.sh/Workspace"
    )
    answer = await _post(widget_client, WEBHOOK_PATH, _review(widget("w")))
    assert answer["status"]["code"] == 400
    assert "validates kaito.sh Workspaces, not test.kaito.sh/Widget" in answer["status"]["message"]


async def test_review_without_a_path_judges_any_registered_kind() -> None:
    """``review(body)`` (no path) judges the request's kind, if it is registered."""
    validator = AdmissionValidator(registry=WIDGETS)
    answer = await validator.review(json.dumps(_review(widget("w", ""))))
    assert answer["response"]["status"]["code"] == 422
    unknown = _review(widget("w"))
    unknown["request"]["kind"]["kind"] = "Gadget"
    answer = await validator.review(json.dumps(unknown))
    assert answer["response"]["status"]["message"] == (
        "this webhook validates kaito.sh Workspaces, kaito.sh InferenceSets, kaito.sh "
        "RAGEngines, test.kaito.sh Widgets, not test.kaito.sh/Gadget"
    )


class _NoWidgetCrd:
    """Workspaces are served, Widgets are not."""

    def __init__(self) -> None:
        self.inner = FakeCluster().client()

    async def list(self, api_version: str, kind: str, **kwargs: Any) -> Any:
        if kind == "Widget":
            raise NotFound("the server could not find the requested resource")
        return await self.inner.list(api_version, kind, **kwargs)


async def test_a_missing_crd_of_any_kind_exits_2() -> None:
    """The operator checks every registered kind is served before it starts."""
    err = io.StringIO()
    connection = Connection(client=_NoWidgetCrd(), provisioner=None)  # type: ignore[arg-type]
    code = await run_operator(settings(), connection=connection, stderr=err, registry=WIDGETS)
    assert code == 2
    assert err.getvalue().startswith(
        "kaito operator: error: the Widget CRD (widgets.test.kaito.sh) is not installed"
    )


async def test_the_operator_reconciles_widgets() -> None:
    """run_operator with the Widget registered: a Widget gets its ConfigMap and status."""
    cluster = FakeCluster()
    await cluster.client().create(widget("w", "hello"))
    stop = asyncio.Event()
    connection = Connection(client=cluster.client(), provisioner=cluster.provisioner())
    task = asyncio.create_task(
        run_operator(
            settings(leader_elect=False),
            connection=connection,
            stop=stop,
            stderr=io.StringIO(),
            registry=WIDGETS,
        )
    )
    deadline = asyncio.get_running_loop().time() + 10
    while cluster.store.find("v1", "ConfigMap", "default", "w-widget") is None:
        assert asyncio.get_running_loop().time() < deadline, "no ConfigMap in time"
        await asyncio.sleep(0.02)
    stored = cluster.store.find(API_VERSION, "Widget", "default", "w")
    while not (stored or {}).get("status"):
        assert asyncio.get_running_loop().time() < deadline, "no status in time"
        await asyncio.sleep(0.02)
        stored = cluster.store.find(API_VERSION, "Widget", "default", "w")
    stop.set()
    assert await asyncio.wait_for(task, timeout=10) == 0


def test_web_application_is_an_aiohttp_app() -> None:
    """``app()`` routes every registered kind's path."""
    app = AdmissionValidator(registry=WIDGETS).app()
    assert isinstance(app, web.Application)
    paths = sorted(r.resource.canonical for r in app.router.routes())  # type: ignore[union-attr]
    assert paths == sorted(
        [
            "/validate/inferenceset.kaito.sh",
            "/validate/ragengine.kaito.sh",
            WIDGET_PATH,
            WEBHOOK_PATH,
        ]
    )
