"""SSH through Fabric: one persistent connection per host, explicit host-key policy."""

from __future__ import annotations

import getpass
import logging
import shlex
import time
from typing import TYPE_CHECKING, Any

from remediations.connections.base import BaseConnection, timed_out
from remediations.core.errors import Unreachable

if TYPE_CHECKING:
    from remediations.inventory import Host

# paramiko logs a traceback to stderr when a port answers with something that is not SSH;
# the failure reaches the result as `Unreachable`, so its log has nothing to add.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class SSHConnection(BaseConnection):
    """Runs commands over SSH. Connects lazily, on the first command."""

    def __init__(self, host: Host, *, default_timeout: float | None = None) -> None:
        # sudo is needed only when the login user is not already the one to become.
        login = host.user or getpass.getuser()
        super().__init__(host.name, become=host.become and login != host.become_user,
                         become_user=host.become_user, default_timeout=default_timeout)
        self.host = host
        self._fabric: Any = None
        self._become_password = host.become_password

    def _open(self) -> Any:
        if self._fabric is not None:
            return self._fabric
        import paramiko
        from fabric import Config
        from fabric import Connection as FabricConnection

        host = self.host
        connect_kwargs: dict[str, Any] = {
            "banner_timeout": host.connect_timeout,
            "auth_timeout": host.connect_timeout,
        }
        if host.private_key_file:
            connect_kwargs["key_filename"] = host.private_key_file
        if host.password:
            connect_kwargs["password"] = host.password
            connect_kwargs["look_for_keys"] = bool(host.private_key_file)
        config = Config()
        fabric = FabricConnection(
            host=host.address, user=host.user or getpass.getuser(), port=host.port or 22,
            connect_timeout=int(max(1, host.connect_timeout)), connect_kwargs=connect_kwargs,
            config=config,
        )
        if host.host_key_checking:
            # Fabric accepts any key by default; a production run must not.
            fabric.client.load_system_host_keys()
            fabric.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            fabric.open()
        except paramiko.BadHostKeyException as exc:
            raise Unreachable(f"{self.name}: host key mismatch for {host.address}: {exc}") from exc
        except paramiko.AuthenticationException as exc:
            raise Unreachable(f"{self.name}: authentication failed as {fabric.user}: {exc}") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # Refused, timed out, no route, banner never came, policy rejected the key...
            raise Unreachable(f"{self.name}: cannot connect to {host.address}:{fabric.port}: "
                              f"{exc or type(exc).__name__}") from exc
        self._fabric = fabric
        return fabric

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        import paramiko

        fabric = self._open()
        try:
            if self.become and self._become_password and argv[:2] == ("sudo", "-n"):
                return self._with_password(fabric, argv, self._become_password, timeout, command)
            return _exec(fabric.client.get_transport(), shlex.join(argv), timeout, command)
        except (TimeoutError, OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise Unreachable(f"{self.name}: connection lost running `{command}`: {exc}") from exc

    def _with_password(self, fabric: Any, argv: tuple[str, ...], password: str,
                       timeout: float | None, command: str) -> tuple[int, str, str]:
        """sudo with a password: let sudo prompt, answer through a watcher (never logged)."""
        from invoke.exceptions import CommandTimedOut
        from invoke.watchers import Responder

        argv = ("sudo", "-S", "-p", "[remediations sudo]:", *argv[2:])
        kwargs: dict[str, Any] = {
            "hide": True, "warn": True, "pty": False,
            "watchers": [Responder(r"\[remediations sudo\]:", password + "\n")],
        }
        if timeout is not None:
            kwargs["timeout"] = max(1, int(timeout + 0.999))
        try:
            res = fabric.run(shlex.join(argv), **kwargs)
        except CommandTimedOut as exc:
            raise timed_out(command, timeout) from exc
        return int(res.exited), str(res.stdout), str(res.stderr)

    def close(self) -> None:
        if self._fabric is not None:
            try:
                self._fabric.close()
            finally:
                self._fabric = None


def _exec(transport: Any, line: str, timeout: float | None,
          command: str) -> tuple[int, str, str]:
    """One command on its own channel of the open transport: exit code, stdout, stderr.

    Straight on the paramiko channel rather than through Fabric's runner, which polls
    every 10 ms and starts three threads per command; the output is the same.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    chan = transport.open_session(timeout=timeout)
    try:
        chan.exec_command(line)
        chan.shutdown_write()  # nothing on stdin: a command that reads it sees EOF
        out = _drain(chan, chan.recv, deadline, command, timeout)
        # stderr waits in paramiko's buffer meanwhile (up to the channel window, 2 MiB).
        err = _drain(chan, chan.recv_stderr, deadline, command, timeout)
        if deadline is not None and not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
            raise timed_out(command, timeout)
        code = chan.recv_exit_status()
    finally:
        chan.close()
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _drain(chan: Any, recv: Any, deadline: float | None, command: str,
           timeout: float | None) -> bytes:
    chunks: list[bytes] = []
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise timed_out(command, timeout)
            chan.settimeout(left)
        try:
            data = recv(65536)
        except TimeoutError:
            raise timed_out(command, timeout) from None
        if not data:
            return b"".join(chunks)
        chunks.append(data)
