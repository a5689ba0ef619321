"""Watches: a chunked stream of JSON events, as `?watch=true` answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import Resource
from tests.kubeapi.selectors import labels_match, parse_field_selector, parse_label_selector
from tests.kubeapi.store import Obj, Store, WatchEvent
from tests.kubeapi.tables import table_for


class _Handler(Protocol):
    wfile: Any
    close_connection: bool

    def send_response(self, code: int, message: str | None = None) -> None: ...
    def send_header(self, keyword: str, value: str) -> None: ...
    def end_headers(self) -> None: ...


def _chunk(handler: _Handler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def _event(kind: str, obj: Obj, resource: Resource, as_table: bool) -> bytes:
    obj = {**obj, "kind": resource.kind, "apiVersion": resource.api_version}
    if as_table:  # kubectl get -w asks for rows it can print
        obj = table_for(resource, obj)
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def translate(event: WatchEvent, matches: Any) -> str | None:
    """The event a filtered watch sees: an object leaving the selection is DELETED for it."""
    now = matches(event.obj)
    before = event.old is not None and matches(event.old)
    if event.type == "DELETED":
        return "DELETED" if before else None
    if event.type == "ADDED":
        return "ADDED" if now else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


def matcher(resource: Resource, namespace: str | None, label_selector: str | None,
            field_selector: str | None) -> Callable[[Obj], bool]:
    """Whether an object is in a watch's selection (namespace, label and field selectors)."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, resource.plural)

    def matches(obj: Obj) -> bool:
        meta = obj["metadata"]
        if namespace and meta.get("namespace") != namespace:
            return False
        return labels_match(labels, meta.get("labels")) and bool(fields(obj))

    return matches


def stream_watch(handler: _Handler, store: Store, resource: Resource, namespace: str | None,
                 label_selector: str | None, field_selector: str | None, resource_version: str,
                 timeout: float, stopping: threading.Event, as_table: bool = False) -> None:
    """Answer a watch: initial ADDED events when no resourceVersion is given, then changes
    newer than it, until `timeoutSeconds` pass (the stream then ends, as a real server's)."""
    matches = matcher(resource, namespace, label_selector, field_selector)
    try:
        start = int(resource_version) if resource_version not in ("", "0") else None
    except ValueError as exc:
        raise ApiError.bad_request(f"invalid resource version: {resource_version}") from exc
    deadline = time.monotonic() + timeout
    initial: list[Obj] = []
    with store.lock:
        if start is None:
            start = store.resource_version
            initial = [o for o in store.items(resource, namespace) if matches(o)]
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()
    for obj in initial:
        _chunk(handler, _event("ADDED", obj, resource, as_table))
    while not stopping.is_set():
        try:
            events = store.events_after(start)
        except ApiError as error:  # compacted: an ERROR event with 410, as a real server sends
            _chunk(handler, json.dumps({"type": "ERROR", "object": error.status()}).encode() + b"\n")
            break
        for event in events:
            start = event.rv
            if event.resource != resource:
                continue
            kind = translate(event, matches)
            if kind is not None:
                _chunk(handler, _event(kind, event.obj, resource, as_table))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        store.wait(start, min(remaining, 0.5))
    _chunk(handler, b"")
