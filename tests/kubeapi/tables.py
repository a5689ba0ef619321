"""Server-side printing: the `Table` kubectl asks for with `Accept: ...;as=Table`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.kubeapi.objects import parse_time
from tests.kubeapi.resources import Resource
from tests.kubeapi.selectors import selector_string

Obj = dict[str, Any]


def age(timestamp: str | None) -> str:
    """kubectl's short durations: 12s, 5m3s, 2h, 3d."""
    if not timestamp:
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - parse_time(timestamp)).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def _containers(obj: Obj) -> tuple[str, str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def _deployment(obj: Obj) -> list[Any]:
    status = obj.get("status") or {}
    names, images = _containers(obj)
    return [f"{status.get('readyReplicas', 0)}/{obj['spec'].get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            age(obj["metadata"].get("creationTimestamp")), names, images,
            selector_string(obj["spec"].get("selector"))]


def _replicaset(obj: Obj) -> list[Any]:
    status = obj.get("status") or {}
    names, images = _containers(obj)
    return [obj["spec"].get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(obj["metadata"].get("creationTimestamp")), names, images,
            selector_string(obj["spec"].get("selector"))]


def _pod(obj: Obj) -> list[Any]:
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = status.get("phase", "Pending")
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    return [f"{ready}/{total}", reason, sum(s.get("restartCount", 0) for s in statuses),
            age(obj["metadata"].get("creationTimestamp")), status.get("podIP", "<none>"),
            (obj.get("spec") or {}).get("nodeName", "<none>")]


def _event(obj: Obj) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    return [age(obj.get("lastTimestamp") or obj["metadata"].get("creationTimestamp")),
            obj.get("type", ""), obj.get("reason", ""),
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}", obj.get("message", "")]


def _namespace(obj: Obj) -> list[Any]:
    return [(obj.get("status") or {}).get("phase", "Active"), age(obj["metadata"].get("creationTimestamp"))]


def _default(obj: Obj) -> list[Any]:
    return [age(obj["metadata"].get("creationTimestamp"))]


_WORKLOAD_WIDE = [("Containers", 1), ("Images", 1), ("Selector", 1)]
COLUMNS: dict[str, tuple[list[tuple[str, int]], Callable[[Obj], list[Any]]]] = {
    "Deployment": ([("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0), *_WORKLOAD_WIDE],
                   _deployment),
    "ReplicaSet": ([("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0), *_WORKLOAD_WIDE],
                   _replicaset),
    "Pod": ([("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1)], _pod),
    "Event": ([("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Message", 0)], _event),
    "Namespace": ([("Status", 0), ("Age", 0)], _namespace),
}


def table_for(resource: Resource, obj: Obj) -> Obj:
    """A meta.k8s.io/v1 Table of one object or of a list."""
    columns, cells = COLUMNS.get(resource.kind, ([("Age", 0)], _default))
    items = obj["items"] if "items" in obj else [obj]
    rows = []
    for item in items:
        meta = item["metadata"]
        rows.append({
            "cells": [meta["name"], *cells(item)],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": meta},
        })
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    definitions += [{"name": n, "type": "string", "format": "", "description": n, "priority": p}
                    for n, p in columns]
    meta_out = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
    if "continue" in (obj.get("metadata") or {}):
        meta_out["continue"] = obj["metadata"]["continue"]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta_out,
            "columnDefinitions": definitions, "rows": rows}
