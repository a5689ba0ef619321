"""How a command reaches a host: ssh (Fabric), docker exec (Docker SDK), local (Invoke)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from remediations.connections.base import BaseConnection, CommandResult, Connection, sh
from remediations.core import validate
from remediations.core.errors import InvalidInput

if TYPE_CHECKING:
    from remediations.inventory import Host

__all__ = ["BaseConnection", "CommandResult", "Connection", "connect", "preload", "sh"]

# The client libraries each kind of connection imports on its first command.
_CLIENTS = {"ssh": ("paramiko", "fabric"), "docker": ("docker",),
            "kubernetes": ("kubernetes.client",)}


def connect(host: Host, *, timeout: float | None = None) -> BaseConnection:
    """The connection the inventory asks for; nothing is opened until the first command."""
    if timeout is not None:
        timeout = validate.seconds(timeout, "timeout")
    kind = host.connection
    if kind == "ssh":
        from remediations.connections.ssh import SSHConnection
        return SSHConnection(host, default_timeout=timeout)
    if kind == "docker":
        from remediations.connections.docker import DockerExecConnection
        return DockerExecConnection(host, default_timeout=timeout)
    if kind == "local":
        from remediations.connections.local import LocalConnection
        return LocalConnection(host, default_timeout=timeout)
    if kind == "kubernetes":
        from remediations.connections.pod import KubeConnection
        return KubeConnection(host, default_timeout=timeout)
    raise InvalidInput(f"{host.name}: connection {kind!r} cannot run commands")


def preload(hosts: Iterable[Host]) -> None:
    """Import the client libraries these hosts' connections need, in this thread, once.

    Two worker threads importing `docker` and `kubernetes` at once can each see the
    other's half-initialised `requests`; the runner calls this before its pool starts.
    """
    import importlib

    for kind in {h.connection for h in hosts}:
        for module in _CLIENTS.get(kind, ()):
            importlib.import_module(module)
