"""The fake API server serves every registered kind: discovery, CRD, tables, and its engine.

The Widget (``tests/widget.py``) is registered only here, through ``FakeApiServer(registry=)``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yaml

from kaito_backends.apiserver import FakeApiServer
from kaito_backends.apiserver.crds import crd_manifests
from kaito_backends.apiserver.registry import RESOURCES, resource_table
from kaito_backends.objects import ObjectRef
from tests.apiserver.conftest import _kubectl
from tests.widget import API_VERSION, WIDGET, widget, widget_registry

WIDGETS = widget_registry()
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def widget_server() -> AsyncIterator[FakeApiServer]:
    """The playground with the Widget registered, its engine running at 600x."""
    async with FakeApiServer(port=0, speed=600, engine=True, registry=WIDGETS) as srv:
        yield srv


@pytest.fixture
async def http(widget_server: FakeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=widget_server.url) as session:
        yield session


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


def test_the_table_adds_registered_kinds_to_the_built_in_ones() -> None:
    """Widgets are served beside every default resource; the default table has no Widget."""
    table = resource_table(WIDGETS)
    widgets = table.find_resource("test.kaito.sh", "v1", "widgets")
    assert widgets is not None
    assert (widgets.kind, widgets.singular, widgets.short_names) == ("Widget", "widget", ("wdg",))
    assert widgets.columns == {"v1": WIDGET.columns("v1")}
    assert list(table.resources[: len(RESOURCES)]) == list(RESOURCES)
    assert resource_table().find_resource("test.kaito.sh", "v1", "widgets") is None
    assert [c["metadata"]["name"] for c in crd_manifests(table)] == [
        "inferencesets.kaito.sh",
        "nodeclaims.karpenter.sh",
        "nodepools.karpenter.sh",
        "ragengines.kaito.sh",
        "widgets.test.kaito.sh",
        "workspaces.kaito.sh",
    ]


async def test_discovery_lists_the_widget_group(http: aiohttp.ClientSession) -> None:
    """``/apis`` names the group; its resource list has widgets and widgets/status."""
    async with http.get("/apis") as response:
        groups = [g["name"] for g in (await response.json())["groups"]]
    assert groups[-2:] == ["kaito.sh", "test.kaito.sh"]
    async with http.get("/apis/test.kaito.sh/v1") as response:
        body = await response.json()
    assert [r["name"] for r in body["resources"]] == ["widgets", "widgets/status"]
    async with http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") as response:
        names = [c["metadata"]["name"] for c in (await response.json())["items"]]
    assert "widgets.test.kaito.sh" in names


async def test_a_widget_is_created_reconciled_and_printed(
    widget_server: FakeApiServer, http: aiohttp.ClientSession
) -> None:
    """POST a Widget: the engine gives it a ConfigMap and a Ready status; a Table request
    prints its printer columns."""
    path = "/apis/test.kaito.sh/v1/namespaces/default/widgets"
    headers = {"Content-Type": "application/json"}
    async with http.post(path, data=json.dumps(widget("w", "hi")), headers=headers) as response:
        assert response.status == 201, await response.text()
    client = widget_server.cluster.client()

    async def ready() -> bool:
        stored = await client.get(ObjectRef(API_VERSION, "Widget", "w", "default"))
        return (stored.get("status") or {}).get("state") == "Ready"

    await _eventually(ready)
    cm = await client.get(ObjectRef("v1", "ConfigMap", "w-widget", "default"))
    assert cm["data"] == {"message": "hi"}
    async with http.get(path, headers={"Accept": TABLE}) as response:
        table = await response.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Message", "Ready", "Age"]
    assert table["rows"][0]["cells"][:3] == ["w", "hi", "True"]


async def test_kubectl_applies_and_gets_widgets(
    widget_server: FakeApiServer, tmp_path: Path
) -> None:
    """kubectl finds the kind by its short name and prints its columns."""
    kubectl = _kubectl(widget_server, tmp_path)
    manifest = tmp_path / "widget.yaml"
    manifest.write_text(yaml.safe_dump(widget("hello", "from kubectl")))
    _, out, _ = await kubectl("apply", "-f", str(manifest))
    assert out.strip() == "widget.test.kaito.sh/hello created"
    client = widget_server.cluster.client()

    async def ready() -> bool:
        stored = await client.get(ObjectRef(API_VERSION, "Widget", "hello", "default"))
        return (stored.get("status") or {}).get("state") == "Ready"

    await _eventually(ready)
    _, out, _ = await kubectl("get", "wdg")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "MESSAGE", "READY", "AGE"]
    assert row.split()[:4] == ["hello", "from", "kubectl", "True"]
    _, out, _ = await kubectl("delete", "widget", "hello", "--timeout=20s", timeout=25)
    assert 'widget.test.kaito.sh "hello" deleted' in out
