"""A Kubernetes host's snapshot: the Deployment's replicas and image, its pods, events and logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediations.connections.cluster import (
    Cluster,
    cluster_of,
    selector_matches,
    selector_string,
    translate,
)
from remediations.connections.pod import first_container, pod_ready
from remediations.core.errors import RemediationError
from remediations.kubernetes.revisions import container_image, image_tag, meta, template
from remediations.run.target import Target
from remediations.snapshot.parse import parse_log
from remediations.snapshot.shell import health

_PODS_FOR_LOGS = 5
_EVENTS = 20


def pod_facts(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A pod's name, phase, readiness, restarts and why a container waits, if it does."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    waiting = [((c.get("state") or {}).get("waiting") or {}).get("reason") for c in containers]
    return {"name": meta(pod).get("name", ""), "phase": status.get("phase", "Unknown"),
            "ready": pod_ready(dict(pod)),
            "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
            "reason": next((w for w in waiting if w), ""),
            "node": (pod.get("spec") or {}).get("nodeName", "")}


def event_facts(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's time, type, reason, object and message."""
    obj = event.get("involvedObject") or {}
    return {"time": str(event.get("lastTimestamp") or event.get("eventTime")
                        or meta(event).get("creationTimestamp") or ""),
            "type": event.get("type", ""), "reason": event.get("reason", ""),
            "object": f"{obj.get('kind', '')}/{obj.get('name', '')}",
            "message": str(event.get("message", ""))[:300], "count": event.get("count") or 1}


def pod_log(cluster: Cluster, pod: str, container: str, *, lines: int) -> str:
    """The last `lines` lines of a pod's container log (plain text, not JSON)."""
    try:
        resp = cluster.core_v1.read_namespaced_pod_log(
            pod, cluster.namespace, container=container or None, tail_lines=lines,
            _preload_content=False, _request_timeout=(cluster.connect_timeout, 30))
        data = resp.data
    except Exception as exc:  # the client's errors, translated at the cluster boundary
        raise translate(exc, f"logs of pod {pod}") from exc
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")


def snapshot(t: Target, th: Mapping[str, float], *, lines: int) -> tuple[dict[str, Any], list[str]]:
    """The Deployment's replicas and image, its pods, recent events and each pod's log tail."""
    cluster = cluster_of(t)
    ns = cluster.namespace
    dep = cluster.read_deployment()
    container = cluster.container or first_container(dep)
    image = container_image(template(dep), container) or ""
    status = dep.get("status") or {}
    selector = (dep.get("spec") or {}).get("selector")
    pods = [p for p in cluster.core.list_namespaced_pod(
        ns, label_selector=selector_string(selector)).get("items", [])
        if selector_matches(selector, meta(p).get("labels"))]
    commands = [f"GET /apis/apps/v1/namespaces/{ns}/deployments/{cluster.deployment}",
                f"GET /api/v1/namespaces/{ns}/pods?labelSelector={selector_string(selector)}"]
    snap: dict[str, Any] = {
        "kind": "kubernetes", "deployment": cluster.deployment, "namespace": ns,
        "container": container, "image": image, "release": image_tag(image),
        "replicas": {"desired": (dep.get("spec") or {}).get("replicas"),
                     "ready": int(status.get("readyReplicas") or 0),
                     "updated": int(status.get("updatedReplicas") or 0),
                     "available": int(status.get("availableReplicas") or 0)},
        "pods": [pod_facts(p) for p in pods]}
    names = {cluster.deployment, *(p["name"] for p in snap["pods"])}
    try:
        items = cluster.core.list_namespaced_event(ns).get("items", [])
        mine = [event_facts(e) for e in items
                if (e.get("involvedObject") or {}).get("name", "") in names
                or str((e.get("involvedObject") or {}).get("name", "")).startswith(
                    cluster.deployment + "-")]
        snap["events"] = sorted(mine, key=lambda e: e["time"])[-_EVENTS:]
        commands.append(f"GET /api/v1/namespaces/{ns}/events")
    except RemediationError as exc:
        snap["events"] = []
        snap["events_error"] = f"events not available: {exc}"
    logs = []
    for pod in snap["pods"][:_PODS_FOR_LOGS]:
        try:
            text = pod_log(cluster, pod["name"], container, lines=int(th["log_window"]))
        except RemediationError as exc:
            logs.append({"kind": "pod", "path": pod["name"], "scanned": 0, "errors": 0,
                         "tail": [], "note": f"logs not available: {exc}"})
            continue
        log = parse_log("pod", pod["name"], [ln[:400] for ln in text.splitlines()], tail=lines)
        logs.append({"kind": log.kind, "path": log.path, "scanned": log.scanned,
                     "errors": log.errors, "tail": list(log.tail),
                     **({} if text else {"note": "logs not available (empty)"})})
    if logs:
        commands.append(f"GET .../pods/NAME/log?tailLines={int(th['log_window'])} "
                        f"({len(logs)} pod(s))")
    snap["logs"] = logs
    snap["health"] = health(t, timeout=th["health_timeout"])
    return snap, commands
