"""`pods/exec` over a websocket (channel.k8s.io v4/v5), answered by a test's handler.

Pods here run nothing, so a command's outcome comes from a handler a test registers
(`LocalCluster.set_exec_handler`). Without one, exec is refused with a 400 that says so.
The wire protocol is the real one: the client's `kubernetes.stream.stream` reads
stdout (channel 1), stderr (2) and the exit Status (3), then the close frame.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable
from typing import Any, Protocol

from tests.kubeapi.errors import ApiError

Obj = dict[str, Any]
# (pod, container, argv) -> (exit code, stdout, stderr); raise FileNotFoundError for
# a command that does not exist in the container.
ExecHandler = Callable[[Obj, str, list[str]], tuple[int, str, str]]
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REFUSAL = ("pods/exec is not supported by this test double (the real client uses a websocket "
           "upgrade for it); route commands in pods through a pluggable exec, or register an "
           "exec handler on the local cluster")


class _Handler(Protocol):
    headers: Any
    wfile: Any
    close_connection: bool

    def send_response(self, code: int, message: str | None = None) -> None: ...
    def send_header(self, keyword: str, value: str) -> None: ...
    def end_headers(self) -> None: ...


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One unmasked server frame (FIN set)."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", len(payload)) + payload
    return head + bytes([127]) + struct.pack("!Q", len(payload)) + payload


def exit_status(code: int, argv: list[str]) -> Obj:
    """The Status the kubelet sends on the error channel when a command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"{argv}, exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _target(pod: Obj, query: dict[str, list[str]]) -> tuple[str, list[str]]:
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    container = (query.get("container") or [""])[-1] or containers[0]
    name = pod["metadata"]["name"]
    if container not in containers:
        raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
    argv = query.get("command") or []
    if not argv:
        raise ApiError.bad_request("you must specify at least 1 command")
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    if "running" not in (statuses.get(container, {}).get("state") or {}):
        raise ApiError.bad_request(f'unable to upgrade connection: container not found ("{container}")')
    return container, argv


def serve_exec(handler: _Handler, pod: Obj, query: dict[str, list[str]],
               run: ExecHandler | None) -> None:
    """Answer GET/POST pods/NAME/exec: upgrade, run the handler, stream its output, close."""
    if run is None:
        raise ApiError.bad_request(REFUSAL)
    if handler.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError.bad_request("Upgrade request required")
    offered = [p.strip() for p in handler.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    protocol = next((p for p in offered if p in PROTOCOLS), None)
    if protocol is None:
        raise ApiError.bad_request(f"unable to upgrade: none of the offered subprotocols {offered} "
                                   f"is supported ({', '.join(PROTOCOLS)})")
    container, argv = _target(pod, query)
    key = handler.headers.get("Sec-WebSocket-Key", "")
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", protocol)
    handler.end_headers()
    try:
        code, out, err = run(pod, container, argv)
        status = exit_status(code, argv)
    except FileNotFoundError:
        out, err = "", ""
        status = {"metadata": {}, "status": "Failure", "reason": "InternalError",
                  "message": f'Internal error occurred: error executing command in container: '
                             f'failed to exec in container: exec: "{argv[0]}": executable file '
                             "not found in $PATH: unknown",
                  "details": {"causes": [{"message": f'exec: "{argv[0]}": executable file not found '
                                                     "in $PATH"}]}}
    data = b""
    if out:
        data += _frame(b"\x01" + out.encode())
    if err:
        data += _frame(b"\x02" + err.encode())
    data += _frame(b"\x03" + json.dumps(status).encode())
    data += _frame(struct.pack("!H", 1000), opcode=0x8)
    handler.wfile.write(data)
    handler.wfile.flush()
    handler.close_connection = True
