"""Server-side printing: ``meta.k8s.io/v1 Table`` responses for ``kubectl get``.

kubectl asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns it gets (priority-1 columns only with ``-o wide``). Custom kinds use their CRD printer
columns (`Resource.columns`: Karpenter's, and each registered kind's from its
`kaito_core.kinds.KindSpec`), evaluated with the JSONPath subset; built-in kinds
use columns modelled on kubectl's own printers (pods: NAME READY STATUS RESTARTS AGE, nodes:
NAME STATUS ROLES AGE VERSION, ...); anything else gets NAME and CREATED AT. Ages are measured
on the fake cluster's clock, the clock its timestamps come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kaito_backends.apiserver.columns import (
    CREATED_AT,
    NAME,
    Cell,
    Column,
    human_duration,
    meta_of,
    parse_time,
    since,
)
from kaito_backends.apiserver.jsonpath import JsonPathError, compile_path
from kaito_backends.apiserver.printers import BUILTIN_COLUMNS
from kaito_backends.apiserver.registry import Resource
from kaito_backends.objects import Manifest
from kaito_core.kinds import PrinterColumn

__all__ = ["Column", "columns_for", "human_duration", "partial_metadata", "table"]


# -- custom resources ----------------------------------------------------------------------------
def _custom_cell(column: PrinterColumn) -> Cell:
    try:
        path = compile_path(column.json_path)
    except JsonPathError:
        return lambda _o, _n: None

    def cell(obj: Manifest, now: datetime) -> Any:
        found = path.find(obj)
        if not found or found[0] is None:
            return None
        value = found[0]
        if column.type == "date":
            return since(value, now) if parse_time(value) is not None else None
        if column.type == "integer":
            return (
                int(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else None
            )
        if column.type == "number":
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if column.type == "boolean":
            return value if isinstance(value, bool) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else _go_text(value)

    return cell


def _go_text(value: Any) -> str:
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    return str(value)


def columns_for(resource: Resource, version: str) -> tuple[Column, ...]:
    """The table columns of a resource in one version."""
    if resource.columns is not None:
        custom = resource.columns.get(version, ())
        return (
            NAME,
            *(
                Column(
                    name=c.name,
                    type=c.type,
                    format=c.format,
                    description=c.description or c.json_path,
                    priority=c.priority,
                    cell=_custom_cell(c),
                )
                for c in custom
            ),
        )
    return BUILTIN_COLUMNS.get((resource.group, resource.kind), (NAME, CREATED_AT))


def partial_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``PartialObjectMetadata`` of an object."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(meta_of(obj)),
    }


def table(
    columns: Sequence[Column],
    objects: Iterable[Manifest],
    *,
    now: datetime,
    resource_version: str,
    include_object: str = "Metadata",
    table_version: str = "v1",
    headers: bool = True,
) -> dict[str, Any]:
    """A ``Table`` of ``objects``; ``include_object`` is ``None``, ``Metadata`` or ``Object``."""
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [column.cell(obj, now) for column in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [c.definition() for c in columns] if headers else [],
        "rows": rows,
    }
