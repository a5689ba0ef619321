"""Exec in a pod through the real client's websocket code, against a minimal endpoint.

The local API server (tests/kubeapi) has no websocket exec, so this test serves just
enough of the API on 127.0.0.1: the Deployment and its pods as JSON, and
`pods/NAME/exec` as a websocket speaking `v4.channel.k8s.io` (stdout, stderr, and the
error channel's Status with the exit code). `kubernetes.stream.stream` and the
websocket client are the real ones: this is artisan-in-pod end to end, minus a kubelet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from remediations.connections import connect
from remediations.core.errors import CommandFailed, CommandTimeout, KubeApiError
from remediations.core.result import Status
from remediations.laravel.app import caches_cleared
from remediations.run.target import RunContext, Target
from tests.unit.connections.test_cluster import Pod
from tests.unit.helpers import inventory
from tests.unit.kubernetes.test_fake import World

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
Exec = Callable[[tuple[str, ...]], tuple[int | None, str, str]]


def frame(payload: bytes, opcode: int = 0x2) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    if n < 65536:
        return head + bytes([126]) + struct.pack(">H", n) + payload
    return head + bytes([127]) + struct.pack(">Q", n) + payload


class Endpoint(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, world: World, run: Exec) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.world, self.run = world, run
        self.execs: list[tuple[str, dict[str, list[str]]]] = []


class Handler(socketserver.StreamRequestHandler):
    server: Endpoint

    def handle(self) -> None:
        request = self.rfile.readline().decode()
        headers = {}
        while (line := self.rfile.readline().decode().strip()):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        path = urlsplit(request.split()[1])
        world = self.server.world
        pods = {f"/api/v1/namespaces/default/pods/{p['metadata']['name']}/exec" for p in world.pods}
        if headers.get("upgrade", "").lower() == "websocket" and path.path in pods:
            return self.exec(path.path, parse_qs(path.query), headers)
        body = (world.dep if path.path.endswith("/deployments/web")
                else {"kind": "PodList", "items": world.pods} if path.path.endswith("/pods")
                else None)
        status = "200 OK" if body is not None else "404 Not Found"
        data = json.dumps(body or {"kind": "Status", "status": "Failure", "reason": "NotFound",
                                   "message": f"not found: {path.path}", "code": 404}).encode()
        self.wfile.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)

    def exec(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> None:
        self.server.execs.append((path, query))
        accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + _GUID).encode())
                                  .digest()).decode()
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                          "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n").encode())
        code, out, err = self.server.run(tuple(query["command"]))
        for channel, text in ((1, out), (2, err)):
            if text:
                self.wfile.write(frame(bytes([channel]) + text.encode()))
        if code is None:  # a command that never ends
            time.sleep(3)
            return
        status = {"metadata": {}, "status": "Success"} if code == 0 else {
            "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        self.wfile.write(frame(bytes([3]) + json.dumps(status).encode()))
        self.wfile.write(frame(struct.pack(">H", 1000), opcode=0x8))
        self.wfile.flush()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[Endpoint, Any]]:
    pod = Pod()
    server = Endpoint(World(), pod)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    (tmp_path / "kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))
    hv = {"ansible_connection": "kubernetes", "kubeconfig": "kubeconfig", "container": "app",
          "ansible_user": "www-data", "app_user": "www-data", "app_path": "/var/www/html"}
    host = inventory(tmp_path, {"web": hv})["web"]
    yield server, host
    server.shutdown()
    server.server_close()


def test_artisan_runs_in_the_pod_through_the_clients_websocket(endpoint: tuple[Endpoint, Any]) -> None:
    server, host = endpoint
    run = RunContext.new()
    first = caches_cleared(Target(host, connect(host), run), kinds=("config", "route"))
    assert first.status is Status.CHANGED, first.to_dict()
    assert caches_cleared(Target(host, connect(host), run), kinds=("config", "route")).status \
        is Status.OK
    path, query = server.execs[0]
    pod = server.world.pods[0]["metadata"]["name"]
    assert path == f"/api/v1/namespaces/default/pods/{pod}/exec"
    assert query["container"] == ["app"] and query["stdout"] == ["true"]
    # One exec per call: the caches script, whose one PHP process ran the clears.
    assert [q["command"][:2] for _, q in server.execs] == [["sh", "-c"]] * 2
    assert isinstance(server.run, Pod) and server.run.artisan == ["config:clear", "route:clear"]


def test_exit_codes_output_and_timeouts_come_back(endpoint: tuple[Endpoint, Any]) -> None:
    server, host = endpoint
    replies: dict[str, tuple[int | None, str, str]] = {
        "ok": (0, "hello\n", ""), "fail": (3, "", "boom\n"), "hang": (None, "partial", "")}
    server.run = lambda argv: replies[argv[0]]
    conn = connect(host)
    res = conn.run(["ok"])
    assert (res.exit_code, res.stdout) == (0, "hello\n")
    with pytest.raises(CommandFailed, match="exited 3:\nboom"):
        conn.run(["fail"])
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        conn.run(["hang"], timeout=1)
    assert time.monotonic() - started < 2.5


def test_exec_in_a_pod_that_is_gone_is_the_apis_404(endpoint: tuple[Endpoint, Any]) -> None:
    _, host = endpoint
    cluster = connect(host).cluster  # type: ignore[attr-defined]
    with pytest.raises(KubeApiError, match="exec in pod missing: not found") as info:
        cluster.exec_in_pod("missing", "app", ["true"], 2)
    assert (info.value.status, info.value.reason) == (404, "NotFound")
