"""Typed errors: one class per failure, grouped under `RemediationError`.

Expected outcomes (a service that would not start, a health check that fails)
are results, not exceptions. Exceptions are for the edges: bad input, a host
that cannot be reached, a command that failed where the caller asked it not to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediations.core.runs import how_long

if TYPE_CHECKING:
    from remediations.core.command_result import CommandResult


class RemediationError(Exception):
    """Base class of every error this library raises."""


class InvalidInput(RemediationError, ValueError):
    """A value failed validation; nothing was touched."""


class InventoryError(RemediationError):
    """An inventory file could not be read; names the file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.reason = message


class NoHostsMatched(InventoryError):
    """A --limit pattern selected no host."""


class ConnectionFailed(RemediationError):
    """Base class of failures to talk to a host."""


class Unreachable(ConnectionFailed):
    """The host could not be reached (refused, timed out, container stopped)."""


class CommandFailed(RemediationError):
    """A command exited non-zero; carries its result."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        super().__init__(f"`{result.command}` exited {result.exit_code}" + (f":\n{tail}" if tail else ""))


class CommandTimeout(RemediationError):
    """A command did not finish within its timeout (`sent`: it reached the host, and may run on)."""

    def __init__(self, command: str, timeout: float, *, sent: bool = True) -> None:
        self.command = command
        self.timeout = timeout
        self.sent = sent
        super().__init__(f"`{command}` did not finish within {timeout:g}s" if sent else
                         f"no time left to send `{command}`")


class HostLocked(RemediationError):
    """Another run holds the host's lock."""

    def __init__(self, host: str, owner: str, since: str, *, age: float | None = None,
                 stale_after: float | None = None) -> None:
        self.host = host
        self.owner = owner
        self.since = since
        self.age = age
        held = f" (held {how_long(age)}" if age is not None else ""
        if held and stale_after is not None:
            held += f"; taken as stale after {how_long(stale_after)}"
        self.hint = (f"if run {owner} is dead, resume it with --run-id {owner} or clear its "
                     f"lock with `unlock -l {host} --run-id {owner}`")
        super().__init__(f"{host} is locked by run {owner} since {since}{held + ')' if held else ''}")


class KubeApiError(RemediationError):
    """The Kubernetes API refused a request; carries the HTTP status and the Status reason."""

    def __init__(self, message: str, *, status: int, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)

