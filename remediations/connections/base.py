"""What every connection offers: run an argument list, get a `CommandResult`."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

from remediations.core.errors import CommandFailed, CommandTimeout, InvalidInput


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command on one host."""

    command: str
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    @property
    def failed(self) -> bool:
        return self.exit_code != 0

    def tail(self, lines: int = 20) -> str:
        """The last lines of stdout and stderr, for evidence."""
        out = "\n".join(self.stdout.rstrip().splitlines()[-lines:])
        err = "\n".join(self.stderr.rstrip().splitlines()[-lines:])
        return "\n".join(p for p in (out, err) if p)


@runtime_checkable
class Connection(Protocol):
    """How a command reaches a host. Implementations translate their own errors."""

    name: str

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        """Run `argv` on the host; raise `CommandFailed` on non-zero exit when `check`."""
        ...

    def close(self) -> None: ...


def sh(template: str, *args: object) -> list[str]:
    """Build `sh -c` argv for the rare pipe, quoting every argument.

    `sh("tail -n %s %s | wc -l", 5, path)` -> `["sh", "-c", "tail -n 5 '/p a/th' | wc -l"]`.
    """
    return ["sh", "-c", template % tuple(shlex.quote(str(a)) for a in args)]


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Refuse a shell string where an argument list is required."""
    if isinstance(argv, (str, bytes)):
        raise InvalidInput(f"commands are argument lists, not strings: {argv!r}")
    items = tuple(argv)
    if not items or not all(isinstance(a, str) for a in items):
        raise InvalidInput(f"argv must be a non-empty list of strings: {argv!r}")
    if any("\0" in a for a in items):
        raise InvalidInput("argv may not contain NUL bytes")
    return items


class BaseConnection:
    """Shared plumbing: argv checks, become, timing, `check` handling."""

    name: str
    default_timeout: float | None = None

    def __init__(self, name: str, *, become: bool = False, become_user: str = "root",
                 default_timeout: float | None = None) -> None:
        self.name = name
        self.become = become
        self.become_user = become_user
        self.default_timeout = default_timeout

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        items = check_argv(argv)
        limit = timeout if timeout is not None else self.default_timeout
        command = shlex.join(items)
        started = time.monotonic()
        exit_code, out, err = self._execute(self._wrap(items), limit, command)
        result = CommandResult(command, exit_code, out, err, time.monotonic() - started)
        if check and result.failed:
            raise CommandFailed(result)
        return result

    def run_batch(self, argvs: Sequence[Sequence[str]], *,
                  timeout: float | None = None) -> list[CommandResult]:
        """Run `argvs` in order in one round trip, stopping after the first that fails.

        Returns the results of the commands that ran; none of them raises for its exit code.
        """
        from remediations.connections.batch import run_framed

        return run_framed(argvs, lambda argv: self.run(argv, timeout=timeout, check=False))

    def _wrap(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """Prefix `sudo` when the inventory asks for become."""
        if not self.become:
            return argv
        return ("sudo", "-n", "-H", "-u", self.become_user, "--", *argv)

    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        raise NotImplementedError

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def timed_out(command: str, timeout: float | None) -> CommandTimeout:
    return CommandTimeout(command, timeout or 0.0)
