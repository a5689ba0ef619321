"""SSH through Fabric: one persistent connection per host, explicit host-key policy."""

from __future__ import annotations

import getpass
import shlex
from typing import TYPE_CHECKING, Any

from remediations.connections.base import BaseConnection, timed_out
from remediations.errors import Unreachable

if TYPE_CHECKING:
    from remediations.inventory import Host


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
        from invoke.exceptions import CommandTimedOut
        from invoke.watchers import Responder

        fabric = self._open()
        kwargs: dict[str, Any] = {"hide": True, "warn": True, "in_stream": False}
        if timeout is not None:
            kwargs["timeout"] = max(1, int(timeout + 0.999))
        if self.become and self._become_password and argv[:2] == ("sudo", "-n"):
            # sudo with a password: let sudo prompt, answer through a watcher (never logged).
            argv = ("sudo", "-S", "-p", "[remediations sudo]:", *argv[2:])
            kwargs["watchers"] = [Responder(r"\[remediations sudo\]:", self._become_password + "\n")]
            kwargs["pty"] = False
            kwargs.pop("in_stream")
        try:
            res = fabric.run(shlex.join(argv), **kwargs)
        except CommandTimedOut as exc:
            raise timed_out(command, timeout) from exc
        except (TimeoutError, OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise Unreachable(f"{self.name}: connection lost running `{command}`: {exc}") from exc
        return int(res.exited), str(res.stdout), str(res.stderr)

    def close(self) -> None:
        if self._fabric is not None:
            try:
                self._fabric.close()
            finally:
                self._fabric = None
