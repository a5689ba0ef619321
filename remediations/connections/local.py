"""Commands on the controller itself, through Invoke."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from remediations.connections.base import BaseConnection, timed_out

if TYPE_CHECKING:
    from remediations.inventory import Host


class LocalConnection(BaseConnection):
    """Runs commands locally with `invoke.Context.run`, as Fabric does remotely."""

    def __init__(self, host: Host | None = None, *, name: str = "localhost",
                 default_timeout: float | None = None) -> None:
        become = bool(host and host.become)
        super().__init__(host.name if host else name, become=become,
                         become_user=host.become_user if host else "root",
                         default_timeout=default_timeout)

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        from invoke.context import Context
        from invoke.exceptions import CommandTimedOut

        try:
            res = Context().run(shlex.join(argv), hide=True, warn=True, in_stream=False,
                                timeout=None if timeout is None else max(1, int(timeout + 0.999)))
        except CommandTimedOut as exc:
            raise timed_out(command, timeout) from exc
        assert res is not None
        return int(res.exited), str(res.stdout), str(res.stderr)
