"""The HTTP layer: routes Kubernetes REST paths to the verbs, streams watches."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.kubeapi import resources as res
from tests.kubeapi.api import Api
from tests.kubeapi.errors import ApiError
from tests.kubeapi.podexec import ExecHandler, serve_exec
from tests.kubeapi.resources import Resource
from tests.kubeapi.store import Store
from tests.kubeapi.tables import table_for
from tests.kubeapi.watch import stream_watch

MAX_WATCH_SECONDS = 1800


class Route:
    """What a path names: a resource collection, one object, or one of its subresources."""

    def __init__(self, resource: Resource, namespace: str | None, name: str = "",
                 subresource: str = "") -> None:
        self.resource, self.namespace, self.name, self.subresource = resource, namespace, name, subresource


def _resource(group: str, version: str, plural: str) -> Resource:
    found = res.BY_PATH.get((group, version, plural))
    if found is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return found


def route(parts: list[str]) -> Route | None:
    """Parse /api/v1/... and /apis/G/V/... below the group version; None for discovery."""
    group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
    if rest and rest[0] == "watch":
        rest = rest[1:]
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
        resource = _resource(group, version, rest[2])
        if not resource.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Route(resource, rest[1], *rest[3:5])
    resource = _resource(group, version, rest[0])
    if resource.namespaced and len(rest) > 1:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return Route(resource, None if resource.namespaced else "", *rest[1:3])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: KubeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log (server.requests) is kept instead

    # --- responses ----------------------------------------------------------------------
    def send_json(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def send_error_status(self, error: ApiError) -> None:
        self.send_json(error.code, error.status())

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- requests -----------------------------------------------------------------------
    def _raw_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _body(self, raw: bytes) -> Any:
        content_type = self.headers.get("Content-Type", "application/json")
        if "protobuf" in content_type:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types "
                           "include: application/json, application/yaml (this test double speaks "
                           "JSON only)")
        if not raw:
            return None
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError.bad_request(f"the body of the request could not be decoded: {exc}") from exc

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.server.record(method, self.path)
        try:
            raw = self._raw_body()
            body = self._body(raw) if method in ("POST", "PUT", "PATCH", "DELETE") else None
            self._dispatch(method, [p for p in url.path.split("/") if p], query, body)
        except ApiError as error:
            self.send_error_status(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug here must answer 500, not hang the client
            self.send_error_status(ApiError(500, "InternalError", f"internal error: {exc!r}"))

    def _dispatch(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> None:
        if not parts or parts[0] not in ("api", "apis"):
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self._non_resource(parts)
        if method == "GET" and self._discovery(parts):
            return None
        if len(parts) < (2 if parts[0] == "api" else 3):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        r = route(parts)
        if r is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return self._resource_request(method, r, query, body, watch_path="watch" in parts[1:4])

    def _non_resource(self, parts: list[str]) -> None:
        path = "/".join(parts)
        if path == "version":
            return self.send_json(200, res.VERSION_INFO)
        if path in ("healthz", "readyz", "livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
            return None
        if path == "openapi/v3":
            return self.send_json(200, res.openapi_index())
        if path.startswith("openapi/v3/"):
            doc = res.openapi_document(path[len("openapi/v3/"):])
            if doc is not None:
                return self.send_json(200, doc)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _discovery(self, parts: list[str]) -> bool:
        if parts == ["api"]:
            self.send_json(200, res.api_versions(self.headers.get("Host", "127.0.0.1")))
        elif parts == ["apis"]:
            self.send_json(200, res.api_group_list())
        elif len(parts) == 2 and parts[0] == "apis":
            if parts[1] not in res.GROUPS:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", **res.api_group(parts[1])})
        elif (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            listing = res.resource_list(group, version)
            if listing is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_json(200, listing)
        else:
            return False
        return True

    def _resource_request(self, method: str, r: Route, query: dict[str, str], body: Any,
                          watch_path: bool) -> None:
        api: Api = self.server.api
        ns = r.namespace
        dry_run = query.get("dryRun") == "All" or (  # DeleteOptions may carry it in the body
            method == "DELETE" and isinstance(body, dict) and body.get("dryRun") == ["All"])
        if query.get("dryRun") not in (None, "All"):
            raise ApiError(422, "Invalid", f'dryRun: Unsupported value: "{query["dryRun"]}": supported values: "All"')
        if r.subresource == "exec" and r.name:
            pod = api.get(r.resource, ns or "", r.name)
            return serve_exec(self, pod, parse_qs(urlsplit(self.path).query), self.server.exec_handler())
        if r.subresource in ("attach", "portforward"):
            raise ApiError.bad_request(f"pods/{r.subresource} is not supported by this test double")
        if r.subresource == "log":
            return self._log(r)
        if r.subresource and r.subresource not in r.resource.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        content_type = self.headers.get("Content-Type", "application/json")
        if not r.name:
            if method == "GET" and (query.get("watch") in ("true", "1") or watch_path):
                timeout = float(query.get("timeoutSeconds") or MAX_WATCH_SECONDS)
                return stream_watch(self, self.server.store, r.resource, ns,
                                    query.get("labelSelector"), query.get("fieldSelector"),
                                    query.get("resourceVersion", ""), min(timeout, MAX_WATCH_SECONDS),
                                    self.server.stopping, "as=Table" in self.headers.get("Accept", ""))
            if method == "GET":
                listing = api.list(r.resource, ns, label_selector=query.get("labelSelector"),
                                   field_selector=query.get("fieldSelector"),
                                   limit=int(query.get("limit") or 0), cont=query.get("continue", ""))
                return self._send_object(200, listing, r.resource)
            if method == "POST":
                return self.send_json(201,
                                      api.create(r.resource, ns or "", body, dry_run=dry_run))
            if method == "DELETE":
                return self.send_json(200, api.delete_collection(
                    r.resource, ns or "", label_selector=query.get("labelSelector"),
                    field_selector=query.get("fieldSelector"), dry_run=dry_run))
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if r.subresource == "scale":
            if method == "GET":
                return self.send_json(200, api.get_scale(r.resource, ns or "", r.name))
            if method == "PUT":
                return self.send_json(200, api.update_scale(r.resource, ns or "", r.name, body, dry_run=dry_run))
            if method == "PATCH":
                return self.send_json(200, api.patch_scale(r.resource, ns or "", r.name, content_type,
                                                           body, dry_run=dry_run))
        elif method == "GET":
            return self._send_object(200, api.get(r.resource, ns or "", r.name), r.resource)
        elif method == "PUT":
            return self.send_json(200, api.update(r.resource, ns or "", r.name, body, dry_run=dry_run,
                                                  subresource=r.subresource))
        elif method == "PATCH":
            return self.send_json(200, api.patch(r.resource, ns or "", r.name, content_type, body,
                                                 dry_run=dry_run, subresource=r.subresource))
        elif method == "DELETE" and not r.subresource:
            options = body if isinstance(body, dict) else {}
            propagation = query.get("propagationPolicy") or options.get("propagationPolicy") or ""
            return self.send_json(200, api.delete(r.resource, ns or "", r.name, propagation=propagation,
                                                  dry_run=dry_run,
                                                  preconditions=options.get("preconditions")))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _send_object(self, code: int, obj: dict[str, Any], resource: Resource) -> None:
        accept = self.headers.get("Accept", "")
        if "as=Table" in accept:
            return self.send_json(code, table_for(resource, obj),
                                  "application/json;as=Table;v=v1;g=meta.k8s.io")
        return self.send_json(code, obj)

    def _log(self, r: Route) -> None:
        pod = self.server.api.get(r.resource, r.namespace or "", r.name)
        text = self.server.logs.get(pod["metadata"]["uid"], "")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        waiting = [s for s in statuses if "waiting" in (s.get("state") or {})]
        if waiting and not text:
            name = waiting[0]["name"]
            reason = waiting[0]["state"]["waiting"].get("reason", "ContainerCreating")
            raise ApiError.bad_request(f'container "{name}" in pod "{r.name}" is waiting to start: '
                                       f"{'trying and failing to pull image' if 'Pull' in reason else reason}")
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, api: Api) -> None:
        super().__init__(address, Handler)
        self.store, self.api = store, api
        self.stopping = threading.Event()
        self.requests: deque[tuple[float, str, str]] = deque(maxlen=10_000)
        self.logs: dict[str, str] = {}
        self._requests_lock = threading.Lock()
        self._exec_handler: ExecHandler | None = None

    def set_exec_handler(self, handler: ExecHandler | None) -> None:
        with self._requests_lock:
            self._exec_handler = handler

    def exec_handler(self) -> ExecHandler | None:
        with self._requests_lock:
            return self._exec_handler

    def record(self, method: str, path: str) -> None:
        with self._requests_lock:
            self.requests.append((time.time(), method, path))

    def request_log(self) -> list[tuple[float, str, str]]:
        """(time, method, path with query) of the latest requests, oldest first."""
        with self._requests_lock:
            return list(self.requests)
