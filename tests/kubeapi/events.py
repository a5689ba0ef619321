"""core/v1 Events as client-go's event recorder writes them (repeats counted, not duplicated)."""

from __future__ import annotations

import time
from typing import Any

from tests.kubeapi.api import Api
from tests.kubeapi.objects import now
from tests.kubeapi.resources import BY_PATH

EVENTS = BY_PATH[("", "v1", "events")]


def record(api: Api, obj: dict[str, Any], kind: str, reason: str, message: str, *,
           component: str, event_type: str = "Normal", host: str = "") -> None:
    """Record an event about `obj` (a stored object) from `component`."""
    meta = obj["metadata"]
    namespace = meta.get("namespace", "default")
    involved = {"kind": kind, "namespace": namespace, "name": meta["name"], "uid": meta["uid"],
                "apiVersion": obj.get("apiVersion") or _api_version(kind),
                "resourceVersion": meta.get("resourceVersion", "")}
    if kind == "Pod" and reason not in ("Scheduled",):
        containers = (obj.get("spec") or {}).get("containers") or [{}]
        involved["fieldPath"] = f"spec.containers{{{containers[0].get('name', '')}}}"
    source = {"component": component, **({"host": host} if host else {})}
    stamp = now()
    with api.store.lock:
        existing = api.store.find(EVENTS, namespace, lambda e: (
            e.get("involvedObject", {}).get("uid") == meta["uid"] and e.get("reason") == reason
            and e.get("message") == message and e.get("source") == source))
        if existing is not None:
            existing["count"] = int(existing.get("count", 1)) + 1
            existing["lastTimestamp"] = stamp
            api.update(EVENTS, namespace, existing["metadata"]["name"], existing)
            return
        api.create(EVENTS, namespace, {
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "source": source,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": event_type,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host,
        })


def _api_version(kind: str) -> str:
    return "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1"
